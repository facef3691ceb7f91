from pathlib import Path

from roco import concepts, joblog, tables

joblog.setup(snakemake.log[0])
annotator = concepts.Annotator(Path(snakemake.input.index))
rejects = concepts.annotate_file(snakemake.input.hashed, snakemake.output.annotated, annotator)
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
