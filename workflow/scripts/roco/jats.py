"""Parse one JATS article: its identifiers, dates, licence, and every figure with its graphics.

Parsing is safe: lxml never resolves entities, loads a DTD or touches the network, input above a
size limit is refused, and any parse failure becomes a `JatsError` carrying lxml's message (the
caller turns it into a reject). Entity references left unresolved (JATS files that rely on the
external DTD for `&ndash;` and friends) are mapped to their HTML character when the name is a
known one and dropped otherwise; they are never expanded recursively.

Figures: every `<fig>` anywhere (body, back, floats-group, sub-article, response), in document
order. A `<fig>` inside a `<fig-group>` keeps the group's caption in front of its own and the
group's label when it has none. A figure's graphics are the `<graphic>` elements whose nearest
`<fig>` is that figure, in document order, except those inside formulas, tables or the caption;
an `<alternatives>` block is one image, so only its first `<graphic>` counts. Figure-level
`<permissions>` give the figure its own licence (no CC licence there means "NO-CC CODE": a
figure reproduced with permission is not under the article's licence).

Caption text = title + every paragraph, blocks joined by one space (a period is added after a
title that ends without punctuation). Inline markup (italic, bold, sup, sub, xref, ext-link)
contributes its text with no added spacing; formulas contribute their alt text (or the token text
of small MathML), never raw TeX; `inline-graphic` contributes nothing.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from lxml import etree

NO_LICENCE = "NO-CC CODE"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff")

_BLOCKS = {"title", "p", "list-item", "disp-formula", "disp-quote", "def-item", "break", "label"}
_FORMULAS = {"inline-formula", "disp-formula"}
_NOT_FIGURE_GRAPHIC = _FORMULAS | {"caption", "table-wrap", "inline-graphic", "chem-struct"}
# Subtrees that are not caption prose: images, raw TeX, identifiers, and eLife's source-data
# blocks (<supplementary-material> inside a caption describes a data file, not the figure).
_SKIPPED = {
    "inline-graphic",
    "graphic",
    "media",
    "tex-math",
    "alt-text",
    "object-id",
    "supplementary-material",
}
_PUB_TYPES = {"epub", "ppub", "epub-ppub", "collection", "pub", "publication", ""}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


class JatsError(ValueError):
    """The article cannot be used; the message is the parser's message or the reason."""


@dataclass(frozen=True)
class Figure:
    figure_id: str
    label: str
    caption: str
    graphics: tuple[str, ...]
    licence: str | None
    ordinal: int


@dataclass(frozen=True)
class Article:
    pmcid: str | None
    version: int | None
    pmid: str | None
    doi: str | None
    title: str
    journal: str
    year: int | None
    pub_date: str | None
    licence: str
    licence_url: str | None
    figures: tuple[Figure, ...]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_article(
    xml: bytes, max_bytes: int = 50_000_000, licence_text: str | None = None
) -> Article:
    """Parse JATS bytes; `licence_text` (an old package's license.txt) is the last licence
    source. Raises JatsError for oversized, malformed or non-JATS input."""
    if len(xml) > max_bytes:
        raise JatsError(f"article XML is {len(xml)} bytes, above the limit of {max_bytes}")
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as error:
        raise JatsError(str(error)) from error
    if root is None or _local(root) != "article":
        raise JatsError(
            f"root element is <{_local(root) if root is not None else ''}>, not a JATS <article>"
        )
    meta = _first(root, "front", "article-meta")
    journal_meta = _first(root, "front", "journal-meta")
    pmcid, version = _pmc_ids(meta)
    licence, url = _licence_of(_child(meta, "permissions"), meta, licence_text)
    pub_date = _earliest_date(meta)
    return Article(
        pmcid=pmcid,
        version=version,
        pmid=_article_id(meta, "pmid"),
        doi=_article_id(meta, "doi"),
        title=_text(_first(meta, "title-group", "article-title")),
        journal=_journal(journal_meta),
        year=int(pub_date[:4]) if pub_date else None,
        pub_date=pub_date,
        licence=licence,
        licence_url=url,
        figures=tuple(_figures(root)),
    )


# ---------------------------------------------------------------- tree helpers


def _local(el) -> str:
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(el, name: str):
    if el is None:
        return None
    return next((c for c in el if _local(c) == name), None)


def _children(el, name: str) -> list:
    return [] if el is None else [c for c in el if _local(c) == name]


def _first(el, *path: str):
    for name in path:
        el = _child(el, name)
    return el


def _attr(el, name: str) -> str | None:
    """Attribute by local name, whatever its namespace (xlink:href, rdf:resource...)."""
    for key, value in el.attrib.items():
        if etree.QName(key).localname == name:
            return value.strip()
    return None


def _elements(root, name: str) -> Iterator:
    """Elements named `name` in any namespace or none, `root` included, in document order."""
    return root.iter(f"{{*}}{name}")


# ---------------------------------------------------------------- text


def _text(el) -> str:
    """Readable text of an element: blocks separated, markup dropped, whitespace collapsed."""
    if el is None:
        return ""
    parts: list[str] = []
    _collect(el, parts)
    text = re.sub(r"\s+", " ", "".join(parts)).strip()
    return re.sub(r"\s+([,.;:!?)\]])", r"\1", re.sub(r"([(\[])\s+", r"\1", text))


def _collect(el, parts: list[str]) -> None:
    name = _local(el)
    if name in _SKIPPED:
        return
    if name in _FORMULAS:
        parts.append(f" {_formula_text(el)} " if name == "disp-formula" else _formula_text(el))
        return
    block = name in _BLOCKS
    if block:
        parts.append(" ")
    if el.text:
        parts.append(el.text)
    for child in el:
        if isinstance(child, etree._Entity):
            parts.append(_entity_char(child.name))
        elif isinstance(child.tag, str):
            _collect(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append(" ")


def _entity_char(name: str) -> str:
    return html.entities.html5.get(f"{name};", "")


def _formula_text(el) -> str:
    """Alt text of a formula, or the token text of its MathML; TeX source is never used."""
    alt = next(_elements(el, "alt-text"), None)
    if alt is not None and alt.text:
        return alt.text.strip()
    math = next(_elements(el, "math"), None)
    if math is None:
        return ""
    alttext = _attr(math, "alttext")
    if alttext:
        return alttext
    tokens = (
        t.text.strip()
        for t in math.iter(etree.Element)
        if _local(t) in {"mi", "mn", "mo", "mtext", "ms"} and t.text
    )
    return "".join(tokens)


def _caption_text(caption) -> str:
    if caption is None:
        return ""
    title = _text(_child(caption, "title"))
    rest = [_text(c) for c in caption if _local(c) not in {"title", ""}]
    if title and rest and not re.search(r"[.!?:;]$", title):
        title += "."
    return " ".join(part for part in [title, *rest] if part)


# ---------------------------------------------------------------- figures


def _figures(root) -> Iterator[Figure]:
    for ordinal, fig in enumerate(_elements(root, "fig"), 1):
        caption = _caption_text(_child(fig, "caption"))
        label = _text(_child(fig, "label"))
        group = fig.getparent()
        if group is not None and _local(group) == "fig-group":
            group_caption = _caption_text(_child(group, "caption"))
            caption = " ".join(p for p in (group_caption, caption) if p)
            label = label or _text(_child(group, "label"))
        permissions = _child(fig, "permissions")
        yield Figure(
            figure_id=fig.get("id") or f"fig{ordinal}",
            label=label,
            caption=caption,
            graphics=_graphics(fig),
            licence=None if permissions is None else _licence_of(permissions, None, None)[0],
            ordinal=ordinal,
        )


def _graphics(fig) -> tuple[str, ...]:
    hrefs: list[str] = []
    for graphic in _elements(fig, "graphic"):
        if graphic is fig or not _belongs_to(graphic, fig):
            continue
        parent = graphic.getparent()
        if _local(parent) == "alternatives" and next(_elements(parent, "graphic")) is not graphic:
            continue
        href = _attr(graphic, "href")
        if href and href not in hrefs:
            hrefs.append(href)
    return tuple(hrefs)


def _belongs_to(graphic, fig) -> bool:
    """True when `fig` is the nearest figure of `graphic`, with no formula/table/caption between."""
    el = graphic.getparent()
    while el is not fig:
        if _local(el) in _NOT_FIGURE_GRAPHIC or _local(el) == "fig":
            return False
        el = el.getparent()
    return True


def resolve_graphic(href: str, available: Collection[str]) -> str | None:
    """The file of `available` an xlink:href names, trying image extensions when it has none.

    PMC writes hrefs without extension ("pone.0012255.g001") and ships .jpg next to .gif/.tif
    renderings; publishers write ".tif" where PMC ships a .jpg. So: the exact base name first,
    then its stem (the name without a known image extension) with .jpg, .jpeg, .png, .gif, .tif,
    .tiff in that order; names are compared case-insensitively.
    """
    base = href.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base:
        return None
    by_lower = {name.lower(): name for name in sorted(available, reverse=True)}
    if base.lower() in by_lower:
        return by_lower[base.lower()]
    stem = base
    if stem.lower().endswith(IMAGE_EXTENSIONS):
        stem = stem.rsplit(".", 1)[0]
    for ext in IMAGE_EXTENSIONS:
        found = by_lower.get(stem.lower() + ext)
        if found:
            return found
    return None


# ---------------------------------------------------------------- identifiers and dates


def _article_id(meta, kind: str) -> str | None:
    for el in _children(meta, "article-id"):
        if (el.get("pub-id-type") or "").lower() == kind and _text(el):
            return _text(el)
    return None


def _pmc_ids(meta) -> tuple[str | None, int | None]:
    versioned = _article_id(meta, "pmcid-ver")
    if versioned:
        match = re.fullmatch(r"(?:PMC)?(\d+)\.(\d+)", versioned, re.IGNORECASE)
        if match:
            return f"PMC{match[1]}", int(match[2])
    plain = _article_id(meta, "pmcid") or _article_id(meta, "pmc")
    match = re.fullmatch(r"(?:PMC)?(\d+)", plain or "", re.IGNORECASE)
    return (f"PMC{match[1]}", None) if match else (None, None)


def _journal(journal_meta) -> str:
    for path in (("journal-title-group", "journal-title"), ("journal-title",)):
        title = _text(_first(journal_meta, *path))
        if title:
            return title
    for el in _children(journal_meta, "journal-id"):
        if el.get("journal-id-type") in {"nlm-ta", "iso-abbrev"} and _text(el):
            return _text(el)
    return ""


def _earliest_date(meta) -> str | None:
    """Earliest publication date (epub, ppub, collection...) as ISO text of what is known."""
    dates = []
    for el in _children(meta, "pub-date"):
        kind = (el.get("pub-type") or el.get("date-type") or "").lower()
        if kind in _PUB_TYPES:
            date = _date_parts(el)
            if date:
                dates.append(date)
    if not dates:
        return None
    # Within one year (or month) the more precise date wins: "collection 2016" says less than
    # "epub 2016-05-10", and both describe the same first publication.
    year, month, day = min(dates, key=lambda d: (d[0], d[1] or 13, d[2] or 32))
    return "-".join([f"{year:04d}", *(f"{v:02d}" for v in (month, day) if v)])


def _date_parts(el) -> tuple[int, int | None, int | None] | None:
    iso = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", el.get("iso-8601-date") or "")
    if iso:
        return int(iso[1]), _int(iso[2]), _int(iso[3])
    year = _int(_text(_child(el, "year")))
    if year is None:
        return None
    month_text = _text(_child(el, "month")).lower()
    month = _int(month_text) or _MONTHS.get(month_text[:3])
    return year, month, _int(_text(_child(el, "day"))) if month else None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) > 0 else None


# ---------------------------------------------------------------- licences

_URL_CODES = {
    "by": "CC BY",
    "by-nc": "CC BY-NC",
    "by-nc-sa": "CC BY-NC-SA",
    "by-nc-nd": "CC BY-NC-ND",
    "by-sa": "CC BY-SA",
    "by-nd": "CC BY-ND",
    "by-nd-nc": "CC BY-NC-ND",
}
_URL = re.compile(r"creativecommons\.org/(?:licenses/([a-z-]+)|publicdomain/(zero))", re.I)
_TYPE = re.compile(r"^(?:cc|creative[\s-]*commons)[\s_-]*(0|zero|by(?:[\s_-]*(?:nc|sa|nd))*)$")
_NAME = re.compile(
    r"creative\s+commons\s+(?:\(cc\)\s+)?attribution\b(.{0,60}?)\s*(?:licen[cs]e|\d\.\d|\(|$)",
    re.I | re.S,
)


def normalise_licence(license_type: str | None, url: str | None, text: str | None) -> str:
    """PMC's licence code from a licence URL, a license-type value, or the licence wording.

    The URL is the most precise signal, then license-type ("cc-by-nc", "CC BY"), then the text
    (a URL inside it, "Creative Commons Attribution-NonCommercial License", "CC0"/public-domain
    dedication). Uninformative types such as "open-access" fall through. "NO-CC CODE" otherwise.
    """
    for source in (url, text):
        match = _URL.search(source or "")
        if match:
            return "CC0" if match[2] else _URL_CODES.get(match[1].lower().strip("-"), NO_LICENCE)
    kind = re.sub(r"[\s_-]+", "-", (license_type or "").strip().lower())
    match = _TYPE.match(kind)
    if match:
        return _code_from_parts(match[1])
    return _code_from_text(text or "")


def _code_from_parts(parts: str) -> str:
    if parts in {"0", "zero"}:
        return "CC0"
    flags = re.findall(r"nc|sa|nd", parts)
    return _URL_CODES.get(
        "-".join(["by", *sorted(set(flags), key=["nc", "sa", "nd"].index)]), NO_LICENCE
    )


def _code_from_text(text: str) -> str:
    flat = re.sub(r"\s+", " ", text)
    if re.search(r"\bCC0\b|creative commons zero|public domain dedication", flat, re.I):
        return "CC0"
    match = _NAME.search(flat)
    if not match:
        return NO_LICENCE
    words = re.sub(r"[^a-z]", "", match[1].lower())
    flags = [
        flag
        for flag, pattern in (("nc", "noncommercial"), ("sa", "sharealike"), ("nd", "noderiv"))
        if pattern in words
    ]
    return _code_from_parts("-".join(["by", *flags]))


def _licence_of(permissions, meta, licence_text: str | None) -> tuple[str, str | None]:
    """(code, licence URL) of <permissions>, else of a copyright statement, else license.txt.

    Old NLM articles carry the licence wording only in <copyright-statement> (inside or beside
    <permissions>); old packages carry it in license.txt.
    """
    for licence in _children(permissions, "license"):
        url = _attr(licence, "href") or _attr(licence, "resource")
        ref = next(_elements(licence, "license_ref"), None)
        if ref is not None and _text(ref):
            url = _text(ref)
        text = " ".join(_text(p) for p in _children(licence, "license-p")) or _text(licence)
        code = normalise_licence(licence.get("license-type"), url, text)
        if code != NO_LICENCE:
            return code, url or _url_in(text)
    statements = _children(permissions, "copyright-statement") + _children(
        meta, "copyright-statement"
    )
    for text in [_text(el) for el in statements] + [licence_text or ""]:
        code = normalise_licence(None, None, text)
        if code != NO_LICENCE:
            return code, _url_in(text)
    return NO_LICENCE, None


def _url_in(text: str) -> str | None:
    match = re.search(r"https?://creativecommons\.org/\S+?(?=[\s)\]>,;]|\.?$|\.\s)", text)
    return match[0] if match else None
