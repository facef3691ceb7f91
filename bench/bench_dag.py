"""How long `snakemake -n` takes on a PMC-scale plan (goal: <= 30 s on 2 cores).

Writes a synthetic local bucket that holds only what the plan reads: an S3-Inventory-style
manifest and its gzipped CSV parts listing `metadata/PMC<id>.<ver>.json` keys with ETags (no
article files, nothing downloaded). Article ids fill `--chunks` chunks of `chunk_size` ids, a few
with a second version. Then it runs the plan checkpoint (`snakemake <results>/plan/chunks.tsv`)
and times the dry run of the whole build, which must expand every chunk's extract, classify,
hash and annotate jobs plus the tail. `--profile-dag` also writes the dry run's cProfile stats.

Every Snakemake command loads the SLURM executor plugin, which runs `scontrol show config` (10 s
timeout) where a SLURM client is installed: on a host whose controller does not answer (e.g.
after `.ci/slurm.sh` stopped it) that adds up to 10 s to any command. The benchmark prints that
load time apart so a number from such a host can be read.

Reproduce: `.venv/bin/python bench/bench_dag.py` (defaults: 2,100 chunks, 20 articles each).
"""

import argparse
import contextlib
import cProfile
import gzip
import hashlib
import json
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
INVENTORY = "inventory-reports/pmc-oa-opendata/metadata"
INVENTORY_DATE = "2026-01-08T01-00Z"
ROWS_PER_PART = 100_000


def inventory_lines(chunks: int, per_chunk: int, chunk_size: int) -> list[str]:
    """CSV lines `bucket,key,last-modified,etag`; every 10th article also has a version 2."""
    step = chunk_size // per_chunk
    lines = []
    for chunk in range(1, chunks + 1):
        for i in range(per_chunk):
            number = chunk * chunk_size + i * step + 1
            for version in (1, 2) if i % 10 == 0 else (1,):
                etag = hashlib.md5(f"{number}.{version}".encode()).hexdigest()
                key = f"metadata/PMC{number}.{version}.json"
                lines.append(f'"pmc-oa-opendata","{key}","2026-01-08T11:47:59.000Z","{etag}"\n')
    return lines


def write_bucket(root: Path, lines: list[str]) -> int:
    """The manifest and its CSV parts under `root`; returns the number of parts."""
    folder = root / INVENTORY / INVENTORY_DATE
    (folder / "data").mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, len(lines), ROWS_PER_PART):
        key = f"{INVENTORY}/{INVENTORY_DATE}/data/part-{start // ROWS_PER_PART:05d}.csv.gz"
        data = gzip.compress("".join(lines[start : start + ROWS_PER_PART]).encode(), mtime=0)
        (root / key).write_bytes(data)
        files.append({"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()})
    manifest = {"sourceBucket": "pmc-oa-opendata", "fileFormat": "CSV", "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return len(files)


def write_config(root: Path, chunk_size: int) -> Path:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["results"] = str(root / "results")
    config["chunk_size"] = chunk_size
    config["source"] = {"kind": "bucket", "dir": str(root / "bucket")}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_args(config: Path, *args: str) -> list[str]:
    return [
        "--snakefile", str(REPO / "Snakefile"), "--directory", str(config.parent),
        "--configfile", str(config), "--cores", "2", *args,
    ]  # fmt: skip


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(config: Path, *args: str) -> tuple[float, float, str]:
    """Wall time, CPU time (which other load on the machine does not inflate) and output of one
    snakemake process (fails loudly)."""
    cmd = [sys.executable, "-m", "snakemake", *snakemake_args(config, *args)]
    start, cpu_start = time.perf_counter(), child_cpu_seconds()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    elapsed, cpu = time.perf_counter() - start, child_cpu_seconds() - cpu_start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return elapsed, cpu, result.stdout + result.stderr


def profiled_dry_run(config: Path, out: Path) -> None:
    """The dry run in this process under cProfile; the top entries by cumulative time."""
    from snakemake.cli import main

    profiler = cProfile.Profile()
    profiler.enable()
    # Snakemake's main() ends in sys.exit.
    with contextlib.suppress(SystemExit):
        main(snakemake_args(config, "-n", "--quiet", "all"))
    profiler.disable()
    profiler.dump_stats(out)
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(25)


def plugin_load_seconds() -> float:
    """Wall time of loading the SLURM executor plugin in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import snakemake_executor_plugin_slurm"], check=True)
    return time.perf_counter() - start


def job_count(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("total"):
            return int(line.split()[1])
    raise ValueError("no job count in the dry run's output")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2100)
    parser.add_argument("--articles-per-chunk", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--profile-dag", action="store_true", help="cProfile the dry run")
    args = parser.parse_args()

    root = args.workdir or Path(tempfile.mkdtemp(prefix="roco-bench-dag-"))
    try:
        lines = inventory_lines(args.chunks, args.articles_per_chunk, args.chunk_size)
        parts = write_bucket(root / "bucket", lines)
        config = write_config(root, args.chunk_size)
        print(f"inventory: {len(lines)} rows in {parts} parts, {args.chunks} chunks ({root})")
        plan_s, _, _ = run(config, str(root / "results" / "plan" / "chunks.tsv"))
        print(f"plan checkpoint: {plan_s:.1f} s")
        dry_s, dry_cpu, output = run(config, "-n")
        print(
            f"snakemake -n: {dry_s:.1f} s wall, {dry_cpu:.1f} s CPU for {job_count(output)} jobs "
            f"(goal <= 30 s); of the wall time, {plugin_load_seconds():.1f} s is loading the SLURM "
            "executor plugin"
        )
        if args.profile_dag:
            profiled_dry_run(config, root / "dry_run.prof")
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
