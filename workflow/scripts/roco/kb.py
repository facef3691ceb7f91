"""Knowledge bases for concept linking: concept records, alias normalisation, the scispaCy index.

A knowledge base is a JSONL file in scispaCy's KnowledgeBase format (`concept_id`,
`canonical_name`, `aliases`, `types`, `definition`) with optional project fields: `modality`
(a label of roco.modalities), `region` (an X-ray body region label of REGIONS), `direction` (a
label of DIRECTIONS) and `note` (why a CUI outside ROCOv2's concept list is used). The built-in
one, data/radiology_kb.jsonl, is curated in this repository; roco.umls builds one from UMLS.

Aliases are compared as *keys*: the text cut into alphanumeric pieces (so "T2-weighted" and
"T2 weighted" agree: hyphens, slashes and brackets never matter), each lower-cased and reduced
to a singular by a few suffix rules (vessels, arteries, masses, metastases, vertebrae). A
one-piece alias written without lower-case letters ("CT", "US", "PA") is an abbreviation and
matches only as written, so the pronoun "us" is not ultrasound.

The fuzzy side is scispaCy's CandidateGenerator over an index built here with the file names
scispaCy uses (LinkerPaths): a TfidfVectorizer of character 3-grams (char_wb, as scispaCy) with
min_df=1 so short aliases (CT, MRI, PET) keep their grams, float32 vectors, and an nmslib HNSW
index (cosine on sparse vectors, M=30, efConstruction=200, one thread so the bytes repeat).
scispaCy's own create_tfidf_ann_index refuses to run on scipy>=1.11 and drops grams seen fewer
than 10 times, which is why it is not used.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import nmslib
import numpy as np
import scipy.sparse
from scispacy.candidate_generation import CandidateGenerator, LinkerPaths
from scispacy.linking_utils import Entity, KnowledgeBase
from sklearn.feature_extraction.text import TfidfVectorizer

from roco.modalities import MODALITIES
from roco.tables import staged_dir

KB_FILE = Path(__file__).resolve().parent / "data" / "radiology_kb.jsonl"
KB_NAME = "kb.jsonl"  # the knowledge base copied into every index directory
# ROCOv2's manual X-ray concepts (Rückert et al. 2024).
REGIONS = {
    "chest": "C0817096",
    "abdomen": "C0000726",
    "skull": "C0037303",
    "spine": "C0037949",
    "pelvis": "C0030797",
    "lower extremity": "C0023216",
    "upper extremity": "C1140618",
    "breast": "C0006141",
}
DIRECTIONS = {"PA": "C1996865", "AP": "C1999039", "lateral": "C0205129"}
HNSW_PARAMS = {"M": 30, "efConstruction": 200, "indexThreadQty": 1, "post": 0}
EF_SEARCH = 200

_PIECE = re.compile(r"[^\W_]+")
_CUI = re.compile(r"C\d{7}")


@dataclass(frozen=True)
class Concept:
    cui: str
    name: str
    types: tuple[str, ...]
    aliases: tuple[str, ...]
    modality: str | None = None
    region: str | None = None
    direction: str | None = None


def pieces(text: str) -> list[re.Match]:
    """The alphanumeric runs of a text, with their offsets."""
    return list(_PIECE.finditer(text))


def singular(word: str) -> str:
    """A lower-case word reduced to a singular by suffix rules; applied to text and aliases alike,
    so a rule only has to be consistent, not linguistically complete."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("sses", "uses")):
        return word[:-2]
    if word.endswith(("oses", "stases")):
        return word[:-2] + "is"
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("ae"):
        return word[:-1]
    if word.endswith(("ss", "us", "is", "os")):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word


def normalise(piece: str) -> str:
    return singular(piece.lower())


def is_abbreviation(alias: str) -> bool:
    """One piece and no lower-case letter: matched case-sensitively."""
    found = pieces(alias)
    return len(found) == 1 and not any(ch.islower() for ch in alias)


def alias_key(alias: str) -> tuple[str, ...]:
    found = [m.group() for m in pieces(alias)]
    if is_abbreviation(alias):
        return tuple(found)
    return tuple(normalise(p) for p in found)


def _concept(record: dict, where: str) -> Concept:
    cui = record.get("concept_id")
    if not isinstance(cui, str) or not cui:
        raise ValueError(f"{where}: missing concept_id")
    name = record.get("canonical_name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: {cui} has no canonical_name")
    modality = record.get("modality")
    if modality is not None and modality not in MODALITIES:
        raise ValueError(f"{where}: {cui} has unknown modality {modality!r}")
    region = record.get("region")
    if region is not None and region not in REGIONS:
        raise ValueError(f"{where}: {cui} has unknown region {region!r}")
    direction = record.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"{where}: {cui} has unknown direction {direction!r}")
    aliases = tuple(dict.fromkeys([name, *record.get("aliases", [])]))
    return Concept(
        cui, name, tuple(record.get("types") or ()), aliases, modality, region, direction
    )


def read_kb(path: Path) -> list[Concept]:
    """Concepts of a KB JSONL file, in file order; a malformed line is a ValueError naming it."""
    concepts = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: {error}") from error
            concepts.append(_concept(record, where))
    return concepts


def is_cui(text: str) -> bool:
    return bool(_CUI.fullmatch(text))


def scispacy_kb(concepts: Iterable[Concept]) -> KnowledgeBase:
    return KnowledgeBase([Entity(c.cui, c.name, list(c.aliases), list(c.types)) for c in concepts])


def _fit(aliases: Sequence[str]) -> tuple[TfidfVectorizer, scipy.sparse.csr_matrix]:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1, dtype=np.float32)
    return vectorizer, vectorizer.fit_transform(aliases).astype(np.float32).tocsr()


def _hnsw(vectors: scipy.sparse.csr_matrix):
    index = nmslib.init(
        method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR
    )
    index.addDataPointBatch(vectors)
    return index


def _alias_vectors(kb: KnowledgeBase):
    """Sorted aliases with a non-empty 3-gram vector (nmslib crashes on empty ones)."""
    aliases = sorted(kb.alias_to_cuis)
    vectorizer, vectors = _fit(aliases)
    keep = np.flatnonzero(vectors.getnnz(axis=1))
    return [aliases[i] for i in keep], vectorizer, vectors[keep]


def candidate_generator(concepts: Sequence[Concept]) -> CandidateGenerator:
    """A CandidateGenerator built in memory (the built-in KB takes well under a second)."""
    kb = scispacy_kb(concepts)
    aliases, vectorizer, vectors = _alias_vectors(kb)
    index = _hnsw(vectors)
    index.createIndex(HNSW_PARAMS, print_progress=False)
    index.setQueryTimeParams({"efSearch": EF_SEARCH})
    return CandidateGenerator(index, vectorizer, aliases, kb)


def build_index(kb_jsonl: Path, out_dir: Path) -> None:
    """Write a linker directory: the KB (as kb.jsonl) and scispaCy's four index files.

    Deterministic: sorted aliases, one indexing thread, uncompressed vectors; the HNSW file is
    byte-identical between runs in fresh processes (nmslib draws levels from a process-wide
    generator seeded at start-up), which is how a rule runs it.
    """
    kb_jsonl = Path(kb_jsonl)
    concepts = read_kb(kb_jsonl)
    aliases, vectorizer, vectors = _alias_vectors(scispacy_kb(concepts))
    index = _hnsw(vectors)
    index.createIndex(HNSW_PARAMS, print_progress=False)
    with staged_dir(out_dir) as staging:  # a killed build never leaves half an index
        paths = LinkerPaths.from_directory(staging)
        joblib.dump(vectorizer, paths.tfidf_vectorizer)
        scipy.sparse.save_npz(paths.tfidf_vectors, vectors, compressed=False)
        Path(paths.concept_aliases_list).write_text(json.dumps(aliases), encoding="utf-8")
        index.saveIndex(paths.ann_index, save_data=False)
        shutil.copyfile(kb_jsonl, staging / KB_NAME)


def load_index(index_dir: Path) -> tuple[list[Concept], CandidateGenerator]:
    """The concepts and CandidateGenerator of a directory written by build_index (or any
    directory holding scispaCy's index files plus its KB as kb.jsonl)."""
    index_dir = Path(index_dir)
    concepts = read_kb(index_dir / KB_NAME)
    paths = LinkerPaths.from_directory(index_dir)
    aliases, vectorizer, index = paths.load(ef_search=EF_SEARCH)
    return concepts, CandidateGenerator(index, vectorizer, aliases, scispacy_kb(concepts))
