"""Caption cleaning and ROCOv2's caption filters (too short, not English)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from roco.captions import DEFAULT_MIN_WORDS, caption_problem, clean_caption, is_english, words


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Axial\n\tCT   of the\u00a0chest. ", "Axial CT of the chest."),
        ("Lesion (see http://www.example.org/case?id=3).", "Lesion."),
        ("Available at https://doi.org/10.1/x.", ""),
        ("https://x.org/a. Axial CT of the chest.", "Axial CT of the chest."),
        ("CT (from http://a.org/b, with permission).", "CT (with permission)."),
        ("MRI (Siemens, see https://s.com).", "MRI (Siemens)."),
        ("As in Smith et al. (see (www.x.org)).", "As in Smith et al."),
        ("Image from [http://x.org].", "Image."),
        ("Data from the trial (see Table 1).", "Data from the trial (see Table 1)."),
        ("Wait... what.", "Wait... what."),
        (": Lateral X-ray of the knee.", "Lateral X-ray of the knee."),
        (".5 mm slices of the liver.", ".5 mm slices of the liver."),
        ("Map (www.atlas.org) of the liver", "Map of the liver"),
        ("Mass (arrow).The wall is thick.", "Mass (arrow). The wall is thick."),
        ("Large mass.The wall is thick.", "Large mass. The wall is thick."),
        ("Values e.g. 3.5 mm in the U.S. cohort", "Values e.g. 3.5 mm in the U.S. cohort"),
        ("CT scan\u2020 of patient 2\u2021.", "CT scan of patient 2."),
        ("Soft\u00adtissue\u200b mass\x07 seen", "Softtissue mass seen"),
        ("Signal ( arrow ) , low .", "Signal (arrow), low."),
        ("e\u0301de\u0300me", "\u00e9d\u00e8me"),
    ],
)
def test_clean_caption(raw, clean):
    assert clean_caption(raw) == clean


def test_clean_caption_is_idempotent():
    raw = "Mass.The lesion (see http://x.org/a), 3 cm\u2020.  "
    once = clean_caption(raw)
    assert clean_caption(once) == once


# Pieces whose tidying exposes more tidying: URLs, pointer words, brackets, punctuation.
CAPTION_PIECES = [
    "see", "from", "available at", "CT", "mass.The", ".5", "5", "\u2020", " ", ".", "..", ",",
    ":", "(", ")", "[", "]", "http://x.org/a", "www.y.com",
]  # fmt: skip


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(CAPTION_PIECES), max_size=14).map("".join))
@example(",(:.) 5 ")  # bracket emptied in a second pass (one pass left ",(.) 5")
@example("( ,: ) (CT")
@example("Lesion (see (www.x.org)), et al.")
def test_cleaning_a_cleaned_caption_changes_nothing(raw):
    once = clean_caption(raw)
    assert clean_caption(once) == once


def test_words_count_letter_runs_only():
    assert words("Chest X-ray (A), 2 cm, patient's right") == [
        "Chest",
        "X-ray",
        "A",
        "cm",
        "patient's",
        "right",
    ]


@pytest.mark.parametrize(
    "caption",
    [
        "CT of the chest.",
        "Axial view",
        "MRI T2 FLAIR",
        "Chest X-ray PA view",
        "IL-6 and IL-2 levels in the SEM image",
        "De novo lesion resected en bloc, as in Smith et al.",
        "Posterior-anterior radiograph of a women with double major scoliosis.",
        "Cisterna magna and atlano-occipital fascia in CT sagittal image.",
    ],
)
def test_english_captions_with_abbreviations_are_english(caption):
    assert is_english(caption)
    assert caption_problem(caption) is None


@pytest.mark.parametrize(
    "caption",
    [
        "Axiale CT-Aufnahme mit einer Raumforderung im linken Lappen.",
        "Röntgenaufnahme des Thorax zeigt eine Verschattung der rechten Lunge.",
        "Imagen de TC axial que muestra una masa en el lóbulo izquierdo.",
        "Image TDM axiale montrant une masse dans le lobe gauche.",
        "Lacune intra-osseuse du calcanéus",
        "Radiografia de tórax mostrando derrame pleural à direita.",
    ],
)
def test_german_spanish_french_portuguese_captions_are_not_english(caption):
    assert not is_english(caption)
    assert caption_problem(caption) == "caption_not_english"


def test_caption_problem_reasons_and_min_words():
    assert caption_problem("") == "caption_empty"
    assert caption_problem("(1) 2.") == "caption_empty"
    assert caption_problem("(A)") == "caption_too_short"
    assert DEFAULT_MIN_WORDS == 2
    assert caption_problem("CT.") == "caption_too_short"
    assert caption_problem("Preop CT.") is None
    assert caption_problem("Preop CT.", min_words=3) == "caption_too_short"
    assert caption_problem("Chest radiograph at admission.", min_words=4) is None
