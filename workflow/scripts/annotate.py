import logging
from pathlib import Path

from roco import concepts, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
annotator = concepts.Annotator(Path(snakemake.input.index))
annotated, rejects = concepts.annotate_chunk(
    tables.read_frame(snakemake.input.hashed, "hashed"), annotator
)
tables.write_frame(annotated, snakemake.output.annotated, "annotated")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
