"""Evaluate the classify stage on real data: precision, recall and accuracy with counts.

Measures, against ../shared/realdata (nothing here is tuned on the held-out parts):
1. image model, radiology vs other, on the real images of images/ and images2/:
   a. the shipped default model on the held-out 25 % picture groups it was not trained on;
   b. 5-fold cross-validation over all picture groups (same training code, bigger sample);
2. caption evidence on ROCO v1 validation captions: the held-out 25 % of the radiology captions
   against all 611 non-radiology hard negatives (none of either was used in training);
3. the combined decision (classify_image: image + caption, compound filter included) on the
   held-out images, each paired with a held-out ROCO caption of its own class;
4. image-only modality (used only when the caption names none and the config asks for it);
5. compound detection on the real images against their by-eye labels (bench/compound_labels.csv):
   a. the shipped model on the held-out picture groups (all, radiology only, and how many single
      radiology pictures it calls compound), and on all groups (a model trained before the labels
      existed has seen none of them);
   b. 5-fold cross-validation over all picture groups (same training recipe, bigger sample);
   c. on multi-panel figures composed from the held-out images (other random layouts than in
      training) against the held-out pictures and crops of the single ones;
6. feature extraction speed (images per second on one core) for JPEG and PNG figures.

Usage: .venv/bin/python bench/eval_classify.py [--realdata DIR] [--model FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from roco.classify import (
    ClassifyConfig,
    binary_metrics,
    caption_evidence,
    classify_image,
    fit_linear,
    image_modality,
    load_model,
)
from roco.features import IMAGE_FEATURES, LAYOUT_FEATURES, caption_features, image_features
from roco.modalities import UNKNOWN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_default_model import (  # noqa: E402 (bench scripts import each other by path)
    REALDATA,
    compound_examples,
    realdata_pictures,
    roco_captions,
    split,
)


def image_model_held_out(model, held) -> dict:
    x = np.array([image_features(p.path.read_bytes()) for p in held])
    return binary_metrics(
        [p.radiology for p in held], model.radiology_image.log_odds(x, IMAGE_FEATURES) >= 0
    )


def image_model_cross_validated(pictures, folds: int = 5, seed: int = 0) -> dict:
    """Grouped k-fold: every picture group is predicted by a model that never saw it."""
    groups = sorted({p.group for p in pictures})
    fold_of = {g: i % folds for i, g in enumerate(np.random.default_rng(seed).permutation(groups))}
    x = np.array([image_features(p.path.read_bytes()) for p in pictures])
    y = np.array([p.radiology for p in pictures])
    fold = np.array([fold_of[p.group] for p in pictures])
    predicted = np.zeros(len(pictures), dtype=bool)
    for k in range(folds):
        model = fit_linear(x[fold != k], y[fold != k], IMAGE_FEATURES, seed)
        predicted[fold == k] = model.log_odds(x[fold == k]) >= 0
    return binary_metrics(y, predicted)


def caption_evidence_roco(model, held) -> dict:
    x = np.array([caption_features(c) for _, c, _ in held])
    return binary_metrics([r for _, _, r in held], model.radiology_caption.log_odds(x) >= 0)


def caption_evidence_shift(model, held) -> dict:
    """How often the caption evidence points the right way (used in the combined score)."""
    x = np.array([caption_features(c) for _, c, _ in held])
    return binary_metrics([r for _, _, r in held], caption_evidence(x, model) > 0)


def combined(model, held_images, held_captions, cfg: ClassifyConfig, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    by_class = {
        label: [c for _, c, r in held_captions if r == label and c] for label in (True, False)
    }
    truth, single, radiology, kept, compound = [], [], [], [], []
    for picture in held_images:
        pool = by_class[picture.radiology]
        caption = pool[int(rng.integers(len(pool)))]
        result = classify_image(picture.path.read_bytes(), caption, model, cfg)
        truth.append(picture.radiology)
        single.append(picture.radiology and not picture.compound)
        radiology.append(result.radiology)
        kept.append(result.reason is None)
        compound.append(result.compound)
    return {
        "radiology_decision": binary_metrics(truth, radiology),
        # what ROCOv2 keeps: single (not multi-panel, by eye) radiology pictures
        "kept_single_radiology": binary_metrics(single, kept),
        "flagged_compound": f"{int(sum(compound))} (by eye: {sum(truth) - sum(single)} compound "
        f"radiology + {sum(not t and p.compound for t, p in zip(truth, held_images, strict=True))}"
        " compound other)",
    }


def image_modality_held_out(model, held) -> dict:
    """Image-only modality of the held-out radiology images of known modality, per threshold."""
    known = [p for p in held if p.radiology and p.modality]
    x = [image_features(p.path.read_bytes()) for p in known]
    result = {"n": len(known)}
    for threshold in (0.6, 0.8):
        cfg = ClassifyConfig(modality_from_image=True, modality_image_threshold=threshold)
        got = [image_modality(v, model, cfg) for v in x]
        right = sum(g == p.modality for g, p in zip(got, known, strict=True))
        unknown = got.count(UNKNOWN)
        result[str(threshold)] = {
            "right": right,
            "wrong": len(got) - right - unknown,
            "unknown": unknown,
        }
    return result


def _groups(pictures) -> list:
    """One picture per group (the formats of one picture share their labels)."""
    return list({p.group: p for p in reversed(pictures)}.values())[::-1]


def compound_hand_labelled(model, held) -> dict:
    pictures = _groups(held)
    x = np.array([image_features(p.path.read_bytes()) for p in pictures])
    predicted = model.compound.log_odds(x, IMAGE_FEATURES) >= 0
    truth = np.array([p.compound for p in pictures])
    radiology = np.array([p.radiology for p in pictures])
    single_radiology = radiology & ~truth
    return {
        "all": binary_metrics(truth, predicted),
        "radiology": binary_metrics(truth[radiology], predicted[radiology]),
        "single_radiology_called_compound": f"{int(predicted[single_radiology].sum())} of "
        f"{int(single_radiology.sum())}",
    }


def compound_cross_validated(pictures, folds: int = 5, seed: int = 0) -> dict:
    """Grouped k-fold of the compound training recipe, scored on the real pictures by eye."""
    groups = sorted({p.group for p in pictures})
    fold_of = {g: i % folds for i, g in enumerate(np.random.default_rng(seed).permutation(groups))}
    layout = [IMAGE_FEATURES.index(f) for f in LAYOUT_FEATURES]
    real = _groups(pictures)
    x = np.array([image_features(p.path.read_bytes()) for p in real])
    predicted = np.zeros(len(real), dtype=bool)
    for k in range(folds):
        train = [p for p in pictures if fold_of[p.group] != k]
        images, labels = compound_examples(train, seed)
        kx = np.array([image_features(b) for b in images])[:, layout]
        model = fit_linear(kx, labels, LAYOUT_FEATURES, seed)
        test = np.array([fold_of[p.group] == k for p in real])
        predicted[test] = model.log_odds(x[test], IMAGE_FEATURES) >= 0
    truth = np.array([p.compound for p in real])
    radiology = np.array([p.radiology for p in real])
    return {
        "all": binary_metrics(truth, predicted),
        "radiology": binary_metrics(truth[radiology], predicted[radiology]),
        "single_radiology_called_compound": f"{int(predicted[radiology & ~truth].sum())} of "
        f"{int((radiology & ~truth).sum())}",
    }


def compound_detection(model, held, seed: int = 1) -> dict:
    images, labels = compound_examples(held, seed, figures=120)
    x = np.array([image_features(b) for b in images])
    return binary_metrics(labels, model.compound.log_odds(x, IMAGE_FEATURES) >= 0)


def speed(pictures, side: int) -> dict:
    """Images per second for features of JPEG (quality 90) and PNG figures `side` px wide."""
    arrays = []
    for p in pictures[:60]:
        img = Image.open(p.path)
        img.seek(0)
        img = img.convert("RGB")
        img = img.resize((side, max(1, round(side * img.height / img.width))))
        arrays.append(img)
    result = {}
    for fmt in ("JPEG", "PNG"):
        blobs = []
        for img in arrays:
            buffer = io.BytesIO()
            img.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            blobs.append(buffer.getvalue())
        start = time.perf_counter()
        for blob in blobs:
            image_features(blob)
        result[fmt] = round(len(blobs) / (time.perf_counter() - start), 1)
    return result


def evaluate(realdata: Path, model_path: Path | None) -> dict:
    model = load_model(model_path)
    cfg = ClassifyConfig()
    pictures = realdata_pictures(realdata)
    _, held = split(pictures)
    captions = roco_captions(realdata)["held_out"]
    return {
        "image_model_held_out": image_model_held_out(model, held),
        "image_model_5fold_cv": image_model_cross_validated(pictures),
        "caption_roco_v1_validation": caption_evidence_roco(model, captions),
        "caption_evidence_direction": caption_evidence_shift(model, captions),
        "combined_held_out": combined(model, held, captions, cfg),
        "compound_by_eye_held_out": compound_hand_labelled(model, held),
        # in-sample for 75 % of the groups when the model was trained on the by-eye labels
        "compound_by_eye_all_pictures": compound_hand_labelled(model, pictures),
        "compound_by_eye_5fold_cv": compound_cross_validated(pictures),
        "compound_generated": compound_detection(model, held),
        "image_modality_held_out": image_modality_held_out(model, held),
        "features_per_second_512px": speed(pictures, 512),
        "features_per_second_1024px": speed(pictures, 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=REALDATA)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.realdata.is_dir():
        print(f"no realdata at {args.realdata}", file=sys.stderr)
        return 2
    results = evaluate(args.realdata, args.model)
    for name, values in results.items():
        print(f"{name}: {json.dumps(values)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
