"""Benchmark: roco.phash against imagehash.phash on full decodes (goal >= 5x), one run.

Images: the real pictures of ../shared/realdata (when present, else generated ones) as JPEG q90
scaled so the longer side is 2000 px (a typical PMC figure), and as PNG at 1000 px. Prints the
time per image, the ratio and how many hashes agree with imagehash.

    .venv/bin/python bench/bench_phash.py [--limit 40]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from roco import phash

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def pictures(limit: int) -> list[Image.Image]:
    files = sorted(p for p in (REALDATA / "images2").rglob("*.png")) if REALDATA.is_dir() else []
    if files:
        step = max(1, len(files) // limit)
        return [Image.open(p).convert("RGB") for p in files[::step][:limit]]
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).resize((640, 480))
        for _ in range(limit)
    ]


def encoded(images: list[Image.Image], side: int, fmt: str) -> list[bytes]:
    out = []
    for img in images:
        scale = side / max(img.size)
        small = img.resize((round(img.width * scale), round(img.height * scale)))
        buffer = io.BytesIO()
        small.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        out.append(buffer.getvalue())
    return out


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def compare(label: str, datas: list[bytes]) -> None:
    ref_time, ref = timed(lambda: [str(imagehash.phash(Image.open(io.BytesIO(d)))) for d in datas])
    ours_time, ours = timed(lambda: phash.phash_many(datas))
    two_time, _ = timed(lambda: phash.phash_many(datas, threads=2))
    dists = [(int(a, 16) ^ int(b, 16)).bit_count() for a, b in zip(ref, ours, strict=True)]
    n = len(datas)
    print(
        f"{label}: imagehash {1000 * ref_time / n:.1f} ms/image, roco {1000 * ours_time / n:.1f}"
        f" ms/image -> ratio {ref_time / ours_time:.1f}x (2 threads {ref_time / two_time:.1f}x);"
        f" identical {sum(d == 0 for d in dists)}/{n}, max distance {max(dists)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="number of pictures")
    args = parser.parse_args()
    images = pictures(args.limit)
    compare("JPEG q90, 2000 px", encoded(images, 2000, "JPEG"))
    compare("JPEG q90, 1000 px", encoded(images, 1000, "JPEG"))
    compare("PNG, 1000 px (full decode both)", encoded(images, 1000, "PNG"))


if __name__ == "__main__":
    main()
