"""The tables passed between stages: Arrow schemas from workflow/schemas and atomic Parquet I/O.

The row schemas live in `workflow/schemas/tables.schema.yaml` (JSON Schema with an Arrow `format`
where JSON types are too coarse); this module turns them into pyarrow schemas. Parquet files are
written with fixed settings and no timestamps, to a temporary name that is renamed into place, so
the same rows always give the same bytes and a killed job never leaves a half-written table.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "tables.schema.yaml"
REJECT_COLUMNS = ("stage", "reason", "pmcid", "version", "id", "detail")

_ARROW_FORMATS = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "binary": pa.binary(),
    # A Hugging Face `Image` feature is stored as this struct.
    "image": pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
}
_ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


@cache
def _definitions() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text())["$defs"]


def _arrow_type(prop: Mapping) -> pa.DataType:
    if "format" in prop:
        return _ARROW_FORMATS[prop["format"]]
    kinds = [t for t in _as_list(prop["type"]) if t != "null"]
    if kinds == ["array"]:
        return pa.list_(_arrow_type(prop["items"]))
    return _ARROW_TYPES[kinds[0]]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _columns(name: str) -> list[tuple[str, Mapping]]:
    """Columns of a table in order, parents (allOf) first."""
    table = _definitions()[name]
    columns = []
    for parent in table.get("allOf", []):
        columns += _columns(parent["$ref"].rsplit("/", 1)[1])
    return columns + list(table["properties"].items())


@cache
def arrow_schema(name: str) -> pa.Schema:
    """The pyarrow schema of a named table (rejects, articles, figures, classified, ...)."""
    return pa.schema(
        pa.field(col, _arrow_type(prop), nullable="null" in _as_list(prop.get("type", [])))
        for col, prop in _columns(name)
    )


def to_arrow(frame: pd.DataFrame, name: str) -> pa.Table:
    """Cast a DataFrame to a table's schema; extra columns are an error, not silently dropped."""
    schema = arrow_schema(name)
    extra = set(frame.columns) - set(schema.names)
    if extra:
        raise ValueError(f"columns not in the {name!r} schema: {sorted(extra)}")
    return pa.Table.from_pandas(
        frame.reindex(columns=schema.names), schema=schema, preserve_index=False
    )


def write_parquet(table: pa.Table, path: str | os.PathLike) -> None:
    """Write a table atomically with fixed settings (zstd, no statistics timestamps)."""
    with atomic_path(path) as partial:
        pq.write_table(
            table,
            partial,
            compression="zstd",
            compression_level=9,
            write_statistics=False,
            store_schema=True,
        )


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name beside `path` to write to; renamed onto `path` when the block succeeds,
    so a killed job never leaves half a file that a resumed run would take as finished."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    yield partial
    os.replace(partial, path)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as partial:
        partial.write_text(text)


@contextmanager
def staged_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """A fresh staging directory that replaces `out_dir` whole when the block succeeds."""
    out_dir = Path(out_dir)
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    yield staging
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(staging, out_dir)


def write_frame(frame: pd.DataFrame, path: str | os.PathLike, name: str) -> None:
    write_parquet(to_arrow(frame, name), path)


def read_frame(paths: str | os.PathLike | Iterable, name: str, columns=None) -> pd.DataFrame:
    """Read one or several Parquet files of a table into one DataFrame (schema kept when empty)."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    schema = arrow_schema(name)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    tables = [pq.read_table(p, columns=schema.names).cast(schema) for p in paths]
    return pa.concat_tables(tables or [schema.empty_table()]).to_pandas()


def rejects_frame(rows: Iterable[Mapping]) -> pd.DataFrame:
    """A rejects DataFrame from dicts with the REJECT_COLUMNS keys (missing ones are null)."""
    return pd.DataFrame(
        [{c: row.get(c) for c in REJECT_COLUMNS} for row in rows], columns=list(REJECT_COLUMNS)
    )
