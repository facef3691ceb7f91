"""Report: the funnel accounts for every figure and article."""

import pandas as pd

from roco import report
from roco.tables import rejects_frame


def test_funnel_counts_every_figure_and_article():
    rejects = rejects_frame(
        [
            {"stage": "select", "reason": "licence", "pmcid": "PMC1", "detail": ""},
            {"stage": "extract", "reason": "bad_xml", "pmcid": "PMC2", "detail": ""},
            {"stage": "extract", "reason": "missing_image", "pmcid": "PMC3", "id": "PMC3_F1"},
            {"stage": "classify", "reason": "compound", "pmcid": "PMC3", "id": "PMC3_F2"},
            {"stage": "classify", "reason": "compound", "pmcid": "PMC4", "id": "PMC4_F1"},
            {"stage": "dedup", "reason": "near_duplicate", "pmcid": "PMC4", "id": "PMC4_F2"},
        ]
    )
    dataset = pd.DataFrame(
        {
            "id": ["PMC3_F3", "PMC5_F1"],
            "pmcid": ["PMC3", "PMC5"],
            "split": ["train", "test"],
            "modality": ["CT", "MRI"],
            "licence": ["CC BY", "CC0"],
        }
    )
    stats = report.build_stats(rejects, dataset)
    figures = stats["figures"]
    assert figures["found"] == 6
    assert figures["released"] + sum(r["count"] for r in figures["rejected"]) == figures["found"]
    assert [(r["stage"], r["reason"], r["count"]) for r in figures["rejected"]] == [
        ("extract", "missing_image", 1),
        ("classify", "compound", 2),
        ("dedup", "near_duplicate", 1),
    ]
    assert [r["stage"] for r in stats["articles"]["rejected"]] == ["select", "extract"]
    assert stats["modalities"] == {"CT": 1, "MRI": 1}
    text = report.render_markdown(stats)
    assert "| classify | compound | 2 |" in text
    assert "**released** | | **2**" in text
