import logging
from pathlib import Path

from roco import joblog, shards, tables

joblog.setup(snakemake.log[0])
rows = shards.dataset_rows(
    tables.read_frame(snakemake.input.annotated, "annotated"),
    tables.read_frame(snakemake.input.duplicates, "duplicates"),
    tables.read_frame(snakemake.input.splits, "splits"),
)
counts = shards.write_dataset(rows, Path(snakemake.output.dataset), snakemake.params.target_mb)
logging.info("shards: %s", counts)
