import logging

from roco import dedup, joblog, tables

joblog.setup(snakemake.log[0])
figures = tables.read_frame(
    snakemake.input.annotated, "annotated", columns=["id", "pmcid", "phash", "sha256"]
)
duplicates = dedup.find_duplicates(figures, snakemake.params.radius, workers=snakemake.threads)
tables.write_frame(duplicates, snakemake.output.duplicates, "duplicates")
tables.write_frame(
    dedup.duplicate_rejects(duplicates, figures), snakemake.output.rejects, "rejects"
)
logging.info("dedup: %d figures, %d duplicates", len(figures), len(duplicates))
