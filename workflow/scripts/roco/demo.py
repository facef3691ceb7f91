"""A deterministic, PMC-shaped demo corpus in the PMC Cloud Service layout.

The default workflow runs offline on this corpus, so it carries every case the stages must handle:
radiology-like images (CT, MRI, X-ray, ultrasound, angiography) and non-radiology figures (charts,
histology, clinical photos, flow charts), compound multi-panel figures, near-duplicate images across
articles, mixed licences, author manuscripts, a retracted article, an article with two versions, a
missing image, a truncated XML file and the JATS constructs extractors get wrong (fig-group, several
graphics per fig, inline formulas and ext-links in captions, extension-less hrefs, figure-level
permissions, floats-group and appendix figures, formula graphics that are not figures).

Layout (as in the bucket `pmc-oa-opendata`): `PMC<id>.<ver>/` holds the JATS XML, the metadata
JSON and the media files; `metadata/PMC<id>.<ver>.json` is a copy of the JSON; an S3-Inventory-style
report `inventory-reports/pmc-oa-opendata/metadata/<YYYY-MM-DDT01-00Z>/manifest.json` names
gzipped CSV parts listing every metadata key with its last-modified time and ETag.
`demo_manifest.json` is the ground truth (licence, retraction, malformed XML and, per graphic,
kind, compound, modality, duplicate source, missing) that tests compare the stages against.

Algorithm: article `i` is planned from its own RNG seeded with `(seed, i)` (numpy PCG64), so a
corpus of n + k articles starts with the same n articles byte for byte ("PMC grows"). Edge cases sit
at fixed small indices, so every corpus of at least 25 articles contains all of them. PMC ids
interleave over four ranges of 10,000 ids (article i goes to range i % 4), so adding articles only
adds ids. A near-duplicate re-renders its source graphic from the source article's plan (never
from its output), then re-encodes it at another JPEG quality and scale, or copies the bytes. Images
are drawn with numpy and PIL at 192-384 px; all bytes are fixed (no clock, gzip mtime 0).
`add_article_version` and `retract_article` change one article version and publish a new inventory
dated the day after the newest one, copying every other row unchanged.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from lxml import etree
from PIL import Image, ImageDraw

from roco.demo_images import DRAW, choice, font
from roco.sources import BUCKET, INVENTORY_PREFIX

MANIFEST_NAME = "demo_manifest.json"
# Four ranges of 10,000 ids: with chunk_size 10000 the corpus spans four chunks.
ID_BASES = (10_010_000, 10_020_000, 10_030_000, 10_040_000)
# Real PMC ids of one journal are not consecutive; the gap also leaves room below each range end.
ID_OFFSET, ID_STEP = 11, 3
MAX_ARTICLES = len(ID_BASES) * ((10_000 - ID_OFFSET) // ID_STEP)
FIRST_INVENTORY = date(2026, 1, 8)
ROWS_PER_INVENTORY_PART = 100

RADIOLOGY_KINDS = {
    "ct": "CT",
    "mri": "MRI",
    "xray": "X-ray",
    "ultrasound": "Ultrasound",
    "angiography": "Angiography",
}
OTHER_KINDS = ("chart", "microscopy", "photo", "diagram")
_KIND_WEIGHTS = {
    "ct": 0.19,
    "mri": 0.15,
    "xray": 0.14,
    "ultrasound": 0.08,
    "angiography": 0.03,
    "chart": 0.14,
    "microscopy": 0.12,
    "photo": 0.08,
    "diagram": 0.07,
}

# licence code -> licence URL (None: no Creative Commons licence)
LICENCES: dict[str, str | None] = {
    "CC BY": "https://creativecommons.org/licenses/by/4.0/",
    "CC BY-NC": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC BY-ND": "https://creativecommons.org/licenses/by-nd/4.0/",
    "CC BY-NC-ND": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    "CC BY-SA": "https://creativecommons.org/licenses/by-sa/4.0/",
    "NO-CC CODE": None,
    "TDM": None,
}
_LICENCE_WEIGHTS = {
    "CC BY": 0.50,
    "CC BY-NC": 0.20,
    "CC0": 0.05,
    "CC BY-ND": 0.04,
    "CC BY-NC-ND": 0.08,
    "CC BY-SA": 0.04,
    "NO-CC CODE": 0.04,
    "TDM": 0.05,
}


@dataclass(frozen=True)
class Journal:
    nlm_ta: str
    title: str
    publisher: str
    abbr: str
    issn: str


# Invented journals: demo articles must never look like papers of a real journal.
_JOURNALS = (
    Journal(
        "J Clin Imaging Cases",
        "Journal of Clinical Imaging Cases",
        "Demo Press",
        "JCIC",
        "2999-0011",
    ),
    Journal(
        "Ann Diagn Radiol",
        "Annals of Diagnostic Radiology",
        "Example Scientific",
        "ADR",
        "2999-0028",
    ),
    Journal(
        "Case Rep Med Imaging", "Case Reports in Medical Imaging", "Demo Press", "CRMI", "2999-0036"
    ),
    Journal(
        "Int J Oncol Res",
        "International Journal of Oncology Research",
        "Sample Medical",
        "IJOR",
        "2999-0044",
    ),
    Journal(
        "Pathol Lab Rep",
        "Pathology and Laboratory Reports",
        "Example Scientific",
        "PLR",
        "2999-0052",
    ),
    Journal(
        "Open J Clin Stud",
        "Open Journal of Clinical Studies",
        "Sample Medical",
        "OJCS",
        "2999-0060",
    ),
)


@dataclass(frozen=True)
class Graphic:
    """One image file of a figure."""

    number: int  # the file is <stem>-g<number:03d>.<fmt>
    kind: str
    layout: tuple[int, int] = (1, 1)  # panel rows x columns; (1, 1) is a single image
    width: int = 256
    height: int = 256
    quality: int = 90
    fmt: str = "jpg"
    href_ext: bool = True  # whether xlink:href carries the file extension
    missing: bool = False
    source: tuple[int, int] | None = None  # (article index, graphic number) of the original
    exact_copy: bool = False
    scale: float = 1.0

    @property
    def compound(self) -> bool:
        return self.layout != (1, 1)


@dataclass(frozen=True)
class Figure:
    """One `<fig>`: label, caption (XML fragments) and one or more graphics."""

    fig_id: str
    label: str
    title: str | None
    paras: tuple[str, ...]
    graphics: tuple[Graphic, ...]
    language: str = "en"
    caption_issue: str | None = None
    licence: str | None = None  # figure-level <permissions> licence code
    group: str | None = None


@dataclass(frozen=True)
class FigGroup:
    """A `<fig-group>`: a group caption over child figures."""

    group_id: str
    title: str
    text: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class ArticlePlan:
    """Everything needed to write every version of one article, derived from (seed, index)."""

    seed: int
    index: int
    number: int  # PMC id without the prefix
    journal: Journal
    year: int
    month: int
    day: int
    volume: int
    page: int
    title: str
    condition: str
    licence: str
    items: tuple[Figure | FigGroup, ...]
    placement: str = "body"  # "body" or "floats" (figures in <floats-group>)
    last_figure_in: str | None = None  # "app" (<back><app-group>) or "sub-article"
    id_style: str = "new"  # "new": pmcid + pmcid-ver; "old": numeric pmc
    inline_formula: bool = False
    formula_graphic: bool = False  # a <disp-formula> holding a <graphic> (not a figure)
    versions: int = 1
    retracted: bool = False
    malformed: bool = False
    modified_day: int = 0  # days after 2025-01-01 of the last modification
    modified_second: int = 0

    @property
    def pmcid(self) -> str:
        return f"PMC{self.number}"

    @property
    def stem(self) -> str:
        return f"{self.journal.abbr}-{self.volume}-{self.page}"

    @property
    def is_manuscript(self) -> bool:
        return self.licence == "TDM"

    @property
    def pmid(self) -> str:
        return str(39_000_000 + self.index * 7 + self.seed % 5)

    @property
    def doi(self) -> str:
        return f"10.5555/{self.journal.abbr.lower()}.{self.year}.{self.number}"


def pmc_number(index: int) -> int:
    """The PMC id of article `index`: interleaved over four ranges, increasing within each."""
    if not 0 <= index < MAX_ARTICLES:
        raise ValueError(f"article index {index} outside 0..{MAX_ARTICLES - 1}")
    return ID_BASES[index % len(ID_BASES)] + ID_OFFSET + ID_STEP * (index // len(ID_BASES))


# ---------------------------------------------------------------------------------------------
# Captions


_SIDES = ("right", "left")
_CONDITIONS = (
    "hepatocellular carcinoma",
    "pulmonary embolism",
    "glioblastoma",
    "renal cell carcinoma",
    "acute appendicitis",
    "multiple sclerosis",
    "osteosarcoma",
    "community-acquired pneumonia",
    "cholecystitis",
    "aortic dissection",
    "tuberculosis",
    "pancreatic adenocarcinoma",
)
_CAPTIONS: dict[str, tuple[str, ...]] = {
    "ct": (
        "Axial contrast-enhanced computed tomography (CT) of the abdomen showing a hypodense "
        "lesion in the {side} liver lobe (arrow).",
        "Non-contrast CT scan of the head demonstrating an acute {side} subdural hematoma with "
        "midline shift.",
        "Coronal CT image of the chest showing a {size} cm spiculated nodule in the {side} upper "
        "lobe.",
        "Contrast-enhanced CT of the pelvis reveals a heterogeneous mass arising from the {side} "
        "ovary.",
        "HRCT of the lungs showing bilateral ground-glass opacities with a peripheral "
        "distribution.",
        "Computed tomography angiography (CTA) showing a filling defect in the {side} main "
        "pulmonary artery.",
    ),
    "mri": (
        "T2-weighted MRI of the brain showing a hyperintense lesion in the {side} frontal lobe.",
        "Sagittal T1-weighted magnetic resonance imaging (MRI) of the lumbar spine demonstrating "
        "a disc herniation at L4-L5.",
        "Axial FLAIR MR image showing periventricular white matter hyperintensities.",
        "Gadolinium-enhanced T1-weighted MR image of the {side} knee showing a tear of the medial "
        "meniscus.",
        "Diffusion-weighted MRI (DWI) showing restricted diffusion in the {side} basal ganglia.",
    ),
    "xray": (
        "Chest X-ray (PA view) showing a {side} lower lobe consolidation.",
        "Anteroposterior radiograph of the pelvis showing a displaced fracture of the {side} "
        "femoral neck.",
        "Plain radiograph of the {side} hand demonstrating periarticular erosions.",
        "Lateral chest radiograph showing a retrosternal opacity.",
        "CXR on admission revealed bilateral patchy infiltrates.",
    ),
    "ultrasound": (
        "Transabdominal ultrasound showing a distended gallbladder with multiple echogenic "
        "calculi and posterior acoustic shadowing.",
        "Doppler ultrasonography of the {side} common carotid artery demonstrating a "
        "hypoechoic plaque.",
        "Transvaginal sonography showing a {size} cm anechoic cyst in the {side} ovary.",
        "US of the thyroid gland revealing a hypoechoic nodule with microcalcifications.",
    ),
    "angiography": (
        "Digital subtraction angiography (DSA) of the {side} internal carotid artery showing a "
        "saccular aneurysm.",
        "Coronary angiogram showing a severe stenosis of the left anterior descending artery.",
        "Selective angiography of the {side} renal artery before embolization.",
    ),
    "chart": (
        "Kaplan-Meier survival curves for overall survival of patients with {condition}, "
        "stratified by treatment group.",
        "Bar chart of the mean tumour volume in the treatment and control groups. Error bars "
        "indicate the standard deviation.",
        "Receiver operating characteristic curves of the three prediction models.",
        "Frequency of CT findings in the study cohort (n = {n}).",
    ),
    "microscopy": (
        "H&E staining, x40, showing sheets of atypical cells with pleomorphic nuclei.",
        "Histopathological examination (hematoxylin and eosin, original magnification x200) "
        "revealing granulomatous inflammation.",
        "Immunohistochemical staining for Ki-67 showing a high proliferation index.",
        "Immunofluorescence staining of cultured cells (green: actin; blue: DAPI).",
    ),
    "photo": (
        "Clinical photograph showing an erythematous plaque on the {side} forearm.",
        "Intraoperative photograph of the resected specimen.",
        "Endoscopic view showing an ulcerated lesion in the gastric antrum.",
    ),
    "diagram": (
        "Flow chart of patient selection.",
        "Schematic diagram of the proposed diagnostic workflow.",
        "PRISMA flow diagram of the study selection process.",
    ),
}
# Radiology captions that never name the modality: the image must carry the decision.
_UNNAMED_RADIOLOGY = (
    "Axial image at the level of the kidneys showing a {size} cm mass in the {side} kidney "
    "(arrowhead).",
    "Follow-up image after six months showing complete resolution of the lesion.",
    "Preoperative imaging of a {age}-year-old {sex} with {condition}.",
)
_COMPOUND_INTROS = (
    "Imaging findings in a {age}-year-old {sex} with {condition}.",
    "Representative images of {condition}.",
    "Findings at presentation and follow-up.",
)
_NON_ENGLISH = {
    "de": (
        "ct",
        "Axiale kontrastverstärkte Computertomographie (CT) des Abdomens mit einer hypodensen "
        "Läsion im rechten Leberlappen (Pfeil).",
    ),
    "es": (
        "xray",
        "Radiografía de tórax (proyección PA) que muestra una consolidación en el lóbulo "
        "inferior derecho.",
    ),
}
_MATH_P = (
    '<inline-formula><mml:math id="{id}"><mml:mi>p</mml:mi><mml:mo>&lt;</mml:mo>'
    "<mml:mn>0.05</mml:mn></mml:math></inline-formula>"
)


def _weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _fill(rng: np.random.Generator, template: str, condition: str) -> str:
    return template.format(
        side=choice(rng, _SIDES),
        size=f"{rng.uniform(0.8, 6.5):.1f}",
        age=int(rng.integers(18, 90)),
        sex=choice(rng, ("man", "woman")),
        condition=condition,
        n=int(rng.integers(40, 400)),
    )


def _sentence(rng: np.random.Generator, kind: str, condition: str) -> str:
    """One caption sentence for `kind`; some radiology sentences do not name the modality."""
    if kind in RADIOLOGY_KINDS and rng.random() < 0.12:
        return _fill(rng, choice(rng, _UNNAMED_RADIOLOGY), condition)
    return _fill(rng, choice(rng, _CAPTIONS[kind]), condition)


def _caption(
    rng: np.random.Generator, kind: str, panels: int, condition: str
) -> tuple[str | None, tuple[str, ...]]:
    """(title, paragraphs) as escaped XML text; compound captions letter their panels."""
    if panels > 1:
        intro = _fill(rng, choice(rng, _COMPOUND_INTROS), condition)
        parts = [f"({chr(65 + k)}) {_sentence(rng, kind, condition)}" for k in range(panels)]
        return escape(intro), (escape(" ".join(parts)),)
    text = _sentence(rng, kind, condition)
    if rng.random() < 0.3 and kind not in ("chart", "diagram"):
        extra = _fill(rng, "The patient was a {age}-year-old {sex} with {condition}.", condition)
        return escape(text), (escape(extra),)
    return None, (escape(text),)


# ---------------------------------------------------------------------------------------------
# Planning


# Edge cases at fixed indices (all below 25, so small test corpora hold every one of them).
_FIG_GROUP, _TWO_GRAPHICS, _FIG_PERMISSIONS, _RETRACTED, _PNG, _NO_EXT = 2, 3, 4, 5, 6, 7
_SHORT_CAPTION, _TWO_VERSIONS, _GERMAN, _SPANISH, _RICH_CAPTION, _MISSING = 8, 9, 10, 11, 12, 13
_SUB_ARTICLE, _APPENDIX, _EXACT_COPY, _MALFORMED, _REENCODED, _MANUSCRIPT = 14, 15, 16, 17, 18, 19
_FORCED_LICENCES = {
    14: "CC BY-NC",
    19: "TDM",
    20: "CC0",
    21: "CC BY-ND",
    22: "CC BY-NC-ND",
    23: "CC BY-SA",
    24: "NO-CC CODE",
}
_MIN_FIGURES = {_SHORT_CAPTION: 3, _RICH_CAPTION: 2, _SUB_ARTICLE: 2, _APPENDIX: 2}
# Articles 0 and 1 open with a single radiology image: the sources of the fixed duplicates.
_FORCED_FIRST_KIND = {0: "ct", 1: "xray", _PNG: "mri", _GERMAN: "ct", _SPANISH: "xray"}
_DUPLICATE_SOURCES = {_EXACT_COPY: (1, 1), _REENCODED: (0, 1)}
_NO_DUPLICATE_SOURCE = {_RETRACTED, _MISSING, _MALFORMED, _MANUSCRIPT}


def _plan_graphic(rng: np.random.Generator, number: int, kind: str, compound: bool) -> Graphic:
    layout = choice(rng, ((2, 2), (1, 3))) if compound else (1, 1)
    width, height = (int(v) for v in rng.integers(192, 385, size=2))
    if layout == (1, 3):
        width, height = 384, int(rng.integers(128, 160))
    return Graphic(
        number=number,
        kind=kind,
        layout=layout,
        width=width,
        height=height,
        quality=int(rng.integers(75, 96)),
        href_ext=bool(rng.random() >= 0.15),
    )


def _plan_figure(
    rng: np.random.Generator, k: int, number: int, condition: str, kind: str | None = None
) -> Figure:
    kind = kind or _weighted(rng, _KIND_WEIGHTS)
    graphic = _plan_graphic(rng, number, kind, compound=bool(rng.random() < 0.2))
    title, paras = _caption(rng, kind, graphic.layout[0] * graphic.layout[1], condition)
    return Figure(f"fig{k}", f"Figure {k}", title, paras, (graphic,))


@lru_cache(maxsize=4096)
def _base_plan(seed: int, index: int) -> ArticlePlan:
    """The article without its cross-article duplicates (which need other articles' plans)."""
    rng = np.random.default_rng([seed, index, 0])
    journal = choice(rng, _JOURNALS)
    condition = choice(rng, _CONDITIONS)
    year = int(rng.integers(2024, 2026))
    n_figures = max(int(rng.integers(1, 5)), _MIN_FIGURES.get(index, 1))
    figures = []
    for k in range(1, n_figures + 1):
        forced = _FORCED_FIRST_KIND.get(index) if k == 1 else None
        figure = _plan_figure(rng, k, k, condition, forced)
        if forced:
            figure = replace(figure, graphics=(replace(figure.graphics[0], layout=(1, 1)),))
            figure = replace(figure, paras=(escape(_sentence(rng, forced, condition)),), title=None)
        figures.append(figure)
    if index < 25:
        licence = _FORCED_LICENCES.get(index, "CC BY")
    else:
        licence = _weighted(rng, _LICENCE_WEIGHTS)
    plan = ArticlePlan(
        seed=seed,
        index=index,
        number=pmc_number(index),
        journal=journal,
        year=year,
        month=int(rng.integers(1, 13)),
        day=int(rng.integers(1, 29)),
        volume=year - 2010 + _JOURNALS.index(journal),
        page=int(rng.integers(1, 3000)),
        title=_capitalised(_fill(rng, choice(rng, _TITLES), condition)),
        condition=condition,
        licence=licence,
        items=tuple(figures),
        placement="floats" if index == _FIG_PERMISSIONS or rng.random() < 0.1 else "body",
        id_style="old" if rng.random() < 0.25 else "new",
        inline_formula=index == _RICH_CAPTION or rng.random() < 0.3,
        modified_day=int(rng.integers(0, 330)),
        modified_second=int(rng.integers(0, 86_400)),
    )
    return _apply_edge_cases(plan, rng)


_TITLES = (
    "{condition} in a {age}-year-old {sex}: a case report and review of the literature",
    "Imaging findings of {condition} in {n} patients: a retrospective study",
    "Diagnostic performance of imaging in {condition}",
    "Outcomes after treatment of {condition}: a cohort study",
)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _renumber(figures: list[Figure]) -> tuple[Figure, ...]:
    """Number graphics consecutively in document order, as publishers name the files."""
    out, number = [], 1
    for figure in figures:
        graphics = []
        for graphic in figure.graphics:
            graphics.append(replace(graphic, number=number))
            number += 1
        out.append(replace(figure, graphics=tuple(graphics)))
    return tuple(out)


def _apply_edge_cases(plan: ArticlePlan, rng: np.random.Generator) -> ArticlePlan:
    figures = list(plan.items)
    i = plan.index
    first = figures[0]
    if i == _TWO_GRAPHICS:
        second = replace(first.graphics[0], layout=(1, 1), number=0)
        figures[0] = replace(
            first,
            graphics=(replace(first.graphics[0], layout=(1, 1)), second),
            title=None,
            paras=(
                escape(
                    "Axial (left) and coronal (right) images of the same examination. "
                    + _sentence(rng, first.graphics[0].kind, plan.condition)
                ),
            ),
        )
    if i == _FIG_PERMISSIONS:
        figures[0] = replace(first, licence="CC BY-NC")
    if i == _PNG:
        figures[0] = replace(first, graphics=(replace(first.graphics[0], fmt="png"),))
    if i == _NO_EXT:
        figures[0] = replace(first, graphics=(replace(first.graphics[0], href_ext=False),))
    if i == _SHORT_CAPTION:
        figures[2] = replace(
            figures[2], title=None, paras=("Figure 3.",), caption_issue="too_short"
        )
    if i in (_GERMAN, _SPANISH):
        language = "de" if i == _GERMAN else "es"
        figures[0] = replace(
            first,
            title=None,
            paras=(escape(_NON_ENGLISH[language][1]),),
            language=language,
            caption_issue="non_english",
        )
    if i == _RICH_CAPTION:
        figures[0] = replace(
            first,
            paras=(
                *first.paras[:-1],
                first.paras[-1] + ' Case courtesy of <ext-link ext-link-type="uri" '
                'xlink:href="https://www.example.org/cases/10412">'
                "www.example.org/cases/10412</ext-link>.",
            ),
        )
        chart = replace(figures[1].graphics[0], kind="chart", layout=(1, 1))
        figures[1] = replace(
            figures[1],
            graphics=(chart,),
            title=None,
            paras=(
                "Comparison of lesion size between responders and non-responders ("
                + _MATH_P.format(id="mc1")
                + ", Mann-Whitney U test).",
            ),
        )
    if i == _MISSING:
        figures[0] = replace(first, graphics=(replace(first.graphics[0], missing=True),))
    if i == _FIG_GROUP:
        child = replace(figures[0], fig_id="fig1a", label="Figure 1A", group="fig1")
        other = _plan_figure(rng, 1, 0, plan.condition, child.graphics[0].kind)
        other = replace(other, fig_id="fig1b", label="Figure 1B", group="fig1")
        group = FigGroup(
            "fig1", "Figure 1", "Imaging at presentation and after treatment.", (child, other)
        )
        items = _flatten_renumber([group, *figures[1:]])
    else:
        items = _renumber(figures)
    return replace(
        plan,
        items=items,
        versions=2 if i == _TWO_VERSIONS else 1,
        retracted=i == _RETRACTED,
        malformed=i == _MALFORMED,
        last_figure_in={_APPENDIX: "app", _SUB_ARTICLE: "sub-article"}.get(i),
        formula_graphic=i == _RICH_CAPTION,
        placement="body" if i in (_APPENDIX, _SUB_ARTICLE) else plan.placement,
    )


def _flatten_renumber(items: list[Figure | FigGroup]) -> tuple[Figure | FigGroup, ...]:
    """_renumber over items that may hold a fig-group, keeping the group structure."""
    flat = [f for item in items for f in (item.figures if isinstance(item, FigGroup) else (item,))]
    numbered = iter(_renumber(flat))
    out: list[Figure | FigGroup] = []
    for item in items:
        if isinstance(item, FigGroup):
            out.append(replace(item, figures=tuple(next(numbered) for _ in item.figures)))
        else:
            out.append(next(numbered))
    return tuple(out)


def figures_of(plan: ArticlePlan) -> list[Figure]:
    """Every figure of the article in document order (fig-group children included)."""
    return [
        f for item in plan.items for f in (item.figures if isinstance(item, FigGroup) else (item,))
    ]


def _graphics_of(plan: ArticlePlan) -> list[Graphic]:
    return [g for f in figures_of(plan) for g in f.graphics]


def _eligible_source(plan: ArticlePlan) -> Graphic | None:
    """The first single-panel, present radiology JPEG of an article, if any."""
    if plan.index in _NO_DUPLICATE_SOURCE:
        return None
    for graphic in _graphics_of(plan):
        single = not graphic.compound and not graphic.missing and graphic.fmt == "jpg"
        if graphic.kind in RADIOLOGY_KINDS and single:
            return graphic
    return None


def plan_article(seed: int, index: int) -> ArticlePlan:
    """The full plan of article `index`, near-duplicates of earlier articles included."""
    plan = _base_plan(seed, index)
    rng = np.random.default_rng([seed, index, 1])
    if index in _DUPLICATE_SOURCES:
        source_index, number = _DUPLICATE_SOURCES[index]
        exact = index == _EXACT_COPY
    elif index >= 25 and rng.random() < 0.15:
        source_index, number = int(index - rng.integers(1, min(index, 40) + 1)), 0
        exact = bool(rng.random() < 0.2)
    else:
        return plan
    source_plan = _base_plan(seed, source_index)
    source = _eligible_source(source_plan)
    if source is None or (number and source.number != number):
        return plan
    scale = 1.0 if exact else float(choice(rng, (0.5, 0.75, 1.25, 1.5)))
    graphic = replace(
        source,
        number=len(_graphics_of(plan)) + 1,
        quality=source.quality if exact else int(rng.integers(60, 96)),
        href_ext=True,
        source=(source_index, source.number),
        exact_copy=exact,
        scale=scale,
    )
    k = len(figures_of(plan)) + 1
    title, paras = _caption(rng, source.kind, 1, plan.condition)
    figure = Figure(f"fig{k}", f"Figure {k}", title, paras, (graphic,))
    return replace(plan, items=(*plan.items, figure))


def _compose(rng: np.random.Generator, graphic: Graphic) -> Image.Image:
    """A multi-panel figure: sub-images on a white canvas with gutters and panel letters."""
    rows, cols = graphic.layout
    gutter = 6
    pw = (graphic.width - gutter * (cols + 1)) // cols
    ph = (graphic.height - gutter * (rows + 1)) // rows
    canvas = Image.new("RGB", (graphic.width, graphic.height), "white")
    draw = ImageDraw.Draw(canvas)
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        x, y = gutter + c * (pw + gutter), gutter + r * (ph + gutter)
        canvas.paste(DRAW[graphic.kind](rng, pw, ph).convert("RGB"), (x, y))
        colour = "black" if graphic.kind in OTHER_KINDS else "white"
        draw.text((x + 4, y + 2), chr(65 + k), fill=colour, font=font(14))
    return canvas


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG", compress_level=6)
    else:
        img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def render_graphic(plan: ArticlePlan, graphic: Graphic) -> bytes:
    """The image bytes of one graphic; a near-duplicate re-renders and re-encodes its source."""
    if graphic.source is not None:
        source_plan = _base_plan(plan.seed, graphic.source[0])
        source = next(g for g in _graphics_of(source_plan) if g.number == graphic.source[1])
        data = render_graphic(source_plan, source)
        if graphic.exact_copy:
            return data
        img = Image.open(io.BytesIO(data))
        size = (round(img.width * graphic.scale), round(img.height * graphic.scale))
        return _encode(img.resize(size, Image.Resampling.BILINEAR), "jpg", graphic.quality)
    rng = np.random.default_rng([plan.seed, plan.index, 2, graphic.number])
    if graphic.compound:
        img = _compose(rng, graphic)
    else:
        img = DRAW[graphic.kind](rng, graphic.width, graphic.height)
        if img.mode == "L" and rng.random() < 0.4:  # many journals store grey images as RGB
            img = img.convert("RGB")
    return _encode(img, graphic.fmt, graphic.quality)


def _formula_gif(text: str) -> bytes:
    img = Image.new("L", (48, 16), 255)
    ImageDraw.Draw(img).text((2, 1), text, fill=0, font=font(11))
    buf = io.BytesIO()
    img.save(buf, "GIF")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# JATS XML


_DOCTYPE = (
    '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD '
    'with MathML3 v1.3 20210610//EN" "JATS-archivearticle1-3-mathml3.dtd">'
)
_NAMESPACES = (
    'xmlns:ali="http://www.niso.org/schemas/ali/1.0/" '
    'xmlns:mml="http://www.w3.org/1998/Math/MathML" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"'
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def graphic_file(plan: ArticlePlan, graphic: Graphic) -> str:
    return f"{plan.stem}-g{graphic.number:03d}.{graphic.fmt}"


def _href(plan: ArticlePlan, graphic: Graphic) -> str:
    name = graphic_file(plan, graphic)
    return name if graphic.href_ext else name.rsplit(".", 1)[0]


def _license_xml(code: str, year: int, holder: str = "The Authors") -> str:
    url = LICENCES.get(code)
    statement = f"<copyright-statement>© {year} {holder}</copyright-statement>"
    if code == "TDM":  # author manuscripts carry no open licence
        return f"<permissions>{statement}<copyright-year>{year}</copyright-year></permissions>"
    if url is None:
        return (
            f'<permissions>{statement}<license license-type="open-access"><license-p>This '
            "article is available under the publisher's own open access terms.</license-p>"
            "</license></permissions>"
        )
    return (
        f"<permissions>{statement}<copyright-year>{year}</copyright-year>"
        f'<license license-type="open-access" xlink:href="{url}">'
        f"<ali:license_ref>{url}</ali:license_ref><license-p>This is an open access article "
        f'distributed under the <ext-link ext-link-type="uri" xlink:href="{url}">{code} '
        "licence</ext-link>.</license-p></license></permissions>"
    )


def _caption_xml(figure: Figure) -> str:
    title = f"<title>{figure.title}</title>" if figure.title else ""
    return f"<caption>{title}{''.join(f'<p>{p}</p>' for p in figure.paras)}</caption>"


def _fig_xml(plan: ArticlePlan, figure: Figure) -> str:
    parts = [f'<fig id="{figure.fig_id}" position="float">', f"<label>{figure.label}</label>"]
    parts.append(_caption_xml(figure))
    for graphic in figure.graphics:
        parts.append(f'<graphic xlink:href="{_href(plan, graphic)}"/>')
    if figure.licence:
        parts.append(_license_xml(figure.licence, plan.year, "Reproduced from Example et al."))
    parts.append("</fig>")
    return "".join(parts)


def _item_xml(plan: ArticlePlan, item: Figure | FigGroup) -> str:
    if isinstance(item, FigGroup):
        children = "".join(_fig_xml(plan, f) for f in item.figures)
        return (
            f'<fig-group id="{item.group_id}"><label>{item.title}</label><caption><p>'
            f"{escape(item.text)}</p></caption>{children}</fig-group>"
        )
    return _fig_xml(plan, item)


def _versioned(plan: ArticlePlan, version: int) -> ArticlePlan:
    """A later version corrects the first figure's caption."""
    if version == 1:
        return plan
    first = figures_of(plan)[0]
    note = f" This caption was corrected in version {version}."
    fixed = replace(first, paras=(*first.paras[:-1], first.paras[-1] + note))
    items = []
    for item in plan.items:
        if isinstance(item, FigGroup):
            item = replace(item, figures=tuple(fixed if f is first else f for f in item.figures))
        items.append(fixed if item is first else item)
    return replace(plan, items=tuple(items))


def _article_ids(plan: ArticlePlan, version: int) -> str:
    if plan.id_style == "old":
        ids = [("pmc", str(plan.number))]
    else:
        ids = [("pmcid", plan.pmcid), ("pmcid-ver", f"{plan.pmcid}.{version}")]
    ids += [("pmid", plan.pmid), ("doi", plan.doi)]
    return "".join(f'<article-id pub-id-type="{t}">{v}</article-id>' for t, v in ids)


def _body_xml(plan: ArticlePlan, figures_xml: str) -> str:
    refs = ", ".join(
        f'<xref ref-type="fig" rid="{f.group or f.fig_id}">{f.label}</xref>'
        for f in figures_of(plan)
    )
    formula = ""
    if plan.inline_formula:
        formula = (
            " The difference was significant (" + _MATH_P.format(id="m1") + ") and the "
            f'dose followed <inline-graphic xlink:href="{plan.stem}-i001.gif"/>.'
        )
    if plan.formula_graphic:
        formula += (
            f'<disp-formula id="e1"><label>(1)</label><graphic xlink:href="{plan.stem}-e001.gif"/>'
            "</disp-formula>"
        )
    condition = escape(plan.condition)
    return (
        f'<body><sec id="s1"><title>Introduction</title><p>Imaging plays a central role in the '
        f"diagnosis of {condition}.</p></sec>"
        f'<sec id="s2"><title>Case presentation</title><p>Imaging studies are shown in {refs}.'
        f"</p>{figures_xml}</sec>"
        f'<sec id="s3"><title>Discussion</title><p>Findings were consistent with {condition}.'
        f"{formula}</p></sec></body>"
    )


def article_xml(plan: ArticlePlan, version: int) -> bytes:
    """The JATS 1.3 XML of one article version (truncated for the malformed-XML article)."""
    plan = _versioned(plan, version)
    journal = plan.journal
    items = list(plan.items)
    last = _item_xml(plan, items.pop()) if plan.last_figure_in else ""
    figures_xml = "".join(_item_xml(plan, item) for item in items)
    floats = app = sub_article = ""
    if plan.placement == "floats":
        floats, figures_xml = f"<floats-group>{figures_xml}</floats-group>", ""
    if plan.last_figure_in == "app":
        app = f'<app-group><app id="app1"><title>Appendix</title>{last}</app></app-group>'
    elif plan.last_figure_in == "sub-article":
        sub_article = (
            '<sub-article article-type="reply" id="sa1"><front-stub><title-group>'
            "<article-title>Author response</article-title></title-group></front-stub>"
            f"<body><p>We added the requested image.</p>{last}</body></sub-article>"
        )
    month = f"<month>{plan.month}</month>"
    front = (
        f'<front><journal-meta><journal-id journal-id-type="nlm-ta">{journal.nlm_ta}</journal-id>'
        f"<journal-title-group><journal-title>{journal.title}</journal-title>"
        f'</journal-title-group><issn pub-type="epub">{journal.issn}</issn>'
        f"<publisher><publisher-name>{journal.publisher}</publisher-name></publisher>"
        f"</journal-meta><article-meta>{_article_ids(plan, version)}"
        f"<title-group><article-title>{escape(plan.title)}</article-title></title-group>"
        f'<pub-date pub-type="epub"><day>{plan.day}</day>{month}<year>{plan.year}</year>'
        f'</pub-date><pub-date pub-type="ppub">{month}<year>{plan.year}</year></pub-date>'
        f"<volume>{plan.volume}</volume><elocation-id>{plan.page}</elocation-id>"
        f"{_license_xml(plan.licence, plan.year)}"
        f"<abstract><p>We report imaging findings of {escape(plan.condition)}.</p></abstract>"
        "</article-meta></front>"
    )
    back = (
        '<back><ref-list><title>References</title><ref id="r1"><mixed-citation>Example A, '
        f"Sample B. Imaging of {escape(plan.condition)}. Demo J. 2020;1:1-10.</mixed-citation>"
        f"</ref></ref-list>{app}</back>"
    )
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{_DOCTYPE}\n<article {_NAMESPACES} '
        f'article-type="research-article" dtd-version="1.3" xml:lang="en">'
        f"{front}{_body_xml(plan, figures_xml)}{back}{floats}{sub_article}</article>\n"
    )
    data = text.encode("utf-8")
    # A download cut short: the file ends in the middle of the body.
    return data[: len(data) * 55 // 100] if plan.malformed else data


def caption_text(figure: Figure) -> str:
    """The caption as plain text: title and paragraphs joined by one space (the ground truth)."""
    root = etree.fromstring(f"<c {_NAMESPACES}>{_caption_xml(figure)}</c>".encode())
    parts = ["".join(child.itertext()) for child in root[0]]
    return " ".join(" ".join(p.split()) for p in parts if p.strip())


# ---------------------------------------------------------------------------------------------
# Writing


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _write(path: Path, data: bytes) -> None:
    """Atomic write that leaves an identical file (and its mtime) untouched."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def metadata_json(
    plan: ArticlePlan, version: int, files: dict[str, bytes], retracted: bool
) -> bytes:
    """The Cloud Service metadata JSON of one version; URLs carry the md5 of each file."""
    prefix = f"{plan.pmcid}.{version}"
    xml_name = f"{prefix}.xml"

    def url(name: str) -> str:
        return f"s3://{BUCKET}/{prefix}/{name}?md5={_md5(files[name])}"

    month = _MONTHS[plan.month - 1]
    meta = {
        "pmcid": plan.pmcid,
        "version": version,
        "pmid": plan.pmid,
        "doi": plan.doi,
        "title": plan.title,
        "citation": f"{plan.journal.nlm_ta}. {plan.year} {month} {plan.day}; "
        f"{plan.volume}:{plan.page}",
        "is_pmc_openaccess": plan.licence != "TDM",
        "is_manuscript": plan.is_manuscript,
        "is_retracted": retracted,
        "license_code": plan.licence,
        "xml_url": url(xml_name),
        "pdf_url": None,
        "media_urls": [url(n) for n in sorted(files) if n != xml_name],
        "text_url": None,
    }
    return (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def version_files(plan: ArticlePlan, version: int) -> dict[str, bytes]:
    """XML and media of one article version, by file name (the missing image left out)."""
    files = {f"{plan.pmcid}.{version}.xml": article_xml(plan, version)}
    for graphic in _graphics_of(plan):
        if not graphic.missing:
            files[graphic_file(plan, graphic)] = render_graphic(plan, graphic)
    if plan.inline_formula:
        files[f"{plan.stem}-i001.gif"] = _formula_gif("x²+1")
    if plan.formula_graphic:
        files[f"{plan.stem}-e001.gif"] = _formula_gif("E=mc²")
    return files


def etag(json_bytes: bytes, files: dict[str, bytes]) -> str:
    """md5 over the metadata JSON and every file's name and md5: changes when anything does."""
    digest = hashlib.md5(json_bytes)
    for name in sorted(files):
        digest.update(f"\0{name}\0{_md5(files[name])}".encode())
    return digest.hexdigest()


def _write_version(out_dir: Path, prefix: str, files: dict[str, bytes], meta: bytes) -> None:
    folder = out_dir / prefix
    for name, data in files.items():
        _write(folder / name, data)
    _write(folder / f"{prefix}.json", meta)
    _write(out_dir / "metadata" / f"{prefix}.json", meta)


def _location(plan: ArticlePlan, figure: Figure) -> str:
    """Where the figure sits in the XML: body, floats-group, app or sub-article."""
    if plan.last_figure_in and figure is plan.items[-1]:
        return plan.last_figure_in
    return "floats-group" if plan.placement == "floats" else "body"


def _figure_records(plan: ArticlePlan, version: int) -> list[dict]:
    records = []
    plan = _versioned(plan, version)
    for figure in figures_of(plan):
        for graphic in figure.graphics:
            source = None
            if graphic.source is not None:
                source_plan = _base_plan(plan.seed, graphic.source[0])
                original = next(
                    g for g in _graphics_of(source_plan) if g.number == graphic.source[1]
                )
                source = f"{source_plan.pmcid}.1/{graphic_file(source_plan, original)}"
            records.append(
                {
                    "figure_id": figure.fig_id,
                    "label": figure.label,
                    "group": figure.group,
                    "location": _location(plan, figure),
                    "file": graphic_file(plan, graphic),
                    "href": _href(plan, graphic),
                    "kind": graphic.kind,
                    "compound": graphic.compound,
                    "panels": graphic.layout[0] * graphic.layout[1],
                    "radiology": graphic.kind in RADIOLOGY_KINDS,
                    "modality": RADIOLOGY_KINDS.get(graphic.kind),
                    "duplicate_of": source,
                    "exact_copy": graphic.exact_copy,
                    "missing": graphic.missing,
                    "caption": caption_text(figure),
                    "language": figure.language,
                    "caption_issue": figure.caption_issue,
                    "licence": figure.licence or plan.licence,
                }
            )
    return records


def _version_record(plan: ArticlePlan, version: int, retracted: bool) -> dict:
    non_figures = []
    if plan.inline_formula:
        non_figures.append(f"{plan.stem}-i001.gif")
    if plan.formula_graphic:
        non_figures.append(f"{plan.stem}-e001.gif")
    return {
        "pmcid": plan.pmcid,
        "version": version,
        "key": f"metadata/{plan.pmcid}.{version}.json",
        "index": plan.index,
        "licence": plan.licence,
        "is_pmc_openaccess": plan.licence != "TDM",
        "retracted": retracted,
        "malformed_xml": plan.malformed,
        "journal": plan.journal.title,
        "year": plan.year,
        "figures": _figure_records(plan, version),
        "non_figure_graphics": non_figures,
    }


def _modified(plan: ArticlePlan, version: int) -> str:
    when = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
        days=plan.modified_day + 20 * (version - 1), seconds=plan.modified_second
    )
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---------------------------------------------------------------------------------------------
# Inventory


def _inventory_root(out_dir: Path) -> Path:
    return out_dir / INVENTORY_PREFIX


def _write_inventory(out_dir: Path, day: date, rows: dict[str, tuple[str, str]]) -> Path:
    """An S3-Inventory-style report for `day`: CSV.gz parts and manifest.json (+ checksum)."""
    folder_name = f"{day.isoformat()}T01-00Z"
    folder = _inventory_root(out_dir) / folder_name
    keys = sorted(rows)
    files = []
    for start in range(0, len(keys), ROWS_PER_INVENTORY_PART):
        buf = io.StringIO()
        writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for key in keys[start : start + ROWS_PER_INVENTORY_PART]:
            writer.writerow([BUCKET, key, *rows[key]])
        data = gzip.compress(buf.getvalue().encode("utf-8"), mtime=0)
        # Real parts are named by random UUIDs; deriving them from the content keeps runs equal.
        name = f"{uuid.UUID(bytes=hashlib.md5(data).digest())}.csv.gz"
        key = f"{INVENTORY_PREFIX}/data/{name}"
        _write(out_dir / key, data)
        files.append({"key": key, "size": len(data), "MD5checksum": _md5(data)})
    created = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
    manifest = {
        "sourceBucket": BUCKET,
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(created.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, LastModifiedDate, ETag",
        "files": files,
    }
    manifest_bytes = (json.dumps(manifest, indent=2) + "\n").encode()
    _write(folder / "manifest.json", manifest_bytes)
    _write(folder / "manifest.checksum", (_md5(manifest_bytes) + "\n").encode())
    return folder / "manifest.json"


def read_latest_inventory(out_dir: Path) -> tuple[date, dict[str, tuple[str, str]]]:
    """(date, key -> (last modified, ETag)) of the newest inventory folder."""
    manifests = sorted(_inventory_root(out_dir).glob("*T01-00Z/manifest.json"))
    if not manifests:
        raise FileNotFoundError(f"no inventory under {_inventory_root(out_dir)}")
    manifest = json.loads(manifests[-1].read_text())
    rows = {}
    for part in manifest["files"]:
        text = gzip.decompress((out_dir / part["key"]).read_bytes()).decode("utf-8")
        for bucket, key, modified, tag in csv.reader(io.StringIO(text)):
            if bucket == BUCKET:
                rows[key] = (modified, tag)
    return date.fromisoformat(manifests[-1].parent.name[:10]), rows


def _prune(out_dir: Path, prefixes: set[str], inventory_folder: Path) -> None:
    """Remove what an earlier generation left: other versions, metadata, inventory files."""
    for path in out_dir.glob("PMC*.*"):
        if path.is_dir() and re.fullmatch(r"PMC\d+\.\d+", path.name) and path.name not in prefixes:
            shutil.rmtree(path)
    for path in (out_dir / "metadata").glob("PMC*.json"):
        if path.name.removesuffix(".json") not in prefixes:
            path.unlink()
    root = _inventory_root(out_dir)
    for folder in root.glob("*T01-00Z"):
        if folder != inventory_folder:
            shutil.rmtree(folder)
    manifest = json.loads((inventory_folder / "manifest.json").read_text())
    keep = {Path(f["key"]).name for f in manifest["files"]}
    for part in (root / "data").glob("*.csv.gz"):
        if part.name not in keep:
            part.unlink()


# ---------------------------------------------------------------------------------------------
# Public API


def generate_demo_corpus(out_dir: Path, n_articles: int = 240, seed: int = 7) -> dict:
    """Write the demo corpus for articles 0..n-1 into `out_dir`; return a summary of counts.

    Files already holding the right bytes are left untouched; leftovers of an earlier generation
    (other versions, older inventories) are removed, so the result depends only on the arguments.
    """
    if not 1 <= n_articles <= MAX_ARTICLES:
        raise ValueError(f"n_articles must be in 1..{MAX_ARTICLES}, got {n_articles}")
    out_dir = Path(out_dir)
    records, rows, prefixes = [], {}, set()
    images = 0
    for index in range(n_articles):
        plan = plan_article(seed, index)
        for version in range(1, plan.versions + 1):
            prefix = f"{plan.pmcid}.{version}"
            files = version_files(plan, version)
            meta = metadata_json(plan, version, files, plan.retracted)
            _write_version(out_dir, prefix, files, meta)
            prefixes.add(prefix)
            rows[f"metadata/{prefix}.json"] = (_modified(plan, version), etag(meta, files))
            record = _version_record(plan, version, plan.retracted)
            images += sum(not f["missing"] for f in record["figures"])
            records.append(record)
    manifest_path = _write_inventory(out_dir, FIRST_INVENTORY, rows)
    _prune(out_dir, prefixes, manifest_path.parent)
    _save_manifest(out_dir, {"seed": seed, "n_articles": n_articles, "articles": records})
    figures = [f for r in records for f in r["figures"]]
    return {
        "articles": n_articles,
        "versions": len(records),
        "figures": len(figures),
        "images": images,
        "radiology": sum(f["radiology"] for f in figures),
        "compound": sum(f["compound"] for f in figures),
        "duplicates": sum(f["duplicate_of"] is not None for f in figures),
        "missing": sum(f["missing"] for f in figures),
        "malformed_xml": sum(r["malformed_xml"] for r in records),
        "retracted": sum(r["retracted"] for r in records),
        "licences": sorted({r["licence"] for r in records}),
        "inventory": manifest_path.relative_to(out_dir).as_posix(),
    }


def _save_manifest(out_dir: Path, manifest: dict) -> None:
    manifest["articles"].sort(key=lambda r: (int(r["pmcid"][3:]), r["version"]))
    manifest["bucket"] = BUCKET
    data = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    _write(out_dir / MANIFEST_NAME, data.encode("utf-8"))


def load_manifest(out_dir: Path) -> dict:
    """The ground-truth manifest of a generated demo corpus."""
    return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))


def _latest_record(manifest: dict, pmcid: str) -> dict:
    records = [r for r in manifest["articles"] if r["pmcid"] == pmcid]
    if not records:
        raise KeyError(f"{pmcid} is not in the demo corpus")
    return max(records, key=lambda r: r["version"])


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".json"}


def _publish_update(out_dir: Path, changes: dict[str, str]) -> Path:
    """A new inventory the day after the newest one: `changes` (key -> ETag) over the old rows."""
    day, rows = read_latest_inventory(out_dir)
    new_day = day + timedelta(days=1)
    modified = f"{(new_day - timedelta(days=1)).isoformat()}T14:30:00.000Z"
    rows.update({key: (modified, tag) for key, tag in changes.items()})
    return _write_inventory(out_dir, new_day, rows)


def add_article_version(out_dir: Path, pmcid: str) -> str:
    """Publish version v+1 of `pmcid` (first caption corrected); return its metadata key."""
    out_dir = Path(out_dir)
    manifest = load_manifest(out_dir)
    latest = _latest_record(manifest, pmcid)
    plan = plan_article(manifest["seed"], latest["index"])
    version = latest["version"] + 1
    prefix = f"{pmcid}.{version}"
    files = version_files(plan, version)
    meta = metadata_json(plan, version, files, latest["retracted"])
    _write_version(out_dir, prefix, files, meta)
    key = f"metadata/{prefix}.json"
    _publish_update(out_dir, {key: etag(meta, files)})
    manifest["articles"].append(_version_record(plan, version, latest["retracted"]))
    _save_manifest(out_dir, manifest)
    return key


def retract_article(out_dir: Path, pmcid: str) -> None:
    """Mark the latest version of `pmcid` retracted (its JSON and ETag change)."""
    out_dir = Path(out_dir)
    manifest = load_manifest(out_dir)
    latest = _latest_record(manifest, pmcid)
    prefix = f"{pmcid}.{latest['version']}"
    folder = out_dir / prefix
    meta = json.loads((folder / f"{prefix}.json").read_text(encoding="utf-8"))
    meta["is_retracted"] = True
    meta_bytes = (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    _write(folder / f"{prefix}.json", meta_bytes)
    _write(out_dir / "metadata" / f"{prefix}.json", meta_bytes)
    _publish_update(out_dir, {latest["key"]: etag(meta_bytes, _folder_files(folder))})
    latest["retracted"] = True
    _save_manifest(out_dir, manifest)
