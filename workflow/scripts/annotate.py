from pathlib import Path

from roco import concepts, joblog, tables

joblog.setup(snakemake.log[0])
annotator = concepts.Annotator(Path(snakemake.input.index))
annotated, rejects = concepts.annotate_chunk(
    tables.read_frame(snakemake.input.hashed, "hashed"), annotator
)
tables.write_frame(annotated, snakemake.output.annotated, "annotated")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
