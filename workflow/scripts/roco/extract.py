"""Extract stage: from a chunk's planned articles to one row per figure graphic, with its image.

Per article: fetch the metadata JSON and apply the selection (licence, open access, retraction),
fetch and parse the JATS XML, then for every graphic of every figure resolve its file among the
article's media, clean the caption, fetch the image and check that it opens. Only the XML and the
images the XML references are fetched. Every article or graphic dropped on the way is a reject row
with its reason; one broken article never fails the chunk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from roco import captions, jats
from roco.images import ImageError, open_image
from roco.plan import select_reason
from roco.sources import InventoryRow, Source, SourceError
from roco.tables import rejects_frame

log = logging.getLogger(__name__)
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ExtractConfig:
    licences: frozenset[str]
    min_caption_words: int = captions.DEFAULT_MIN_WORDS
    english_only: bool = True
    # Old packages ship GIF thumbnails (~100 px) beside or instead of the full image.
    min_image_side: int = 64


@dataclass
class ArticleResult:
    figures: list[dict]
    rejects: list[dict]


def figure_ids(pmcid: str, figures: Collection[jats.Figure]) -> list[list[str]]:
    """Stable, unique ids per graphic: PMCID_figid, with _g<k> when a figure has several."""
    seen: set[str] = set()
    ids = []
    for fig in figures:
        base = f"{pmcid}_{_UNSAFE_ID.sub('-', fig.figure_id) or f'fig{fig.ordinal}'}"
        if base in seen:  # duplicate figure ids in the XML: keep both, told apart by position
            base = f"{base}-{fig.ordinal}"
        seen.add(base)
        graphics = fig.graphics
        ids.append(
            [base] if len(graphics) <= 1 else [f"{base}_g{k}" for k in range(1, len(graphics) + 1)]
        )
    return ids


def attribution(label: str, metadata: dict, licence: str) -> str:
    """A ready-made credit line for one figure."""
    cite = metadata.get("citation") or metadata.get("title") or metadata["pmcid"]
    doi = f" https://doi.org/{metadata['doi']}" if metadata.get("doi") else ""
    return f"{label or 'Figure'} from {cite}{doi} ({metadata['pmcid']}), {licence}"


def extract_article(source: Source, row: InventoryRow, cfg: ExtractConfig) -> ArticleResult:
    """All figure rows and rejects of one article; never raises for bad input."""
    result = ArticleResult([], [])

    def reject(reason: str, detail: str, figure_id: str | None = None, stage: str = "extract"):
        result.rejects.append(
            {
                "stage": stage,
                "reason": reason,
                "pmcid": row.pmcid,
                "version": row.version,
                "id": figure_id,
                "detail": detail,
            }
        )

    try:
        metadata = source.metadata(row)
    except SourceError as err:
        reject("fetch_failed", str(err))
        return result
    if selection := select_reason(metadata, cfg.licences):
        reject(*selection, stage="select")
        return result
    try:
        article = jats.parse_article(source.article_xml(row, metadata))
    except SourceError as err:
        reject("fetch_failed", str(err))
        return result
    except jats.JatsError as err:
        reject("bad_xml", str(err))
        return result
    if not article.figures:
        reject("no_figures", "the article has no figures")
    available = source.media_names(metadata)
    for fig, ids in zip(article.figures, figure_ids(row.pmcid, article.figures), strict=True):
        if not fig.graphics:
            reject("no_graphic", f"figure {fig.label or fig.figure_id} has no graphic", ids[0])
            continue
        for href, figure_id in zip(fig.graphics, ids, strict=True):
            figure = _figure_row(source, row, metadata, article, fig, href, available, cfg)
            if isinstance(figure, tuple):
                reject(*figure, figure_id=figure_id)
            else:
                result.figures.append({"id": figure_id, **figure})
    return result


def _figure_row(source, row, metadata, article, fig, href, available, cfg):
    """The figure row for one graphic, or (reason, detail) when it must be dropped."""
    licence = fig.licence or metadata.get("license_code") or article.licence
    if licence not in cfg.licences:
        return "licence", f"figure licence {licence!r} is not in the configured licences"
    caption = captions.clean_caption(fig.caption)
    problem = captions.caption_problem(caption, cfg.min_caption_words)
    if problem == "caption_not_english" and not cfg.english_only:
        problem = None
    if problem:
        return problem, caption[:200]
    name = jats.resolve_graphic(href, available)
    if name is None:
        return "missing_image", f"no media file for xlink:href {href!r}"
    try:
        data = source.media(row, metadata, name)
        image = open_image(data)
    except (SourceError, ImageError) as err:
        return "bad_image", f"{name}: {err}"
    if min(image.size) < cfg.min_image_side:
        return "image_too_small", f"{name}: {image.width}x{image.height} (thumbnail?)"
    return {
        "pmcid": row.pmcid,
        "version": row.version,
        "pmid": metadata.get("pmid") or article.pmid,
        "doi": metadata.get("doi") or article.doi,
        "title": article.title or metadata.get("title") or "",
        "journal": article.journal or "",
        "year": article.year,
        "pub_date": article.pub_date,
        "licence": licence,
        "attribution": attribution(fig.label, metadata, licence),
        "source_url": source.media_url(row, name),
        "figure_id": fig.figure_id,
        "label": fig.label,
        "caption": caption,
        "graphic": href,
        "image_file": name,
        "image": data,
        "image_format": image.format or "",
        "width": image.width,
        "height": image.height,
    }


def extract_chunk(source: Source, rows: list[InventoryRow], cfg: ExtractConfig):
    """(figures, rejects) DataFrames for a chunk's articles, rows sorted by id."""
    figures, rejects = [], []
    for done, row in enumerate(rows, 1):
        result = extract_article(source, row, cfg)
        figures += result.figures
        rejects += result.rejects
        if done % 500 == 0 or done == len(rows):
            log.info(
                "extract: %d/%d articles, %d figures, %d rejects",
                done,
                len(rows),
                len(figures),
                len(rejects),
            )
    frame = pd.DataFrame(figures)
    if len(frame):
        frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
    return frame, rejects_frame(rejects)
