import json
import logging
from pathlib import Path

import pandas as pd

from roco import classify, extract, joblog, plan, sources, tables

joblog.setup(snakemake.log[0])
if snakemake.input.labelled:
    model, metrics = classify.train_from_labelled(classify.read_labelled(snakemake.input.labelled))
else:
    rows = plan.sample_rows(snakemake.input.articles, snakemake.params.sample)
    cfg = extract.ExtractConfig.from_settings(snakemake.params.settings)
    source = sources.open_source(snakemake.params.source, {row.pmcid for row in rows})
    # Batch by batch, images become features: the sample's pictures are never all in memory.
    batches = extract.iter_figures(source, rows, cfg)
    frames = [classify.with_image_features(figures) for figures in batches]
    if not frames:
        raise ValueError(f"no figures to train on in the {len(rows)} sampled articles")
    model, metrics = classify.train_from_figures(pd.concat(frames, ignore_index=True))
    metrics["sample_articles"] = len(rows)
classify.save_model(model, Path(snakemake.output.model))
tables.atomic_write_text(
    snakemake.output.metrics, json.dumps(metrics, indent=2, sort_keys=True) + "\n"
)
logging.info("trained: %s", metrics)
