import json
from pathlib import Path

import pyarrow.dataset as ds

from roco import joblog, report, tables
from roco.tables import atomic_write_text

joblog.setup(snakemake.log[0])
out = snakemake.output
rejects = tables.read_frame(
    [snakemake.input.plan_rejects, *snakemake.input.chunk_rejects, snakemake.input.dedup_rejects],
    "rejects",
)
data = ds.dataset(Path(snakemake.input.dataset) / "data")
columns = ["id", "pmcid", "split", "modality", "licence", "caption"]
dataset = data.to_table(columns=columns).to_pandas()
stats = report.build_stats(rejects, dataset)
atomic_write_text(out.stats, json.dumps(stats, indent=2, sort_keys=True) + "\n")
atomic_write_text(out.report, report.render_markdown(stats))
atomic_write_text(out.funnel, report.funnel_rows(stats).to_csv(index=False))
report.plot_counts(stats["modalities"], "Modalities", out.modalities)
report.plot_counts(stats["licences"], "Licences", out.licences)
report.plot_caption_lengths(dataset["caption"], out.caption_lengths)
picked = dataset.sort_values("id").groupby("modality").head(snakemake.params.samples_per_modality)
wanted = ds.field("id").isin(list(picked["id"]))
images = data.scanner(  # one shard at a time: shards are large and hold images
    columns=["id", "image"], filter=wanted, fragment_readahead=1, batch_readahead=1
).to_table()
by_id = dict(zip(images["id"].to_pylist(), images["image"].to_pylist(), strict=True))
samples = {m: [by_id[i]["bytes"] for i in g["id"]] for m, g in picked.groupby("modality")}
report.sample_grid(samples, out.samples)
