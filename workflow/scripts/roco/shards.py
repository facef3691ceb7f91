"""The released dataset as Parquet shards that Hugging Face `datasets` loads with decoded images.

Rows are the annotated figures minus the near-duplicates, with their split. Each split is sorted
by id and cut into `data/{split}-{i:05d}-of-{n:05d}.parquet` shards of about the target size; the
`image` column is the struct{bytes, path} that `datasets.Image` stores, and the schema metadata
carries the `features`, so `load_dataset("parquet", data_dir=...)` decodes images to PIL. Fixed
compression and no timestamps: the same rows give the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa

from roco.card import dataset_card, write_checksums
from roco.split import SPLITS
from roco.tables import arrow_schema, staged_dir, write_parquet

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
    rows = annotated[~annotated["id"].isin(duplicates["id"])].merge(splits, on="pmcid")
    rows = rows.assign(
        image=[
            {"bytes": data, "path": f"{fid}.{_extension(fmt)}"}
            for fid, data, fmt in zip(rows["id"], rows["image"], rows["image_format"], strict=True)
        ],
        split=pd.Categorical(rows["split"], categories=SPLITS),
    )
    rows = rows.sort_values(["split", "id"], kind="stable").reset_index(drop=True)
    return rows.assign(split=rows["split"].astype(str))


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
        (staging / "README.md").write_text(dataset_card(rows))
        write_checksums(staging)
    return counts


def _write_split(
    part: pd.DataFrame, data_dir: Path, split: str, schema: pa.Schema, target_mb: float
) -> int:
    """Write one split's shards; returns its row count."""
    part = part.reset_index(drop=True)
    sizes = [
        len(img["bytes"]) + len(cap) + 512
        for img, cap in zip(part["image"], part["caption"], strict=True)
    ]
    bounds = shard_bounds(sizes, int(target_mb * 2**20)) if len(part) else []
    for i, (start, end) in enumerate(bounds):
        table = pa.Table.from_pandas(
            part.iloc[start:end][schema.names], schema=schema, preserve_index=False
        )
        table = table.replace_schema_metadata(schema.metadata)  # no pandas version stamps
        write_parquet(table, data_dir / f"{split}-{i:05d}-of-{len(bounds):05d}.parquet")
    return len(part)
