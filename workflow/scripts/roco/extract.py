"""Extract stage: from a chunk's planned articles to one row per figure graphic, with its image.

Per article: fetch the metadata JSON, check the types of the fields it reads (a field of the wrong
type is a `bad_metadata` reject), apply the selection (licence, open access, retraction),
fetch and parse the JATS XML, then for every graphic of every figure resolve its file among the
article's media, clean the caption, fetch the image and check that it opens. Only the XML and the
images the XML references are fetched. Every article or graphic dropped on the way is a reject row
with its reason; one broken article never fails the chunk.

Failure-rate guard: an outage (the bucket unreachable, a mirror half-synced) makes every article a
`fetch_failed` or `bad_xml` reject, and a chunk of rejects looks like a chunk without figures. So
when more than `max_failure_rate` of a chunk's articles (at least `failure_min_articles` of them)
have a reject with one of FAILURE_REASONS, `extract_chunk` raises FailureRateError instead of
returning, and the job fails with a message saying how many articles failed and why.

Bounded memory: `extract_file` (the workflow's path) writes the figures about BATCH_ARTICLES
articles at a time, in the same order as `extract_chunk`'s whole-chunk sort by id (see
`article_batches`); only the rejects (small) are kept for the whole chunk, for the guard.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import pandas as pd

from roco import captions, jats
from roco.images import ImageError, open_image
from roco.plan import select_reason
from roco.sources import InventoryRow, Source, SourceError
from roco.tables import TableWriter, rejects_frame

log = logging.getLogger(__name__)
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
# Reject reasons that say the source, not the article, may be at fault.
FAILURE_REASONS = ("fetch_failed", "bad_metadata", "bad_xml")
# Metadata JSON fields this stage reads, with the JSON types they may have (null is always fine).
_METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "pmcid": (str,),
    "pmid": (str, int),
    "doi": (str,),
    "title": (str,),
    "citation": (str,),
    "license_code": (str,),
    "xml_url": (str,),
    "is_pmc_openaccess": (bool,),
    "is_retracted": (bool,),
}
# Articles extracted before their figures are written: ~5 figures each, ~100 MB of images.
BATCH_ARTICLES = 100


class FailureRateError(RuntimeError):
    """Too many articles of a chunk failed to download or parse: probably an outage."""


@dataclass(frozen=True)
class ExtractConfig:
    licences: frozenset[str]
    min_caption_words: int = captions.DEFAULT_MIN_WORDS
    english_only: bool = True
    # Old packages ship GIF thumbnails (~100 px) beside or instead of the full image.
    min_image_side: int = 64
    max_failure_rate: float = 0.5
    # Below this many articles a few bad files are not evidence of an outage.
    failure_min_articles: int = 20

    @classmethod
    def from_settings(cls, settings: dict) -> ExtractConfig:
        """From the config sections licences, captions, images and extract."""
        return cls(
            licences=frozenset(settings["licences"]),
            min_caption_words=settings["captions"]["min_words"],
            english_only=settings["captions"]["english_only"],
            min_image_side=settings["images"]["min_side"],
            max_failure_rate=settings["extract"]["max_failure_rate"],
            failure_min_articles=settings["extract"]["min_articles"],
        )


@dataclass
class ArticleResult:
    figures: list[dict]
    rejects: list[dict]


def figure_ids(pmcid: str, figures: Collection[jats.Figure]) -> list[list[str]]:
    """Stable, unique ids per graphic: PMCID_figid, with _g<k> when a figure has several.

    Duplicate figure ids in the XML (or ids that collide once sanitised, or with another figure's
    `_g<k>` ids) keep both figures, told apart by appending the figure's position."""
    taken: set[str] = set()
    ids = []
    for fig in figures:
        base = f"{pmcid}_{_UNSAFE_ID.sub('-', fig.figure_id) or f'fig{fig.ordinal}'}"
        while base in taken or not taken.isdisjoint(_graphic_ids(base, len(fig.graphics))):
            base = f"{base}-{fig.ordinal}"
        names = _graphic_ids(base, len(fig.graphics))
        taken.update([base, *names])
        ids.append(names)
    return ids


def _graphic_ids(base: str, graphics: int) -> list[str]:
    return [base] if graphics <= 1 else [f"{base}_g{k}" for k in range(1, graphics + 1)]


def metadata_problem(metadata: dict) -> str | None:
    """Why a metadata JSON cannot be used (a field of the wrong type), or None."""
    for key, kinds in _METADATA_TYPES.items():
        value = metadata.get(key)
        if value is not None and not _has_type(value, kinds):
            return f"metadata field {key!r} is {json.dumps(value)[:80]}, not {kinds[0].__name__}"
    urls = metadata.get("media_urls")
    if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        return f"metadata field 'media_urls' is {json.dumps(urls)[:80]}, not a list of strings"
    if not metadata.get("pmcid"):
        return "metadata has no pmcid"
    return None


def _has_type(value, kinds: tuple[type, ...]) -> bool:
    # bool is a subclass of int, but a pmid of `true` is as wrong as a pmid of `[1]`.
    return bool in kinds if isinstance(value, bool) else isinstance(value, kinds)


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
    if problem := metadata_problem(metadata):
        reject("bad_metadata", problem)
        return result
    if selection := select_reason(metadata, cfg.licences):
        reject(*selection, stage="select")
        return result
    try:
        article = jats.parse_article(source.article_xml(row, metadata))
        available = source.media_names(metadata)
    except SourceError as err:
        reject("fetch_failed", str(err))
        return result
    except jats.JatsError as err:
        reject("bad_xml", str(err))
        return result
    if not article.figures:
        reject("no_figures", "the article has no figures")
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
    if problem:  # the cleaned caption, or what was there before cleaning left nothing
        return problem, caption[:200] or f"caption before cleaning: {fig.caption[:200]!r}"
    name = jats.resolve_graphic(href, available)
    if name is None:
        return "missing_image", f"no media file for xlink:href {href!r}"
    try:
        data = source.media(row, metadata, name)
        image = open_image(data)
    except SourceError as err:
        return "fetch_failed", f"{name}: {err}"
    except ImageError as err:
        return "bad_image", f"{name}: {err}"
    if min(image.size) < cfg.min_image_side:
        return "image_too_small", f"{name}: {image.width}x{image.height} (thumbnail?)"
    return {
        "pmcid": row.pmcid,
        "version": row.version,
        "pmid": str(metadata.get("pmid") or "") or article.pmid,
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


def check_failure_rate(rejects: pd.DataFrame, articles: int, cfg: ExtractConfig) -> None:
    """Raise FailureRateError when too many of `articles` have a fetch or parse failure."""
    failed = rejects[rejects["reason"].isin(FAILURE_REASONS)]
    keys = failed[["pmcid", "version"]].drop_duplicates()
    if articles < cfg.failure_min_articles or len(keys) <= cfg.max_failure_rate * articles:
        return
    counts = failed.drop_duplicates(["pmcid", "version", "reason"])["reason"].value_counts()
    example = failed.iloc[0]
    raise FailureRateError(
        f"{len(keys)} of {articles} articles ({len(keys) / articles:.0%}) failed to download or "
        f"parse ({', '.join(f'{r}: {n}' for r, n in sorted(counts.items()))}), above "
        f"extract.max_failure_rate = {cfg.max_failure_rate}. Is the source unreachable or "
        f"incomplete? First failure: {example['pmcid']}: {str(example['detail'])[:300]}"
    )


def extract_chunk(source: Source, rows: list[InventoryRow], cfg: ExtractConfig):
    """(figures, rejects) DataFrames for a chunk's articles, rows sorted by id.

    Raises FailureRateError when the chunk looks like an outage (see the module docstring)."""
    figures, rejects = [], []
    for done, row in enumerate(rows, 1):
        result = extract_article(source, row, cfg)
        figures += result.figures
        rejects += result.rejects
        if done % 500 == 0 or done == len(rows):
            _log_progress(done, len(rows), len(figures), len(rejects))
    rejects = rejects_frame(rejects)
    check_failure_rate(rejects, len(rows), cfg)
    return _sorted_by_id(figures), rejects


def extract_file(
    source: Source,
    rows: list[InventoryRow],
    cfg: ExtractConfig,
    figures: str | os.PathLike,
    batch_articles: int = BATCH_ARTICLES,
) -> pd.DataFrame:
    """`extract_chunk` streamed: the figures go to the `figures` table about `batch_articles`
    articles at a time (memory does not grow with the chunk); returns the rejects.

    The table gets the same rows in the same order as `extract_chunk` (see `article_batches`),
    and the rejects stay in the order of `rows`. The failure-rate guard sees the whole chunk's
    rejects before the table is renamed into place: a chunk that fails it leaves no table."""
    rejects: list[list[dict]] = [[] for _ in rows]
    done = found = 0
    with TableWriter(figures, "figures") as writer:
        for batch, results in _extracted_batches(source, rows, cfg, batch_articles):
            batch_figures = [f for result in results for f in result.figures]
            writer.write(_sorted_by_id(batch_figures))
            for i, result in zip(batch, results, strict=True):
                rejects[i] = result.rejects
            done, found = done + len(batch), found + len(batch_figures)
            _log_progress(done, len(rows), found, sum(map(len, rejects)))
        frame = rejects_frame(itertools.chain.from_iterable(rejects))
        check_failure_rate(frame, len(rows), cfg)
    return frame


def iter_figures(
    source: Source,
    rows: list[InventoryRow],
    cfg: ExtractConfig,
    batch_articles: int = BATCH_ARTICLES,
) -> Iterator[pd.DataFrame]:
    """The figures of `extract_chunk`, in the same order, as non-empty frames of about
    `batch_articles` articles each, for callers that need no rejects and no table (training).
    The failure-rate guard runs once the last frame is taken."""
    rejects: list[dict] = []
    for _, results in _extracted_batches(source, rows, cfg, batch_articles):
        figures = [f for result in results for f in result.figures]
        rejects += [r for result in results for r in result.rejects]
        if figures:
            yield _sorted_by_id(figures)
    check_failure_rate(rejects_frame(rejects), len(rows), cfg)


def _extracted_batches(source: Source, rows: list[InventoryRow], cfg: ExtractConfig, size: int):
    """(row indices, their articles' extraction results) for each of `article_batches`."""
    for batch in article_batches(rows, size):
        yield batch, [extract_article(source, rows[i], cfg) for i in batch]


def article_batches(rows: list[InventoryRow], size: int) -> list[list[int]]:
    """Indices of `rows` in batches of about `size` articles, such that the batches' figures,
    each batch sorted by id, follow each other in id order: the whole chunk sorted by id.

    A figure id is `<pmcid>_<suffix>`, so with key = pmcid + "_" the ids of an article whose key
    sorts before another's, and is not a prefix of it, sort before all of the other's ids. The
    articles are ordered by key (stably) and cut only between keys that are not prefixes of the
    batch's earlier keys (in key order, the keys starting with a given key are contiguous); so
    articles that share a PMCID (versions) or whose ids may interleave stay in one batch."""
    order = sorted(range(len(rows)), key=lambda i: rows[i].pmcid + "_")
    batches: list[list[int]] = []
    batch: list[int] = []
    unit = None  # key of the first article of the current run of prefix-related keys
    for i in order:
        key = rows[i].pmcid + "_"
        if unit is None or not key.startswith(unit):
            unit = key
            if len(batch) >= size:
                batches.append(batch)
                batch = []
        batch.append(i)
    return batches + [batch] if batch else batches


def _sorted_by_id(figures: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(figures)
    if len(frame):
        frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
    return frame


def _log_progress(done: int, articles: int, figures: int, rejects: int) -> None:
    log.info("extract: %d/%d articles, %d figures, %d rejects", done, articles, figures, rejects)
