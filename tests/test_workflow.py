"""The real Snakefile end to end on a small generated demo corpus."""

import csv
import io
import json

import pyarrow.dataset as ds
import pytest
import yaml
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


def test_snakemake_report_has_the_funnel_and_plots(build):
    snakemake(build / "config.yaml", "--report", str(build / "report.html"))
    html = (build / "report.html").read_text()
    for name in (
        "funnel.csv",
        "modalities.png",
        "licences.png",
        "caption_lengths.png",
        "samples.jpg",
    ):
        assert name in html


def test_rerun_has_nothing_to_do(build):
    result = snakemake(build / "config.yaml", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_second_build_is_byte_identical(build, tmp_path):
    config = write_config(tmp_path)
    snakemake(config)
    first = (build / "results" / "dataset" / "checksums.sha256").read_text()
    second = (tmp_path / "results" / "dataset" / "checksums.sha256").read_text()
    assert first == second


def test_demo_shards_load_with_datasets_and_pyarrow(build, tmp_path):
    datasets = pytest.importorskip("datasets")
    data_dir = build / "results" / "dataset" / "data"
    loaded = datasets.load_dataset("parquet", data_dir=str(data_dir), cache_dir=str(tmp_path))
    table = ds.dataset(data_dir).to_table(columns=["id", "split"])
    assert sum(len(loaded[s]) for s in loaded) == table.num_rows
    first = next(iter(loaded.values()))[0]
    assert isinstance(first["image"], Image.Image) and first["image"].size[0] > 0


def test_rocov2_layout_reads_back_with_csv(build):
    release = build / "results" / "rocov2"
    rows = released(build)
    total = 0
    for split in SPLITS:
        with (release / f"{split}_captions.csv").open(newline="", encoding="utf-8") as handle:
            captions = list(csv.DictReader(handle))
        with (release / f"{split}_concepts.csv").open(newline="", encoding="utf-8") as handle:
            concepts = list(csv.DictReader(handle))
        assert [c["ID"] for c in captions] == [c["ID"] for c in concepts]
        for row in captions:
            assert (release / split / f"{row['ID']}.jpg").is_file()
        total += len(captions)
    assert total == len(rows)
    with (release / "cui_mapping.csv").open(newline="", encoding="utf-8") as handle:
        mapping = {r["CUI"] for r in csv.DictReader(handle)}
    assert {c for row in rows for c in row["cuis"]} <= mapping


def test_growing_the_corpus_never_moves_an_article_between_splits(build):
    def splits():
        rows = ds.dataset(build / "results" / "dataset" / "data").to_table(
            columns=["pmcid", "split"]
        )
        return dict(zip(rows["pmcid"].to_pylist(), rows["split"].to_pylist(), strict=True))

    before = splits()
    config = yaml.safe_load((build / "config.yaml").read_text())
    config["source"]["demo_articles"] += 20
    (build / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(build / "config.yaml")
    after = splits()
    assert len(after) > len(before)
    assert {p: after[p] for p in before if p in after} == {
        p: s for p, s in before.items() if p in after
    }
    assert len([p for p in before if p in after]) >= len(before) - 2  # dedup may move a figure
