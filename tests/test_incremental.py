"""Workflow tests of the sources: incremental rebuilds, and a cloud build over a faulty network.

A demo corpus of 40 articles (four chunks of PMC ids, as a `bucket` mirror) is built in full.
Then one article is added (chunk c01001), one gets a new version (c01001) and one is retracted
(c01002), each publishing a newer inventory. After the plan checkpoint is made again,
`snakemake -n` must schedule the per-chunk jobs of exactly c01001 and c01002 plus the global
tail; the rebuilt shards must hold the new version and no figure of the retracted article.

The same corpus served by a loopback HTTP server that injects faults (tests/bucket_server.py),
built as `kind: cloud`, must give byte-identical shards to the offline build.
"""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bucket_server import start
from test_fetch import objects_of, selected_pmcids

from roco.demo import add_article_version, generate_demo_corpus, retract_article

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
ARTICLES = 40  # article i sits in id range i % 4: chunks c01001..c01004
PER_CHUNK_RULES = ("extract", "classify", "annotate")


def snakemake(workdir: Path, *args: str) -> str:
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(workdir / "config.yaml"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def scheduled(dry_run: str) -> tuple[Counter, set[tuple[str, str]]]:
    """(jobs per rule from the Job stats table, (rule, chunk) pairs) of a dry-run's output."""
    counts = Counter()
    table = dry_run.split("Job stats:", 1)[1].split("total", 1)[0]
    for line in table.splitlines():
        if m := re.match(r"^(\w+)\s+(\d+)$", line.strip()):
            counts[m[1]] = int(m[2])
    pairs = set(re.findall(r"rule (\w+):\n(?:\s+\w+:.*\n)*?\s+wildcards: chunk=(c\d+)", dry_run))
    return counts, pairs


def shard_rows(results: Path) -> pd.DataFrame:
    shards = sorted((results / "dataset").rglob("*.parquet"))
    assert shards, "the build wrote no shards"
    return pd.concat(
        [pd.read_parquet(p, columns=["id", "pmcid", "version"]) for p in shards], ignore_index=True
    )


def configure(workdir: Path, source: dict) -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["results"] = str(workdir / "results")
    config["source"] = source
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    generate_demo_corpus(root / "corpus", ARTICLES, 7)
    configure(root, {"kind": "bucket", "dir": str(root / "corpus")})
    snakemake(root, "--cores", "2")
    return root


def in_chunk(rows: pd.DataFrame, base: int) -> list[str]:
    numbers = rows["pmcid"].str.removeprefix("PMC").astype(int)
    return sorted(set(rows.loc[(numbers >= base) & (numbers < base + 10_000), "pmcid"]))


def test_only_changed_chunks_and_the_tail_rerun(workdir):
    results = workdir / "results"
    before = shard_rows(results)
    revised = in_chunk(before, 10_010_000)[0]
    retracted = in_chunk(before, 10_020_000)[0]

    generate_demo_corpus(workdir / "corpus", ARTICLES + 1, 7)  # article 40 joins c01001
    add_article_version(workdir / "corpus", revised)
    retract_article(workdir / "corpus", retracted)

    assert "Nothing to be done" not in snakemake(
        workdir, "--cores", "1", str(results / "plan" / "chunks.tsv")
    )
    counts, pairs = scheduled(snakemake(workdir, "-n"))
    print("scheduled jobs after the update:", dict(sorted(counts.items())))
    chunks = {chunk for rule, chunk in pairs if rule in PER_CHUNK_RULES}
    assert chunks == {"c01001", "c01002"}
    assert counts["extract"] == 2
    assert {"dedup", "split", "dataset"} <= set(counts), counts

    snakemake(workdir, "--cores", "2")
    after = shard_rows(results)
    assert retracted in set(before["pmcid"]) and retracted not in set(after["pmcid"])
    assert set(after.loc[after["pmcid"] == revised, "version"]) == {2}
    unchanged = before[before["pmcid"].str.startswith(("PMC1003", "PMC1004"))]
    assert set(unchanged["id"]) <= set(after["id"])

    # Nothing changed since: nothing to do.
    assert "Nothing to be done" in snakemake(workdir, "-n")


def test_cloud_build_through_faults_gives_the_offline_shards(tmp_path):
    corpus = tmp_path / "corpus"
    generate_demo_corpus(corpus, 24, 7)
    configure(tmp_path / "offline", {"kind": "bucket", "dir": str(corpus)})
    snakemake(tmp_path / "offline", "--cores", "2")

    server = start(corpus, stall=1.0)
    a, b, c = selected_pmcids(corpus)[:3]
    (meta_a, xml_a, media_a), (_, xml_b, media_b) = objects_of(corpus, a), objects_of(corpus, b)
    meta_c, _, media_c = objects_of(corpus, c)
    server.faults.update(
        {
            meta_a: ["503", "truncate"],
            xml_a: ["timeout", "500"],
            media_a[0]: ["badmd5", "timeout"],
            xml_b: ["truncate"],
            media_b[0]: ["503", "503", "badmd5"],
            meta_c: ["timeout"],
            media_c[0]: ["truncate"],
        }
    )
    settings = {"timeout": 0.5, "retries": 4, "backoff": 0.001, "rate_limit": 0}
    source = {"kind": "cloud", "dir": str(tmp_path / "cache"), "base_url": server.url, **settings}
    configure(tmp_path / "online", source)
    try:
        snakemake(tmp_path / "online", "--cores", "2")
    finally:
        server.shutdown()
        server.server_close()
    assert not any(server.faults.values()), "every injected fault was served"
    offline = sorted((tmp_path / "offline" / "results" / "dataset").rglob("*.parquet"))
    online = sorted((tmp_path / "online" / "results" / "dataset").rglob("*.parquet"))
    assert offline and [p.name for p in online] == [p.name for p in offline]
    for x, y in zip(offline, online, strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name
