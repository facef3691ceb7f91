import dataclasses
import logging
from pathlib import Path

from roco import classify, joblog, tables

joblog.setup(snakemake.log[0])
settings = snakemake.params.thresholds
names = {f.name for f in dataclasses.fields(classify.ClassifyConfig)}
cfg = classify.ClassifyConfig(**{k: v for k, v in settings.items() if k in names})
model = classify.load_model(Path(snakemake.input.model))
spec = classify.onnx_spec(settings, snakemake.input.onnx)
onnx = classify.load_onnx(spec) if spec else None
kept, rejects = classify.classify_chunk(
    tables.read_frame(snakemake.input.figures, "figures"), model, cfg, onnx
)
tables.write_frame(kept, snakemake.output.classified, "classified")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
logging.info("classify: %d kept, %d rejected", len(kept), len(rejects))
