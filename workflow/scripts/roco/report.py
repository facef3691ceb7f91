"""The build report: the funnel of every article and figure, per stage and reason, and the totals.

Every dropped article or figure is a reject row, so the funnel is a count of rejects: articles
(rejects without a figure id) from the inventory down to the parsed ones, and figures (rejects
with an id) from every graphic found in a parsed article down to the released rows. The report
checks its own arithmetic: figures found = released + rejected.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from roco.card import dataset_stats
from roco.tables import atomic_path

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
    counts = dataset_stats(dataset)
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
        "splits": counts["splits"],
        "modalities": counts["modalities"],
        "licences": counts["licences"],
    }


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


def funnel_rows(stats: Mapping) -> pd.DataFrame:
    """The funnel as one table (unit, stage, reason, count) for the Snakemake report."""
    rows = [("article", r["stage"], r["reason"], r["count"]) for r in stats["articles"]["rejected"]]
    rows += [("figure", r["stage"], r["reason"], r["count"]) for r in stats["figures"]["rejected"]]
    rows.append(("figure", "released", "", stats["figures"]["released"]))
    return pd.DataFrame(rows, columns=["unit", "stage", "reason", "count"])


def _figure(width: float = 6, height: float = 3.5):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def _save(fig, path) -> None:
    fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(partial, format="png", metadata={"Software": None})
    fig.clear()


def plot_counts(counts: Mapping[str, int], title: str, path) -> None:
    """A horizontal bar chart of a distribution (modalities, licences)."""
    fig, ax = _figure()
    labels = list(counts) or ["(none)"]
    ax.barh(labels, [counts.get(k, 0) for k in labels], color="#4c72b0")
    ax.invert_yaxis()
    ax.set_xlabel("figures")
    ax.set_title(title)
    _save(fig, path)


def plot_caption_lengths(captions: pd.Series, path) -> None:
    """A histogram of caption lengths in words."""
    fig, ax = _figure()
    ax.hist(captions.str.split().str.len(), bins=30, color="#55a868")
    ax.set_xlabel("caption length (words)")
    ax.set_ylabel("figures")
    ax.set_title("Caption lengths")
    _save(fig, path)


def sample_grid(samples: Mapping[str, list[bytes]], path, tile: int = 128) -> None:
    """One row of sample images per modality, labelled, as a JPEG contact sheet."""
    from PIL import Image, ImageDraw, ImageOps

    from roco.images import ImageError, load_rgb

    columns = max((len(v) for v in samples.values()), default=1)
    label_width = 110
    sheet = Image.new("RGB", (label_width + columns * tile, max(1, len(samples)) * tile), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (modality, images) in enumerate(samples.items()):
        draw.text((6, row * tile + tile // 2), modality, fill="black")
        for col, data in enumerate(images):
            try:
                thumb = ImageOps.pad(load_rgb(data), (tile - 4, tile - 4), color="white")
            except ImageError:
                continue
            sheet.paste(thumb, (label_width + col * tile + 2, row * tile + 2))
    with atomic_path(path) as partial:
        sheet.save(partial, "JPEG", quality=85)
