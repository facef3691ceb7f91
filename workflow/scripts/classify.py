import logging
from pathlib import Path

from roco import classify, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
settings = snakemake.params.thresholds
cfg = classify.ClassifyConfig(
    radiology_threshold=settings["radiology_threshold"],
    compound_threshold=settings["compound_threshold"],
)
model = classify.load_model(Path(snakemake.input.model))
kept, rejects = classify.classify_chunk(
    tables.read_frame(snakemake.input.figures, "figures"), model, cfg
)
tables.write_frame(kept, snakemake.output.classified, "classified")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
