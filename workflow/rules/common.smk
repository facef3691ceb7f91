# Config validation and the input functions (all named get_*); nothing else lives here.
import csv
import os
from functools import cache
from pathlib import Path

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")

RESULTS = Path(config["results"])
SOURCE_DIR = Path(config["source"]["dir"])
CHUNK = RESULTS / "chunks" / "{chunk}"
PLAN_CHUNKS = RESULTS / "plan" / "chunks.tsv"
PLAN_ARTICLES = RESULTS / "plan" / "articles.parquet"
INVENTORY = "inventory-reports/pmc-oa-opendata/metadata"


def intermediate(path):
    """Per-chunk tables that only the next stage reads are deleted unless the config keeps them."""
    return path if config["keep_intermediates"] else temp(path)


def get_inventory(wildcards):
    """What the plan is made from: the demo corpus, or the source's newest inventory manifest
    (a new daily inventory is a new input, so the plan is made again)."""
    if config["source"]["kind"] == "demo":
        return rules.demo_corpus.output.summary
    manifests = sorted(SOURCE_DIR.glob(f"{INVENTORY}/*/manifest.json"))
    if not manifests:
        raise WorkflowError(
            f"source.dir: no inventory manifest under {SOURCE_DIR / INVENTORY}"
        )
    return str(manifests[-1])


@cache
def _plan_digests(mtime_ns):
    with open(PLAN_CHUNKS, newline="") as handle:
        return {
            row["chunk"]: row["digest"]
            for row in csv.DictReader(handle, delimiter="\t")
        }


def get_chunk_digest(wildcards):
    """The chunk's digest, read from the plan without depending on it (see DESIGN.md)."""
    return _plan_digests(os.stat(PLAN_CHUNKS).st_mtime_ns)[wildcards.chunk]


def get_chunks():
    with checkpoints.plan.get().output.chunks.open() as handle:
        return sorted(row["chunk"] for row in csv.DictReader(handle, delimiter="\t"))


def get_training_figures(wildcards):
    """Figures of the first chunks, never re-triggering training when those chunks change."""
    chunks = get_chunks()[: config["classify"]["train_chunks"]]
    return [ancient(str(CHUNK / "figures.parquet").format(chunk=c)) for c in chunks]


def get_annotated(wildcards):
    return [str(CHUNK / "annotated.parquet").format(chunk=c) for c in get_chunks()]


def get_chunk_rejects(wildcards):
    return [
        str(CHUNK / f"{stage}_rejects.parquet").format(chunk=c)
        for c in get_chunks()
        for stage in ("extract", "classify", "hash", "annotate")
    ]


def get_final_outputs():
    return [RESULTS / "dataset", RESULTS / "rocov2", RESULTS / "report" / "report.md"]
