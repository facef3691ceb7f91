"""Shards: HF-loadable Parquet with decoded images, deterministic bytes, sized shards."""

import hashlib
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from roco import shards, split, tables

PROPORTIONS = {"train": 0.75, "validation": 0.125, "test": 0.125}


def build(annotated, out, target_mb=500.0):
    duplicates = pd.DataFrame(
        {"id": [annotated["id"][0]], "duplicate_of": [annotated["id"][1]], "distance": [0]}
    )
    splits = split.assign_splits(annotated["pmcid"], PROPORTIONS, "t")
    rows = shards.dataset_rows(annotated, duplicates, splits)
    return rows, shards.write_dataset(rows, out, target_mb)


def digest_tree(root):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))
    }


def test_duplicates_dropped_and_every_row_has_a_split(annotated, tmp_path):
    rows, counts = build(annotated, tmp_path / "ds")
    assert sum(counts.values()) == len(annotated) - 1
    assert annotated["id"][0] not in set(rows["id"])
    assert set(rows["split"]) <= set(split.SPLITS)


def test_shards_are_byte_identical_across_builds(annotated, tmp_path):
    build(annotated, tmp_path / "a")
    build(annotated.sample(frac=1, random_state=3), tmp_path / "b")  # input order must not matter
    assert digest_tree(tmp_path / "a") == digest_tree(tmp_path / "b")


def test_target_size_cuts_shards_and_names_them(annotated, tmp_path):
    _, counts = build(annotated, tmp_path / "ds", target_mb=0.004)
    files = sorted(p.name for p in (tmp_path / "ds" / "data").glob("train-*.parquet"))
    assert len(files) > 1
    n = len(files)
    assert files == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    total = sum(pq.read_metadata(tmp_path / "ds" / "data" / f).num_rows for f in files)
    assert total == counts["train"]


def test_shard_bounds_cover_all_rows_without_overlap():
    bounds = shards.shard_bounds([10] * 95, 100)
    assert bounds[0][0] == 0 and bounds[-1][1] == 95
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert len(bounds) == 10


def test_loads_with_datasets_and_images_decode(annotated, tmp_path):
    datasets = pytest.importorskip("datasets")
    build(annotated, tmp_path / "ds")
    loaded = datasets.load_dataset(
        "parquet", data_dir=str(tmp_path / "ds" / "data"), cache_dir=str(tmp_path / "cache")
    )
    assert set(loaded) <= {"train", "validation", "test"}
    first = loaded["train"][0]
    assert first["image"].size == (64, 48)
    assert first["cuis"] == ["C0040405", "C0817096"]
    assert first["caption"].startswith("Axial CT")


def test_schema_carries_hf_features(annotated, tmp_path):
    build(annotated, tmp_path / "ds")
    path = next((tmp_path / "ds" / "data").glob("*.parquet"))
    meta = pq.read_schema(path).metadata
    assert b"huggingface" in meta and b'"Image"' in meta[b"huggingface"]
    assert b"pandas" not in meta


def test_card_and_checksums(annotated, tmp_path):
    yaml = pytest.importorskip("yaml")
    build(annotated, tmp_path / "ds")
    card = (tmp_path / "ds" / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "other" and "CC BY-NC" in header["license_details"]
    assert {f["split"] for f in header["configs"][0]["data_files"]} <= {
        "train",
        "validation",
        "test",
    }
    assert "29 figures from 29 articles" in card
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats["figures"] == 29 and sum(stats["splits"].values()) == 29
    assert sum(stats["licences"].values()) == 29 and stats["modalities"] == {"CT": 29}
    sums = (tmp_path / "ds" / "checksums.sha256").read_text().splitlines()
    listed = {line.split("  ")[1] for line in sums}
    assert "README.md" in listed and any(n.startswith("data/train-") for n in listed)
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256((tmp_path / "ds" / name).read_bytes()).hexdigest() == digest


def tree_bytes(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("target_mb", [500.0, 0.01])
def test_two_pass_build_from_chunk_files_gives_the_same_bytes(annotated, tmp_path, target_mb):
    from conftest import annotated_row

    # Ids of mixed digit counts (PMC99_ sorts after PMC100_), spread over three chunk files of
    # small row groups, so shards gather rows across files and row groups.
    annotated = pd.concat(
        [annotated, pd.DataFrame([annotated_row(i, f"PMC{i}") for i in range(5, 15)])]
    ).reset_index(drop=True)
    duplicates = pd.DataFrame({"id": [annotated["id"][3]], "duplicate_of": ["x"], "distance": [1]})
    splits = split.assign_splits(annotated["pmcid"], PROPORTIONS, "t")
    files = []
    for n, part in enumerate([annotated.iloc[::3], annotated.iloc[1::3], annotated.iloc[2::3]]):
        files.append(tmp_path / f"c{n}.parquet")
        with tables.TableWriter(files[-1], "annotated", group_rows=4) as writer:
            writer.write(part.sort_values("id"))
    in_memory = shards.dataset_rows(annotated, duplicates, splits)
    expected = shards.write_dataset(in_memory, tmp_path / "a", target_mb)
    counts = shards.write_dataset_files(files[::-1], duplicates, splits, tmp_path / "b", target_mb)
    assert counts == expected and sum(counts.values()) == len(annotated) - 1
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (len(list((tmp_path / "b" / "data").glob("train-*"))) > 1) == (target_mb < 1)
