"""The build report: the funnel of every article and figure, per stage and reason, and the totals.

Every dropped article or figure is a reject row, so the funnel is a count of rejects: articles
(rejects without a figure id) from the inventory down to the parsed ones, and figures (rejects
with an id) from every graphic found in a parsed article down to the released rows. The report
checks its own arithmetic: figures found = released + rejected.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

STAGES = ("plan", "select", "extract", "classify", "hash", "annotate", "dedup")


def _counts(rejects: pd.DataFrame) -> list[dict]:
    grouped = rejects.groupby(["stage", "reason"], sort=False).size()
    order = {s: i for i, s in enumerate(STAGES)}
    rows = [{"stage": s, "reason": r, "count": int(n)} for (s, r), n in grouped.items()]
    return sorted(rows, key=lambda x: (order.get(x["stage"], len(order)), x["reason"]))


def build_stats(rejects: pd.DataFrame, dataset: pd.DataFrame) -> dict:
    """Funnel and distributions; `dataset` holds the released rows (no image column needed)."""
    article_rejects = rejects[rejects["id"].isna()]
    figure_rejects = rejects[rejects["id"].notna()]
    released = len(dataset)
    return {
        "articles": {
            "rejected": _counts(article_rejects),
            "with_released_figures": int(dataset["pmcid"].nunique()),
        },
        "figures": {
            "found": released + len(figure_rejects),
            "rejected": _counts(figure_rejects),
            "released": released,
        },
        "splits": _distribution(dataset, "split"),
        "modalities": _distribution(dataset, "modality"),
        "licences": _distribution(dataset, "licence"),
    }


def _distribution(frame: pd.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(frame[column].value_counts().items())}


def render_markdown(stats: Mapping) -> str:
    """A short human-readable report of the stats."""
    fig = stats["figures"]
    lines = [
        "# Build report",
        "",
        "## Figure funnel",
        "",
        f"Figures found in parsed articles: **{fig['found']}**",
        "",
        "| stage | reason | figures |",
        "|---|---|---:|",
    ]
    lines += [f"| {r['stage']} | {r['reason']} | {r['count']} |" for r in fig["rejected"]]
    lines += [
        f"| **released** | | **{fig['released']}** |",
        "",
        "## Article funnel",
        "",
        "| stage | reason | articles |",
        "|---|---|---:|",
    ]
    lines += [
        f"| {r['stage']} | {r['reason']} | {r['count']} |" for r in stats["articles"]["rejected"]
    ]
    lines += [f"| **with released figures** | | **{stats['articles']['with_released_figures']}** |"]
    for title, key in (
        ("Splits", "splits"),
        ("Modalities", "modalities"),
        ("Licences", "licences"),
    ):
        lines += ["", f"## {title}", "", "| value | figures |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in stats[key].items()]
    return "\n".join(lines) + "\n"
