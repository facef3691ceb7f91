"""The real Snakefile end to end on a small generated demo corpus."""

import io
import json

import pyarrow.dataset as ds
import pytest
from PIL import Image
from workflow_helpers import snakemake, write_config

from roco.split import SPLITS

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    config = write_config(root)
    snakemake(config)
    return root


def released(root):
    return ds.dataset(root / "results" / "dataset" / "data").to_table().to_pylist()


def test_every_row_is_complete_and_counted_by_the_report(build):
    rows = released(build)
    stats = json.loads((build / "results" / "report" / "stats.json").read_text())
    assert len(rows) == stats["figures"]["released"] > 0
    for row in rows:
        with Image.open(io.BytesIO(row["image"]["bytes"])) as img:
            img.load()
        assert row["caption"].strip()
        assert row["licence"] in {"CC BY", "CC BY-NC", "CC0"}
        assert row["split"] in SPLITS
        assert row["phash"] and row["modality"]


def test_funnel_accounts_for_every_figure_of_the_corpus(build):
    manifest = json.loads((build / "demo" / "demo_manifest.json").read_text())
    latest = {}
    for article in manifest["articles"]:
        if article["version"] > latest.get(article["pmcid"], {"version": 0})["version"]:
            latest[article["pmcid"]] = article
    selected = [
        a
        for a in latest.values()
        if a["is_pmc_openaccess"]
        and not a["retracted"]
        and not a["malformed_xml"]
        and a["licence"] in {"CC BY", "CC BY-NC", "CC0"}
    ]
    expected = sum(len(a["figures"]) for a in selected)
    stats = json.loads((build / "results" / "report" / "stats.json").read_text())
    figures = stats["figures"]
    assert figures["found"] == expected
    rejected = sum(r["count"] for r in figures["rejected"])
    assert figures["released"] + rejected == expected
    article_reasons = {r["reason"] for r in stats["articles"]["rejected"]}
    assert {"superseded_version", "retracted", "licence", "bad_xml"} <= article_reasons


def test_rerun_has_nothing_to_do(build):
    result = snakemake(build / "config.yaml", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_second_build_is_byte_identical(build, tmp_path):
    config = write_config(tmp_path)
    snakemake(config)
    first = (build / "results" / "dataset" / "checksums.sha256").read_text()
    second = (tmp_path / "results" / "dataset" / "checksums.sha256").read_text()
    assert first == second
