"""Throughput of extract + classify + hash in figures/s/core, and peak memory per rule.

Builds the demo corpus (config.yaml's, with `--articles` articles over its four chunks) up to every
chunk's hashed table with the real Snakefile, keeping the intermediates, then reads the rules'
benchmark TSVs. Throughput = figures extracted / the summed wall seconds of the per-chunk extract
and classify jobs (classify also hashes; each job runs on one core), so Python start-up and imports
count as they do in a real build; the same over the jobs' CPU seconds is less sensitive to other
load on the machine; the marginal rate (between two corpus sizes) leaves out the per-job start-up,
which dominates the demo's small chunks. The one-off train_classifier job is shown apart. Peak
memory per rule = the largest max_rss of its jobs. Goals: >= 50 figures/s/core, <= 2 GB per rule at
the default chunk size. With two or more `--articles` values it also fits peak memory against
figures per chunk (MB per 1,000 figures), the number to scale `resources: mem_mb` by, and prints the
mean image size of a figure (the demo's images are smaller than PMC's).

Reproduce: `.venv/bin/python bench/bench_throughput.py` (default: 240 and 960 articles).
"""

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
CHUNK_RULES = ("extract", "classify")  # classify also hashes


def write_config(root: Path, articles: int) -> Path:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["results"] = str(root / "results")
    config["source"].update(kind="demo", dir=str(root / "demo"), demo_articles=articles)
    config["keep_intermediates"] = True
    root.mkdir(parents=True, exist_ok=True)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(config: Path, cores: int, *targets: str) -> None:
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(config.parent), "--configfile", str(config), "--cores", str(cores),
        *targets,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


def read_benchmark(path: Path) -> dict[str, float]:
    """The first row of a Snakemake benchmark TSV: s, max_rss (MB), cpu_time, ..."""
    with path.open(newline="") as handle:
        row = next(csv.DictReader(handle, delimiter="\t"))
    return {key: float(value) for key, value in row.items() if key != "h:m:s"}


def rule_benchmarks(results: Path) -> dict[str, list[dict[str, float]]]:
    """rule -> its jobs' benchmark rows (per-chunk rules have one file per chunk)."""
    found: dict[str, list[dict[str, float]]] = {}
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = path.parent.name if path.parent.name != "benchmarks" else path.stem
        found.setdefault(rule, []).append(read_benchmark(path))
    return found


def measure(root: Path, articles: int, cores: int) -> dict:
    """One build to the hashed tables; figures, seconds and peak memory per rule."""
    config = write_config(root, articles)
    results = root / "results"
    start = time.perf_counter()
    snakemake(config, cores, str(results / "plan" / "chunks.tsv"))
    with (results / "plan" / "chunks.tsv").open(newline="") as handle:
        chunks = [row["chunk"] for row in csv.DictReader(handle, delimiter="\t")]
    snakemake(config, cores, *(str(results / "chunks" / c / "hashed.parquet") for c in chunks))
    wall = time.perf_counter() - start
    figures = sum(
        pq.ParquetFile(results / "chunks" / c / "figures.parquet").metadata.num_rows for c in chunks
    )
    image_bytes = sum(
        pc.sum(pc.binary_length(pq.read_table(path, columns=["image"])["image"])).as_py()
        for path in sorted((results / "chunks").glob("*/figures.parquet"))
    )
    benchmarks = rule_benchmarks(results)
    jobs = [job for rule in CHUNK_RULES for job in benchmarks[rule]]
    return {
        "articles": articles,
        "chunks": len(chunks),
        "figures": figures,
        "image_kb": image_bytes / 1024 / max(figures, 1),
        "wall": wall,
        "chunk_seconds": sum(job["s"] for job in jobs),
        "chunk_cpu": sum(job["cpu_time"] for job in jobs),
        "train_seconds": sum(job["s"] for job in benchmarks.get("train_classifier", [])),
        "peak_mb": {rule: max(j["max_rss"] for j in jobs) for rule, jobs in benchmarks.items()},
    }


def report(runs: list[dict]) -> None:
    for run in runs:
        rate = run["figures"] / run["chunk_seconds"]
        print(
            f"\n{run['articles']} articles, {run['chunks']} chunks, {run['figures']} figures "
            f"({run['figures'] / run['chunks']:.0f} per chunk, images {run['image_kb']:.1f} KB "
            f"each); build wall {run['wall']:.1f} s"
        )
        print(
            f"  extract+classify+hash: {run['chunk_seconds']:.1f} core-s -> {rate:.1f} "
            f"figures/s/core (goal >= 50); {run['chunk_cpu']:.1f} CPU-s -> "
            f"{run['figures'] / run['chunk_cpu']:.1f} figures/CPU-s; "
            f"train_classifier {run['train_seconds']:.1f} s"
        )
        for rule, mb in sorted(run["peak_mb"].items()):
            print(f"  peak max_rss {rule:<16} {mb:8.1f} MB")
    if len(runs) >= 2:
        small, large = runs[0], runs[-1]
        marginal = (large["figures"] - small["figures"]) / (large["chunk_cpu"] - small["chunk_cpu"])
        print(f"\nmarginal throughput (start-up excluded): {marginal:.1f} figures/CPU-s")
        extra = (large["figures"] / large["chunks"]) - (small["figures"] / small["chunks"])
        print("\nmemory per extra figure in a chunk (largest vs smallest run):")
        for rule in CHUNK_RULES:
            slope = (large["peak_mb"][rule] - small["peak_mb"][rule]) / extra
            print(f"  {rule:<8} {slope * 1000:7.1f} MB per 1,000 figures")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[240, 960])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep the builds here (default: temp)")
    args = parser.parse_args()

    base = args.workdir or Path(tempfile.mkdtemp(prefix="roco-bench-throughput-"))
    try:
        runs = [measure(base / f"a{n}", n, args.cores) for n in sorted(args.articles)]
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    report(runs)


if __name__ == "__main__":
    main()
