"""Interruption: kill the whole workflow at random moments, resume it, get the same dataset.

The workflow runs on a small demo corpus and is killed (SIGKILL to Snakemake's process group, so
the running jobs die with it, as on a power loss or a cluster pre-emption) at moments drawn from a
seeded generator, several times in a row. After each kill the user's recovery is what Snakemake
asks for: `snakemake --unlock` (a killed Snakemake leaves its lock behind), then `snakemake
--rerun-incomplete` (a job killed after its outputs were renamed into place, but before Snakemake
recorded it as done, must run again; the profiles set the flag).
The resumed build must give the same bytes as an uninterrupted one: the dataset checksums, the
ROCOv2 export and the report's counts (a resumed chunk must not count a reject twice).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from workflow_helpers import REPO, snakemake, write_config

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

KILLS = 5
SEED = 2026
# Two chunks of a small corpus: jobs of both chunks run side by side and die together.
SETTINGS = {"chunk_size": 20_000}
ARTICLES = 30


def configure(root: Path) -> Path:
    root.mkdir()
    config = write_config(root, **SETTINGS)
    settings = yaml.safe_load(config.read_text())
    settings["source"]["demo_articles"] = ARTICLES
    config.write_text(yaml.safe_dump(settings))
    return config


def start(config: Path, log: Path) -> subprocess.Popen:
    """Snakemake in its own session, so that one killpg reaches it and every job it started."""
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(config.parent), "--configfile", str(config), "--cores", "2",
        "--rerun-incomplete",
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=out, start_new_session=True)


def fingerprint(root: Path) -> dict[str, str]:
    """Digests of what a user keeps: dataset checksums, ROCOv2 export, report counts."""
    results = root / "results"
    files = [results / "dataset" / "checksums.sha256", results / "report" / "stats.json"]
    files += sorted(p for p in (results / "rocov2").rglob("*") if p.is_file())
    return {str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_killed_builds_resume_to_the_same_dataset(tmp_path):
    reference = configure(tmp_path / "reference")
    began = time.monotonic()
    snakemake(reference)
    duration = time.monotonic() - began
    # Snakemake's own start-up (up to 10 s where a SLURM client waits for an absent controller):
    # the kills must land in the jobs, after it.
    began = time.monotonic()
    snakemake(reference, "-n")
    startup = time.monotonic() - began

    interrupted = configure(tmp_path / "interrupted")
    log = tmp_path / "interrupted" / "runs.log"
    rng = random.Random(SEED)
    moments = []
    for _ in range(KILLS):
        # A moment within what is left of the build: each restart resumes further along.
        moment = startup + rng.uniform(0.05, 0.25) * (duration - startup)
        run = start(interrupted, log)
        try:
            run.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            moments.append(round(moment, 1))
        snakemake(interrupted, "--unlock")
    snakemake(interrupted, "--rerun-incomplete")

    print(
        f"\ninterruption: killed at {moments} s into successive runs; build takes {duration:.0f} s"
        f" of which {startup:.0f} s start-up"
    )
    assert len(moments) >= KILLS - 1, "the build finished before it could be killed"
    expected = fingerprint(tmp_path / "reference")
    assert len(expected) > 3
    assert fingerprint(tmp_path / "interrupted") == expected
    dry_run = snakemake(interrupted, "-n")
    assert "Nothing to be done" in dry_run.stdout + dry_run.stderr
