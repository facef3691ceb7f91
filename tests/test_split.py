"""Splits: by article, proportions respected, never changed by other articles."""

from roco.split import assign_splits, split_of

PROPORTIONS = {"train": 0.75, "validation": 0.125, "test": 0.125}


def test_proportions_are_close_on_many_articles():
    splits = assign_splits([f"PMC{i}" for i in range(20_000)], PROPORTIONS, "salt")
    shares = splits["split"].value_counts(normalize=True)
    assert abs(shares["train"] - 0.75) < 0.02
    assert abs(shares["validation"] - 0.125) < 0.02
    assert abs(shares["test"] - 0.125) < 0.02


def test_split_of_an_article_does_not_depend_on_the_others():
    small = assign_splits([f"PMC{i}" for i in range(100)], PROPORTIONS, "s")
    large = assign_splits([f"PMC{i}" for i in range(5000)], PROPORTIONS, "s")
    merged = small.merge(large, on="pmcid", suffixes=("_small", "_large"))
    assert len(merged) == 100
    assert (merged["split_small"] == merged["split_large"]).all()


def test_salt_changes_the_assignment():
    ids = [f"PMC{i}" for i in range(200)]
    a = [split_of(p, PROPORTIONS, "a") for p in ids]
    b = [split_of(p, PROPORTIONS, "b") for p in ids]
    assert a != b


def test_one_row_per_article():
    splits = assign_splits(["PMC1", "PMC1", "PMC2"], PROPORTIONS, "s")
    assert list(splits["pmcid"]) == ["PMC1", "PMC2"]
