"""Concept annotation of captions: UMLS CUIs, the manual modality concept, X-ray region/direction.

The pipeline needs no model download. Per batch of captions:

1. scispaCy: `combined_rule_tokenizer`, spaCy's rule sentencizer (scispaCy's pysbd sentencizer
   runs ~650 captions/s, too slow for the whole pipeline's budget) and scispaCy's
   `abbreviation_detector`, run with `nlp.pipe` over the batch.
2. Mention finding without a NER model, by dictionary: the caption is cut into alphanumeric pieces
   normalised like the KB aliases (roco.kb: lower case, singular, hyphens and slashes ignored), and
   the longest alias key starting at each piece is taken, left to right, without overlap. This is
   exact and fast and handles plurals ("ribs"), hyphenation ("contrast-enhanced" = "contrast
   enhanced") and case (abbreviations stay case-sensitive). Direction concepts (PA, AP, lateral
   view) are found in a second pass that may overlap the first, so "lateral radiograph" names both
   a direction and a modality.
3. Fuzzy linking: the words the dictionary left over (runs of uncovered pieces, as unigrams and
   bigrams of alphabetic words of >= 5 letters, minus stop words) go to scispaCy's
   CandidateGenerator in *one* call for the whole batch (deduplicated, cached across batches);
   the best candidate is kept when its char-3-gram cosine is >= FUZZY_THRESHOLD. This catches
   spelling variants ("ultrasonographic", "computerised", "haemorrhages").
4. Abbreviations: where a caption defines one ("diffusion-weighted imaging (DWI)"), every
   occurrence of the short form takes the long form's concept, and a short form whose long form
   links to nothing loses the KB's default reading ("mitral regurgitation (MR)" is not MRI).
5. Negation, NegEx-style: a mention is negated when a trigger ("no", "without", "absence of",
   "negative for", "free of", "ruled out" ...) precedes it within NEGATION_WINDOW pieces of the
   same sentence with no terminator ("but", "however", "which" ...) between, or a post trigger
   ("was excluded", "not seen", "absent") follows it. Negated mentions are flagged, not dropped.

The annotation of a figure: CUIs in order of first mention (deduplicated) with names and semantic
types, the mentions, the manual modality CUI (from the classifier's label, else from the first
modality the caption names), and for X-rays the body region and direction (ROCOv2's manual
concepts) from the first non-negated mention carrying one.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd
import spacy
from scispacy.abbreviation import AbbreviationDetector  # noqa: F401  (registers the factory)
from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.attrs import IDX, SENT_START

from roco import kb as kbmod
from roco.modalities import MODALITIES, UNKNOWN
from roco.tables import BATCH_ROWS, map_table, rejects_frame

FUZZY_THRESHOLD = 0.85
FUZZY_K = 5
FUZZY_MIN_LETTERS = 5
FUZZY_MIN_KNOWN = 0.8
PREFIX = 4
NEGATION_WINDOW = 6
BATCH = 512
_XRAY = "X-ray"
_MAY_DEFINE = re.compile(r"\([^()]*[A-Z][^()]*\)|[A-Z]{2,}\w*\s*\(")
_NEG_BEFORE = {
    ("no",),
    ("not",),
    ("without",),
    ("absence", "of"),
    ("negative", "for"),
    ("free", "of"),
    ("rule", "out"),
    ("ruled", "out"),
    ("resolution", "of"),
    ("neither",),
    ("nor",),
}
_NEG_AFTER = {
    ("excluded",),
    ("absent",),
    ("ruled", "out"),
    ("resolved",),
    ("disappeared",),
    ("not", "seen"),
    ("not", "visible"),
    ("not", "detected"),
    ("not", "identified"),
    ("not", "observed"),
    ("not", "present"),
}
# Words after a trigger that make it no negation ("no change in", "not only").
_PSEUDO = {"change", "only", "longer", "interval", "increase", "significant", "doubt"}
_TERMINATORS = {
    "but",
    "however",
    "although",
    "though",
    "except",
    "apart",
    "aside",
    "which",
    "who",
    "whereas",
    "while",
    "yet",
}
# Frequent caption words never worth a fuzzy look-up.
_STOP = frozenset(
    {
        "about",
        "above",
        "after",
        "again",
        "against",
        "along",
        "among",
        "around",
        "arrow",
        "arrowed",
        "arrowhead",
        "arrowheads",
        "arrows",
        "before",
        "behind",
        "below",
        "between",
        "black",
        "both",
        "could",
        "during",
        "each",
        "figure",
        "first",
        "further",
        "image",
        "images",
        "large",
        "level",
        "marked",
        "normal",
        "other",
        "panel",
        "panels",
        "patient",
        "patients",
        "right",
        "second",
        "showing",
        "shown",
        "shows",
        "since",
        "small",
        "taken",
        "their",
        "there",
        "these",
        "third",
        "those",
        "three",
        "through",
        "under",
        "until",
        "where",
        "which",
        "while",
        "white",
        "whole",
        "within",
        "without",
        "would",
        "years",
    }
)


@dataclass(frozen=True)
class Mention:
    text: str
    start: int
    end: int
    cui: str
    negated: bool


@dataclass(frozen=True)
class Annotation:
    cuis: tuple[str, ...]
    names: tuple[str, ...]
    semantic_types: tuple[str, ...]
    mentions: tuple[Mention, ...]
    modality_cui: str | None
    body_region: str | None
    body_region_cui: str | None
    direction: str | None
    direction_cui: str | None


def _pipeline() -> spacy.Language:
    nlp = spacy.blank("en")
    with warnings.catch_warnings():
        # scispaCy's tokenizer regex trips a FutureWarning of the re module; harmless.
        warnings.simplefilter("ignore", FutureWarning)
        nlp.tokenizer = combined_rule_tokenizer(nlp)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("abbreviation_detector")
    return nlp


def _parse(nlp: spacy.Language, texts: list[str]) -> list:
    """Tokenise and split sentences for the batch; detect abbreviations only where a caption may
    define one: the detector (Schwartz-Hearst) finds only "long form (SF)" and "SF (long form)",
    and costs ~4x the rest of the pipeline. Short forms carry a capital letter, so a bracket
    with a capital inside or an all-capitals word before it is the cheap test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*W036.*")
        docs = list(nlp.pipe(texts, disable=["abbreviation_detector"]))
        detector = nlp.get_pipe("abbreviation_detector")
        return [
            detector(doc) if _MAY_DEFINE.search(text) else doc
            for doc, text in zip(docs, texts, strict=True)
        ]


class _Dictionary:
    """Alias keys -> CUI, split into the main pass and the direction pass."""

    def __init__(self, concepts: Sequence[kbmod.Concept]):
        self.main: dict[tuple[str, ...], str] = {}
        self.directions: dict[tuple[str, ...], str] = {}
        # Canonical names first, then aliases in file order: a key shared by two concepts goes
        # to the one whose name it is, else to the one listed first.
        for canonical_pass in (True, False):
            for concept in concepts:
                table = self.directions if concept.direction else self.main
                for alias in concept.aliases:
                    if (alias == concept.name) != canonical_pass:
                        continue
                    key = kbmod.alias_key(alias)
                    if key:
                        table.setdefault(key, concept.cui)
        self.longest = {
            table_id: _longest_by_first(table)
            for table_id, table in (("main", self.main), ("directions", self.directions))
        }


def _longest_by_first(table: dict[tuple[str, ...], str]) -> dict[str, int]:
    longest: dict[str, int] = {}
    for key in table:
        longest[key[0]] = max(longest.get(key[0], 0), len(key))
    return longest


@dataclass
class _Caption:
    text: str
    raw: list[str]  # pieces as written
    norm: list[str]  # pieces normalised
    lower: list[str]  # pieces lower-cased (negation cues)
    spans: list[tuple[int, int]]
    sentence: list[int]  # sentence number of each piece
    found: dict[tuple[int, int], str]  # (first piece, end piece) -> CUI


def _match(
    caption: _Caption, table: dict, longest: dict[str, int], overlap_ok: bool
) -> dict[tuple[int, int], str]:
    """Greedy longest match of alias keys over the caption's pieces."""
    found: dict[tuple[int, int], str] = {}
    i, n = 0, len(caption.norm)
    while i < n:
        hit = None
        for length in range(min(longest.get(caption.norm[i], 1), n - i), 0, -1):
            cui = table.get(tuple(caption.norm[i : i + length]))
            if cui:
                hit = (length, cui)
                break
        if hit is None:
            cui = _abbreviation(caption.raw[i], table)
            hit = (1, cui) if cui else None
        if hit:
            found[(i, i + hit[0])] = hit[1]
            i += 1 if overlap_ok else hit[0]
        else:
            i += 1
    return found


def _abbreviation(raw: str, table: dict) -> str | None:
    if any(ch.islower() for ch in raw[:-1]):
        return None
    cui = table.get((raw,))
    # Plural of an abbreviation: "CTs", "MRIs".
    if cui is None and raw.endswith("s") and len(raw) > 2:
        cui = table.get((raw[:-1],))
    return cui


class Annotator:
    """Annotates captions against a knowledge base (the built-in one when index_dir is None)."""

    def __init__(self, index_dir: Path | None = None):
        if index_dir is None:
            self.concepts = kbmod.read_kb(kbmod.KB_FILE)
            self.generator = kbmod.candidate_generator(self.concepts)
        else:
            self.concepts, self.generator = kbmod.load_index(Path(index_dir))
        self.by_cui = {c.cui: c for c in self.concepts}
        self.dictionary = _Dictionary(self.concepts)
        self.nlp = _pipeline()
        self._fuzzy_cache: dict[str, str | None] = {}
        self._analyzer = self.generator.vectorizer.build_analyzer()
        self._vocabulary = self.generator.vectorizer.vocabulary_
        self._prefixes = {
            word[:PREFIX] for key in self.dictionary.main for word in key if len(word) >= PREFIX
        }

    # -- public -------------------------------------------------------------------------------
    def annotate(
        self, captions: Sequence[str], modalities: Sequence[str] | None = None
    ) -> list[Annotation]:
        """Annotate captions; `modalities` are the classifier's labels (None: from captions)."""
        if modalities is not None and len(modalities) != len(captions):
            raise ValueError("captions and modalities differ in length")
        texts = [c if isinstance(c, str) else "" for c in captions]
        out: list[Annotation] = []
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            labels = None if modalities is None else modalities[start : start + BATCH]
            out += self._annotate_batch(chunk, labels)
        return out

    # -- steps --------------------------------------------------------------------------------
    def _annotate_batch(self, texts: list[str], labels: Sequence[str] | None) -> list[Annotation]:
        docs = _parse(self.nlp, texts)
        captions = [self._exact(doc, text) for doc, text in zip(docs, texts, strict=True)]
        self._fuzzy(captions)
        result = []
        for i, (doc, caption) in enumerate(zip(docs, captions, strict=True)):
            self._abbreviations(doc, caption)
            mentions = self._mentions(caption)
            label = None if labels is None else labels[i]
            result.append(self._annotation(mentions, label))
        return result

    def _exact(self, doc, text: str) -> _Caption:
        found = kbmod.pieces(text)
        marks = doc.to_array([SENT_START, IDX])
        sentence_starts = marks[marks[:, 0] == 1, 1].tolist() if len(doc) else [0]
        caption = _Caption(
            text,
            [m.group() for m in found],
            [kbmod.normalise(m.group()) for m in found],
            [m.group().lower() for m in found],
            [m.span() for m in found],
            [_sentence_of(m.start(), sentence_starts) for m in found],
            {},
        )
        d = self.dictionary
        caption.found = _match(caption, d.main, d.longest["main"], overlap_ok=False)
        caption.found |= _match(caption, d.directions, d.longest["directions"], overlap_ok=True)
        return caption

    def _fuzzy(self, captions: list[_Caption]) -> None:
        """Link leftover words through one CandidateGenerator call for the whole batch."""
        wanted: list[tuple[_Caption, tuple[int, int], str]] = []
        for caption in captions:
            for span in _leftover_ngrams(caption):
                text = " ".join(caption.norm[span[0] : span[1]])
                wanted.append((caption, span, text))
        fresh = sorted({t for _, _, t in wanted} - self._fuzzy_cache.keys())
        queries = [q for q in fresh if self._plausible(q)]
        self._fuzzy_cache.update(dict.fromkeys(fresh))
        if queries:
            candidates = self.generator(queries, FUZZY_K)
            for query, found in zip(queries, candidates, strict=True):
                self._fuzzy_cache[query] = _best(found, len(query.split()))
        for caption, span, text in wanted:
            cui = self._fuzzy_cache[text]
            if cui and not _overlaps(span, caption.found):
                caption.found[span] = cui

    def _plausible(self, query: str) -> bool:
        """Whether a query may be a variant of an alias: each word starts like some alias word
        (variants and misspellings keep their first letters; this spares the index ordinary
        words), and most of its 3-grams occur in some alias (the TF-IDF transform drops unseen
        grams before the cosine, so without this "tissueeat" would equal "tissue")."""
        if any(word[:PREFIX] not in self._prefixes for word in query.split()):
            return False
        grams = self._analyzer(query)
        known = sum(g in self._vocabulary for g in grams)
        return bool(grams) and known >= FUZZY_MIN_KNOWN * len(grams)

    def _abbreviations(self, doc, caption: _Caption) -> None:
        starts = {s: i for i, (s, _) in enumerate(caption.spans)}
        ends = {e: i + 1 for i, (_, e) in enumerate(caption.spans)}
        for short in doc._.abbreviations:
            long_form = short._.long_form
            piece_span = (starts.get(short.start_char), ends.get(short.end_char))
            if None in piece_span:
                continue
            cui = _concept_of_span(caption, long_form.start_char, long_form.end_char)
            caption.found.pop(piece_span, None)
            if cui:
                caption.found[piece_span] = cui

    def _mentions(self, caption: _Caption) -> list[Mention]:
        mentions = []
        for (first, end), cui in sorted(caption.found.items()):
            start_char, end_char = caption.spans[first][0], caption.spans[end - 1][1]
            mentions.append(
                Mention(
                    caption.text[start_char:end_char],
                    start_char,
                    end_char,
                    cui,
                    _negated(caption, first, end),
                )
            )
        return mentions

    def _annotation(self, mentions: list[Mention], label: str | None) -> Annotation:
        cuis = tuple(dict.fromkeys(m.cui for m in mentions))
        concepts = [self.by_cui[c] for c in cuis]
        positive = [self.by_cui[m.cui] for m in mentions if not m.negated]
        named = next((c.modality for c in positive if c.modality), None)
        modality = named if label in (None, UNKNOWN) else label
        modality_cui = MODALITIES[modality].cui if modality in MODALITIES else None
        region = direction = None
        if modality == _XRAY:
            region = next((c.region for c in positive if c.region), None)
            direction = next((c.direction for c in positive if c.direction), None)
        return Annotation(
            cuis=cuis,
            names=tuple(c.name for c in concepts),
            semantic_types=tuple("|".join(c.types) for c in concepts),
            mentions=tuple(mentions),
            modality_cui=modality_cui,
            body_region=region,
            body_region_cui=kbmod.REGIONS.get(region),
            direction=direction,
            direction_cui=kbmod.DIRECTIONS.get(direction),
        )


def _sentence_of(offset: int, sentence_starts: list[int]) -> int:
    return max(bisect.bisect_right(sentence_starts, offset) - 1, 0)


def _leftover_ngrams(caption: _Caption) -> Iterable[tuple[int, int]]:
    """Unigrams and bigrams of content words no dictionary match covers."""
    covered = set()
    for first, end in caption.found:
        covered.update(range(first, end))
    content = [
        i not in covered
        and caption.norm[i].isalpha()
        and len(caption.norm[i]) >= FUZZY_MIN_LETTERS
        and caption.norm[i] not in _STOP
        for i in range(len(caption.norm))
    ]
    for i, ok in enumerate(content):
        if not ok:
            continue
        if (
            i + 1 < len(content)
            and content[i + 1]
            and caption.sentence[i] == caption.sentence[i + 1]
        ):
            yield (i, i + 2)
        yield (i, i + 1)


def _best(candidates, words: int) -> str | None:
    """The most similar concept whose matching alias has as many words as the query (so
    "transverse" is not "transverse colon"), if similar enough."""
    scored = [
        (similarity, c.concept_id)
        for c in candidates
        for alias, similarity in zip(c.aliases, c.similarities, strict=True)
        if len(kbmod.alias_key(alias)) == words
    ]
    # Highest similarity, ties to the smaller CUI: deterministic.
    best = min(scored, key=lambda s: (-s[0], s[1]), default=None)
    return best[1] if best and best[0] >= FUZZY_THRESHOLD else None


def _overlaps(span: tuple[int, int], found: dict) -> bool:
    return any(span[0] < end and first < span[1] for first, end in found)


def _concept_of_span(caption: _Caption, start_char: int, end_char: int) -> str | None:
    """The concept a long form links to: the widest mention inside it that ends where it ends."""
    inside = [
        (caption.spans[end - 1][1] - caption.spans[first][0], cui)
        for (first, end), cui in caption.found.items()
        if caption.spans[first][0] >= start_char and caption.spans[end - 1][1] == end_char
    ]
    return max(inside)[1] if inside else None


def _negated(caption: _Caption, first: int, end: int) -> bool:
    sentence = caption.sentence[first]
    words = caption.lower
    for i in range(first - 1, max(first - NEGATION_WINDOW, 0) - 1, -1):
        if caption.sentence[i] != sentence or words[i] in _TERMINATORS:
            break
        for trigger in _NEG_BEFORE:
            span = tuple(words[i : i + len(trigger)])
            after = i + len(trigger)
            if span == trigger and after <= first:
                pseudo = after < len(words) and words[after] in _PSEUDO
                if not pseudo:
                    return True
    for i in range(end, min(end + 3, len(words))):
        if caption.sentence[i] != sentence:
            break
        if any(tuple(words[i : i + len(t)]) == t for t in _NEG_AFTER):
            return True
    return False


# -- tables and files -------------------------------------------------------------------------
def annotate_chunk(hashed: pd.DataFrame, annotator: Annotator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the `hashed` table -> (rows of `annotated`, rejects of stage "annotate").

    A row whose caption is not text is rejected (reason "no_caption"); every other row is kept,
    with or without concepts.
    """
    annotated, rejects = _annotate_rows(hashed, annotator)
    return annotated, rejects_frame(rejects)


def annotate_file(
    hashed: str | os.PathLike,
    annotated: str | os.PathLike,
    annotator: Annotator,
    batch_rows: int = BATCH_ROWS,
) -> pd.DataFrame:
    """`annotate_chunk` over a hashed table, streamed `batch_rows` rows at a time into the
    annotated table (memory does not grow with the chunk); returns the rejects. Each caption is
    annotated on its own, so the rows are those of `annotate_chunk` on the whole table."""
    return map_table(
        hashed,
        "hashed",
        annotated,
        "annotated",
        lambda frame: _annotate_rows(frame, annotator),
        batch_rows,
    )


def _annotate_rows(hashed: pd.DataFrame, annotator: Annotator) -> tuple[pd.DataFrame, list[dict]]:
    has_text = hashed["caption"].map(lambda c: isinstance(c, str))
    rejects = [
        {
            "stage": "annotate",
            "reason": "no_caption",
            "pmcid": row.pmcid,
            "version": row.version,
            "id": row.id,
            "detail": "caption is missing or not text",
        }
        for row in hashed[~has_text].itertuples()
    ]
    kept = hashed[has_text].reset_index(drop=True)
    annotations = annotator.annotate(list(kept["caption"]), list(kept["modality"]))
    annotated = kept.assign(
        cuis=[list(a.cuis) for a in annotations],
        concept_names=[list(a.names) for a in annotations],
        modality_cui=[a.modality_cui for a in annotations],
        body_region=[a.body_region for a in annotations],
        body_region_cui=[a.body_region_cui for a in annotations],
        direction=[a.direction for a in annotations],
        direction_cui=[a.direction_cui for a in annotations],
    )
    return annotated, rejects


def annotation_record(annotation: Annotation) -> dict:
    """A JSON-ready dict of an annotation."""
    record = asdict(annotation)
    record["mentions"] = [asdict(m) for m in annotation.mentions]
    return record


def read_captions_csv(source: Path | TextIO) -> list[tuple[str, str]]:
    """(ID, Caption) rows of a ROCOv2 captions CSV (header ID,Caption; RFC 4180 quoting)."""
    with _open(source, "r") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return []
        header = [h.strip().lstrip("\ufeff") for h in header]
        if "ID" not in header or "Caption" not in header:
            raise ValueError(f"expected columns ID,Caption, found {','.join(header)}")
        id_at, caption_at = header.index("ID"), header.index("Caption")
        rows = []
        for number, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) <= max(id_at, caption_at):
                raise ValueError(f"line {number}: expected {len(header)} fields, got {len(row)}")
            rows.append((row[id_at], row[caption_at]))
        return rows


def annotate_csv(in_csv: Path, out: Path | TextIO, annotator: Annotator, as_json: bool = False):
    """ID,Caption CSV -> ID,CUIs CSV (CUIs joined by ';', CRLF lines) or JSON lines."""
    rows = read_captions_csv(in_csv)
    annotations = annotator.annotate([caption for _, caption in rows])
    with _open(out, "w") as handle:
        if as_json:
            for (figure_id, _), annotation in zip(rows, annotations, strict=True):
                record = {"ID": figure_id, **annotation_record(annotation)}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["ID", "CUIs"])
        for (figure_id, _), annotation in zip(rows, annotations, strict=True):
            writer.writerow([figure_id, ";".join(annotation.cuis)])


class _open:
    """Open a path (UTF-8, newline='' as the csv module wants) or pass a text stream through."""

    def __init__(self, target: Path | TextIO, mode: str):
        self.target, self.mode, self.handle = target, mode, None

    def __enter__(self) -> TextIO:
        if isinstance(self.target, io.TextIOBase) or hasattr(self.target, "write"):
            return self.target
        self.handle = open(self.target, self.mode, encoding="utf-8", newline="")
        return self.handle

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()
