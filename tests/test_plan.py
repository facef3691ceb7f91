"""Plan: stable chunks, latest versions, digests that change exactly with a chunk's articles."""

import pandas as pd

from roco import plan
from roco.sources import InventoryRow


def row(number, version=1, etag="e"):
    return InventoryRow(number, version, f"metadata/PMC{number}.{version}.json", etag)


def test_chunk_is_a_fixed_id_range():
    assert plan.chunk_name(10_009_999, 10_000) == "c01000"
    assert plan.chunk_name(10_010_000, 10_000) == "c01001"


def test_latest_version_kept_and_older_rejected():
    articles, rejects = plan.plan_articles([row(5, 1), row(5, 2), row(7, 1)], 10)
    assert list(zip(articles["pmcid"], articles["version"], strict=True)) == [
        ("PMC5", 2),
        ("PMC7", 1),
    ]
    assert [(r["pmcid"], r["version"], r["reason"]) for r in rejects] == [
        ("PMC5", 1, "superseded_version")
    ]


def test_digest_changes_only_for_the_chunk_that_changed():
    before, _ = plan.plan_articles([row(1), row(2), row(15)], 10)
    after, _ = plan.plan_articles([row(1), row(2, etag="new"), row(15), row(25)], 10)
    old, new = plan.chunk_digests(before), plan.chunk_digests(after)
    assert old["c00001"] == new["c00001"]
    assert old["c00000"] != new["c00000"]
    assert "c00002" in new and "c00002" not in old


def test_digest_does_not_depend_on_row_order():
    rows = [row(1), row(2), row(3)]
    a, _ = plan.plan_articles(rows, 10)
    b = a.iloc[::-1].reset_index(drop=True)
    assert plan.chunk_digests(a) == plan.chunk_digests(b)


def test_select_reason():
    ok = {"is_pmc_openaccess": True, "license_code": "CC BY", "is_retracted": False}
    licences = {"CC BY", "CC0"}
    assert plan.select_reason(ok, licences) is None
    assert plan.select_reason({**ok, "is_retracted": True}, licences)[0] == "retracted"
    assert plan.select_reason({**ok, "license_code": "CC BY-ND"}, licences)[0] == "licence"
    assert plan.select_reason({**ok, "is_pmc_openaccess": False}, licences)[0] == "not_open_access"


def test_chunk_file_round_trip(tmp_path):
    articles, _ = plan.plan_articles([row(1), row(12), row(13)], 10)
    path = tmp_path / "articles.parquet"
    articles.to_parquet(path)
    assert [r.pmcid for r in plan.chunk_rows(path, "c00001")] == ["PMC12", "PMC13"]
    plan.write_chunks(plan.chunk_digests(articles), articles, tmp_path / "chunks.tsv")
    chunks = pd.read_csv(tmp_path / "chunks.tsv", sep="\t")
    assert list(chunks["chunk"]) == ["c00000", "c00001"]
    assert list(chunks["articles"]) == [1, 2]


def test_sample_is_even_and_deterministic(tmp_path):
    articles, _ = plan.plan_articles([row(n) for n in range(100, 200)], 10)
    path = tmp_path / "articles.parquet"
    articles.to_parquet(path)
    sample = plan.sample_rows(path, 10)
    assert [r.pmc_number for r in sample] == list(range(100, 200, 10))
    assert plan.sample_rows(path, 500) == plan.chunk_rows(path, "c00010") + [
        r for c in range(11, 20) for r in plan.chunk_rows(path, f"c{c:05d}")
    ]
