import dataclasses
import logging
from pathlib import Path

import pyarrow.parquet as pq

from roco import classify, joblog, onnx_model, tables

joblog.setup(snakemake.log[0])
settings = snakemake.params.thresholds
names = {f.name for f in dataclasses.fields(classify.ClassifyConfig)}
cfg = classify.ClassifyConfig(**{k: v for k, v in settings.items() if k in names})
# Loaded once for the job; the figures are streamed through them batch by batch.
model = classify.load_model(Path(snakemake.input.model))
spec = onnx_model.onnx_spec(settings, snakemake.input.onnx)
onnx = onnx_model.load_onnx(spec) if spec else None
rejects = classify.classify_file(snakemake.input.figures, snakemake.output.hashed, model, cfg, onnx)
for stage in ("classify", "hash"):
    tables.write_frame(
        rejects[rejects["stage"] == stage].reset_index(drop=True),
        snakemake.output[f"{stage}_rejects"],
        "rejects",
    )
kept = pq.read_metadata(snakemake.output.hashed).num_rows
logging.info("classify and hash: %d kept, %d rejected", kept, len(rejects))
