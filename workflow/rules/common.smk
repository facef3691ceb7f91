# Config validation and the input functions (all named get_*); nothing else lives here.
import csv
import os
import sys
from functools import cache
from pathlib import Path

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")
# The cloud source asks roco for the current inventory date while the DAG is built: make the
# package importable even where Snakemake runs outside the project's environment (--sdm conda).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

RESULTS = Path(config["results"])
SOURCE_DIR = Path(config["source"]["dir"])
CHUNK = RESULTS / "chunks" / "{chunk}"
PLAN_CHUNKS = RESULTS / "plan" / "chunks.tsv"
PLAN_ARTICLES = RESULTS / "plan" / "articles.parquet"
INVENTORY = "inventory-reports/pmc-oa-opendata/metadata"
BUILTIN_KB = Path(workflow.basedir) / "workflow/scripts/roco/data/radiology_kb.jsonl"


def intermediate(path):
    """Per-chunk tables that only the next stage reads are deleted unless the config keeps them."""
    return path if config["keep_intermediates"] else temp(path)


def get_inventory(wildcards):
    """What the plan is made from: a new input means a new plan. Demo: the generated corpus;
    bucket: the mirror's newest inventory manifest; cloud: the current inventory's manifest in
    the cache (fetched by the cloud_inventory rule), none for an explicit pmcids list; legacy: the
    file list."""
    source = config["source"]
    if source["kind"] == "demo":
        return rules.demo_corpus.output.summary
    if source["kind"] == "legacy":
        return source.get("file_list") or str(SOURCE_DIR / "oa_file_list.csv")
    if source["kind"] == "cloud":
        return [] if source.get("pmcids") else _cloud_manifest()
    manifests = sorted(SOURCE_DIR.glob(f"{INVENTORY}/*/manifest.json"))
    if not manifests:
        raise WorkflowError(
            f"source.dir: no inventory manifest under {SOURCE_DIR / INVENTORY}"
        )
    return str(manifests[-1])


@cache
def _cloud_manifest():
    from roco.fetch import current_inventory_date
    from roco.sources import SourceError

    try:
        date = current_inventory_date(config["source"])
    except SourceError as err:
        raise WorkflowError(f"source.base_url: cannot find the inventory: {err}")
    return str(SOURCE_DIR / INVENTORY / date / "manifest.json")


@cache
def _plan_digests(mtime_ns):
    with open(PLAN_CHUNKS, newline="") as handle:
        return {
            row["chunk"]: row["digest"]
            for row in csv.DictReader(handle, delimiter="\t")
        }


def get_chunk_digest(wildcards):
    """The chunk's digest, read from the plan without depending on it (see DESIGN.md)."""
    if not PLAN_CHUNKS.exists():
        raise WorkflowError(
            f"no plan yet: make it first with `snakemake {PLAN_CHUNKS}`"
        )
    digests = _plan_digests(os.stat(PLAN_CHUNKS).st_mtime_ns)
    if wildcards.chunk not in digests:
        raise WorkflowError(f"chunk {wildcards.chunk} is not in the plan {PLAN_CHUNKS}")
    return digests[wildcards.chunk]


def get_chunks():
    with checkpoints.plan.get().output.chunks.open() as handle:
        return sorted(row["chunk"] for row in csv.DictReader(handle, delimiter="\t"))


def get_extract_settings():
    """The config sections that decide what extract keeps."""
    return {key: config[key] for key in ("licences", "captions", "images", "extract")}


def get_annotated(wildcards):
    return [str(CHUNK / "annotated.parquet").format(chunk=c) for c in get_chunks()]


def get_chunk_rejects(wildcards):
    return [
        str(CHUNK / f"{stage}_rejects.parquet").format(chunk=c)
        for c in get_chunks()
        for stage in ("extract", "classify", "hash", "annotate")
    ]


def get_kb(wildcards):
    """The knowledge base to index: UMLS when configured, a user KB, or the built-in one."""
    settings = config["annotate"]
    if settings["umls"]["mrconso"] and settings["umls"]["mrsty"]:
        return rules.umls_kb.output.kb
    return settings["kb"] or str(BUILTIN_KB)


def get_kb_index(wildcards):
    """A linker directory the config names, else the one build_kb makes."""
    return config["annotate"]["index"] or rules.build_kb.output.index


def get_final_outputs():
    return [RESULTS / "dataset", RESULTS / "rocov2", RESULTS / "report" / "report.md"]
