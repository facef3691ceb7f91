"""Concept annotation: abbreviations, plurals, hyphenation, negation, X-ray manual concepts."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from roco.concepts import Annotator, annotate_chunk, annotate_csv, read_captions_csv
from roco.kb import DIRECTIONS, REGIONS

CT, MRI, XRAY, US = "C0040405", "C0024485", "C1306645", "C0041618"
CONTRAST, FRACTURE, RIB, EFFUSION = "C0449900", "C0016658", "C0035561", "C0032227"


@pytest.fixture(scope="module")
def annotator() -> Annotator:
    return Annotator()


def one(annotator, caption, modality=None):
    modalities = None if modality is None else [modality]
    return annotator.annotate([caption], modalities)[0]


def test_abbreviations_link_to_their_modalities(annotator):
    for text, cui in [("CT", CT), ("MRI", MRI), ("US", US), ("CTs", CT)]:
        assert one(annotator, f"{text} of the liver.").cuis[0] == cui, text


def test_lowercase_us_is_not_ultrasound(annotator):
    assert US not in one(annotator, "The patient told us about the pain.").cuis


def test_cxr_gives_xray_chest(annotator):
    a = one(annotator, "CXR on admission.")
    assert a.modality_cui == XRAY and a.body_region == "chest"


def test_defined_abbreviation_takes_long_form(annotator):
    a = one(annotator, "Diffusion-weighted imaging (DWI) of the brain; DWI shows a lesion.")
    dwi = [m for m in a.mentions if m.text == "DWI"]
    assert len(dwi) == 2 and {m.cui for m in dwi} == {MRI}


def test_abbreviation_defined_otherwise_loses_kb_meaning(annotator):
    a = one(annotator, "Echocardiogram with mitral regurgitation (MR); MR is severe.")
    assert MRI not in a.cuis
    assert {m.cui for m in a.mentions if m.text == "MR"} == {"C0026266"}


def test_plurals(annotator):
    a = one(annotator, "Fractures of several ribs with pleural effusions.")
    assert {FRACTURE, RIB, EFFUSION} <= set(a.cuis)
    assert one(annotator, "Multiple liver metastases.").cuis[-1] == "C0027627"


def test_hyphenation_variants_agree(annotator):
    spelled = ["contrast-enhanced CT", "contrast enhanced CT", "Contrast-Enhanced CT"]
    results = {one(annotator, s).cuis for s in spelled}
    assert results == {(CONTRAST, CT)}


def test_t2_weighted_mr(annotator):
    a = one(annotator, "Sagittal T2-weighted MR image of the lumbar spine.")
    assert MRI in a.cuis and a.modality_cui == MRI
    assert one(annotator, "T2 weighted MR").cuis == (MRI,)


def test_contrast_enhanced_ct_spans(annotator):
    caption = "Axial contrast-enhanced CT of the abdomen."
    a = one(annotator, caption)
    assert [(m.text, m.cui) for m in a.mentions[:2]] == [
        ("contrast-enhanced", CONTRAST),
        ("CT", CT),
    ]
    for m in a.mentions:
        assert caption[m.start : m.end] == m.text


def test_negated_mentions_are_flagged_not_dropped(annotator):
    a = one(annotator, "Chest radiograph shows no fracture but a pleural effusion.")
    flags = {m.cui: m.negated for m in a.mentions}
    assert flags[FRACTURE] is True
    assert flags[EFFUSION] is False
    assert FRACTURE in a.cuis


def test_negation_post_trigger_and_sentence_scope(annotator):
    a = one(annotator, "No change in size. Pneumothorax was excluded.")
    assert [m.negated for m in a.mentions if m.cui == "C0032326"] == [True]
    b = one(annotator, "No acute findings. Fracture of the femur.")
    assert [m.negated for m in b.mentions if m.cui == FRACTURE] == [False]


def test_caption_without_concepts(annotator):
    a = one(annotator, "Thank you for the lovely afternoon.")
    assert a.cuis == () and a.mentions == () and a.modality_cui is None
    assert one(annotator, "").cuis == ()


def test_fuzzy_spelling_variant_links(annotator):
    assert US in one(annotator, "Ultrasonographic appearance of the gallbladder.").cuis


def test_xray_region_and_direction(annotator):
    a = one(annotator, "Lateral radiograph of the knee.", "X-ray")
    assert (a.body_region, a.body_region_cui) == ("lower extremity", REGIONS["lower extremity"])
    assert (a.direction, a.direction_cui) == ("lateral", DIRECTIONS["lateral"])
    b = one(annotator, "Posteroanterior chest radiograph.")
    assert (b.modality_cui, b.body_region, b.direction) == (XRAY, "chest", "PA")


def test_region_only_for_xray(annotator):
    a = one(annotator, "Posteroanterior chest radiograph.", "CT")
    assert a.modality_cui == CT and a.body_region is None and a.direction is None


def test_unknown_label_falls_back_to_caption(annotator):
    assert one(annotator, "MRI of the knee.", "unknown").modality_cui == MRI


def test_cuis_ordered_and_unique(annotator):
    a = one(annotator, "CT of the liver. Repeat CT of the liver.")
    assert a.cuis == (CT, "C0023884")
    assert len(a.names) == len(a.semantic_types) == len(a.cuis)


def test_batch_equals_one_by_one(annotator):
    captions = ["CT of the chest.", "No fracture.", "", "MRI (magnetic resonance imaging)."]
    assert annotator.annotate(captions) == [one(annotator, c) for c in captions]


def test_annotate_chunk(annotator):
    hashed = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "pmcid": ["PMC1", "PMC1", "PMC2"],
            "version": [1, 1, 1],
            "caption": ["Lateral radiograph of the knee.", None, "MRI of the brain."],
            "modality": ["X-ray", "CT", "unknown"],
        }
    )
    annotated, rejects = annotate_chunk(hashed, annotator)
    assert list(annotated["id"]) == ["a", "c"]
    assert list(rejects["id"]) == ["b"] and list(rejects["stage"]) == ["annotate"]
    first = annotated.iloc[0]
    assert first["modality_cui"] == XRAY and first["body_region"] == "lower extremity"
    assert XRAY in first["cuis"] and len(first["cuis"]) == len(first["concept_names"])
    assert annotated.iloc[1]["modality_cui"] == MRI


def test_annotate_csv_roundtrip(annotator, tmp_path):
    src = tmp_path / "captions.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [["ID", "Caption"], ["x1", 'CT, "axial",\nof the chest'], ["x2", "Nothing here."]]
        )
    out = tmp_path / "concepts.csv"
    annotate_csv(src, out, annotator)
    raw = out.read_bytes()
    assert raw.startswith(b"ID,CUIs\r\n")
    rows = list(csv.reader(io.StringIO(raw.decode())))
    assert rows[1] == ["x1", f"{CT};C0817096"] and rows[2] == ["x2", ""]
    stream = io.StringIO()
    annotate_csv(src, stream, annotator, as_json=True)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert records[0]["ID"] == "x1" and records[0]["mentions"][0]["text"] == "CT"


def test_read_captions_csv_rejects_wrong_header(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Name,Text\na,b\n")
    with pytest.raises(ValueError, match="ID,Caption"):
        read_captions_csv(bad)


def test_pa_chest_radiograph(annotator):
    a = one(annotator, "PA chest radiograph showing a right upper lobe consolidation.")
    assert a.modality_cui == XRAY
    assert (a.body_region, a.body_region_cui) == ("chest", REGIONS["chest"])
    assert (a.direction, a.direction_cui) == ("PA", DIRECTIONS["PA"])
