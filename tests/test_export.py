"""ROCOv2 layout: CSVs readable by the csv module, IDs in ROCOv2's shape, real JPEG files."""

import csv
import io

import pandas as pd
from PIL import Image

from roco import export, shards, split


def build_release(annotated, tmp_path):
    png = io.BytesIO()
    Image.new("RGB", (20, 10), "white").save(png, "PNG")
    annotated = annotated.copy()
    annotated.loc[1, ["image", "image_format"]] = [png.getvalue(), "PNG"]
    annotated.loc[2, "caption"] = 'Chest X-ray, "PA view", showing a nodule;\nsee text.'
    annotated.loc[2, ["modality", "modality_cui", "body_region", "body_region_cui"]] = [
        "X-ray",
        "C1306645",
        "chest",
        "C0817096",
    ]
    splits = split.assign_splits(annotated["pmcid"], {"train": 1, "validation": 0, "test": 0}, "s")
    rows = shards.dataset_rows(annotated, pd.DataFrame(columns=["id"]), splits)
    shards.write_dataset(rows, tmp_path / "ds", 500)
    return export.export_rocov2(tmp_path / "ds" / "data", tmp_path / "rocov2", "ROCOv2_2026")


def read(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_layout_and_round_trip(annotated, tmp_path):
    counts = build_release(annotated, tmp_path)
    out = tmp_path / "rocov2"
    assert counts == {"train": len(annotated), "validation": 0, "test": 0}
    captions = read(out / "train_captions.csv")
    assert captions[0]["ID"] == "ROCOv2_2026_train_000001"
    assert {r["Caption"] for r in captions} >= {
        'Chest X-ray, "PA view", showing a nodule;\nsee text.'
    }
    concepts = read(out / "train_concepts.csv")
    assert concepts[0]["CUIs"] == "C0040405;C0817096"
    manual = {r["ID"]: r["CUIs"] for r in read(out / "train_concepts_manual.csv")}
    licence = {r["Figure ID"]: r["ID"] for r in read(out / "license_information.csv")}
    assert manual[licence[annotated["id"][2]]] == "C1306645;C0817096"
    mapping = {r["CUI"]: r["Canonical name"] for r in read(out / "cui_mapping.csv")}
    assert mapping["C1306645"] == "Plain x-ray" and mapping["C0817096"] == "Chest"
    for row in captions:
        with Image.open(out / "train" / f"{row['ID']}.jpg") as img:
            assert img.format == "JPEG"
    assert (out / "validation").is_dir() and read(out / "validation_captions.csv") == []
