import json
import logging
from pathlib import Path

import pyarrow.dataset as ds
from roco import report, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
rejects = tables.read_frame(
    [snakemake.input.plan_rejects, *snakemake.input.chunk_rejects, snakemake.input.dedup_rejects],
    "rejects",
)
columns = ["id", "pmcid", "split", "modality", "licence"]
dataset = ds.dataset(Path(snakemake.input.dataset) / "data").to_table(columns=columns).to_pandas()
stats = report.build_stats(rejects, dataset)
Path(snakemake.output.stats).write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
Path(snakemake.output.report).write_text(report.render_markdown(stats))
