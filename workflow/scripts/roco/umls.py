"""A knowledge base from the user's licensed UMLS release (MRCONSO.RRF + MRSTY.RRF).

The rule, applied while streaming both files (pipe-separated, one trailing '|'):
- MRSTY gives each CUI its semantic types (TUI); a CUI is kept when one of its types is in
  `semantic_types` (None keeps all).
- MRCONSO rows are kept when LAT is ENG, SUPPRESS is N (not obsolete or suppressible) and SAB is
  in `sources` (None keeps all). Every kept string becomes an alias of its CUI.
- The canonical name is the string with TS=P, STT=PF, ISPREF=Y (UMLS's preferred name), else the
  first kept string, as scispaCy's umls_utils does.
Concepts are written in CUI order with aliases sorted, so the same release gives the same file.
The defaults keep the sources and semantic types of radiology captions: anatomy, findings and
disorders, procedures and devices (the types ROCO's annotations carry most often).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path

DEFAULT_SOURCES = ("MTH", "MSH", "SNOMEDCT_US", "NCI", "CSP", "HPO", "MEDLINEPLUS", "FMA", "LNC")
DEFAULT_SEMANTIC_TYPES = (
    "T017",  # Anatomical Structure
    "T019",  # Congenital Abnormality
    "T020",  # Acquired Abnormality
    "T023",  # Body Part, Organ, or Organ Component
    "T024",  # Tissue
    "T029",  # Body Location or Region
    "T030",  # Body Space or Junction
    "T033",  # Finding
    "T037",  # Injury or Poisoning
    "T046",  # Pathologic Function
    "T047",  # Disease or Syndrome
    "T060",  # Diagnostic Procedure
    "T061",  # Therapeutic or Preventive Procedure
    "T074",  # Medical Device
    "T082",  # Spatial Concept
    "T130",  # Indicator, Reagent, or Diagnostic Aid
    "T184",  # Sign or Symptom
    "T190",  # Anatomical Abnormality
    "T191",  # Neoplastic Process
)
# MRCONSO.RRF columns (UMLS Reference Manual, table 3.3.4.1).
_CUI, _LAT, _TS, _STT, _ISPREF, _SAB, _STR, _SUPPRESS = 0, 1, 2, 4, 6, 11, 14, 16
_MRCONSO_FIELDS = 18


def read_semantic_types(mrsty: Path) -> dict[str, list[str]]:
    """CUI -> TUIs, in file order."""
    types: dict[str, list[str]] = defaultdict(list)
    with open(mrsty, encoding="utf-8") as rows:
        for number, line in enumerate(rows, 1):
            fields = line.rstrip("\n").split("|")
            if len(fields) < 2 or not fields[0] or not fields[1]:
                raise ValueError(f"{mrsty}:{number}: not an MRSTY row")
            types[fields[0]].append(fields[1])
    return types


def build_umls_kb(
    mrconso: Path,
    mrsty: Path,
    out_jsonl: Path,
    sources: Collection[str] | None = DEFAULT_SOURCES,
    semantic_types: Collection[str] | None = DEFAULT_SEMANTIC_TYPES,
) -> int:
    """Write a KB JSONL (roco.kb format) from UMLS files; returns the number of concepts."""
    types = read_semantic_types(Path(mrsty))
    wanted_types = None if semantic_types is None else set(semantic_types)
    wanted_sources = None if sources is None else set(sources)
    aliases: dict[str, set[str]] = defaultdict(set)
    preferred: dict[str, str] = {}
    first: dict[str, str] = {}
    with open(mrconso, encoding="utf-8") as rows:
        for number, line in enumerate(rows, 1):
            fields = line.rstrip("\n").split("|")
            if len(fields) < _MRCONSO_FIELDS:
                raise ValueError(f"{mrconso}:{number}: not an MRCONSO row")
            cui = fields[_CUI]
            if fields[_LAT] != "ENG" or fields[_SUPPRESS] != "N":
                continue
            if wanted_sources is not None and fields[_SAB] not in wanted_sources:
                continue
            if wanted_types is not None and wanted_types.isdisjoint(types.get(cui, ())):
                continue
            name = fields[_STR].strip()
            if not name:
                continue
            aliases[cui].add(name)
            first.setdefault(cui, name)
            if (fields[_TS], fields[_STT], fields[_ISPREF]) == ("P", "PF", "Y"):
                preferred.setdefault(cui, name)
    out_jsonl = Path(out_jsonl)
    out_jsonl.parent.mkdir(parents=True, exist_ok=True)
    partial = out_jsonl.with_name(f".{out_jsonl.name}.partial")
    with open(partial, "w", encoding="utf-8") as out:
        for cui in sorted(aliases):
            name = preferred.get(cui, first[cui])
            record = {
                "concept_id": cui,
                "canonical_name": name,
                "aliases": sorted(aliases[cui] - {name}),
                "types": types.get(cui, []),
                "definition": None,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial.replace(out_jsonl)
    return len(aliases)
