import logging

from roco import extract, plan, sources, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
rows = plan.chunk_rows(snakemake.params.articles, snakemake.wildcards.chunk)
cfg = extract.ExtractConfig.from_settings(snakemake.params.settings)
try:
    figures, rejects = extract.extract_chunk(
        sources.open_source(snakemake.params.source), rows, cfg
    )
except extract.FailureRateError as err:
    logging.error("%s", err)  # the job log is what a cluster user reads first
    raise
tables.write_frame(figures, snakemake.output.figures, "figures")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
