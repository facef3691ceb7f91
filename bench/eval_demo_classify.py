"""Classifier decisions on the generated demo corpus against its ground truth.

Generates the default demo corpus, extracts every selected article, trains the model the way the
workflow does (weak caption labels on an even article sample) and classifies every figure. The
demo manifest says which figures are radiology, compound, and of which modality. Prints precision,
recall and accuracy (with counts) for: radiology, compound, the final keep decision (single
radiology figure), and modality agreement on kept figures.

    .venv/bin/python bench/eval_demo_classify.py [--articles 240]
"""

import argparse
import json
import tempfile
from pathlib import Path

from roco import classify, extract, plan, sources
from roco.demo import generate_demo_corpus, load_manifest

LICENCES = frozenset({"CC BY", "CC BY-NC", "CC0"})


def truth_of(manifest: dict) -> dict:
    return {(a["pmcid"], f["figure_id"]): f for a in manifest["articles"] for f in a["figures"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=240)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        generate_demo_corpus(root, args.articles, 7)
        source = sources.local_bucket(root)
        rows, _ = plan.latest_versions(source.inventory())
        cfg = extract.ExtractConfig(licences=LICENCES)
        figures, _ = extract.extract_chunk(source, rows, cfg)
        step = max(1, len(rows) // 2000)
        sample = {r.pmcid for r in rows[::step]}
        model, _ = classify.train_from_figures(figures[figures["pmcid"].isin(sample)])
        truth = truth_of(load_manifest(root))
    decisions = [
        classify.classify_image(img, cap, model, classify.ClassifyConfig())
        for img, cap in zip(figures["image"], figures["caption"], strict=True)
    ]
    facts = [truth[(p, f)] for p, f in zip(figures["pmcid"], figures["figure_id"], strict=True)]
    report = {
        "figures": len(facts),
        "radiology": classify.binary_metrics(
            [f["radiology"] for f in facts], [d.radiology for d in decisions]
        ),
        "compound": classify.binary_metrics(
            [f["compound"] for f in facts], [d.compound for d in decisions]
        ),
        "keep (single radiology)": classify.binary_metrics(
            [f["radiology"] and not f["compound"] for f in facts],
            [d.reason is None for d in decisions],
        ),
    }
    kept = [(f, d) for f, d in zip(facts, decisions, strict=True) if d.reason is None]
    named = [(f, d) for f, d in kept if d.modality != "unknown"]
    report["modality"] = {
        "kept": len(kept),
        "named": len(named),
        "agree": sum(f["modality"] == d.modality for f, d in named),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
