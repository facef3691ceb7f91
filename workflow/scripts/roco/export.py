"""The ROCOv2 release layout, written from the dataset shards.

ROCOv2 ships `{split}_captions.csv` (ID,Caption), `{split}_concepts.csv` and
`{split}_concepts_manual.csv` (ID,CUIs with `;` between CUIs), `cui_mapping.csv` (CUI,Canonical
name), `license_information.csv` and the images as `{split}/{ID}.jpg`. IDs follow ROCOv2's shape
(`ROCOv2_2023_train_000001`): a configured prefix, the split, and the row number within the split
in the dataset's id order; `license_information.csv` maps every release ID back to its stable figure
id, PMCID and licence. CSVs are RFC 4180 (the csv module, minimal quoting, CRLF as ROCOv2's files).
Images that are not JPEG are converted, so every `{ID}.jpg` really is a JPEG.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.dataset as ds

from roco.images import load_rgb
from roco.modalities import MODALITIES
from roco.split import SPLITS
from roco.tables import staged_dir

CAPTION_FIELDS = ["ID", "Caption"]
CONCEPT_FIELDS = ["ID", "CUIs"]
LICENCE_FIELDS = ["ID", "Figure ID", "PMCID", "License", "Attribution", "Source URL"]
_ROW_COLUMNS = [
    "id",
    "image",
    "caption",
    "cuis",
    "concept_names",
    "modality",
    "modality_cui",
    "body_region",
    "body_region_cui",
    "direction",
    "direction_cui",
    "pmcid",
    "licence",
    "attribution",
    "source_url",
    "split",
]


def release_id(prefix: str, split: str, number: int) -> str:
    return f"{prefix}_{split}_{number:06d}"


def manual_concepts(row: dict) -> dict[str, str]:
    """Manual concepts (CUI -> name): the modality; for X-rays, body region and direction."""
    modality = MODALITIES.get(row["modality"])
    pairs = [
        (row["modality_cui"], modality.name if modality else row["modality"]),
        (row["body_region_cui"], row["body_region"]),
        (row["direction_cui"], row["direction"]),
    ]
    return {cui: name for cui, name in pairs if cui}


def jpeg_bytes(image: dict) -> bytes:
    """The image as JPEG: JPEG bytes unchanged, anything else converted at quality 95."""
    data = image["bytes"]
    if data[:3] == b"\xff\xd8\xff":
        return data
    out = io.BytesIO()
    load_rgb(data).save(out, "JPEG", quality=95)
    return out.getvalue()


def _write_csv(path: Path, fields: list[str], rows: Iterable[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(fields)
        writer.writerows(rows)


def _rows(data_dir: Path, split: str) -> Iterator[dict]:
    """Rows of one split in id order, batch by batch (images are never all in memory)."""
    files = sorted(data_dir.glob(f"{split}-*.parquet"))
    if not files:
        return
    # One shard file at a time: shards are large and hold images.
    batches = ds.dataset(files).to_batches(
        columns=_ROW_COLUMNS, batch_size=256, fragment_readahead=1, batch_readahead=1
    )
    for batch in batches:
        yield from batch.to_pylist()


def export_rocov2(data_dir: Path, out_dir: Path, prefix: str) -> dict[str, int]:
    """Write the ROCOv2 layout for every split (replacing out_dir whole); images per split."""
    names: dict[str, str] = {}
    licences, counts = [], {}
    with staged_dir(out_dir) as staging:
        for split in SPLITS:
            (staging / split).mkdir()
            captions, concepts, manual = [], [], []
            for number, row in enumerate(_rows(data_dir, split), 1):
                rid = release_id(prefix, split, number)
                (staging / split / f"{rid}.jpg").write_bytes(jpeg_bytes(row["image"]))
                row_manual = manual_concepts(row)
                captions.append([rid, row["caption"]])
                concepts.append([rid, ";".join(row["cuis"])])
                manual.append([rid, ";".join(row_manual)])
                licences.append(
                    [
                        rid,
                        row["id"],
                        row["pmcid"],
                        row["licence"],
                        row["attribution"],
                        row["source_url"],
                    ]
                )
                names.update(zip(row["cuis"], row["concept_names"], strict=True))
                names.update(row_manual)
            _write_csv(staging / f"{split}_captions.csv", CAPTION_FIELDS, captions)
            _write_csv(staging / f"{split}_concepts.csv", CONCEPT_FIELDS, concepts)
            _write_csv(staging / f"{split}_concepts_manual.csv", CONCEPT_FIELDS, manual)
            counts[split] = len(captions)
        _write_csv(staging / "cui_mapping.csv", ["CUI", "Canonical name"], sorted(names.items()))
        _write_csv(staging / "license_information.csv", LICENCE_FIELDS, licences)
    return counts
