"""Run the real Snakefile on a small demo corpus in a temporary directory."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def write_config(root: Path, **overrides) -> Path:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["results"] = str(root / "results")
    config["source"].update(dir=str(root / "demo"), demo_articles=60)
    for key, value in overrides.items():
        config[key] = value
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(config.parent),
        "--configfile",
        str(config),
        "--cores",
        "2",
        *args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result
