"""The demo corpus: deterministic, prefix-stable, Cloud Service layout, every edge case."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
from pathlib import Path

import imagehash
import numpy as np
import pytest
from lxml import etree
from PIL import Image

from roco.demo import (
    LICENCES,
    MANIFEST_NAME,
    add_article_version,
    generate_demo_corpus,
    load_manifest,
    read_latest_inventory,
    retract_article,
)
from roco.modalities import MODALITIES
from roco.sources import INVENTORY_PREFIX, local_bucket, split_s3_url

JSON_FIELDS = [
    "pmcid",
    "version",
    "pmid",
    "doi",
    "title",
    "citation",
    "is_pmc_openaccess",
    "is_manuscript",
    "is_retracted",
    "license_code",
    "xml_url",
    "pdf_url",
    "media_urls",
    "text_url",
]
SMALL = 28  # edge cases sit below index 25


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    generate_demo_corpus(root, SMALL)
    return root


@pytest.fixture(scope="module")
def default(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("default")
    return root, generate_demo_corpus(root)


@pytest.fixture()
def scratch(small, tmp_path) -> Path:
    """A private copy of the small corpus that a test may change."""
    root = tmp_path / "corpus"
    shutil.copytree(small, root)
    return root


def figures(manifest: dict):
    for article in manifest["articles"]:
        for figure in article["figures"]:
            yield article, figure


def xml_root(root: Path, prefix: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.parse(str(root / prefix / f"{prefix}.xml"), parser).getroot()


def test_two_generations_are_byte_identical(small, tmp_path):
    generate_demo_corpus(tmp_path, SMALL)
    assert tree_digest(tmp_path) == tree_digest(small)


def test_more_articles_keep_the_first_ones_byte_identical(small, tmp_path):
    generate_demo_corpus(tmp_path, SMALL + 8)
    before, after = tree_digest(small), tree_digest(tmp_path)
    articles = {k: v for k, v in before.items() if k.startswith(("PMC", "metadata/"))}
    assert articles and all(after.get(k) == v for k, v in articles.items())
    assert len(load_manifest(tmp_path)["articles"]) == len(load_manifest(small)["articles"]) + 8
    old_rows, new_rows = read_latest_inventory(small)[1], read_latest_inventory(tmp_path)[1]
    assert all(new_rows[k] == v for k, v in old_rows.items())


def test_regenerating_over_an_updated_corpus_restores_it(small, scratch):
    add_article_version(scratch, load_manifest(scratch)["articles"][3]["pmcid"])
    retract_article(scratch, load_manifest(scratch)["articles"][6]["pmcid"])
    generate_demo_corpus(scratch, SMALL)
    assert tree_digest(scratch) == tree_digest(small)


def test_ids_fill_four_chunks_of_ten_thousand(default):
    root, _ = default
    numbers = [int(a["pmcid"][3:]) for a in load_manifest(root)["articles"]]
    assert sorted({n // 10_000 for n in numbers}) == [1001, 1002, 1003, 1004]
    assert len(set(numbers)) == 240


def test_metadata_json_has_the_cloud_service_fields_and_true_md5s(small):
    for path in sorted((small / "metadata").glob("*.json")):
        meta = json.loads(path.read_bytes())
        assert list(meta) == JSON_FIELDS
        prefix = f"{meta['pmcid']}.{meta['version']}"
        assert path.name == f"{prefix}.json"
        assert (small / prefix / path.name).read_bytes() == path.read_bytes()
        assert isinstance(meta["pmid"], str) and isinstance(meta["version"], int)
        assert meta["license_code"] in LICENCES
        assert meta["is_pmc_openaccess"] == (meta["license_code"] != "TDM")
        assert meta["pdf_url"] is None and meta["text_url"] is None
        for url in [meta["xml_url"], *meta["media_urls"]]:
            key, md5 = split_s3_url(url)
            assert url.startswith(f"s3://pmc-oa-opendata/{prefix}/")
            assert hashlib.md5((small / key).read_bytes()).hexdigest() == md5


def test_inventory_lists_every_version_and_reads_through_the_source(small):
    rows = local_bucket(small).inventory()
    manifest = load_manifest(small)
    assert [r.key for r in rows] == [a["key"] for a in manifest["articles"]]
    folders = sorted((small / INVENTORY_PREFIX).iterdir())
    assert [f.name for f in folders] == ["2026-01-08T01-00Z", "data"]
    inventory = json.loads((folders[0] / "manifest.json").read_text())
    assert inventory["fileSchema"] == "Bucket, Key, LastModifiedDate, ETag"
    assert inventory["sourceBucket"] == "pmc-oa-opendata" and inventory["fileFormat"] == "CSV"
    for part in inventory["files"]:
        data = (small / part["key"]).read_bytes()
        assert len(data) == part["size"]
        assert hashlib.md5(data).hexdigest() == part["MD5checksum"]
        first = gzip.decompress(data).decode().splitlines()[0]
        assert first.startswith('"pmc-oa-opendata","metadata/PMC')
        assert first.split(",")[2].endswith('.000Z"')


def test_every_manifest_figure_exists_except_the_missing_one(default):
    root, summary = default
    manifest = load_manifest(root)
    missing = []
    for article, figure in figures(manifest):
        path = root / f"{article['pmcid']}.{article['version']}" / figure["file"]
        if figure["missing"]:
            missing.append(path)
            assert not path.exists()
        else:
            with Image.open(path) as img:
                assert min(img.size) >= 96 and max(img.size) <= 576
    assert len(missing) == 1
    assert 600 <= summary["figures"] <= 800


def test_xml_parses_except_the_truncated_one_and_names_the_manifest_graphics(default):
    root, _ = default
    malformed = []
    for article in load_manifest(root)["articles"]:
        prefix = f"{article['pmcid']}.{article['version']}"
        try:
            tree = xml_root(root, prefix)
        except etree.XMLSyntaxError:
            malformed.append(article)
            continue
        assert not article["malformed_xml"]
        hrefs = {
            g.get("{http://www.w3.org/1999/xlink}href")
            for g in tree.iter("graphic", "inline-graphic")
        }
        expected = {f["href"] for f in article["figures"]}
        assert hrefs == expected | set(article["non_figure_graphics"])
    assert len(malformed) == 1 and malformed[0]["malformed_xml"]


def test_the_default_corpus_has_every_edge_case(default):
    root, summary = default
    manifest = load_manifest(root)
    articles = manifest["articles"]
    retracted = [a for a in articles if a["retracted"]]
    assert len(retracted) == 1
    meta = json.loads((root / retracted[0]["key"]).read_text())
    assert meta["is_retracted"] is True
    versions: dict[str, list[dict]] = {}
    for a in articles:
        versions.setdefault(a["pmcid"], []).append(a)
    (twice,) = [v for v in versions.values() if len(v) > 1]
    assert [a["version"] for a in twice] == [1, 2]
    assert twice[0]["figures"][0]["caption"] != twice[1]["figures"][0]["caption"]
    inventory = read_latest_inventory(root)[1]
    assert all(a["key"] in inventory for a in twice)
    assert set(summary["licences"]) == set(LICENCES)
    all_figures = [f for _, f in figures(manifest)]
    issues = {f["caption_issue"] for f in all_figures}
    assert {"too_short", "non_english"} <= issues
    assert any(f["caption"] == "Figure 3." for f in all_figures)
    assert {f["language"] for f in all_figures} >= {"en", "de", "es"}
    assert any(f["file"].endswith(".png") for f in all_figures)
    assert any(f["href"] == f["file"].removesuffix(".jpg") for f in all_figures)
    assert any(f["group"] for f in all_figures)
    assert any(f["licence"] != a["licence"] for a, f in figures(manifest))
    counts: dict[tuple[str, str], int] = {}
    for a, f in figures(manifest):
        counts[a["key"], f["figure_id"]] = counts.get((a["key"], f["figure_id"]), 0) + 1
    assert max(counts.values()) == 2  # one <fig> holds two graphics
    compound = [f for f in all_figures if f["compound"]]
    assert {f["panels"] for f in compound} == {3, 4}
    assert all("(A)" in f["caption"] and "(B)" in f["caption"] for f in compound)
    kinds = {f["kind"] for f in all_figures}
    assert kinds == {
        "ct", "mri", "xray", "ultrasound", "angiography", "chart", "microscopy", "photo",
        "diagram",
    }  # fmt: skip
    assert {f["modality"] for f in all_figures if f["radiology"]} <= set(MODALITIES)


def test_rich_jats_constructs_are_present(default):
    root, _ = default
    names = ["fig-group", "floats-group", "app", "caption-ext-link", "caption-formula"]
    names += ["body-formula", "fig-permissions", "disp-formula", "sub-article"]
    found = dict.fromkeys(names, 0)
    for article in load_manifest(root)["articles"]:
        if article["malformed_xml"]:
            continue
        tree = xml_root(root, f"{article['pmcid']}.{article['version']}")
        found["fig-group"] += len(tree.findall(".//fig-group"))
        found["floats-group"] += len(tree.findall("floats-group/fig"))
        found["app"] += len(tree.findall("back/app-group/app/fig"))
        found["sub-article"] += len(tree.findall("sub-article/body/fig"))
        found["caption-ext-link"] += len(tree.findall(".//fig/caption//ext-link"))
        found["caption-formula"] += len(tree.findall(".//fig/caption//inline-formula"))
        found["body-formula"] += len(tree.findall("body//p/inline-formula"))
        found["fig-permissions"] += len(tree.findall(".//fig/permissions/license"))
        found["disp-formula"] += len(tree.findall(".//disp-formula/graphic"))
        ids = {e.get("pub-id-type") for e in tree.iter("article-id")}
        assert {"pmid", "doi"} <= ids and ids & {"pmc", "pmcid"}
    assert all(found.values()), found
    locations = {f["location"] for _, f in figures(load_manifest(root))}
    assert locations == {"body", "floats-group", "app", "sub-article"}


def test_near_duplicates_hash_close_to_their_original(default):
    root, summary = default
    manifest = load_manifest(root)
    pairs = [(a, f) for a, f in figures(manifest) if f["duplicate_of"]]
    assert summary["duplicates"] == len(pairs) >= 10
    exact = [f for _, f in pairs if f["exact_copy"]]
    assert exact
    for article, figure in pairs:
        copy = (root / f"{article['pmcid']}.{article['version']}" / figure["file"]).read_bytes()
        original = (root / figure["duplicate_of"]).read_bytes()
        assert (copy == original) == figure["exact_copy"]
        distance = imagehash.phash(Image.open(io.BytesIO(copy))) - imagehash.phash(
            Image.open(io.BytesIO(original))
        )
        assert distance <= 4


def test_images_carry_the_signals_of_their_kind(small):
    """Radiology is grey, charts and diagrams mostly white, histology pink: what classifiers use."""
    manifest = load_manifest(small)
    for article, figure in figures(manifest):
        if figure["missing"] or figure["compound"]:
            continue
        path = small / f"{article['pmcid']}.{article['version']}" / figure["file"]
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
        spread = np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean()
        if figure["radiology"]:
            assert spread < 2, figure
        elif figure["kind"] in ("chart", "diagram"):
            assert (rgb.min(axis=2) > 240).mean() > 0.5, figure
        elif figure["kind"] == "microscopy":
            assert spread > 10, figure


def test_add_article_version_changes_exactly_that_article(scratch):
    manifest = load_manifest(scratch)
    target = manifest["articles"][5]
    day, before = read_latest_inventory(scratch)
    key = add_article_version(scratch, target["pmcid"])
    assert key == f"metadata/{target['pmcid']}.{target['version'] + 1}.json"
    new_day, after = read_latest_inventory(scratch)
    assert (new_day - day).days == 1
    assert set(after) == set(before) | {key}
    assert {k: v for k, v in after.items() if k != key} == before
    meta = json.loads((scratch / key).read_text())
    xml_key, md5 = split_s3_url(meta["xml_url"])
    assert hashlib.md5((scratch / xml_key).read_bytes()).hexdigest() == md5
    assert b"corrected in version 2" in (scratch / xml_key).read_bytes()
    versions = [a for a in load_manifest(scratch)["articles"] if a["pmcid"] == target["pmcid"]]
    assert [a["version"] for a in versions] == [1, 2]
    assert [r.version for r in local_bucket(scratch).inventory() if r.pmcid == target["pmcid"]] == [
        1,
        2,
    ]


def test_retract_article_changes_only_its_etag(scratch):
    target = load_manifest(scratch)["articles"][7]
    day, before = read_latest_inventory(scratch)
    retract_article(scratch, target["pmcid"])
    new_day, after = read_latest_inventory(scratch)
    assert new_day > day and set(after) == set(before)
    changed = {k for k in after if after[k][1] != before[k][1]}
    assert changed == {target["key"]}
    meta = json.loads((scratch / target["key"]).read_text())
    assert meta["is_retracted"] is True
    prefix = f"{target['pmcid']}.{target['version']}"
    assert (scratch / prefix / f"{prefix}.json").read_bytes() == (
        scratch / target["key"]
    ).read_bytes()
    assert [a for a in load_manifest(scratch)["articles"] if a["key"] == target["key"]][0][
        "retracted"
    ]


def test_bad_requests_raise_clear_errors(scratch):
    with pytest.raises(ValueError, match="n_articles"):
        generate_demo_corpus(scratch, 0)
    with pytest.raises(KeyError, match="PMC1"):
        add_article_version(scratch, "PMC1")
    assert (scratch / MANIFEST_NAME).is_file()


def test_every_kind_draws_at_panel_sizes():
    """Panels of compound figures can be small; no drawing may fail on them (it once did)."""
    import numpy as np

    from roco.demo_images import DRAW

    for kind, draw in DRAW.items():
        for seed in range(40):
            img = draw(np.random.default_rng(seed), 60, 48)
            assert img.size == (60, 48), kind
