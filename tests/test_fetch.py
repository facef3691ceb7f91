"""The Cloud Service source over HTTP: faults, retries, md5, resume, listing, rate limit.

Every test talks to a real HTTP server on loopback (tests/bucket_server.py) that serves a
generated demo corpus in the bucket layout and injects faults.
"""

import json
import socket
import time

import pytest
from bucket_server import start

from roco import extract, fetch, plan, sources, tables
from roco.demo import add_article_version, generate_demo_corpus, load_manifest, retract_article

CFG = extract.ExtractConfig(licences=frozenset({"CC BY", "CC BY-NC", "CC0"}))
FAST = {"timeout": 0.3, "retries": 3, "backoff": 0.001, "rate_limit": 0, "max_failures": 50}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bucket")
    generate_demo_corpus(root, 24, 7)
    return root


@pytest.fixture
def server(corpus):
    srv = start(corpus, stall=1.0)
    yield srv
    srv.shutdown()
    srv.server_close()


def cloud(server, cache, **extra):
    settings = {"kind": "cloud", "dir": str(cache), "base_url": server.url, **FAST, **extra}
    return sources.open_source(settings)


def build(source, path):
    """Extract every latest article version and write the tables, as a chunk job would."""
    rows, _ = plan.latest_versions(source.inventory())
    figures, rejects = extract.extract_chunk(source, rows, CFG)
    tables.write_frame(figures, path / "figures.parquet", "figures")
    tables.write_frame(rejects, path / "rejects.parquet", "rejects")
    return figures, rejects


def objects_of(corpus, pmcid):
    """(metadata key, xml key, keys of the figure images) of the latest version of `pmcid`."""
    record = max(
        (r for r in load_manifest(corpus)["articles"] if r["pmcid"] == pmcid),
        key=lambda r: r["version"],
    )
    prefix = f"{pmcid}.{record['version']}"
    media = [f"{prefix}/{f['file']}" for f in record["figures"] if not f["missing"]]
    return record["key"], f"{prefix}/{prefix}.xml", media


def selected_pmcids(corpus):
    licences = CFG.licences
    return [
        r["pmcid"]
        for r in load_manifest(corpus)["articles"]
        if r["licence"] in licences and not r["retracted"] and not r["malformed_xml"]
    ]


def test_transient_faults_give_byte_identical_tables(corpus, server, tmp_path):
    offline = tmp_path / "offline"
    online = tmp_path / "online"
    build(sources.local_bucket(corpus), offline)
    a, b, c = selected_pmcids(corpus)[:3]
    meta_a, xml_a, media_a = objects_of(corpus, a)
    _, xml_b, media_b = objects_of(corpus, b)
    meta_c, _, media_c = objects_of(corpus, c)
    server.faults.update(
        {
            meta_a: ["500", "truncate"],
            xml_a: ["timeout"],
            media_a[0]: ["503", "badmd5", "truncate"],
            xml_b: ["truncate", "badmd5"],
            media_b[0]: ["timeout", "500"],
            meta_c: ["503"],
            media_c[0]: ["badmd5"],
        }
    )
    manifest = json.loads(sources.newest_inventory_manifest(corpus).read_text())
    server.faults[manifest["files"][0]["key"]] = ["truncate", "503"]
    build(cloud(server, tmp_path / "cache"), online)
    for name in ("figures.parquet", "rejects.parquet"):
        assert (online / name).read_bytes() == (offline / name).read_bytes(), name
    assert not any(server.faults.values()), "every injected fault was served"
    # Only the XML, the JSON and the figure images are fetched: no PDF, text or formula images.
    fetched = {k for k in server.requests if not k.startswith(("metadata/", "inventory-", "?"))}
    assert all(k.endswith((".xml", ".jpg", ".png", ".tif", ".gif")) for k in fetched)
    formulas = {
        f"{r['pmcid']}.{r['version']}/{name}"
        for r in load_manifest(corpus)["articles"]
        for name in r["non_figure_graphics"]
    }
    assert formulas and not fetched & formulas


def test_persistent_failures_become_reject_rows(corpus, server, tmp_path):
    a, b = selected_pmcids(corpus)[:2]
    meta_a, _, _ = objects_of(corpus, a)
    _, xml_b, media_b = objects_of(corpus, b)
    server.persistent.update({meta_a: "503", xml_b: "badmd5"})
    server.persistent[media_b[0]] = "404"  # never retried
    figures, rejects = build(cloud(server, tmp_path / "cache", retries=2), tmp_path)
    failed = rejects[rejects["reason"] == "fetch_failed"]
    assert sorted(failed["pmcid"]) == sorted([a, b])
    assert "HTTP 503" in failed.set_index("pmcid").loc[a, "detail"]
    assert "md5 mismatch" in failed.set_index("pmcid").loc[b, "detail"]
    assert server.requests.count(meta_a) == 3  # first attempt + 2 retries
    assert server.requests.count(media_b[0]) == 0  # b's XML never arrived, so no image fetch
    assert a not in set(figures["pmcid"]) and b not in set(figures["pmcid"])


def test_missing_image_is_not_retried_and_is_a_reject(corpus, server, tmp_path):
    pmcid = selected_pmcids(corpus)[0]
    _, _, media = objects_of(corpus, pmcid)
    server.persistent[media[0]] = "404"
    _, rejects = build(cloud(server, tmp_path / "cache"), tmp_path)
    bad = rejects[(rejects["pmcid"] == pmcid) & rejects["id"].notna()]
    assert len(bad) >= 1 and "HTTP 404" in bad["detail"].iloc[0]
    assert set(bad["reason"]) == {"fetch_failed"}
    assert server.requests.count(media[0]) == len(bad)


def test_resume_fetches_nothing_twice(corpus, server, tmp_path):
    cache = tmp_path / "cache"
    first = build(cloud(server, cache), tmp_path)[0]
    pmcid = selected_pmcids(corpus)[0]
    _, _, media = objects_of(corpus, pmcid)
    # A crash left one image missing and another damaged: only those two are fetched again.
    (cache / media[0]).unlink()
    (cache / media[1]).write_bytes(b"partial")
    server.requests.clear()
    second = build(cloud(server, cache), tmp_path)[0]
    assert sorted(server.requests) == sorted(media[:2])
    assert first.equals(second)


def test_new_etag_fetches_the_metadata_again(tmp_path):
    corpus = tmp_path / "bucket"
    generate_demo_corpus(corpus, 24, 7)
    srv = start(corpus)
    try:
        pmcid = selected_pmcids(corpus)[0]
        source = cloud(srv, tmp_path / "cache")
        row = next(r for r in source.inventory() if r.pmcid == pmcid)
        assert source.metadata(row)["is_retracted"] is False
        retract_article(corpus, pmcid)
        source = cloud(srv, tmp_path / "cache")  # "latest" now lists the new inventory
        (tmp_path / "cache" / sources.INVENTORY_PREFIX).rename(tmp_path / "old-inventory")
        new_row = next(r for r in source.inventory() if r.pmcid == pmcid)
        assert new_row.etag != row.etag
        assert source.metadata(new_row)["is_retracted"] is True
        assert source.metadata(row)["is_retracted"] is True  # the cache follows the ETag
    finally:
        srv.shutdown()
        srv.server_close()


def test_inventory_latest_and_explicit_pmcids(tmp_path):
    corpus = tmp_path / "bucket"
    generate_demo_corpus(corpus, 24, 7)
    pmcid = selected_pmcids(corpus)[1]
    add_article_version(corpus, pmcid)
    srv = start(corpus)
    srv.page_size = 2  # listings come in pages of two
    try:
        client = fetch.HttpClient(fetch.HttpSettings(**FAST))
        dates = fetch.inventory_dates(client, srv.url)
        assert dates == ["2026-01-08T01-00Z", "2026-01-09T01-00Z"]
        rows = cloud(srv, tmp_path / "cache").inventory()
        assert [r.version for r in rows if r.pmcid == pmcid] == [1, 2]
        assert len({r.pmcid for r in rows}) == 24
        listed = cloud(srv, tmp_path / "c2", pmcids=[pmcid, "PMC1"]).inventory()
        assert [(r.pmcid, r.version) for r in listed] == [(pmcid, 1), (pmcid, 2)]
        assert all(r.etag for r in listed)
    finally:
        srv.shutdown()
        srv.server_close()


def test_rate_limit_spaces_requests():
    limiter = fetch.RateLimiter(20.0)
    start_time = time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - start_time >= 0.24


def test_network_down_stops_instead_of_rejecting_everything(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    settings = fetch.HttpSettings(
        base_url=f"http://127.0.0.1:{port}", timeout=0.3, retries=1, backoff=0.001, rate_limit=0
    )
    settings = fetch.HttpSettings(**{**settings.__dict__, "max_failures": 3})
    get = fetch.CachedFetch(
        fetch.HttpClient(settings), fetch.ObjectCache(tmp_path), settings.base_url
    )
    for key in ("a.jpg", "b.jpg"):
        with pytest.raises(sources.SourceError, match="failed after 2 attempts"):
            get(key, "00")
    with pytest.raises(fetch.NetworkDown):
        get("c.jpg", "00")


def test_cache_refuses_keys_outside_it(tmp_path):
    with pytest.raises(sources.SourceError, match="outside"):
        fetch.ObjectCache(tmp_path / "cache").path("../etc/passwd")


def run_fetch_cli(argv):
    import argparse

    from roco import fetch_cli

    parser = argparse.ArgumentParser(prog="roco")
    fetch_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def test_roco_fetch_lists_and_fetches_one_article(tmp_path, capsys):
    corpus = tmp_path / "bucket"
    generate_demo_corpus(corpus, 24, 7)
    pmcid = selected_pmcids(corpus)[0]
    add_article_version(corpus, pmcid)
    srv = start(corpus)
    try:
        argv = ["fetch", pmcid, "PMC999", "--base-url", srv.url, "--cache", str(tmp_path / "c")]
        assert run_fetch_cli([*argv, "--retries", "0", "--rate-limit", "0"]) == 1  # PMC999
        out, err = capsys.readouterr()
        result = json.loads(out)
        assert (result["versions"], result["version"]) == ([1, 2], 2)
        _, _, images = objects_of(corpus, pmcid)
        assert result["images"] == sorted(k.rsplit("/", 1)[1] for k in images)
        assert all((tmp_path / "c" / k).is_file() for k in images)
        assert json.loads(err)["item"] == "PMC999"
        srv.requests.clear()
        assert run_fetch_cli([*argv[:2], *argv[3:], "--rate-limit", "0"]) == 0
        assert srv.requests == [f"?list metadata/{pmcid}."]  # the rest came from the cache
    finally:
        srv.shutdown()
        srv.server_close()


def test_inventory_date_falls_back_to_the_cache_when_offline(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = {"dir": str(tmp_path), "base_url": f"http://127.0.0.1:{port}", **FAST}
    with pytest.raises(sources.SourceError):
        fetch.current_inventory_date(settings)
    for date in ("2026-01-08T01-00Z", "2026-01-09T01-00Z"):
        folder = tmp_path / sources.INVENTORY_PREFIX / date
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{}")
    assert fetch.current_inventory_date(settings) == "2026-01-09T01-00Z"
    assert fetch.current_inventory_date({**settings, "inventory": "2026-01-01T01-00Z"}) == (
        "2026-01-01T01-00Z"
    )


def test_schema_defaults_are_the_client_defaults():
    import yaml

    schema = yaml.safe_load((tables.SCHEMA_FILE.parent / "config.schema.yaml").read_text())[
        "properties"
    ]["source"]["properties"]
    for name, value in fetch.HttpSettings().__dict__.items():
        if name != "max_backoff":
            assert schema[name]["default"] == value, name
