"""Exact and near-duplicate figures across the whole build, found without comparing all pairs.

Keep order: the oldest article in PMC first, i.e. the smallest numeric PMC id (PMC gives ids in the
order articles arrive), then the figure id. Walking the figures in that order, a figure is dropped
when an earlier *kept* figure is a duplicate of it: same bytes (SHA-256), or perceptual hashes
within `radius` bits (Hamming). It names the oldest such kept figure (`duplicate_of`) and the
Hamming distance to it, which is therefore never above the radius.

Why not union-find groups: with components, a chain A~B~C drops C for A even when A and C are
far apart, and a new figure B that arrives later would merge two old groups and drop a figure
that an earlier build kept. Here a figure's decision depends only on the figures before it in
keep order, so a rebuild after PMC grows keeps every old decision: new articles have larger ids
and sort after every old figure (tests/test_dedup.py checks this). Only a new version of an old
article takes its old place. The publication date is not the key because PMC also adds back
issues (old dates, new ids): sorted by date, such an article would take figures from articles
that earlier builds kept.

Reductions before the search: figures with equal bytes, then figures with equal hashes, collapse
to their first member in keep order (the others follow its decision, at distance 0 from it or at
its distance to its kept figure), so the search runs on distinct hash values.

Search (`near_pairs`), exact, for a self-join of distinct 64-bit codes: cut the code into k
contiguous chunks. Two codes within distance r differ in at most r chunks, so they agree exactly
on at least k - r of them (pigeonhole). For every choice of k - r chunks, sort the codes by those
chunks (key and row index packed in one uint64, one np.sort), take the pairs inside runs of equal
keys, and keep those whose full distance is <= r. k trades the number of sorts, C(k, r), against
the random collisions per sort (~ n^2 / 2^(key bits + 1)); `plan_chunks` picks it with a cost model
measured here (np.sort ~95 ns per code at 10M; ~500 ns per candidate pair, random gathers).
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from roco.tables import rejects_frame

DEFAULT_RADIUS = 4
_SORT_NS = 95.0
_ARGSORT_NS = 160.0
_PAIR_NS = 500.0
_U64 = np.uint64


def _chunk_bounds(k: int) -> list[tuple[int, int]]:
    """(shift, width) of k contiguous chunks covering 64 bits, widths differing by at most one."""
    widths = [64 // k + (1 if i < 64 % k else 0) for i in range(k)]
    shifts = np.cumsum([0, *widths[:-1]])
    return [(int(s), w) for s, w in zip(shifts, widths, strict=True)]


def plan_chunks(n: int, radius: int) -> int:
    """Number of chunks k minimising the modelled time of a self-join of n uniform codes."""
    index_bits = max(1, int(n - 1).bit_length())
    best, best_cost = radius + 1, math.inf
    for k in range(radius + 1, 65):
        widths = sorted(w for _, w in _chunk_bounds(k))
        key_bits = sum(widths[: k - radius])  # the narrowest choice collides most
        packs = sum(widths[-(k - radius) :]) + index_bits <= 64
        sorts = math.comb(k, radius)
        pairs = sorts * n * n / 2.0 ** (key_bits + 1)
        cost = sorts * n * (_SORT_NS if packs else _ARGSORT_NS) + pairs * _PAIR_NS
        if cost < best_cost:
            best, best_cost = k, cost
    return best


def _merge_adjacent(chunks) -> list[tuple[int, int]]:
    """Chosen chunks as maximal contiguous bit ranges (fewer shifts when building keys)."""
    merged: list[tuple[int, int]] = []
    for shift, width in chunks:
        if merged and sum(merged[-1]) == shift:
            merged[-1] = (merged[-1][0], merged[-1][1] + width)
        else:
            merged.append((shift, width))
    return merged


def _chunk_key(codes: np.ndarray, chunks, offset: int = 0) -> np.ndarray:
    """The bits of the chosen chunks, compressed side by side, shifted left by `offset`."""
    key = np.zeros(len(codes), dtype=_U64)
    part = np.empty_like(key)
    for shift, width in _merge_adjacent(chunks):
        np.right_shift(codes, _U64(shift), out=part)
        if shift + width < 64:
            np.bitwise_and(part, _U64((1 << width) - 1), out=part)
        np.left_shift(part, _U64(offset), out=part)
        np.bitwise_or(key, part, out=key)
        offset += width
    return key


def _equal_key_pairs(codes: np.ndarray, chunks) -> tuple[np.ndarray, np.ndarray]:
    """Rows (a, b) of every pair of codes that agree on the chosen chunks.

    Key and row index are packed in one uint64 and sorted with one np.sort (~1.7x faster than
    an argsort) when they fit in 64 bits; otherwise the key is argsorted.
    """
    n = len(codes)
    index_bits = max(1, int(n - 1).bit_length())
    if sum(w for _, w in chunks) + index_bits <= 64:
        packed = _chunk_key(codes, chunks, index_bits)
        np.bitwise_or(packed, np.arange(n, dtype=_U64), out=packed)
        packed.sort()
        # Equal keys <=> the xor of neighbours has no bit above the index bits.
        step_equal = (packed[1:] ^ packed[:-1]) < _U64(1 << index_bits)
        p, q = _run_pairs(step_equal)
        mask = _U64((1 << index_bits) - 1)
        return (packed[p] & mask).astype(np.int64), (packed[q] & mask).astype(np.int64)
    key = _chunk_key(codes, chunks)
    rows = np.argsort(key, kind="stable")
    key = key[rows]
    p, q = _run_pairs(key[1:] == key[:-1])
    return rows[p], rows[q]


def _run_pairs(step_equal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (p, q), p < q, of every pair inside runs of equal values of a sorted array,
    given step_equal[p] = (value[p] == value[p + 1])."""
    pos = np.flatnonzero(step_equal)
    firsts, seconds = [], []
    step = 1
    while len(pos):
        firsts.append(pos)
        seconds.append(pos + step)
        # p pairs with p + step + 1 when the run also continues past p + step.
        nxt = pos + step
        pos = pos[nxt < len(step_equal)]
        pos = pos[step_equal[pos + step]]
        step += 1
    if not firsts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(firsts), np.concatenate(seconds)


def _matches(codes: np.ndarray, radius: int, chunks) -> np.ndarray:
    """Pair ids a * n + b (a < b) of the codes that agree on `chunks` and are within radius."""
    a, b = _equal_key_pairs(codes, chunks)
    near = np.bitwise_count(codes[a] ^ codes[b]) <= radius
    a, b = a[near], b[near]
    return np.minimum(a, b) * len(codes) + np.maximum(a, b)


_SHARED: dict[str, np.ndarray] = {}


def _matches_in_worker(radius: int, chunks) -> np.ndarray:
    return _matches(_SHARED["codes"], radius, chunks)


def near_pairs(
    codes: np.ndarray, radius: int, workers: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (i, j), i < j, of rows whose 64-bit codes are within `radius` bits (0..63).

    Exact: no pair is missed, equal codes included. Returns (i, j, distance) sorted by (i, j).
    With workers > 1 the chunk choices run in forked processes that share `codes`.
    """
    if not 0 <= radius < 64:
        raise ValueError(f"radius must be in 0..63, not {radius}")
    codes = np.ascontiguousarray(codes, dtype=_U64)
    n = len(codes)
    empty = np.empty(0, dtype=np.int64)
    if n < 2:
        return empty, empty, empty
    k = plan_chunks(n, radius)
    choices = list(itertools.combinations(_chunk_bounds(k), k - radius))
    if workers > 1 and len(choices) > 1:
        _SHARED["codes"] = codes  # inherited by the forked workers, not pickled
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(min(workers, len(choices)), mp_context=context) as pool:
                found = list(pool.map(_matches_in_worker, itertools.repeat(radius), choices))
        finally:
            _SHARED.clear()
    else:
        found = [_matches(codes, radius, chunks) for chunks in choices]
    pair_ids = np.unique(np.concatenate(found))
    i, j = pair_ids // n, pair_ids % n
    return i, j, np.bitwise_count(codes[i] ^ codes[j]).astype(np.int64)


def _pmc_number(pmcid) -> int:
    digits = re.sub(r"\D", "", str(pmcid or ""))
    return int(digits) if digits else 2**62


def keep_order(frame: pd.DataFrame) -> np.ndarray:
    """Row positions in keep order: PMC number (a missing one last), then figure id."""
    key = pd.DataFrame(
        {
            "pmc": [_pmc_number(p) for p in frame["pmcid"]],
            "id": frame["id"].astype(str).to_numpy(dtype=object),
        }
    )
    return key.sort_values(["pmc", "id"], kind="stable").index.to_numpy()


def parse_codes(hexes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 codes, valid mask) from 16-hex-digit strings; invalid or missing give valid=False."""
    text = hexes.astype("string")
    valid = text.str.fullmatch(r"[0-9a-fA-F]{16}").fillna(False).to_numpy(dtype=bool)
    codes = np.zeros(len(text), dtype=_U64)
    if valid.any():
        joined = "".join(text[valid].tolist())
        codes[valid] = np.frombuffer(bytes.fromhex(joined), dtype=">u8").astype(_U64)
    return codes, valid


def _first_of_groups(values: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For each row, the row with the smallest rank among the rows with an equal value."""
    order = np.lexsort((rank, values))
    starts = np.r_[True, values[order][1:] != values[order][:-1]]
    first = order[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    leader = np.empty(len(values), dtype=np.int64)
    leader[order] = first
    return leader


def _leader_targets(codes: np.ndarray, rank: np.ndarray, radius: int, workers: int) -> np.ndarray:
    """For distinct codes in rank order: -1 if kept, else the oldest kept code within radius."""
    i, j, _ = near_pairs(codes, radius, workers)
    later = np.where(rank[i] > rank[j], i, j)
    earlier = np.where(rank[i] > rank[j], j, i)
    order = np.lexsort((rank[earlier], rank[later]))
    later, earlier = later[order], earlier[order]
    target = np.full(len(codes), -1, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, later[1:] != later[:-1]]) if len(later) else []
    ends = np.r_[starts[1:], len(later)] if len(later) else []
    # Sequential by construction: whether a code is kept depends on the earlier decisions.
    for s, e in zip(starts, ends, strict=True):
        for u in earlier[s:e]:
            if target[u] < 0:
                target[later[s]] = u
                break
    return target


def find_duplicates(
    frame: pd.DataFrame, radius: int = DEFAULT_RADIUS, workers: int = 1
) -> pd.DataFrame:
    """Rows of the `duplicates` table (id, duplicate_of, distance) for the dropped figures.

    `frame` has columns id, pmcid, phash (16 hex digits), sha256. Figures with a
    missing or malformed phash only match by sha256. Output sorted by id.
    """
    n = len(frame)
    rank = np.empty(n, dtype=np.int64)
    rank[keep_order(frame)] = np.arange(n)
    codes, valid = parse_codes(frame["phash"])
    target = np.arange(n)  # a figure's kept figure, or itself when kept

    # Same bytes: follow the first copy in keep order.
    sha = frame["sha256"].astype("string").fillna("").to_numpy(dtype=object)
    has_sha = sha != ""
    leader = np.arange(n)
    leader[has_sha] = np.flatnonzero(has_sha)[
        _first_of_groups(pd.factorize(sha[has_sha])[0], rank[has_sha])
    ]
    # Same hash among the first copies: follow the first figure with that hash.
    heads = np.flatnonzero((leader == np.arange(n)) & valid)
    code_leader = heads[_first_of_groups(codes[heads], rank[heads])]
    leader[heads] = code_leader
    # Near hashes among the distinct codes, in keep order.
    distinct = np.unique(code_leader)
    kept_of = _leader_targets(codes[distinct], rank[distinct], radius, workers)
    dropped = kept_of >= 0
    target[distinct[dropped]] = distinct[kept_of[dropped]]
    # Followers take their leader's decision (leaders of leaders are resolved first).
    target[heads] = target[code_leader]
    target = target[leader]

    drop = np.flatnonzero(target != np.arange(n))
    both = valid[drop] & valid[target[drop]]
    distance = np.where(both, np.bitwise_count(codes[drop] ^ codes[target[drop]]), 0)
    ids = frame["id"].astype(str).to_numpy(dtype=object)
    out = pd.DataFrame(
        {
            "id": ids[drop],
            "duplicate_of": ids[target[drop]],
            "distance": distance.astype(np.int32),
        }
    )
    return out.sort_values("id", kind="stable").reset_index(drop=True)


def duplicate_rejects(duplicates: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Reject rows (stage dedup) naming the kept figure each dropped one duplicates."""
    by_id = figures.set_index("id")[["pmcid", "sha256"]]
    rows = []
    for fid, kept, distance in duplicates[["id", "duplicate_of", "distance"]].itertuples(
        index=False
    ):
        exact = by_id.at[fid, "sha256"] == by_id.at[kept, "sha256"]
        rows.append(
            {
                "stage": "dedup",
                "reason": "exact_duplicate" if exact else "near_duplicate",
                "pmcid": by_id.at[fid, "pmcid"],
                "id": fid,
                "detail": f"duplicate of {kept} (phash distance {distance})",
            }
        )
    return rejects_frame(rows)
