"""The dataset card (README.md with the YAML header the Hugging Face Hub reads) and checksums.

The card states what the dataset holds (counts per split, licences, modalities), where it comes
from, the attribution NLM asks redistributors for, and that it is a snapshot: it is current only
as of the PMC inventory it was built from. Nothing in it depends on the clock, so two builds from
the same inputs give the same card.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

from roco.split import SPLITS

# PMC licence codes -> Hugging Face Hub licence identifiers.
HUB_LICENCES = {
    "CC BY": "cc-by-4.0",
    "CC BY-NC": "cc-by-nc-4.0",
    "CC BY-NC-SA": "cc-by-nc-sa-4.0",
    "CC BY-NC-ND": "cc-by-nc-nd-4.0",
    "CC BY-SA": "cc-by-sa-4.0",
    "CC BY-ND": "cc-by-nd-4.0",
    "CC0": "cc0-1.0",
}


def size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "1M<n<10M"


def card_header(counts: Mapping[str, int], licences: list[str]) -> dict:
    hub = sorted({HUB_LICENCES.get(code, "other") for code in licences})
    return {
        "pretty_name": "ROCOv2-style radiology figures from PubMed Central",
        "license": hub[0] if len(hub) == 1 else "other",
        "license_name": "mixed: per-image licence in the `licence` column",
        "license_details": ", ".join(sorted(licences)),
        "language": ["en"],
        "task_categories": ["image-to-text"],
        "tags": ["medical", "radiology", "umls", "pubmed-central"],
        "size_categories": [size_category(sum(counts.values()))],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": s, "path": f"data/{s}-*.parquet"} for s in SPLITS if counts.get(s)
                ],
            }
        ],
    }


def _table(title: str, series: pd.Series) -> list[str]:
    lines = [f"| {title} | figures |", "|---|---:|"]
    return lines + [f"| {k} | {v} |" for k, v in sorted(series.value_counts().items())]


def dataset_card(rows: pd.DataFrame) -> str:
    """The card for the released rows (columns split, licence, modality, pmcid)."""
    counts = {s: int((rows["split"] == s).sum()) for s in SPLITS}
    header = yaml.safe_dump(card_header(counts, sorted(set(rows["licence"]))), sort_keys=False)
    body = [
        "# ROCOv2-style radiology figures from PubMed Central",
        "",
        "Radiology figures with captions, UMLS concepts, a modality concept per image, and body",
        "region and direction for X-rays, rebuilt in the manner of ROCOv2 (Rückert et al. 2024)",
        "from the PMC Open Access subset by the `roco` workflow.",
        "",
        f"{len(rows)} figures from {rows['pmcid'].nunique()} articles: "
        + ", ".join(f"{s} {counts[s]}" for s in SPLITS)
        + ".",
        "",
        "## Licences",
        "",
        "Every figure keeps its article's licence (or the figure's own) in `licence` and a",
        "ready-made credit line in `attribution`; reuse must follow each figure's licence.",
        "",
        *_table("licence", rows["licence"]),
        "",
        "## Modalities",
        "",
        *_table("modality", rows["modality"]),
        "",
        "## Source and currency",
        "",
        "Articles come from PubMed Central (PMC), a service of the U.S. National Library of",
        "Medicine (NLM). This is a snapshot: it reflects PMC as of the inventory it was built",
        "from and is not updated after that; rebuild it with the workflow to bring it current",
        "(retracted articles are removed on every rebuild).",
        "",
    ]
    return f"---\n{header}---\n\n" + "\n".join(body)


def dataset_stats(rows: pd.DataFrame) -> dict:
    """Counts of the released rows: figures, articles, and per split, licence and modality."""

    def counts(column: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in sorted(rows[column].value_counts().items())}

    return {
        "figures": len(rows),
        "articles": int(rows["pmcid"].nunique()),
        "splits": {s: int((rows["split"] == s).sum()) for s in SPLITS},
        "licences": counts("licence"),
        "modalities": counts("modality"),
    }


def write_card_files(root: Path, rows: pd.DataFrame) -> None:
    """README.md (the card), stats.json and, last, checksums.sha256 of everything in root."""
    (root / "README.md").write_text(dataset_card(rows))
    (root / "stats.json").write_text(json.dumps(dataset_stats(rows), indent=2) + "\n")
    write_checksums(root)


def write_checksums(root: Path, name: str = "checksums.sha256") -> None:
    """`sha256sum`-compatible checksums of every file under root (except the list itself)."""
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != name):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(root).as_posix()}\n")
    (root / name).write_text("".join(lines))
