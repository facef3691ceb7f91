"""Sources: the bucket layout read through fetch(), inventory parsing, safe local reads."""

import csv
import gzip
import hashlib
import io
import json

import pytest

from roco import sources


def write_bucket(root, rows, date="2026-01-08T01-00Z"):
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL).writerows(rows)
    inv = root / sources.INVENTORY_PREFIX / date
    (inv / "data").mkdir(parents=True)
    (inv / "data" / "a.csv.gz").write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    key = f"{sources.INVENTORY_PREFIX}/{date}/data/a.csv.gz"
    (inv / "manifest.json").write_text(json.dumps({"files": [{"key": key}]}))


def test_inventory_from_the_newest_manifest(tmp_path):
    b = "pmc-oa-opendata"
    write_bucket(tmp_path, [[b, "metadata/PMC5.1.json", "2026-01-08T11:47:59.000Z", "x"]])
    write_bucket(
        tmp_path,
        [
            [b, "metadata/PMC5.2.json", "2026-01-09T11:47:59.000Z", '"y"'],
            [b, "metadata/PMC5.1.json", "2026-01-08T11:47:59.000Z", "x"],
            [b, "PMC5.1/PMC5.1.xml", "2026-01-08T11:47:59.000Z", "z"],  # not a metadata key
        ],
        date="2026-01-09T01-00Z",
    )
    rows = sources.local_bucket(tmp_path).inventory()
    assert [(r.pmcid, r.version, r.etag) for r in rows] == [("PMC5", 1, "x"), ("PMC5", 2, "y")]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_metadata_xml_and_media_through_the_json_urls(tmp_path):
    (tmp_path / "PMC9.1").mkdir()
    (tmp_path / "PMC9.1" / "PMC9.1.xml").write_bytes(b"<article/>")
    (tmp_path / "PMC9.1" / "f1.jpg").write_bytes(b"jpg")
    meta = {
        "pmcid": "PMC9",
        "xml_url": f"s3://pmc-oa-opendata/PMC9.1/PMC9.1.xml?md5={md5(b'<article/>')}",
        "media_urls": [f"s3://pmc-oa-opendata/PMC9.1/f1.jpg?md5={md5(b'jpg')}"],
    }
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / "PMC9.1.json").write_text(json.dumps(meta))
    src = sources.local_bucket(tmp_path)
    row = sources.parse_inventory_key("metadata/PMC9.1.json", "e")
    assert src.metadata(row) == meta
    assert src.article_xml(row, meta) == b"<article/>"
    assert src.media_names(meta) == ["f1.jpg"]
    assert src.media(row, meta, "f1.jpg") == b"jpg"
    assert src.media_url(row, "f1.jpg").endswith("/PMC9.1/f1.jpg")


def test_keys_cannot_escape_the_bucket(tmp_path):
    (tmp_path / "secret").write_text("x")
    src = sources.local_bucket(tmp_path / "bucket")
    with pytest.raises(sources.SourceError, match="outside"):
        src.fetch("../secret")


def test_missing_object_is_a_source_error(tmp_path):
    with pytest.raises(sources.SourceError, match="cannot read"):
        sources.local_bucket(tmp_path).fetch("PMC1.1/nothing.jpg")


def test_split_s3_url():
    assert sources.split_s3_url("s3://pmc-oa-opendata/PMC1.1/a.jpg?md5=ff") == (
        "PMC1.1/a.jpg",
        "ff",
    )
    assert sources.split_s3_url("s3://pmc-oa-opendata/PMC1.1/a.jpg") == ("PMC1.1/a.jpg", None)


def test_objects_are_verified_against_the_json_md5(tmp_path):
    (tmp_path / "PMC9.1").mkdir()
    (tmp_path / "PMC9.1" / "f1.jpg").write_bytes(b"changed")
    meta = {"pmcid": "PMC9", "media_urls": [f"s3://pmc-oa-opendata/PMC9.1/f1.jpg?md5={md5(b'x')}"]}
    row = sources.parse_inventory_key("metadata/PMC9.1.json", "e")
    with pytest.raises(sources.SourceError, match="md5 mismatch"):
        sources.local_bucket(tmp_path).media(row, meta, "f1.jpg")


@pytest.mark.parametrize("body", [b'{"pmcid": "PMC9"', b"[1, 2]", b'{"title": "no id"}'])
def test_broken_metadata_is_a_source_error(tmp_path, body):
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / "PMC9.1.json").write_bytes(body)
    row = sources.parse_inventory_key("metadata/PMC9.1.json", "e")
    with pytest.raises(sources.SourceError):
        sources.local_bucket(tmp_path).metadata(row)


def test_open_source_kinds(tmp_path):
    assert isinstance(
        sources.open_source({"kind": "demo", "dir": str(tmp_path)}), sources.BucketSource
    )
    cloud = sources.open_source({"kind": "cloud", "dir": str(tmp_path), "base_url": "http://x"})
    assert isinstance(cloud, sources.BucketSource)
    assert type(sources.open_source({"kind": "legacy", "dir": str(tmp_path)})).__name__ == (
        "LegacySource"
    )
    with pytest.raises(ValueError, match="source.kind"):
        sources.open_source({"kind": "ftp", "dir": str(tmp_path)})
