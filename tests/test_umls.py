"""A KB built from (tiny, test-written) UMLS RRF files, and annotation against it."""

from __future__ import annotations

import json

import pytest

from roco.concepts import Annotator
from roco.kb import build_index
from roco.umls import build_umls_kb

# CUI|LAT|TS|LUI|STT|SUI|ISPREF|AUI|SAUI|SCUI|SDUI|SAB|TTY|CODE|STR|SRL|SUPPRESS|CVF|
MRCONSO = """\
C0040405|ENG|P|L1|PF|S1|Y|A1||||MSH|MH|D1|Tomography, X-Ray Computed|0|N||
C0040405|ENG|S|L2|PF|S2|Y|A2||||MSH|SY|D1|CT scan|0|N||
C0040405|GER|P|L3|PF|S3|Y|A3||||MSHGER|MH|D1|Computertomographie|0|N||
C0040405|ENG|S|L4|PF|S4|N|A4||||MSH|SY|D1|CAT scan obsolete|0|O||
C0016658|ENG|P|L5|PF|S5|Y|A5||||SNOMEDCT_US|PT|1|Fracture of bone|9|N||
C0016658|ENG|S|L6|PF|S6|Y|A6||||SNOMEDCT_US|SY|1|bone fracture|9|N||
C0016658|ENG|S|L7|PF|S7|Y|A7||||OTHER|SY|1|broken thing|0|N||
C0000001|ENG|P|L8|PF|S8|Y|A8||||MSH|MH|D9|Showing|0|N||
"""
MRSTY = """\
C0040405|T060|B1.3.1.1|Diagnostic Procedure|AT1||
C0016658|T037|B2.3|Injury or Poisoning|AT2||
C0000001|T169|A2.1|Functional Concept|AT3||
"""


@pytest.fixture
def rrf(tmp_path):
    (tmp_path / "MRCONSO.RRF").write_text(MRCONSO, encoding="utf-8")
    (tmp_path / "MRSTY.RRF").write_text(MRSTY, encoding="utf-8")
    return tmp_path


def test_rule_keeps_english_unsuppressed_chosen_sources_and_types(rrf):
    out = rrf / "umls.jsonl"
    count = build_umls_kb(rrf / "MRCONSO.RRF", rrf / "MRSTY.RRF", out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert count == len(records) == 2
    ct, fracture = records[1], records[0]
    assert fracture["concept_id"] == "C0016658" and fracture["types"] == ["T037"]
    assert fracture["canonical_name"] == "Fracture of bone"
    assert fracture["aliases"] == ["bone fracture"]  # OTHER is not a default source
    assert ct["canonical_name"] == "Tomography, X-Ray Computed"
    assert ct["aliases"] == ["CT scan"]  # German and suppressible strings dropped


def test_none_keeps_all_sources_and_types(rrf):
    out = rrf / "all.jsonl"
    assert build_umls_kb(rrf / "MRCONSO.RRF", rrf / "MRSTY.RRF", out, None, None) == 3
    again = rrf / "again.jsonl"
    build_umls_kb(rrf / "MRCONSO.RRF", rrf / "MRSTY.RRF", again, None, None)
    assert out.read_bytes() == again.read_bytes()


def test_malformed_rrf_is_an_error_naming_the_line(rrf):
    (rrf / "MRCONSO.RRF").write_text(MRCONSO + "broken|row\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"MRCONSO.RRF:9"):
        build_umls_kb(rrf / "MRCONSO.RRF", rrf / "MRSTY.RRF", rrf / "x.jsonl")


def test_annotate_with_a_umls_index(rrf):
    kb = rrf / "umls.jsonl"
    build_umls_kb(rrf / "MRCONSO.RRF", rrf / "MRSTY.RRF", kb)
    build_index(kb, rrf / "index")
    annotation = Annotator(rrf / "index").annotate(["CT scan showing a bone fracture."])[0]
    assert annotation.cuis == ("C0040405", "C0016658")
    assert annotation.semantic_types == ("T060", "T037")
    # The UMLS KB carries no manual-concept fields; the modality comes from the classifier.
    assert annotation.modality_cui is None
    labelled = Annotator(rrf / "index").annotate(["CT scan."], ["CT"])[0]
    assert labelled.modality_cui == "C0040405"
