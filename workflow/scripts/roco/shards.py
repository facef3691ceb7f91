"""The released dataset as Parquet shards that Hugging Face `datasets` loads with decoded images.

Rows are the annotated figures minus the near-duplicates, with their split. Each split is sorted
by id and cut into `data/{split}-{i:05d}-of-{n:05d}.parquet` shards of about the target size; the
`image` column is the struct{bytes, path} that `datasets.Image` stores, and the schema metadata
carries the `features`, so `load_dataset("parquet", data_dir=...)` decodes images to PIL. Fixed
compression and no timestamps: the same rows give the same bytes.

Bounded memory (`write_dataset_files`, the workflow's path): the annotated chunk files hold every
image, many GB at PMC scale, so they are read twice. Pass 1 reads batch by batch only what the
decisions need (id, pmcid, licence, modality and a row's size: image bytes + caption length) and
fixes which rows are released, their split, their order and the shard boundaries; pass 2 writes
the shards one at a time, gathering each one's rows from the row groups of the chunk files that
hold them. Peak memory is about two shards plus one row group, whatever the dataset's size. The
in-memory pair `dataset_rows` + `write_dataset` gives the same bytes from a DataFrame.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from roco.card import write_card_files
from roco.split import SPLITS
from roco.tables import BATCH_ROWS, arrow_schema, staged_dir, write_parquet

# What pass 1 keeps of every annotated row, besides where it is and its size.
_LIGHT = ("id", "pmcid", "licence", "modality")
# Bytes a row adds to a shard besides its image and caption (the other columns, roughly).
_ROW_OVERHEAD = 512

_HF_VALUE_TYPES = {
    pa.string(): "string",
    pa.int32(): "int32",
    pa.int64(): "int64",
    pa.float32(): "float32",
    pa.float64(): "float64",
    pa.bool_(): "bool",
}


def hf_feature(dtype: pa.DataType) -> dict:
    """The Hugging Face `features` entry for an Arrow type of the dataset schema."""
    if pa.types.is_struct(dtype):
        return {"_type": "Image"}
    if pa.types.is_list(dtype):
        return {"_type": "List", "feature": hf_feature(dtype.value_type)}
    return {"dtype": _HF_VALUE_TYPES[dtype], "_type": "Value"}


def dataset_schema() -> pa.Schema:
    """The dataset's Arrow schema with HF features; HF only honours them on nullable fields."""
    schema = pa.schema([field.with_nullable(True) for field in arrow_schema("dataset")])
    features = {field.name: hf_feature(field.type) for field in schema}
    return schema.with_metadata({"huggingface": json.dumps({"info": {"features": features}})})


def dataset_rows(annotated: pd.DataFrame, duplicates: pd.DataFrame, splits: pd.DataFrame):
    """Annotated figures minus duplicates, with split and image struct, sorted by split and id."""
    rows = released(annotated, duplicates, splits)
    return rows.assign(
        image=[
            {"bytes": data, "path": _image_path(fid, fmt)}
            for fid, data, fmt in zip(rows["id"], rows["image"], rows["image_format"], strict=True)
        ]
    )


def released(rows: pd.DataFrame, duplicates: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """The rows (with columns id and pmcid at least) that are released: not duplicates, with
    their article's split, sorted by split (train, validation, test) and id, stably."""
    rows = rows[~rows["id"].isin(duplicates["id"])].merge(splits, on="pmcid")
    rows = rows.assign(split=pd.Categorical(rows["split"], categories=SPLITS))
    rows = rows.sort_values(["split", "id"], kind="stable").reset_index(drop=True)
    return rows.assign(split=rows["split"].astype(str))


def _image_path(figure_id: str, image_format: str) -> str:
    return f"{figure_id}.{_extension(image_format)}"


def _extension(image_format: str) -> str:
    return {"JPEG": "jpg", "": "bin"}.get(image_format, image_format.lower())


def shard_bounds(sizes: list[int], target_bytes: int) -> list[tuple[int, int]]:
    """Contiguous [start, end) row ranges of about equal bytes, each near the target size."""
    n = max(1, math.ceil(sum(sizes) / target_bytes))
    bounds, start, acc, total = [], 0, 0, sum(sizes)
    for i, size in enumerate(sizes):
        acc += size
        if len(bounds) < n - 1 and acc >= total * (len(bounds) + 1) / n:
            bounds.append((start, i + 1))
            start = i + 1
    bounds.append((start, len(sizes)))
    return [b for b in bounds if b[1] > b[0]] or [(0, 0)]


def write_dataset(rows: pd.DataFrame, out_dir: Path, target_mb: float) -> dict[str, int]:
    """The released dataset in out_dir (replaced whole): data/ shards, the card README.md and
    checksums.sha256; returns rows per split."""
    schema = dataset_schema()
    counts = {}
    with staged_dir(out_dir) as staging:
        (staging / "data").mkdir()
        for split in SPLITS:
            counts[split] = _write_split(
                rows[rows["split"] == split], staging / "data", split, schema, target_mb
            )
        write_card_files(staging, rows)
    return counts


def _write_split(
    part: pd.DataFrame, data_dir: Path, split: str, schema: pa.Schema, target_mb: float
) -> int:
    """Write one split's shards; returns its row count."""
    part = part.reset_index(drop=True)
    sizes = [
        len(img["bytes"]) + len(cap) + _ROW_OVERHEAD
        for img, cap in zip(part["image"], part["caption"], strict=True)
    ]
    bounds = _split_bounds(sizes, target_mb)
    for i, (start, end) in enumerate(bounds):
        table = pa.Table.from_pandas(
            part.iloc[start:end][schema.names], schema=schema, preserve_index=False
        )
        table = table.replace_schema_metadata(schema.metadata)  # no pandas version stamps
        write_parquet(table, data_dir / _shard_name(split, i, len(bounds)))
    return len(part)


def _split_bounds(sizes: list[int], target_mb: float) -> list[tuple[int, int]]:
    return shard_bounds(sizes, int(target_mb * 2**20)) if len(sizes) else []


def _shard_name(split: str, i: int, n: int) -> str:
    return f"{split}-{i:05d}-of-{n:05d}.parquet"


# ---------------------------------------------------------------- from the chunk files


def write_dataset_files(
    annotated: Sequence[str | os.PathLike],
    duplicates: pd.DataFrame,
    splits: pd.DataFrame,
    out_dir: Path,
    target_mb: float,
) -> dict[str, int]:
    """`write_dataset(dataset_rows(...))` for the annotated tables in files, in two passes (see
    the module docstring): the same bytes, in memory about two shards instead of the dataset."""
    paths = [Path(p) for p in annotated]
    index = released(scan_annotated(paths), duplicates, splits)
    schema = dataset_schema()
    counts = {}
    with staged_dir(out_dir) as staging:
        (staging / "data").mkdir()
        for split in SPLITS:
            part = index[index["split"] == split].reset_index(drop=True)
            bounds = _split_bounds(part["size"].tolist(), target_mb)
            for i, (start, end) in enumerate(bounds):
                table = gather_rows(paths, part.iloc[start:end], split, schema)
                write_parquet(table, staging / "data" / _shard_name(split, i, len(bounds)))
                del table  # one shard in memory at a time
            counts[split] = len(part)
        write_card_files(staging, index)
    return counts


def scan_annotated(paths: Sequence[Path], batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """Pass 1: for every row of the annotated tables, its `file` (index in paths), `row` (in the
    file), id, pmcid, licence, modality and `size` in a shard; read batch by batch."""
    schema = arrow_schema("annotated")
    parts = []
    for file, path in enumerate(paths):
        row = 0
        with pq.ParquetFile(path) as parquet:
            for batch in parquet.iter_batches(batch_rows, columns=[*_LIGHT, "caption", "image"]):
                size = pc.add(
                    pc.binary_length(batch["image"]), pc.utf8_length(batch["caption"])
                ).to_numpy(zero_copy_only=False)
                light = {c: batch[c].cast(schema.field(c).type) for c in _LIGHT}
                parts.append(
                    pa.table(
                        {
                            "file": np.full(batch.num_rows, file, dtype=np.int32),
                            "row": np.arange(row, row + batch.num_rows, dtype=np.int64),
                            **light,
                            "size": size.astype(np.int64) + _ROW_OVERHEAD,
                        }
                    )
                )
                row += batch.num_rows
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("file", "row", *_LIGHT, "size")})
    return pa.concat_tables(parts).to_pandas()


def gather_rows(paths: Sequence[Path], rows: pd.DataFrame, split: str, schema: pa.Schema):
    """Pass 2: the dataset table of `rows` (pass-1 rows, in order) read from the row groups of
    the files that hold them."""
    columns = [c for c in arrow_schema("annotated").names if c in schema.names] + ["image_format"]
    pieces, positions = [], []
    for file, group in rows.reset_index(drop=True).groupby("file", sort=True):
        with pq.ParquetFile(paths[file]) as parquet:
            meta = parquet.metadata
            sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            starts = np.cumsum([0, *sizes])
            wanted = group["row"].to_numpy()
            in_group = np.searchsorted(starts, wanted, side="right") - 1
            for g in np.unique(in_group):
                picked = in_group == g
                table = parquet.read_row_group(int(g), columns=columns)
                pieces.append(table.take(wanted[picked] - starts[g]))
                positions.append(group.index.to_numpy()[picked])
    gathered = pa.concat_tables(pieces).take(np.argsort(np.concatenate(positions)))
    del pieces
    return _dataset_table(gathered, split, schema)


def _dataset_table(rows: pa.Table, split: str, schema: pa.Schema) -> pa.Table:
    """Annotated columns -> the dataset schema: the image struct, the split, the rest as is."""
    ids, formats = rows["id"].to_pylist(), rows["image_format"].to_pylist()
    image = pa.StructArray.from_arrays(
        [
            rows["image"].combine_chunks(),
            pa.array([_image_path(i, f) for i, f in zip(ids, formats, strict=True)], pa.string()),
        ],
        fields=list(schema.field("image").type),
    )
    arrays = []
    for field in schema:
        if field.name == "image":
            arrays.append(image)
        elif field.name == "split":
            arrays.append(pa.array([split] * rows.num_rows, pa.string()))
        else:
            arrays.append(rows[field.name].cast(field.type).combine_chunks())
    return pa.Table.from_arrays(arrays, schema=schema)
