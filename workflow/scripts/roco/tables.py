"""The tables passed between stages: Arrow schemas from workflow/schemas and atomic Parquet I/O.

The row schemas live in `workflow/schemas/tables.schema.yaml` (JSON Schema with an Arrow `format`
where JSON types are too coarse); this module turns them into pyarrow schemas. Parquet files are
written with fixed settings and no timestamps, to a temporary name that is renamed into place, so
the same rows always give the same bytes and a killed job never leaves a half-written table.

Bounded memory: a chunk's figures, images included, can be many GB, so the per-chunk stages
stream them. `iter_frames` reads a table batch by batch; `TableWriter` appends rows piece by
piece and cuts row groups by content (GROUP_ROWS rows, or GROUP_BYTES of binary and string data,
whichever comes first), never by how the caller batched them, so the same rows give the same
bytes however they were passed in, and the next stage's batches stay small too. `map_table`
joins the two for a stage that turns each row into zero or one output row plus rejects.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "tables.schema.yaml"
REJECT_COLUMNS = ("stage", "reason", "pmcid", "version", "id", "detail")
# Rows per batch a stage reads and processes at once.
BATCH_ROWS = 512
# A row group closes at this many rows or this much binary and string data: 512 figures of
# ~200 KB, or fewer large ones (one PMC figure can be 10 MB).
GROUP_ROWS = 512
GROUP_BYTES = 64 * 2**20
_PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 9,
    "write_statistics": False,
    "store_schema": True,
}

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
        pq.write_table(table, partial, **_PARQUET_OPTIONS)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name beside `path` to write to; renamed onto `path` when the block succeeds
    and deleted when it raises, so a killed job never leaves half a file that a resumed run
    would take as finished."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
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


def _read_schema(name: str, columns) -> pa.Schema:
    schema = arrow_schema(name)
    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def read_frame(paths: str | os.PathLike | Iterable, name: str, columns=None) -> pd.DataFrame:
    """Read one or several Parquet files of a table into one DataFrame (schema kept when empty)."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    schema = _read_schema(name, columns)
    tables = [pq.read_table(p, columns=schema.names).cast(schema) for p in paths]
    return pa.concat_tables(tables or [schema.empty_table()]).to_pandas()


def iter_frames(
    path: str | os.PathLike, name: str, batch_rows: int = BATCH_ROWS, columns=None
) -> Iterator[pd.DataFrame]:
    """A table's rows as DataFrames of at most `batch_rows` rows, read one batch at a time and
    converted as `read_frame` converts them (a column's dtype may differ between batches, e.g.
    an integer column with nulls in one batch only; the values do not)."""
    schema = _read_schema(name, columns)
    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=schema.names):
            yield pa.Table.from_batches([batch]).cast(schema).to_pandas()


def _row_bytes(table: pa.Table) -> np.ndarray:
    """Bytes of binary and string data per row: what makes a figure row large."""
    sizes = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_binary(column.type) or pa.types.is_string(column.type):
            sizes += pc.fill_null(pc.binary_length(column), 0).to_numpy()
    return sizes


class TableWriter:
    """Write a table's rows piece by piece into one Parquet file, atomically.

    A context manager: rows go to a temporary name beside `path`, renamed onto it when the block
    succeeds and deleted when it raises. `write` takes a DataFrame (checked by `to_arrow`) or an
    Arrow table of the schema; rows are buffered until a row group is full (`group_rows` rows or
    `group_bytes` of binary and string data), so memory holds about one group. The file has the
    schema without pandas metadata, so its bytes depend only on the rows, not on their dtypes in
    the caller's DataFrames; with no rows it holds one empty row group, as `write_parquet` does.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        name: str,
        group_rows: int = GROUP_ROWS,
        group_bytes: int = GROUP_BYTES,
    ):
        self.path = Path(path)
        self.name = name
        self.schema = arrow_schema(name)
        self.group_rows = group_rows
        self.group_bytes = group_bytes
        self.rows = 0  # rows written so far
        self._atomic = atomic_path(self.path)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> TableWriter:
        partial = self._atomic.__enter__()
        self._writer = pq.ParquetWriter(partial, self.schema, **_PARQUET_OPTIONS)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self._flush()
            if self.rows == 0:
                self._writer.write_table(self.schema.empty_table())
        self._writer.close()
        return self._atomic.__exit__(exc_type, exc, tb)

    def write(self, rows: pd.DataFrame | pa.Table) -> None:
        """Append rows (in order) to the table."""
        table = to_arrow(rows, self.name) if isinstance(rows, pd.DataFrame) else rows
        table = table.cast(self.schema)
        sizes = _row_bytes(table)
        start = 0
        while start < table.num_rows:
            spent = self._pending_bytes + np.cumsum(sizes[start:])
            full = np.flatnonzero(spent >= self.group_bytes)
            take = min(
                self.group_rows - self._pending_rows,
                table.num_rows - start,
                int(full[0]) + 1 if len(full) else table.num_rows,
            )
            self._pending.append(table.slice(start, take))
            self._pending_rows += take
            self._pending_bytes += int(sizes[start : start + take].sum())
            self.rows += take
            start += take
            if self._pending_rows >= self.group_rows or self._pending_bytes >= self.group_bytes:
                self._flush()

    def _flush(self) -> None:
        if not self._pending_rows:
            return
        # One contiguous group: chunk boundaries would move the page boundaries, and the bytes.
        group = pa.concat_tables(self._pending).combine_chunks()
        self._writer.write_table(group, row_group_size=group.num_rows)
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0


def map_table(
    in_path: str | os.PathLike,
    in_name: str,
    out_path: str | os.PathLike,
    out_name: str,
    step: Callable[[pd.DataFrame], tuple[pd.DataFrame, list[dict]]],
    batch_rows: int = BATCH_ROWS,
) -> pd.DataFrame:
    """Run `step` (rows -> kept rows, reject dicts) over a table batch by batch, writing the kept
    rows in order to `out_path`; returns the rejects of every batch, in order, as one frame
    built once (so its dtypes, and the bytes it is written as, do not depend on the batches)."""
    rejects: list[dict] = []
    with TableWriter(out_path, out_name) as writer:
        for frame in iter_frames(in_path, in_name, batch_rows):
            kept, dropped = step(frame)
            writer.write(kept)
            rejects += dropped
    return rejects_frame(rejects)


def rejects_frame(rows: Iterable[Mapping]) -> pd.DataFrame:
    """A rejects DataFrame from dicts with the REJECT_COLUMNS keys (missing ones are null)."""
    return pd.DataFrame(
        [{c: row.get(c) for c in REJECT_COLUMNS} for row in rows], columns=list(REJECT_COLUMNS)
    )
