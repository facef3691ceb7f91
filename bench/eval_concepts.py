"""Evaluate roco.concepts on ROCO v1 validation captions (../shared/realdata/roco).

Measures, on the radiology validation split (8,180 captions with ROCO's QuickUMLS CUIs):
- precision / recall / F1 of our CUIs against ROCO's, both restricted to the concepts our KB
  knows (a CUI outside our KB can be neither found nor wrongly found), micro-averaged;
- modality agreement: on captions whose ROCO CUIs contain exactly one modality concept of
  roco.modalities, how often our caption-derived modality concept is the same, and how often
  we name one at all;
- throughput in captions/s of Annotator.annotate (batched: one spaCy pipe and one
  CandidateGenerator call per 512 captions, fuzzy results cached), and in the same run of the
  same pipeline one caption per call with no shared cache (how scispaCy's EntityLinker works:
  one candidate-generation call per doc), with the ratio.

Usage: .venv/bin/python bench/eval_concepts.py [--limit N] [--index DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

from roco.concepts import Annotator
from roco.modalities import MODALITIES

ROOT = Path(__file__).resolve().parents[1]
SPLIT = ROOT.parent / "shared" / "realdata" / "roco" / "roco-v1" / "validation" / "radiology"


def read_tsv(path: Path) -> dict[str, list[str]]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        rows[fields[0]] = [f.strip() for f in fields[1:] if f.strip()]
    return rows


def scores(ours: list[set[str]], gold: list[set[str]], known: set[str]) -> dict:
    tp = 0
    fp, fn = Counter(), Counter()
    for predicted, expected in zip(ours, gold, strict=True):
        predicted, expected = predicted & known, expected & known
        tp += len(predicted & expected)
        fp.update(predicted - expected)
        fn.update(expected - predicted)
    top_fp, top_fn = fp.most_common(6), fn.most_common(6)
    fp, fn = fp.total(), fn.total()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "top_fp": top_fp,
        "top_fn": top_fn,
    }


def modality_agreement(annotations, gold: list[set[str]]) -> dict[str, float]:
    modality_cuis = {m.cui for m in MODALITIES.values()}
    named = agree = ours_named = 0
    for annotation, expected in zip(annotations, gold, strict=True):
        theirs = expected & modality_cuis
        if len(theirs) != 1:
            continue
        named += 1
        ours_named += annotation.modality_cui is not None
        agree += annotation.modality_cui in theirs
    return {
        "captions": named,
        "agreement": agree / named if named else 0.0,
        "we_name_one": ours_named / named if named else 0.0,
    }


def one_at_a_time_rate(annotator: Annotator, captions: list[str]) -> float:
    """Captions/s of the same pipeline called one caption at a time with no shared cache: one
    spaCy call and one CandidateGenerator call per caption, as a per-doc linker works."""
    start = time.perf_counter()
    for caption in captions:
        annotator._fuzzy_cache.clear()
        annotator.annotate([caption])
    return len(captions) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N captions only")
    parser.add_argument("--per-doc", type=int, default=1000, help="captions for the baseline")
    parser.add_argument("--index", type=Path, default=None, help="index dir (default built-in)")
    args = parser.parse_args(argv)
    if not SPLIT.is_dir():
        print(f"skipped: {SPLIT} is absent", file=sys.stderr)
        return 0
    captions = read_tsv(SPLIT / "captions.txt")
    cuis = read_tsv(SPLIT / "cuis.txt")
    ids = sorted(captions)[: args.limit]
    texts = [" ".join(captions[i]) for i in ids]
    gold = [set(cuis.get(i, [])) for i in ids]

    annotator = Annotator(args.index)
    known = set(annotator.by_cui)
    annotator.annotate(texts[:200])  # warm up spaCy; the fuzzy cache is cleared below
    annotator._fuzzy_cache.clear()
    start = time.perf_counter()
    annotations = annotator.annotate(texts)
    batched = len(texts) / (time.perf_counter() - start)
    per_doc = one_at_a_time_rate(annotator, texts[: args.per_doc])

    quality = scores([set(a.cuis) for a in annotations], gold, known)
    modality = modality_agreement(annotations, gold)
    in_gold = len(known & set().union(*gold))
    print(f"captions: {len(texts)}  KB concepts: {len(known)}  of them in ROCO's CUIs: {in_gold}")
    print(
        "CUIs vs ROCO (restricted to our KB): precision {precision:.3f} recall {recall:.3f} "
        "F1 {f1:.3f} (tp {tp}, fp {fp}, fn {fn})".format(**quality)
    )
    for label in ("top_fp", "top_fn"):
        names = ", ".join(f"{annotator.by_cui[c].name} {n}" for c, n in quality[label])
        print(f"  most frequent {label[4:].upper()}: {names}")
    print(
        "modality: {captions} captions name one; agreement {agreement:.3f}, "
        "we name one in {we_name_one:.3f}".format(**modality)
    )
    cores = len(os.sched_getaffinity(0))
    print(
        f"throughput: {batched:,.0f} captions/s batched (1 process; {cores} cores visible), "
        f"{per_doc:,.0f} captions/s one caption per call (first {min(args.per_doc, len(texts))}):"
        f" ratio {batched / per_doc:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
