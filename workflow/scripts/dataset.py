import logging
from pathlib import Path

from roco import joblog, shards, tables

joblog.setup(snakemake.log[0])
counts = shards.write_dataset_files(
    snakemake.input.annotated,
    tables.read_frame(snakemake.input.duplicates, "duplicates"),
    tables.read_frame(snakemake.input.splits, "splits"),
    Path(snakemake.output.dataset),
    snakemake.params.target_mb,
)
logging.info("shards: %s", counts)
