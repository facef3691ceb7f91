"""Tables: schemas from workflow/schemas, atomic deterministic Parquet, no silent column loss."""

import hashlib

import pandas as pd
import pyarrow as pa
import pytest

from roco import tables


def test_schemas_inherit_their_parents_columns():
    figures = tables.arrow_schema("figures").names
    annotated = tables.arrow_schema("annotated").names
    assert annotated[: len(figures)] == figures
    assert {"radiology_score", "phash", "cuis"} <= set(annotated)
    assert tables.arrow_schema("figures").field("image").type == pa.binary()
    assert tables.arrow_schema("annotated").field("cuis").type == pa.list_(pa.string())


def test_extra_columns_are_an_error():
    frame = tables.rejects_frame([{"stage": "s", "reason": "r", "pmcid": "PMC1"}])
    with pytest.raises(ValueError, match="not in the 'rejects' schema"):
        tables.to_arrow(frame.assign(surprise=1), "rejects")


def test_write_is_deterministic_and_leaves_no_partial_file(tmp_path, annotated):
    tables.write_frame(annotated, tmp_path / "a.parquet", "annotated")
    tables.write_frame(annotated, tmp_path / "b.parquet", "annotated")
    digest = [
        hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.parquet", "b.parquet")
    ]
    assert digest[0] == digest[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]


def test_read_several_files_and_empty_lists(tmp_path, annotated):
    tables.write_frame(annotated.iloc[:10], tmp_path / "a.parquet", "annotated")
    tables.write_frame(annotated.iloc[10:], tmp_path / "b.parquet", "annotated")
    both = tables.read_frame([tmp_path / "a.parquet", tmp_path / "b.parquet"], "annotated")
    assert list(both["id"]) == list(annotated["id"])
    empty = tables.read_frame([], "rejects")
    assert list(empty.columns) == list(tables.REJECT_COLUMNS) and empty.empty


def test_empty_frame_without_columns_writes_an_empty_table(tmp_path):
    tables.write_frame(pd.DataFrame(), tmp_path / "e.parquet", "figures")
    assert tables.read_frame(tmp_path / "e.parquet", "figures").empty
