"""Benchmark: the chunked pigeonhole self-join (roco.dedup.near_pairs) against brute force.

Codes: n uniform random 64-bit codes plus planted near copies (1 per 1,000 codes, 0..radius
flipped bits). Prints, per n, the index wall time, the brute-force time extrapolated
from a sample of rows (an exact all-pairs scan at 10M would take hours), the ratio, and the recall
of the planted pairs (must be 100%: the search is exact).

    .venv/bin/python bench/bench_dedup.py [--sizes 1000000 10000000] [--radius 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from roco import dedup


def planted(n: int, radius: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    count = max(1, n // 1000)
    src = rng.choice(n, count, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), count, replace=False)
    flips = np.zeros(count, dtype=np.uint64)
    for k in range(count):
        for bit in rng.choice(64, int(rng.integers(0, radius + 1)), replace=False):
            flips[k] |= np.uint64(1 << int(bit))
    codes[dst] = codes[src] ^ flips
    return codes, np.minimum(src, dst), np.maximum(src, dst)


def brute_force_seconds(codes: np.ndarray, radius: int, sample: int = 200) -> float:
    """Seconds for an all-pairs scan, extrapolated from `sample` rows against all rows."""
    start = time.perf_counter()
    for row in codes[:sample]:
        np.flatnonzero(np.bitwise_count(codes ^ row) <= radius)
    per_row = (time.perf_counter() - start) / sample
    return per_row * len(codes) / 2  # each pair once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--radius", type=int, default=dedup.DEFAULT_RADIUS)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for n in args.sizes:
        codes, want_i, want_j = planted(n, args.radius)
        wall = time.perf_counter()
        i, j, _ = dedup.near_pairs(codes, args.radius, workers=args.workers)
        wall = time.perf_counter() - wall
        found = set((i * n + j).tolist())
        recall = np.mean([a * n + b in found for a, b in zip(want_i, want_j, strict=True)])
        brute = brute_force_seconds(codes, args.radius)
        print(
            f"n={n:,} radius={args.radius} chunks={dedup.plan_chunks(n, args.radius)}"
            f" workers={args.workers}: index {wall:.1f} s wall,"
            f" {len(i):,} pairs; brute force ~{brute:,.0f} s -> ratio {brute / wall:,.0f}x;"
            f" recall of {len(want_i):,} planted pairs {100 * recall:.1f}%"
        )


if __name__ == "__main__":
    main()
