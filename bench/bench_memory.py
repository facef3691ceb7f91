"""Peak memory of the per-chunk stages, training and dataset: one-shot (before) vs streamed (after).

Makes one chunk of many figures with PMC-sized images: the demo corpus's articles (`--articles`,
all taken as one chunk) with every image replaced by a ~200 KB JPEG (a fresh bytes object per
fetch, as a real download is). Then runs each stage in its own process, both ways, and prints
the process's peak RSS (ru_maxrss):
- before: what the workflow scripts did until now, the whole chunk in one DataFrame
  (`extract_chunk`, `classify_chunk` + `hash_chunk`, `annotate_chunk` + `write_frame`;
  `dataset_rows` + `write_dataset` over every annotated row; training on the figures with their
  images);
- after: the streamed versions the scripts use now (`extract_file`, `classify_file` (which
  also hashes), `annotate_file`, `write_dataset_files`; training on image features computed
  batch by batch, `iter_figures` + `with_image_features`).
Classify thresholds are opened (every figure kept) so that hash, annotate and dataset see the
whole chunk. Each stage's output tables are checked equal between the two ways.

Reproduce: `.venv/bin/python bench/bench_memory.py` (default 1,200 articles, ~2,400 figures);
`--articles 120` for a quick run.
"""

import argparse
import io
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from roco import classify, concepts, demo, extract, phash, shards, sources, split, tables

STAGES = ("extract", "train_classifier", "classify", "annotate", "dataset")
IMAGE_SIDE = 480  # a grey noise JPEG of 480x480 at quality 90 is ~200 KB
CFG = extract.ExtractConfig(licences=frozenset({"CC BY", "CC BY-NC", "CC0"}))
OPEN = classify.ClassifyConfig(radiology_threshold=0.0, compound_threshold=1.01)


def big_jpegs(n: int = 8) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        pixels = rng.integers(0, 255, (IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels, "L").save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


class BigImages:
    """A source whose media are ~200 KB JPEGs, a new bytes object on every fetch."""

    def __init__(self, source: sources.Source):
        self.source = source
        self.images = big_jpegs()

    def __getattr__(self, name):
        return getattr(self.source, name)

    def media(self, row, metadata, name):
        self.source.media(row, metadata, name)  # still fetched and checked like a real one
        image = self.images[zlib.crc32(name.encode()) % len(self.images)]
        return bytes(bytearray(image))


def run_stage(stage: str, way: str, work: Path) -> None:
    """One stage one way (in this process); writes its outputs under work/way."""
    out = work / way
    out.mkdir(exist_ok=True)
    one = way == "before"
    if stage == "extract":
        source = BigImages(sources.local_bucket(work / "corpus"))
        rows = source.inventory()
        if one:
            figures = extract.extract_chunk(source, rows, CFG)[0]
            tables.write_frame(figures, out / "figures.parquet", "figures")
        else:
            extract.extract_file(source, rows, CFG, out / "figures.parquet")
    elif stage == "train_classifier":  # with the whole chunk as its sample
        source = BigImages(sources.local_bucket(work / "corpus"))
        rows = source.inventory()
        if one:
            figures = extract.extract_chunk(source, rows, CFG)[0]
        else:
            batches = extract.iter_figures(source, rows, CFG)
            figures = pd.concat(map(classify.with_image_features, batches), ignore_index=True)
        classify.save_model(classify.train_from_figures(figures)[0], out / "model.json")
    elif stage == "classify":  # and hash, as the classify rule does
        model = classify.load_model(None)
        if one:
            frame = tables.read_frame(out / "figures.parquet", "figures")
            kept = classify.classify_chunk(frame, model, OPEN)[0]
            tables.write_frame(phash.hash_chunk(kept)[0], out / "hashed.parquet", "hashed")
        else:
            classify.classify_file(out / "figures.parquet", out / "hashed.parquet", model, OPEN)
    elif stage == "annotate":
        annotator = concepts.Annotator()
        if one:
            frame = tables.read_frame(out / "hashed.parquet", "hashed")
            annotated = concepts.annotate_chunk(frame, annotator)[0]
            tables.write_frame(annotated, out / "annotated.parquet", "annotated")
        else:
            concepts.annotate_file(out / "hashed.parquet", out / "annotated.parquet", annotator)
    else:
        annotated = out / "annotated.parquet"
        pmcids = tables.read_frame(annotated, "annotated", columns=["pmcid"])["pmcid"]
        splits = split.assign_splits(pmcids, {"train": 0.8, "validation": 0.1, "test": 0.1}, "b")
        duplicates = tables.read_frame([], "duplicates")
        if one:
            frame = tables.read_frame(annotated, "annotated")
            rows = shards.dataset_rows(frame, duplicates, splits)
            shards.write_dataset(rows, out / "dataset", 100)
        else:
            shards.write_dataset_files([annotated], duplicates, splits, out / "dataset", 100)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"stage": stage, "way": way, "peak_mb": peak_mb}))


def measure(stage: str, way: str, work: Path) -> float:
    cmd = [sys.executable, __file__, "--run", stage, way, "--workdir", str(work)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{stage} {way} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]


def same_tables(work: Path) -> list[str]:
    """The outputs that differ in content between the two ways (should be none)."""
    differ = []
    for name in ("figures", "hashed", "annotated"):
        a = tables.read_frame(work / "before" / f"{name}.parquet", name)
        b = tables.read_frame(work / "after" / f"{name}.parquet", name)
        differ += [] if a.equals(b) else [name]
    models = [(work / way / "model.json").read_bytes() for way in ("before", "after")]
    differ += [] if models[0] == models[1] else ["model"]
    before = (work / "before" / "dataset" / "checksums.sha256").read_text()
    after = (work / "after" / "dataset" / "checksums.sha256").read_text()
    return differ + ([] if before == after else ["dataset"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1200)
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: temp)")
    parser.add_argument("--run", nargs=2, metavar=("STAGE", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_stage(*args.run, args.workdir)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="roco-bench-memory-"))
    try:
        demo.generate_demo_corpus(work / "corpus", args.articles)
        peaks = {(s, w): measure(s, w, work) for s in STAGES for w in ("before", "after")}
        figures = tables.read_frame(work / "after" / "figures.parquet", "figures", ["image"])
        image_mb = figures["image"].map(len).sum() / 2**20
        print(
            f"{args.articles} articles, one chunk of {len(figures)} figures, "
            f"{image_mb:.0f} MB of images ({image_mb * 1024 / max(len(figures), 1):.0f} KB each)"
        )
        print(f"{'stage':<18}{'before MB':>12}{'after MB':>12}")
        for stage in STAGES:
            print(f"{stage:<18}{peaks[stage, 'before']:>12.0f}{peaks[stage, 'after']:>12.0f}")
        differ = same_tables(work)
        print("outputs equal before/after:", "yes" if not differ else f"NO: {differ}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
