"""Cheap features of a figure for the classify stage: from a reduced decode of the image and from
the caption text.

Image: the image is decoded at reduced size (JPEG `draft()` lets libjpeg skip most of the IDCT
work; other formats are decoded and then shrunk) to at most THUMB pixels a side, and described by
a fixed vector of numbers (IMAGE_FEATURES):
- colour: chroma (max - min of R, G, B) mean and the share of coloured pixels; radiology is
  grey or has small coloured overlays, microscopy, photos and charts are coloured;
- intensity: mean, spread, dark / white / mid-tone shares and histogram entropy; radiology has
  dark backgrounds and smooth tonal ranges, charts and diagrams are mostly white;
- background: the share of dark and of white pixels on the border;
- structure: mean gradient, the share of very sharp steps (rendered text, lines, flat graphics),
  the share of perfectly flat neighbourhoods and the number of distinct colours;
- layout: interior gutters (runs of uniform rows or columns that have content on both sides and
  touch neither edge), found by a two-level X-Y cut, and the panel count they imply; this is the
  main evidence for compound (multi-panel) figures. Three more tell real panel grids from a single
  picture whose flat background happens to hold a uniform line (an ultrasound screen's text block,
  the CT table, a stray mark): the balance of the bands a cut makes (panels are of similar size,
  an annotation strip is not), the width of the widest gutter (accidental ones are a pixel or two)
  and seams, straight interior edges that run across most of the image, where panels abut with no
  gutter at all.
Caption: counts of term groups (CAPTION_FEATURES): imaging modality terms, radiological
vocabulary (planes, densities, contrast, arrows), findings and devices radiology shows
(infarct, fracture, stent), non-radiology terms (blots, stains, microscopy,
charts, survival curves, photographs, schematics) and panel markers ((A), (B), a-d, left panel).
MODALITY_PATTERNS maps each modality label of roco.modalities to the caption terms that name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from roco.images import MAX_PIXELS, ImageError, open_image

THUMB = 512  # decode size: gutters of 3 px in a 1,000 px figure survive at this scale
STATS = 256  # pixel statistics are taken on a strided view of about this size

# Compound-ness is a property of the layout, not of what the panels show: the compound model
# sees only these, so it cannot learn "grey means single" from its training panels.
LAYOUT_FEATURES: tuple[str, ...] = (
    "row_gutters",
    "col_gutters",
    "log_panels",
    "split",
    "gutter_share",
    "balance",
    "gutter_width",
    "seams",
)

IMAGE_FEATURES: tuple[str, ...] = (
    "chroma_mean",
    "colour_share",
    "strong_colour_share",
    "grey_mean",
    "grey_std",
    "dark_share",
    "white_share",
    "mid_share",
    "entropy",
    "border_dark",
    "border_white",
    "edge_mean",
    "sharp_share",
    "flat_share",
    "colour_count",
    "aspect",
) + LAYOUT_FEATURES

# Term groups. Word boundaries everywhere: "CT" must not match "CTA" or "ACT".
_MODALITY_TERMS = {
    "PET-CT": r"pet[\s/-]*ct|pet[\s/-]*computed tomograph|\d*f-?fdg[\s-]*pet[\s/-]*ct",
    "SPECT-CT": r"spect[\s/-]*ct",
    "PET": r"pet|positron[\s-]emission|fdg|18f-fdg",
    "SPECT": r"spect|single[\s-]photon",
    "Scintigraphy": r"scintigra\w*|bone scan|radionuclide|99m?tc\S*|technetium|gamma camera|mibg",
    "CT": r"ct|cect|hrct|mdct|cbct|cta|ccta|computed tomograph\w*|computerized tomograph\w*"
    r"|tomodensitometr\w*|hounsfield|ct scan\w*",
    "MRI": r"mri|mr|mra|mrcp|fmri|magnetic resonance|t1[\s-]*weighted|t2[\s-]*weighted|t1wi|t2wi"
    r"|t1|t2|flair|dwi|diffusion[\s-]weighted|stir|adc map|gadolinium|hyperintens\w*"
    r"|hypointens\w*",
    "X-ray": r"x[\s-]?rays?|radiograph\w*|roentgenogra\w*|plain film\w*|chest film|mammogra\w*"
    r"|fluoroscop\w*|cxr|kub|orthopantomogra\w*|panoramic radiograph\w*|barium \w+"
    r"|urethrogra\w*|cystogra\w*|hysterosalpingogra\w*|myelogra\w*|urogra\w*|cholangiogra\w*"
    r"|opg|periapical|bitewing|cephalogra\w*|tomosynthesis|dexa|gastrografin|contrast swallow"
    r"|swallow(?:ing)? study|radiolog\w*",
    "Ultrasound": r"ultraso\w*|sonogra\w*|echogra\w*|echocardiogra\w*|doppler|tte|tee|us"
    r"|echogenic|hypoechoic|hyperechoic|anechoic|transvaginal|transabdominal|sono\w*|m-mode"
    r"|parasternal|apical (?:two|four|2|4)[\s-]chamber",
    "Angiography": r"angiogra\w*|arteriogra\w*|venogra\w*|dsa|digital subtraction|phlebogra\w*"
    r"|aortogra\w*|catheter angiogra\w*|embolization",
}
MODALITY_PATTERNS: dict[str, re.Pattern] = {
    label: re.compile(rf"\b(?:{terms})\b", re.IGNORECASE)
    for label, terms in _MODALITY_TERMS.items()
}
# "US", "MR", "CT", "T1", "T2", "STIR" are common words or letters in lower case elsewhere.
_UPPER_ONLY = re.compile(r"\b(?:US|MR|CT|TTE|TEE|STIR|DSA|KUB|PET)\b")
_AMBIGUOUS = {"us", "mr", "ct", "tte", "tee", "stir", "dsa", "kub", "pet"}

_RADIOLOGY_CONTEXT = re.compile(
    r"\b(?:axial|coronal|sagittal|transverse (?:image|section|scan|view)|contrast[\s-]enhanc\w*"
    r"|non-?contrast|enhancing|enhancement|hypodens\w*|hyperdens\w*|isodens\w*|attenuation"
    r"|opacit\w*|radiolucen\w*|radiopaque|consolidation|effusion|arrows?|arrowheads?"
    r"|(?:antero|postero)-?(?:posterior|anterior) (?:view|projection)|lateral view|ap view|pa view"
    r"|scan|imaging|lesion|mass|fracture|slice|phase|reconstruction|mip|cine|window)\b",
    re.IGNORECASE,
)
_FINDINGS = re.compile(
    r"\b(?:infarct\w*|ha?emorrhag\w*|nodules?|cysts?|cystic|aneurysm\w*|stenos[ie]s|occlu\w+"
    r"|dilat\w+|herniat\w+|fractures?|dislocat\w+|tumou?rs?|mass(?:es)?|metasta\w+|abscess\w*"
    r"|thromb\w+|emboli\w*|calcif\w+|pneumo\w+|edema|oedema|atroph\w+|hydro\w+|stents?"
    r"|prosthe\w+|implants?|catheters?|tubes?|screws?|plates?|views?|follow[\s-]up|postoperative"
    r"|preoperative)\b",
    re.IGNORECASE,
)
_NON_RADIOLOGY = re.compile(
    r"\b(?:western blot\w*|immunoblot\w*|blot\w*|gels?|electrophores\w*|pcr|rt-pcr|qpcr"
    r"|h&e|h & e|hematoxylin|haematoxylin|eosin|stain\w*|immunohistochem\w*|ihc"
    r"|immunofluoresc\w*|histolog\w*|histopatholog\w*|patholog\w* (?:specimen|section)"
    r"|microscop\w*|micrograph\w*|magnification|scale bars?|original magnification|confocal"
    r"|×\s?\d+|x\s?\d{2,4}|\d+\s?[µu]m|cells?|cytolog\w*|biopsy specimen|smear|tissue sections?"
    r"|flow cytometr\w*|facs|kaplan[\s-]meier|survival|hazard ratio|odds ratio|forest plot"
    r"|bar (?:graph|chart)s?|graphs?|charts?|histograms?|plots?|box ?plots?|scatter ?plots?"
    r"|curves?|roc|mean\s?±|± ?s\.?[de]\.?m?|p\s?[<=]\s?0?\.\d+|error bars?|statistic\w*"
    r"|schemat\w*|diagram\w*|flow ?chart\w*|illustration|drawing|cartoon|model|workflow"
    r"|algorithm|pathway|timeline|photograph\w*|photo|clinical (?:picture|appearance|photo\w*)"
    r"|intra-?operative\w*|operative (?:view|field|findings)|surgical (?:view|field|specimen)"
    r"|gross (?:specimen|appearance|pathology)|resected specimen|endoscop\w*|colonoscop\w*"
    r"|gastroscop\w*|bronchoscop\w*|laparoscop\w*|arthroscop\w*|cystoscop\w*|fundus|fundoscop\w*"
    r"|ophthalmoscop\w*|optical coherence|oct|fluorescein|slit[\s-]lamp|dermoscop\w*"
    r"|skin lesion|rash|erythema|ecg|electrocardiogra\w*|eeg|electroencephalogra\w*|emg"
    r"|sequence alignment|alignment|phylogen\w*|tree|structure of|chemical|molecul\w*|protein"
    r"|gene|mrna|expression|mice|mouse|rats?|zebrafish|table|questionnaire|participants)\b",
    re.IGNORECASE,
)
_PANEL_MARKERS = re.compile(
    r"(?:\(\s?[a-hA-H]\s?\)|\b[A-H][).:]\s|\b[a-h]\)\s|\(\s?[a-hA-H]\s?[-–,]\s?[a-hA-H]\s?\)"
    r"|\b(?:left|right|upper|lower|top|bottom|middle) panels?\b|\bpanels? [A-Ha-h]\b"
    r"|\binsets?\b)"
)

CAPTION_FEATURES: tuple[str, ...] = (
    "cap_modality",
    "cap_radiology_context",
    "cap_findings",
    "cap_non_radiology",
    "cap_panels",
)


def modality_mentions(caption: str) -> dict[str, list[int]]:
    """Each modality label named in the caption, with the start offsets of its mentions."""
    found: dict[str, list[int]] = {}
    for label, pattern in MODALITY_PATTERNS.items():
        starts = [
            m.start()
            for m in pattern.finditer(caption)
            if m.group(0).lower() not in _AMBIGUOUS or _UPPER_ONLY.fullmatch(m.group(0))
        ]
        if starts:
            found[label] = starts
    return found


def caption_features(caption: str) -> np.ndarray:
    """Counts of the caption term groups, capped at 3 so one long caption cannot dominate."""
    caption = caption or ""
    modality = sum(len(v) for v in modality_mentions(caption).values())
    counts = (
        modality,
        len(_RADIOLOGY_CONTEXT.findall(caption)),
        len(_FINDINGS.findall(caption)),
        len(_NON_RADIOLOGY.findall(caption)),
        len(_PANEL_MARKERS.findall(caption)),
    )
    return np.array([min(c, 3) for c in counts], dtype=np.float64)


def panel_marker_count(caption: str) -> int:
    return len(_PANEL_MARKERS.findall(caption or ""))


def thumbnail(data: bytes, size: int = THUMB, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array at most `size` a side (reduced decode for JPEG).

    Transparent images are flattened on white, as a page shows them; 16-bit and float images are
    scaled to 8 bits by their own range.
    """
    img = open_image(data, max_pixels)
    try:
        img.seek(0)
        if img.format == "JPEG":
            # draft() keeps both sides >= the request, so ask for the aspect-correct size.
            longest = max(img.size)
            img.draft(None, (img.width * size // longest, img.height * size // longest))
        img.load()
        img = _to_rgb(img)
        img.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        array = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise ImageError(f"cannot decode image: {err}") from err
    if array.shape[0] < 4 or array.shape[1] < 4:
        raise ImageError(f"image too small: {img.width}x{img.height}")
    return array


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(page, rgba).convert("RGB")
    return img.convert("RGB")


def image_features(data: bytes, size: int = THUMB) -> np.ndarray:
    """The IMAGE_FEATURES vector of image bytes (raises ImageError for undecodable images)."""
    return features_of_array(thumbnail(data, size))


def features_of_array(rgb: np.ndarray) -> np.ndarray:
    """The IMAGE_FEATURES vector of an RGB uint8 array: layout at full size, the rest on a
    strided view of about STATS pixels a side (cheap, and the statistics do not need more)."""
    wide = rgb.astype(np.uint16)
    layout = _layout(
        ((wide[..., 0] * 77 + wide[..., 1] * 150 + wide[..., 2] * 29) >> 8).astype(np.uint8)
    )
    step = max(1, -(-max(rgb.shape[:2]) // STATS))
    rgb = rgb[::step, ::step]
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # uint8 planes and float32 grey keep every pass over the pixels cheap.
    chroma = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
    grey_f = red * np.float32(0.299) + green * np.float32(0.587) + blue * np.float32(0.114)
    grey = grey_f.astype(np.uint8)
    height, width = grey.shape
    size = grey.size
    hist = np.bincount(grey.ravel() >> 3, minlength=32) / size
    nonzero = hist[hist > 0]
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    dx = np.abs(np.diff(grey.astype(np.int16), axis=1))
    dy = np.abs(np.diff(grey.astype(np.int16), axis=0))
    quantised = (red >> 4).astype(np.int32) * 256 + (green >> 4).astype(np.int32) * 16 + (blue >> 4)
    return np.array(
        [
            chroma.mean() / 255,
            np.count_nonzero(chroma > 32) / size,
            np.count_nonzero(chroma > 96) / size,
            grey_f.mean() / 255,
            grey_f.std() / 128,
            hist[:3].sum(),
            np.count_nonzero(grey > 232) / size,
            hist[8:24].sum(),
            float(-(nonzero * np.log2(nonzero)).sum()) / 5,
            np.count_nonzero(border < 24) / border.size,
            np.count_nonzero(border > 232) / border.size,
            (dx.mean() + dy.mean()) / 64,
            (np.count_nonzero(dx > 96) / dx.size + np.count_nonzero(dy > 96) / dy.size) * 4,
            np.count_nonzero((dx[:-1, :] == 0) & (dy[:, :-1] == 0)) / size,
            np.log2(1 + np.count_nonzero(np.bincount(quantised.ravel(), minlength=4096))) / 12,
            float(np.log(width / height)),
            min(layout.rows, 4) / 4,
            min(layout.cols, 4) / 4,
            np.log2(layout.panels) / 4,
            float(layout.panels > 1),
            layout.gutter_share,
            layout.balance,
            layout.gutter_width,
            min(layout.seams, 4) / 4,
        ],
        dtype=np.float64,
    )


def _uniform(lines: np.ndarray) -> np.ndarray:
    """Which lines (rows of a 2-D uint8 array) are one flat tone, allowing JPEG noise.

    A small range, not a small spread: smooth backgrounds of photos and micrographs have a small
    spread too, but drift across the row."""
    return (lines.max(axis=1) - lines.min(axis=1)) <= 20


def _gutters(block: np.ndarray, min_content: float = 0.12) -> list[tuple[int, int]]:
    """Interior runs of uniform rows in a block that separate two content regions.

    A run counts when it touches neither edge and the content rows before and after it each span
    at least `min_content` of the block, so margins and thin stripes are not mistaken for gutters.
    """
    flat = _uniform(block)
    if flat.all() or not flat.any():
        return []
    content = np.flatnonzero(~flat)
    first, last = content[0], content[-1]
    runs, start = [], None
    for i in range(first, last + 1):
        if flat[i] and start is None:
            start = i
        elif not flat[i] and start is not None:
            runs.append((start, i))
            start = None
    span = block.shape[0] * min_content
    cuts, previous = [], first
    for start, end in runs:
        if start - previous >= span and (last + 1 - end) >= span:
            cuts.append((start, end))
            previous = end
    return cuts


def _bands(length: int, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    edges = [0] + [v for cut in cuts for v in cut] + [length]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]


@dataclass(frozen=True)
class Layout:
    rows: int  # full-width row gutters
    cols: int  # full-height column gutters
    panels: int  # the larger panel count of the two cut orders
    gutter_share: float  # share of the image covered by first-level gutters
    balance: float  # smallest / largest band of the first-level cut (0 without a cut)
    gutter_width: float  # widest first-level gutter in % of the side, capped at 1
    seams: int  # straight interior edges across the image (abutting panels)


def _layout(grey: np.ndarray) -> Layout:
    """Gutters and panels by a two-level X-Y cut (rows then columns, and columns then rows), and
    seams."""
    row_cuts = _gutters(grey)
    col_cuts = _gutters(grey.T)
    row_bands = [(a, b) for a, b in _bands(grey.shape[0], row_cuts) if b - a > 4]
    col_bands = [(a, b) for a, b in _bands(grey.shape[1], col_cuts) if b - a > 4]
    by_rows = sum(len(_gutters(grey[a:b].T)) + 1 for a, b in row_bands)
    by_cols = sum(len(_gutters(grey[:, a:b])) + 1 for a, b in col_bands)
    covered = sum(b - a for a, b in row_cuts) / grey.shape[0]
    covered += sum(b - a for a, b in col_cuts) / grey.shape[1]
    balance = max(
        _balance(bands) if cuts else 0.0
        for bands, cuts in ((row_bands, row_cuts), (col_bands, col_cuts))
    )
    widest = max(
        [(b - a) / grey.shape[0] for a, b in row_cuts]
        + [(b - a) / grey.shape[1] for a, b in col_cuts]
        + [0.0]
    )
    return Layout(
        rows=len(row_cuts),
        cols=len(col_cuts),
        panels=max(by_rows, by_cols, 1),
        gutter_share=covered,
        balance=balance,
        gutter_width=min(widest * 100, 1.0),
        seams=_seams(grey) + _seams(grey.T),
    )


def _balance(bands: list[tuple[int, int]]) -> float:
    sizes = [b - a for a, b in bands]
    return min(sizes) / max(sizes) if len(sizes) > 1 else 0.0


def _seams(
    grey: np.ndarray, step: int = 48, reach: float = 0.9, margin: float = 0.1, band: int = 3
) -> int:
    """Interior rows where the image steps sharply along most of the width: the straight edge
    where two panels abut. Natural edges (a horizon, an organ outline) are curved or partial.

    A seam lies between two bands of `band` rows whose means differ by at least `step` grey
    levels on at least `reach` of the columns (bands, not single rows, so a thin drawn line such
    as a chart axis is not a seam: it has the same tone on both sides), lies more than `margin`
    of the height from both edges (a picture's frame is not a seam), and adjacent seam rows
    count once.
    """
    height = grey.shape[0]
    if height < 4 * band:
        return 0
    total = np.cumsum(grey, axis=0, dtype=np.int32)
    sums = total[band:] - total[:-band]  # sums[i]: rows i+1 .. i+band
    above, below = sums[:-band], sums[band:]  # rows r-band+1 .. r and r+1 .. r+band
    steps = np.abs(above - below) >= step * band
    full = np.count_nonzero(steps, axis=1) >= reach * grey.shape[1]
    rows = np.arange(full.size) + band  # the row each entry ends above
    seam = full & (rows > height * margin) & (rows < height * (1 - margin))
    # a run of adjacent seam rows is one seam
    return int(np.count_nonzero(seam[1:] & ~seam[:-1]) + seam[0])
