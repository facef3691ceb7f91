import json
import logging
from pathlib import Path

from roco import classify, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
if snakemake.input.labelled:
    model, metrics = classify.train_from_labelled(classify.read_labelled(snakemake.input.labelled))
else:
    figures = tables.read_frame(snakemake.input.figures, "figures")
    model, metrics = classify.train_from_figures(figures)
classify.save_model(model, Path(snakemake.output.model))
Path(snakemake.output.metrics).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
logging.info("trained: %s", metrics)
