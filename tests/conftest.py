"""Shared test data: small annotated figure tables with real JPEG bytes."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from realdata import REALDATA


def jpeg_bytes(seed: int, size=(64, 48)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "L").save(out, "JPEG", quality=90)
    return out.getvalue()


def annotated_row(i: int, pmcid: str | None = None) -> dict:
    pmcid = pmcid or f"PMC{100 + i}"
    return {
        "id": f"{pmcid}_F{i}",
        "pmcid": pmcid,
        "version": 1,
        "pmid": str(9000 + i),
        "doi": f"10.1/x{i}",
        "title": f"Article {i}",
        "journal": "J Radiol",
        "year": 2020,
        "pub_date": "2020-01-01",
        "licence": "CC BY" if i % 2 else "CC BY-NC",
        "attribution": f"Figure {i} from Article {i}",
        "source_url": f"https://x/{pmcid}/f{i}.jpg",
        "figure_id": f"F{i}",
        "label": f"Figure {i}",
        "caption": f"Axial CT of the chest, case {i}.",
        "graphic": f"f{i}",
        "image_file": f"f{i}.jpg",
        "image": jpeg_bytes(i),
        "image_format": "JPEG",
        "width": 64,
        "height": 48,
        "radiology_score": 0.9,
        "compound_score": 0.1,
        "modality": "CT",
        "phash": f"{i:016x}",
        "sha256": f"{i:064x}",
        "cuis": ["C0040405", "C0817096"],
        "concept_names": ["X-Ray Computed Tomography", "Chest"],
        "modality_cui": "C0040405",
        "body_region": None,
        "body_region_cui": None,
        "direction": None,
        "direction_cui": None,
    }


@pytest.fixture
def annotated() -> pd.DataFrame:
    return pd.DataFrame([annotated_row(i) for i in range(30)])


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real third-party data not present at {REALDATA}")
    return REALDATA
