"""Plan the build: stable chunks of PMC ids, the latest version of each article, and selection.

A chunk is a fixed range of `chunk_size` PMC ids (`c01001` holds PMC10010000-PMC10019999 at the
default size), so a new article never moves an old one. A chunk's digest covers its article list
(key + ETag): it changes exactly when an article of the chunk is added, changed or re-versioned,
which is what lets Snakemake re-run only those chunks. Licence, open-access and retraction
filters need each article's metadata JSON, which the inventory does not carry; `select_reason`
applies them per article inside the chunk job rather than fetching millions of JSONs up front.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable

import pandas as pd
import pyarrow.parquet as pq

from roco.sources import InventoryRow
from roco.tables import atomic_write_text


def chunk_name(pmc_number: int, chunk_size: int) -> str:
    return f"c{pmc_number // chunk_size:05d}"


def latest_versions(rows: Iterable[InventoryRow]) -> tuple[list[InventoryRow], list[InventoryRow]]:
    """(latest version of each article, superseded versions), both sorted."""
    latest: dict[int, InventoryRow] = {}
    for row in sorted(rows):
        latest[row.pmc_number] = row
    kept = sorted(latest.values())
    return kept, sorted(set(rows) - set(kept))


def plan_articles(rows: Iterable[InventoryRow], chunk_size: int) -> tuple[pd.DataFrame, list]:
    """The `articles` table (latest versions with their chunk) and reject rows for the rest."""
    kept, superseded = latest_versions(rows)
    articles = pd.DataFrame(
        [(chunk_name(r.pmc_number, chunk_size), r.pmcid, r.version, r.key, r.etag) for r in kept],
        columns=["chunk", "pmcid", "version", "key", "etag"],
    )
    rejects = [
        {
            "stage": "plan",
            "reason": "superseded_version",
            "pmcid": r.pmcid,
            "version": r.version,
            "detail": f"a newer version of {r.pmcid} is in the inventory",
        }
        for r in superseded
    ]
    return articles, rejects


def chunk_digests(articles: pd.DataFrame) -> dict[str, str]:
    """chunk -> sha256 over its sorted `key etag` lines."""
    digests = {}
    for chunk, group in articles.groupby("chunk", sort=True):
        lines = sorted(f"{k} {e}\n" for k, e in zip(group["key"], group["etag"], strict=True))
        digests[chunk] = hashlib.sha256("".join(lines).encode()).hexdigest()
    return digests


def select_reason(metadata: dict, licences: Collection[str]) -> tuple[str, str] | None:
    """(reason, detail) when an article must not be used, None when it is selected."""
    if metadata.get("is_retracted"):
        return "retracted", "the article is retracted"
    if not metadata.get("is_pmc_openaccess", False):
        return "not_open_access", "not in the PMC open access subset"
    code = metadata.get("license_code") or "NO-CC CODE"
    if code not in licences:
        return "licence", f"licence {code!r} is not in the configured licences"
    return None


def write_chunks(digests: dict[str, str], articles: pd.DataFrame, path) -> None:
    """The plan's chunk list: chunk, digest, number of articles (tab-separated)."""
    sizes = articles.groupby("chunk").size()
    lines = ["chunk\tdigest\tarticles\n"]
    lines += [f"{chunk}\t{digest}\t{sizes[chunk]}\n" for chunk, digest in sorted(digests.items())]
    atomic_write_text(path, "".join(lines))


def _inventory_rows(frame: pd.DataFrame) -> list[InventoryRow]:
    return sorted(
        InventoryRow(int(p.removeprefix("PMC")), int(v), k, e)
        for p, v, k, e in zip(
            frame["pmcid"], frame["version"], frame["key"], frame["etag"], strict=True
        )
    )


def chunk_rows(articles_path, chunk: str) -> list[InventoryRow]:
    """The planned articles of one chunk."""
    return _inventory_rows(
        pq.read_table(articles_path, filters=[("chunk", "=", chunk)]).to_pandas()
    )


def sample_rows(articles_path, n: int) -> list[InventoryRow]:
    """An even, deterministic sample of n planned articles across all chunks."""
    rows = _inventory_rows(pq.read_table(articles_path).to_pandas())
    if n >= len(rows):
        return rows
    return [rows[i * len(rows) // n] for i in range(n)]
