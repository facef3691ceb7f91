"""The classify stage: compound-figure filter, radiology filter and imaging modality.

Evidence and models (all small, linear and deterministic; features in roco.features):
- image radiology model: a logistic regression over the image features;
- caption evidence: a logistic regression over caption term counts; only its *evidence*
  (log-odds of the caption minus log-odds of an empty caption) is used, so a figure without a
  caption is judged on its image alone;
- compound model: a logistic regression over the layout features (gutters, panels), plus a
  fixed shift when the caption names two or more panels;
- modality: caption terms first (the most mentioned modality, PET and CT together as PET-CT,
  SPECT and CT as SPECT-CT); when the caption names none, UNKNOWN, or (modality_from_image)
  an image modality model (multinomial logistic regression) when it is confident.
- optional user image model: an ONNX image classifier (roco.onnx_model: input size,
  normalisation and radiology output), whose log-odds are averaged with the built-in image
  model's ("combine") or used instead of them ("replace").
radiology_score = sigmoid(image_weight * image log-odds + caption_weight * caption evidence).
A figure is rejected as "compound" when compound_score >= compound_threshold, else as
"not_radiology" when radiology_score < radiology_threshold; undecodable images are "bad_image".
The workflow's classify job also hashes the kept figures (classify_file, roco.phash).

Models are trained from weak labels that the corpus's own captions give (train_from_figures),
or from a labelled table (train_from_labelled), and saved as sorted JSON (same data, same bytes;
no pickle, so a model file cannot run code). The default model ships in roco/data and is made by
bench/train_default_model.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from roco import phash
from roco.features import (
    CAPTION_FEATURES,
    IMAGE_FEATURES,
    LAYOUT_FEATURES,
    caption_features,
    features_of_array,
    image_features,
    modality_mentions,
    panel_marker_count,
    thumbnail,
)
from roco.images import ImageError
from roco.modalities import MODALITIES, UNKNOWN
from roco.onnx_model import OnnxImageModel
from roco.tables import BATCH_ROWS, map_table, rejects_frame

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "default_model.json"
MODEL_FORMAT = "roco-classify-1"
STAGE = "classify"


@dataclass(frozen=True)
class ClassifyConfig:
    radiology_threshold: float = 0.5
    compound_threshold: float = 0.5
    image_weight: float = 1.0  # weight of the image log-odds in the radiology score
    caption_weight: float = 1.0  # weight of the caption evidence in the radiology score
    caption_panel_shift: float = 1.0  # compound log-odds added when the caption names >= 2 panels
    # Image modality when the caption names none: off by default, because on held-out real
    # images it was right 4 times and wrong 8 times in 18 (bench/eval_classify.py).
    modality_from_image: bool = False
    modality_image_threshold: float = 0.6  # and then only above this probability


@dataclass(frozen=True)
class Classification:
    radiology_score: float
    compound_score: float
    radiology: bool
    compound: bool
    modality: str
    reason: str | None


@dataclass(frozen=True)
class Linear:
    """Logistic regression on standardised features: one coefficient row per class.

    Binary models have one row (log-odds of the positive class); multinomial ones one per class.
    """

    features: tuple[str, ...]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]

    def scores(self, x: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Decision values, shape (n, rows); `names` name the columns of x when they are a
        superset of the model's features (e.g. all IMAGE_FEATURES for the layout-only model)."""
        x = np.atleast_2d(x)
        if names is not None:
            x = x[:, [list(names).index(f) for f in self.features]]
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef).T + np.asarray(self.intercept)

    def log_odds(self, x: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        return self.scores(x, names)[:, 0]

    def probabilities(self, x: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        s = self.scores(x, names)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Model:
    radiology_image: Linear
    radiology_caption: Linear
    compound: Linear
    modality_image: Linear
    provenance: dict = field(default_factory=dict, compare=False)


# ---------------------------------------------------------------- model files


def save_model(model: Model, path: Path) -> None:
    """Write a model as sorted, indented JSON, atomically (same model -> same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": MODEL_FORMAT, **asdict(model)}
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, sort_keys=True, indent=1) + "\n")
    os.replace(partial, path)


def load_model(path: Path | None) -> Model:
    """Read a model file; None reads the default model shipped with roco."""
    data = json.loads(Path(path or DEFAULT_MODEL).read_text())
    if data.pop("format", None) != MODEL_FORMAT:
        raise ValueError(f"{path}: not a {MODEL_FORMAT} model file")
    parts = {
        name: _linear(data[name])
        for name in ("radiology_image", "radiology_caption", "compound", "modality_image")
    }
    return Model(**parts, provenance=data.get("provenance", {}))


def _linear(data: dict) -> Linear:
    return Linear(
        features=tuple(data["features"]),
        classes=tuple(data["classes"]),
        mean=tuple(data["mean"]),
        scale=tuple(data["scale"]),
        coef=tuple(tuple(row) for row in data["coef"]),
        intercept=tuple(data["intercept"]),
    )


# ---------------------------------------------------------------- fitting


def fit_linear(
    x: np.ndarray, y: Sequence, features: Sequence[str], seed: int = 0, c: float = 1.0
) -> Linear:
    """Fit a class-balanced logistic regression (binary when y is boolean)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    labels = np.asarray(y)
    # Imported here: scikit-learn takes ~0.9 s to import and only training needs it, not the
    # classify jobs that apply a model.
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit((x - mean) / scale, labels)
    classes = tuple(str(c) for c in clf.classes_)
    if labels.dtype == bool:
        classes = ("false", "true")
    return Linear(
        features=tuple(features),
        classes=classes,
        mean=_rounded(mean),
        scale=_rounded(scale),
        coef=tuple(_rounded(row) for row in clf.coef_),
        intercept=_rounded(clf.intercept_),
    )


def _rounded(values) -> tuple[float, ...]:
    # 10 significant digits: stable across BLAS builds' last-bit noise, exact enough to score.
    return tuple(float(f"{v:.10g}") for v in np.asarray(values, dtype=np.float64).ravel())


def binary_metrics(truth: Sequence[bool], predicted: Sequence[bool]) -> dict:
    """Counts, precision, recall and accuracy of a binary decision."""
    t = np.asarray(truth, dtype=bool)
    p = np.asarray(predicted, dtype=bool)
    tp, fp = int((t & p).sum()), int((~t & p).sum())
    fn, tn = int((t & ~p).sum()), int((~t & ~p).sum())
    return {
        "n": int(t.size),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "accuracy": round((tp + tn) / t.size, 4) if t.size else None,
    }


def held_out(keys: Sequence[str], share: float = 0.25) -> np.ndarray:
    """A stable held-out mask from item keys (a hash, so it does not depend on row order)."""
    cut = int(share * 2**32)
    return np.array(
        [int.from_bytes(hashlib.sha256(k.encode()).digest()[:4], "big") < cut for k in keys],
        dtype=bool,
    )


# ---------------------------------------------------------------- training

MIN_PER_CLASS = 10  # fewer weak labels than this per class: keep the base model's part


def train_from_labelled(
    table: pd.DataFrame, seed: int = 0, base: Model | None = None
) -> tuple[Model, dict]:
    """Train from labelled figures: columns `radiology` (bool) and `image` (bytes or None; or
    `image_features`, see with_image_features) and/or `caption`; optional `compound` (bool) and
    `modality` (a roco.modalities label or None).

    Each part is trained on the rows that carry its labels, on a hashed 75 % of them (key: the
    `id` column, else the row number), and checked on the other 25 %; parts without enough
    labels are taken from `base` (the default model). The metrics dict has counts for each part.
    """
    base = base or load_model(None)
    keys = [str(k) for k in (table["id"] if "id" in table else range(len(table)))]
    test = held_out(keys)
    report: dict = {}
    parts = {}
    has_images = "image" in table or "image_features" in table
    images = _image_matrix(table) if has_images else None
    if images is not None and "radiology" in table:
        ok = images.valid & table["radiology"].notna().to_numpy()
        parts["radiology_image"], report["radiology_image"] = _train_binary(
            images.x, table["radiology"].to_numpy(), ok, test, IMAGE_FEATURES, seed
        )
    if "caption" in table and "radiology" in table:
        captions = np.array([caption_features(c) for c in table["caption"].fillna("")])
        ok = table["caption"].notna().to_numpy() & table["radiology"].notna().to_numpy()
        parts["radiology_caption"], report["radiology_caption"] = _train_binary(
            captions, table["radiology"].to_numpy(), ok, test, CAPTION_FEATURES, seed
        )
    if images is not None and "compound" in table:
        ok = images.valid & table["compound"].notna().to_numpy()
        layout = images.x[:, [IMAGE_FEATURES.index(f) for f in LAYOUT_FEATURES]]
        parts["compound"], report["compound"] = _train_binary(
            layout, table["compound"].to_numpy(), ok, test, LAYOUT_FEATURES, seed
        )
    if images is not None and "modality" in table:
        parts["modality_image"], report["modality_image"] = _train_modality(
            images, table["modality"], test, seed
        )
    chosen = {
        name: parts.get(name) or getattr(base, name)
        for name in ("radiology_image", "radiology_caption", "compound", "modality_image")
    }
    provenance = {"trained_on": "labelled", "seed": seed, "metrics": report}
    return Model(**chosen, provenance=provenance), report


_POSITIVE_LABELS = {"radiology", "true", "1", "yes"}
_NEGATIVE_LABELS = {"other", "non-radiology", "non_radiology", "false", "0", "no"}


def read_labelled(path: Path) -> pd.DataFrame:
    """A labelled CSV for train_from_labelled: columns `path` (image file, relative to the CSV)
    and `label` (radiology / other, non-radiology, true / false, 1 / 0), optional `caption` and
    `modality`. Unreadable image files become rows without an image (caption-only rows)."""
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    labels = table["label"].str.strip().str.lower()
    unknown = sorted(set(labels) - _POSITIVE_LABELS - _NEGATIVE_LABELS)
    if unknown:
        raise ValueError(f"{path}: unknown labels {unknown}")
    out = pd.DataFrame({"id": table["path"], "radiology": labels.isin(_POSITIVE_LABELS)})
    out["image"] = [_read_bytes(path.parent / name) if name else None for name in table["path"]]
    for column in ("caption", "modality"):
        if column in table:
            out[column] = table[column].mask(table[column] == "")
    return out


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@dataclass(frozen=True)
class _Images:
    x: np.ndarray
    valid: np.ndarray


def image_feature_rows(images: Iterable) -> list[np.ndarray | None]:
    """Image features per image bytes, None where there is no decodable image."""
    rows = []
    for data in images:
        try:
            rows.append(image_features(data) if data is not None else None)
        except ImageError:
            rows.append(None)
    return rows


def with_image_features(figures: pd.DataFrame) -> pd.DataFrame:
    """`figures` with the `image` bytes replaced by their `image_features` (or None): all that
    training reads of an image, a few hundred bytes instead of the picture."""
    out = figures.drop(columns=["image"])
    rows = image_feature_rows(figures["image"])
    out["image_features"] = pd.Series(rows, index=figures.index, dtype=object)
    return out


def _image_matrix(table: pd.DataFrame) -> _Images:
    if "image_features" in table:
        rows = list(table["image_features"])
    else:
        rows = image_feature_rows(table["image"])
    valid = [r is not None for r in rows]
    x = np.array([r if r is not None else np.zeros(len(IMAGE_FEATURES)) for r in rows])
    return _Images(x.reshape(len(rows), len(IMAGE_FEATURES)), np.array(valid, dtype=bool))


def _train_binary(x, y, ok, test, features, seed) -> tuple[Linear | None, dict]:
    labels = np.asarray(y, dtype=object)
    train, check = ok & ~test, ok & test
    y_train = labels[train].astype(bool)
    counts = {"train": int(train.sum()), "train_positive": int(y_train.sum())}
    if min(y_train.sum(), (~y_train).sum()) < MIN_PER_CLASS:
        return None, {**counts, "used": "base model (too few labels)"}
    model = fit_linear(x[train], y_train, features, seed)
    predicted = model.log_odds(x[check]) >= 0
    return model, {**counts, "used": "trained", **binary_metrics(labels[check], predicted)}


def _train_modality(images: _Images, modality: pd.Series, test, seed) -> tuple[Linear | None, dict]:
    labels = modality.to_numpy(dtype=object)
    known = np.array([m in MODALITIES for m in labels]) & images.valid
    counts = pd.Series(labels[known & ~test]).value_counts()
    usable = set(counts[counts >= 3].index)
    ok = known & np.array([m in usable for m in labels])
    train, check = ok & ~test, ok & test
    if len(usable) < 2:
        return None, {"train": int(train.sum()), "used": "base model (too few labels)"}
    model = fit_linear(images.x[train], labels[train], IMAGE_FEATURES, seed)
    predicted = np.asarray(model.classes)[model.probabilities(images.x[check]).argmax(axis=1)]
    correct = int((predicted == labels[check]).sum())
    return model, {
        "train": int(train.sum()),
        "classes": sorted(usable),
        "used": "trained",
        "n": int(check.sum()),
        "correct": correct,
        "accuracy": round(correct / check.sum(), 4) if check.sum() else None,
    }


def weak_labels(captions: Sequence[str], model: Model) -> np.ndarray:
    """Radiology labels that captions alone give with confidence: True, False or None.

    Positive: the caption names an imaging modality, has no non-radiology term and its evidence
    is strongly positive. Negative: it has non-radiology terms and names no modality.
    """
    x = np.array([caption_features(c or "") for c in captions]).reshape(-1, len(CAPTION_FEATURES))
    evidence = caption_evidence(x, model)
    modality = x[:, CAPTION_FEATURES.index("cap_modality")]
    non_radiology = x[:, CAPTION_FEATURES.index("cap_non_radiology")]
    labels = np.full(len(x), None, dtype=object)
    labels[(modality >= 1) & (non_radiology == 0) & (evidence >= 2.0)] = True
    labels[(non_radiology >= 1) & (modality == 0) & (evidence <= -1.0)] = False
    return labels


def train_from_figures(figures: pd.DataFrame, seed: int = 0) -> tuple[Model, dict]:
    """Train the image radiology model of a build from weak caption labels of its own figures.

    The caption model and, where captions give too few labels, the other parts come from the
    default model. Compound labels: two or more panel markers in the caption mean compound, none
    means single. The image modality model learns from captions that name one modality.
    `figures` has the `image` bytes or, to hold many figures in little memory, their
    `image_features` (with_image_features); the model is the same.
    """
    base = load_model(None)
    captions = figures["caption"].fillna("").tolist()
    markers = np.array([panel_marker_count(c) for c in captions])
    compound = np.where(markers >= 2, True, np.where(markers == 0, False, None))
    image_column = "image_features" if "image_features" in figures else "image"
    table = pd.DataFrame(
        {
            "id": figures["id"].astype(str).to_numpy(),
            image_column: figures[image_column].to_numpy(),
            "radiology": weak_labels(captions, base),
            "compound": compound,
            "modality": [_caption_only_modality(c) for c in captions],
        }
    )
    model, report = train_from_labelled(table, seed=seed, base=base)
    report = {
        "figures": len(figures),
        "weak_positive": int((table["radiology"] == True).sum()),  # noqa: E712 (object column)
        "weak_negative": int((table["radiology"] == False).sum()),  # noqa: E712
        **report,
    }
    provenance = {"trained_on": "weak caption labels", "seed": seed, "metrics": report}
    return Model(
        radiology_image=model.radiology_image,
        radiology_caption=base.radiology_caption,
        compound=model.compound,
        modality_image=model.modality_image,
        provenance=provenance,
    ), report


def _caption_only_modality(caption: str) -> str | None:
    found = caption_modality(caption)
    return found if found is not None and len(modality_mentions(caption)) == 1 else None


# ---------------------------------------------------------------- applying


def caption_evidence(x: np.ndarray, model: Model) -> np.ndarray:
    """Caption log-odds minus those of an empty caption: zero when the caption says nothing."""
    empty = model.radiology_caption.log_odds(np.zeros((1, len(CAPTION_FEATURES))))
    return model.radiology_caption.log_odds(x) - empty


def caption_modality(caption: str) -> str | None:
    """The modality a caption names: most mentions wins, earliest on ties; combined labels when
    both parts are named (PET and CT -> PET-CT, SPECT and CT -> SPECT-CT)."""
    found = modality_mentions(caption or "")
    for combined, parts in (("PET-CT", ("PET", "CT")), ("SPECT-CT", ("SPECT", "CT"))):
        if all(p in found for p in parts):
            found[combined] = sorted(found.pop(parts[0]) + found.pop(parts[1]))
    if not found:
        return None
    return min(found, key=lambda label: (-len(found[label]), found[label][0]))


def image_modality(x: np.ndarray, model: Model, cfg: ClassifyConfig) -> str:
    if not cfg.modality_from_image:
        return UNKNOWN
    probabilities = model.modality_image.probabilities(x, IMAGE_FEATURES)[0]
    best = int(probabilities.argmax())
    if probabilities[best] >= cfg.modality_image_threshold:
        return model.modality_image.classes[best]
    return UNKNOWN


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(v, 50.0), -50.0)))


def classify_image(
    image: bytes,
    caption: str,
    model: Model,
    cfg: ClassifyConfig,
    onnx: OnnxImageModel | None = None,
) -> Classification:
    """Scores, decision and modality of one figure. Raises ImageError for undecodable images."""
    rgb = thumbnail(image)
    x = features_of_array(rgb)
    image_log_odds = float(model.radiology_image.log_odds(x, IMAGE_FEATURES)[0])
    if onnx is not None:
        user = onnx.log_odds(rgb)
        image_log_odds = user if onnx.spec.mode == "replace" else (image_log_odds + user) / 2
    evidence = float(caption_evidence(caption_features(caption or ""), model)[0])
    radiology_score = _sigmoid(cfg.image_weight * image_log_odds + cfg.caption_weight * evidence)
    shift = cfg.caption_panel_shift if panel_marker_count(caption) >= 2 else 0.0
    compound_score = _sigmoid(float(model.compound.log_odds(x, IMAGE_FEATURES)[0]) + shift)
    compound = compound_score >= cfg.compound_threshold
    radiology = radiology_score >= cfg.radiology_threshold
    reason = "compound" if compound else None if radiology else "not_radiology"
    modality = UNKNOWN
    if radiology:
        modality = caption_modality(caption) or image_modality(x, model, cfg)
    return Classification(
        radiology_score=round(radiology_score, 6),
        compound_score=round(compound_score, 6),
        radiology=radiology,
        compound=compound,
        modality=modality,
        reason=reason,
    )


def classify_chunk(
    figures: pd.DataFrame, model: Model, cfg: ClassifyConfig, onnx: OnnxImageModel | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kept figures (figures columns + radiology_score, compound_score, modality) and rejects."""
    kept, rejects = _classify_rows(figures, model, cfg, onnx)
    return kept, rejects_frame(rejects)


def classify_file(
    figures: str | os.PathLike,
    hashed: str | os.PathLike,
    model: Model,
    cfg: ClassifyConfig,
    onnx: OnnxImageModel | None = None,
    batch_rows: int = BATCH_ROWS,
) -> pd.DataFrame:
    """`classify_chunk`, then `phash.hash_chunk` on the kept figures, over a figures table,
    streamed `batch_rows` rows at a time into the hashed table (memory does not grow with the
    chunk); returns the rejects of both stages (each row names its stage). Each figure is judged
    and hashed on its own, so the rows are those of the two functions on the whole table.

    One job for both stages: at the demo's chunk sizes a job's Python start-up (~0.7 s) costs
    more than hashing its figures, and the classified rows never go through a Parquet file."""

    def classify_and_hash(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
        kept, rejects = _classify_rows(frame, model, cfg, onnx)
        hashed_rows, hash_rejects = phash.hash_rows(kept)
        return hashed_rows, rejects + hash_rejects

    return map_table(figures, "figures", hashed, "hashed", classify_and_hash, batch_rows)


def _classify_rows(
    figures: pd.DataFrame, model: Model, cfg: ClassifyConfig, onnx: OnnxImageModel | None
) -> tuple[pd.DataFrame, list[dict]]:
    positions, scores, rejects = [], [], []
    for position, row in enumerate(figures.itertuples(index=False)):
        try:
            result = classify_image(row.image, row.caption, model, cfg, onnx)
        except ImageError as err:
            rejects.append(_reject(row, "bad_image", str(err)))
            continue
        if result.reason is None:
            positions.append(position)
            scores.append((result.radiology_score, result.compound_score, result.modality))
        else:
            detail = (
                f"radiology_score={result.radiology_score:.3f} "
                f"compound_score={result.compound_score:.3f}"
            )
            rejects.append(_reject(row, result.reason, detail))
    kept = figures.iloc[positions].reset_index(drop=True)
    kept["radiology_score"] = pd.Series([s[0] for s in scores], dtype="float32")
    kept["compound_score"] = pd.Series([s[1] for s in scores], dtype="float32")
    kept["modality"] = pd.Series([s[2] for s in scores], dtype="object")
    return kept, rejects


def _reject(row, reason: str, detail: str) -> dict:
    return {
        "stage": STAGE,
        "reason": reason,
        "pmcid": row.pmcid,
        "version": row.version,
        "id": row.id,
        "detail": detail,
    }
