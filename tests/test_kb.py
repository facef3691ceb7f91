"""The built-in knowledge base and the linker index built from a KB."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from realdata import REALDATA

from roco.concepts import Annotator
from roco.kb import (
    DIRECTIONS,
    KB_FILE,
    KB_NAME,
    REGIONS,
    alias_key,
    build_index,
    is_cui,
    read_kb,
    singular,
)
from roco.modalities import MODALITIES

CUI_MAPPING = REALDATA / "roco" / "rocov2" / "cui_mapping.csv"


def test_builtin_kb_is_well_formed():
    concepts = read_kb(KB_FILE)
    cuis = [c.cui for c in concepts]
    assert len(cuis) == len(set(cuis)) > 300
    assert all(is_cui(c) for c in cuis)
    assert all(c.types and c.types[0].startswith("T") for c in concepts)
    manual = {m.cui for m in MODALITIES.values()} | set(REGIONS.values()) | set(DIRECTIONS.values())
    assert manual <= set(cuis)
    by_cui = {c.cui: c for c in concepts}
    assert all(by_cui[m.cui].modality == m.label for m in MODALITIES.values())
    assert all(by_cui[cui].region == region for region, cui in REGIONS.items())
    assert all(by_cui[cui].direction == d for d, cui in DIRECTIONS.items())


def test_every_cui_is_in_rocov2_with_its_name_or_justified():
    if not CUI_MAPPING.is_file():
        pytest.skip(f"{CUI_MAPPING} is absent (real ROCOv2 concept list)")
    with open(CUI_MAPPING, newline="", encoding="utf-8") as f:
        names = {row["CUI"]: row["Canonical name"] for row in csv.DictReader(f)}
    for line in KB_FILE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        cui = record["concept_id"]
        if cui in names:
            assert record["canonical_name"] == names[cui], cui
        else:
            assert "not in rocov2" in record.get("note", "").lower(), cui


def test_alias_keys_ignore_hyphens_case_and_plurals():
    assert alias_key("T2-weighted") == alias_key("T2 weighted") == alias_key("t2-Weighted")
    assert alias_key("Pleural effusions") == alias_key("pleural effusion")
    assert alias_key("CT") == ("CT",) and alias_key("ct") == ("ct",)
    cases = {
        "arteries": "artery",
        "masses": "mass",
        "metastases": "metastasis",
        "stenoses": "stenosis",
        "vertebrae": "vertebra",
        "sinuses": "sinus",
        "pelvis": "pelvis",
        "ribs": "rib",
    }
    for plural, single in cases.items():
        assert singular(plural) == singular(single) == single, plural


def test_read_kb_names_the_bad_line(tmp_path):
    bad = tmp_path / "kb.jsonl"
    bad.write_text('{"concept_id": "C0000001", "canonical_name": "x"}\n{not json\n')
    with pytest.raises(ValueError, match=r"kb.jsonl:2"):
        read_kb(bad)
    bad.write_text('{"concept_id": "C0000001", "canonical_name": "x", "region": "moon"}\n')
    with pytest.raises(ValueError, match="region"):
        read_kb(bad)


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


@pytest.mark.slow
def test_build_index_is_deterministic(tmp_path):
    # One process per build, as a rule runs it: nmslib draws HNSW levels from a process-wide
    # generator seeded at start-up.
    for name in ("a", "b"):
        out = str(tmp_path / name)
        code = f"from roco.kb import build_index, KB_FILE; build_index(KB_FILE, {out!r})"
        subprocess.run([sys.executable, "-c", code], check=True)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


def test_built_index_links_like_the_builtin_kb(tmp_path):
    build_index(KB_FILE, tmp_path / "a")
    assert (tmp_path / "a" / KB_NAME).read_bytes() == KB_FILE.read_bytes()
    captions = ["Ultrasonographic image of the liver.", "Lateral radiograph of the knee (arrow)."]
    assert Annotator(tmp_path / "a").annotate(captions) == Annotator().annotate(captions)
