"""Stable train/validation/test splits by article.

An article's split is a pure function of its PMC id and a salt: the SHA-256 of `salt:pmcid` read
as a number in [0, 1) falls into one of the configured proportions. No article is ever in two
splits, and the split of an article never changes when PMC grows, because it does not depend on
which other articles exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import pandas as pd

SPLITS = ("train", "validation", "test")


def split_of(pmcid: str, proportions: Mapping[str, float], salt: str) -> str:
    """The split of one article."""
    digest = hashlib.sha256(f"{salt}:{pmcid}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(proportions[s] for s in SPLITS)
    edge = 0.0
    for split in SPLITS:
        edge += proportions[split] / total
        if point < edge:
            return split
    return SPLITS[-1]


def assign_splits(pmcids: Iterable[str], proportions: Mapping[str, float], salt: str):
    """The `splits` table for a set of articles, sorted by PMC id."""
    unique = sorted(set(pmcids))
    return pd.DataFrame(
        {"pmcid": unique, "split": [split_of(p, proportions, salt) for p in unique]}
    )
