"""Caption cleaning and the caption filters of ROCOv2 (too short, not English).

`clean_caption` normalises a caption extracted from JATS: UTF-8 mojibake repaired, Unicode NFC,
control and zero-width characters removed, non-breaking spaces made plain, URLs (http, https, ftp,
www., doi.org) removed together with brackets they leave empty and the pointer words they leave
dangling before punctuation ("(see <URL>)", "available at <URL>."), footnote markers (dagger, double
dagger, section, pilcrow, double bar) removed, a missing space restored where a sentence end is
glued to the next sentence ("mass.The" -> "mass. The"), spaces before closing punctuation and inside
brackets and leading punctuation dropped, and whitespace collapsed.

Mojibake: UTF-8 text decoded as Latin-1 or Windows-1252 (an XML file that declares the wrong
encoding) turns "é" into "Ã©", "°" into "Â°", "α" into "Î±" and "’" into "â€™". Every run of
one such lead character (the UTF-8 lead bytes of Latin-1 letters and signs, Greek and punctuation)
followed by the number of continuation characters (0x80-0xBF in either code page) it announces is
mapped back to its bytes and decoded as UTF-8; runs that do not decode are left alone. On the
8,791 ROCO validation captions in ../shared/realdata the repair changes none.

`caption_problem` says why a cleaned caption should be dropped, as ROCOv2 did ("non-English or too
short to carry information"): empty, fewer than `min_words` words (a word is a run of letters
with inner hyphens and apostrophes allowed: "X-ray" is one word, "2" is none), or not English.

Language: py3langid (bundles its Naive Bayes byte n-gram model; no download) restricted to the
languages PMC captions come in, combined with function-word counts, because n-gram models are
unreliable on three-word radiology phrases ("Axial view" scores as German). The rule:
English function words outnumbering foreign ones -> English; two or more foreign function words
and more than English ones -> not English; otherwise not English only when py3langid gives a
non-English language a probability of at least `LANGID_MIN_PROBABILITY`.

`DEFAULT_MIN_WORDS` = 2 was chosen on ROCO (v1) validation radiology captions in
../shared/realdata/roco: ROCOv2 removed 1,528 of about 81,300 captions (1.9 %) for being
non-English or too short. On the 8,180 ROCO validation radiology captions the language filter alone
removes 1.56 % (all French, Portuguese or Spanish on inspection), and with it min_words = 1, 2, 3
removes 1.56 %, 1.78 %, 3.24 %: min_words = 2 comes closest to ROCOv2's rate (measure with
`python -m roco.captions .../roco-v1/validation/radiology/captions.txt`).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

DEFAULT_MIN_WORDS = 2
LANGID_MIN_PROBABILITY = 0.9
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "tr", "ru", "zh", "ja")

_URL = re.compile(
    r"(?:(?:https?|ftp)://|www\.|(?<![\w.])doi\.org/)[^\s<>\"]*[^\s<>\".,;:!?)\]}'’]", re.I
)
_TIDY_ROUNDS = 8
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;:.]?\s*\)|\[\s*[,;:.]?\s*\]|<\s*>")
# Words that pointed at a removed URL, when punctuation or a bracket now follows them.
_DANGLING_POINTER = re.compile(
    r"\b(?:see|available(?: online)?(?: at| from)?|accessed (?:at|from)|adapted from|from|at|via)"
    r"\s*(?=[.,;:)\]]|$)",
    re.I,
)
_FOOTNOTE_MARKS = re.compile("[\u2020\u2021\u00a7\u00b6\u2016]")
# A lowercase word of 3+ letters (or a closing bracket), a sentence end, then a capitalised word:
# a glued sentence to split. The lengths keep abbreviations ("e.g.Fig", "U.S.A") and decimals out.
_GLUED_SENTENCE = re.compile(r"(?:(?<=[a-z]{3}[.!?])|(?<=\)[.!?]))(?=[A-Z][a-z])")
_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _single_byte_chars(byte: int) -> set[str]:
    """The characters Latin-1 and Windows-1252 decode `byte` to."""
    try:
        return {chr(byte), bytes([byte]).decode("cp1252")}
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: Latin-1 only
        return {chr(byte)}


_MOJIBAKE_BYTES = {ch: b for b in range(0x80, 0x100) for ch in _single_byte_chars(b)}
_CONTINUATION = (
    "[" + re.escape("".join(sorted(ch for ch, b in _MOJIBAKE_BYTES.items() if b < 0xC0))) + "]"
)
# Only the lead bytes of the characters captions hold (Latin-1 letters and signs C2/C3, Greek
# CE/CF, punctuation E2): other leads are ordinary characters, and a multiplication sign before
# a no-break space ("3 cm x 2 cm" typeset with U+00D7 U+00A0) is valid UTF-8 for a Hebrew letter.
_MOJIBAKE = re.compile(f"[\u00c2\u00c3\u00ce\u00cf]{_CONTINUATION}|\u00e2{_CONTINUATION}{{2}}")


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ENGLISH = _word_set(
    "a an the of in on at to for from with without by and or but not no is are was were be been "
    "this that these those which who whose there their its it as after before during between "
    "into through under over above below showing shows shown show demonstrating reveals revealed "
    "than then also both each other same all do"
)
# Function words of the other languages PMC captions come in. Left out on purpose: words that are
# also English or frequent in English medical text (de novo, en bloc, et al., von Willebrand,
# van der Waals, os trigonum, per, son, met) and abbreviations (IL, IM, SE, SEM, EM, AO, NOS, Na,
# Au, del).
_FOREIGN = _word_set(
    # French
    "le la les un une des du aux est sont avec sans dans sur pour par qui montrant chez lors "
    "après "
    # German
    "der das den dem ein eine einer eines und ist sind mit ohne bei nach zum zur auf aus nicht "
    # Spanish, Portuguese, Italian
    "el los las con sin por para una uno unos es da das dos nas pelo pela lo gli della delle "
    "dello nella nel mostrando mostra "
    # Dutch
    "het een zonder bij uit niet"
)


def clean_caption(text: str) -> str:
    """The caption with ROCOv2's cleaning applied (see the module docstring)."""
    text = _MOJIBAKE.sub(_repair_mojibake, text)
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = "".join(" " if _is_control(ch) else ch for ch in text)
    text, urls = _URL.subn("", text)
    text = _FOOTNOTE_MARKS.sub("", text)
    text = _GLUED_SENTENCE.sub(" ", text)
    # Each tidying step can expose work for another ("(see <URL>)." -> "(see)." -> "()." -> "."):
    # repeat until nothing changes, so that cleaning a clean caption changes nothing.
    for _ in range(_TIDY_ROUNDS):
        tidied = _tidy(text, dangling_pointers=urls > 0)
        if tidied == text:
            break
        text = tidied
    return text


def _tidy(text: str, dangling_pointers: bool) -> str:
    text = re.sub(r"\s+", " ", text)
    text = _EMPTY_BRACKETS.sub("", text)
    if dangling_pointers:
        text = _DANGLING_POINTER.sub("", text)
    text = re.sub(r"([(\[])\s*[,;:]?\s*", r"\1", text)
    text = re.sub(r"\s+([,.;:!?)\]])", r"\1", text)
    text = re.sub(r"[,;:](?=[,;:.)\]])", "", text)
    text = re.sub(r"(?<!\.)\.\.(?!\.)", ".", text)  # "et al. (see <URL>)." left "et al.."
    # Leading punctuation (": Lateral X-ray", or ". Chest CT" after a URL), not ".5 mm".
    text = re.sub(r"^(?:[\s,;:]|\.(?!\d))+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _repair_mojibake(match: re.Match) -> str:
    try:
        return bytes(_MOJIBAKE_BYTES[ch] for ch in match[0]).decode("utf-8")
    except UnicodeDecodeError:
        return match[0]


def _is_control(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}


def words(text: str) -> list[str]:
    """The words of a text: runs of letters, with inner hyphens and apostrophes."""
    return _WORD.findall(text)


def caption_problem(text: str, min_words: int = DEFAULT_MIN_WORDS) -> str | None:
    """None when the caption is usable, else the reject reason."""
    found = words(text)
    if not found:
        return "caption_empty"
    if len(found) < min_words:
        return "caption_too_short"
    if not is_english(text):
        return "caption_not_english"
    return None


def is_english(text: str) -> bool:
    """Whether a caption is English (function words first, then py3langid; see module doc)."""
    lowered = [w.lower() for w in words(text)]
    english = sum(w in _ENGLISH for w in lowered)
    foreign = sum(w in _FOREIGN for w in lowered)
    if english > foreign:
        return True
    if foreign >= 2:
        return False
    language, probability = _identifier().classify(text)
    return language == "en" or probability < LANGID_MIN_PROBABILITY


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def _filter_rates(path: str) -> None:
    """Print the share of ROCO captions each filter removes, for choosing min_words."""
    with open(path, encoding="utf-8") as lines:
        captions = [clean_caption(line.split("\t", 1)[1]) for line in lines if "\t" in line]
    not_english = sum(not is_english(c) for c in captions if words(c))
    print(f"{len(captions)} captions; not English: {not_english / len(captions):.2%}")
    for min_words in range(1, 6):
        dropped = sum(caption_problem(c, min_words) is not None for c in captions)
        print(f"min_words={min_words}: drops {dropped} ({dropped / len(captions):.2%})")


if __name__ == "__main__":
    _filter_rates(sys.argv[1])
