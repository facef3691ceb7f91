"""Where articles come from: one interface over the PMC Cloud Service layout and legacy mirrors.

The PMC Cloud Service bucket holds one prefix per article version (`PMC<id>.<ver>/`) with the JATS
XML, a metadata JSON and the media files, plus a daily S3 Inventory of every `metadata/*.json` key
with its ETag. A `BucketSource` reads that layout through one `fetch(key, md5, version)` function,
so the demo corpus and a local mirror (a directory in the same layout, `local_bucket`) and the live
bucket (HTTP with an on-disk cache, `roco.fetch.cloud_bucket`) differ only in how bytes are fetched.
A legacy mirror of per-article `.tar.gz` packages (`roco.legacy`) offers the same methods. The rest
of the workflow sees `InventoryRow`s and `Source` methods, never paths or URLs.

Verification: the metadata JSON's URLs end in `?md5=<hex>`; every XML and media object is checked
against that digest where it is read (a mismatch is a `SourceError`, which the HTTP client retries).
Objects without a digest (the metadata JSON itself: its inventory ETag is not an md5 of the file)
are checked for what can be checked: a `.json` object must parse.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

BUCKET = "pmc-oa-opendata"
BUCKET_URL = f"https://{BUCKET}.s3.amazonaws.com"
INVENTORY_PREFIX = f"inventory-reports/{BUCKET}/metadata"
KINDS = ("demo", "bucket", "cloud", "legacy")
_METADATA_KEY = re.compile(r"^metadata/(PMC(\d+))\.(\d+)\.json$")


class SourceError(OSError):
    """An object that could not be fetched or verified; the message is the reject detail."""


@dataclass(frozen=True, order=True)
class InventoryRow:
    """One article version as an inventory lists it (legacy: the package path and Last Updated)."""

    pmc_number: int
    version: int
    key: str
    etag: str

    @property
    def pmcid(self) -> str:
        return f"PMC{self.pmc_number}"

    @property
    def prefix(self) -> str:
        return f"{self.pmcid}.{self.version}"


class Fetch(Protocol):
    """Bytes of one object. `md5` is verified when given; `version` (the inventory ETag) tells a
    cache which version of a mutable object is wanted. Raises SourceError."""

    def __call__(self, key: str, md5: str | None = None, version: str | None = None) -> bytes: ...


def parse_inventory_key(key: str, etag: str) -> InventoryRow | None:
    """An InventoryRow for a `metadata/PMC<id>.<ver>.json` key; None for any other key."""
    match = _METADATA_KEY.match(key)
    if match is None:
        return None
    return InventoryRow(int(match[2]), int(match[3]), key, etag.strip('"'))


def read_inventory_csv(data: bytes) -> Iterator[InventoryRow]:
    """Rows of one gzipped inventory CSV: bucket, key, last-modified, ETag."""
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise SourceError(f"unreadable inventory part: {err}") from err
    for fields in csv.reader(io.StringIO(text)):
        if len(fields) >= 4:
            row = parse_inventory_key(fields[1], fields[3])
            if row is not None:
                yield row


def verify(key: str, data: bytes, md5: str | None) -> bytes:
    """`data` when it is what `key` should hold (md5 when known, JSON that parses); else raise."""
    if md5 is not None:
        actual = hashlib.md5(data).hexdigest()
        if actual != md5.lower():
            raise SourceError(f"md5 mismatch for {key}: got {actual}, expected {md5}")
    elif key.endswith(".json"):
        try:
            json.loads(data)
        except ValueError as err:
            raise SourceError(f"{key} is not JSON ({len(data)} bytes): {err}") from err
    return data


def inventory_from_manifest(fetch: Fetch, manifest: bytes) -> list[InventoryRow]:
    """Every article version an S3 Inventory manifest lists, sorted; parts are md5-verified."""
    try:
        manifest = json.loads(manifest)
    except ValueError as err:
        raise SourceError(f"unreadable inventory manifest: {err}") from err
    rows = set()
    for part in manifest.get("files", []):
        rows.update(read_inventory_csv(fetch(part["key"], part.get("MD5checksum"))))
    return sorted(rows)


class Source(Protocol):
    """What the workflow needs from a source of PMC articles."""

    def inventory(self) -> list[InventoryRow]: ...

    def metadata(self, row: InventoryRow) -> dict: ...

    def article_xml(self, row: InventoryRow, metadata: dict) -> bytes: ...

    def media_names(self, metadata: dict) -> list[str]: ...

    def media(self, row: InventoryRow, metadata: dict, name: str) -> bytes: ...

    def media_url(self, row: InventoryRow, name: str) -> str: ...


def split_s3_url(url: str) -> tuple[str, str | None]:
    """`s3://bucket/key?md5=<hex>` -> (key, md5 or None)."""
    path, _, query = url.partition("?")
    key = path.removeprefix(f"s3://{BUCKET}/")
    md5 = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("md5")
    return key, md5


def media_digests(metadata: dict) -> dict[str, tuple[str, str | None]]:
    """file name -> (key, md5) of every media URL of a metadata JSON."""
    out = {}
    for url in metadata.get("media_urls") or []:
        key, md5 = split_s3_url(url)
        out[key.rsplit("/", 1)[-1]] = (key, md5)
    return out


@dataclass(frozen=True)
class BucketSource:
    """The Cloud Service layout read through `fetch`; `list_inventory` lists article versions."""

    fetch: Fetch
    list_inventory: Callable[[], list[InventoryRow]]

    def inventory(self) -> list[InventoryRow]:
        """Every article version to consider, sorted by PMC id and version."""
        return sorted(set(self.list_inventory()))

    def metadata(self, row: InventoryRow) -> dict:
        # The ETag names the version of this mutable object (a retraction rewrites the JSON).
        metadata = json.loads(self.fetch(row.key, None, row.etag))
        if not isinstance(metadata, dict) or not metadata.get("pmcid"):
            raise SourceError(f"{row.key} is not a PMC metadata object")
        return metadata

    def article_xml(self, row: InventoryRow, metadata: dict) -> bytes:
        if metadata.get("xml_url"):
            return self.fetch(*split_s3_url(metadata["xml_url"]))
        return self.fetch(f"{row.prefix}/{row.prefix}.xml")

    def media_names(self, metadata: dict) -> list[str]:
        return sorted(media_digests(metadata))

    def media(self, row: InventoryRow, metadata: dict, name: str) -> bytes:
        key, md5 = media_digests(metadata).get(name, (f"{row.prefix}/{name}", None))
        return self.fetch(key, md5)

    def media_url(self, row: InventoryRow, name: str) -> str:
        # The public address, whichever mirror or cache the bytes came from.
        return f"{BUCKET_URL}/{row.prefix}/{name}"


def newest_inventory_manifest(root: Path) -> Path:
    """The manifest.json of the newest dated inventory folder under `root`."""
    manifests = sorted((root / INVENTORY_PREFIX).glob("*/manifest.json"))
    if not manifests:
        raise SourceError(f"no inventory manifest under {root / INVENTORY_PREFIX}")
    return manifests[-1]


def read_local(root: Path, key: str) -> bytes:
    """The bytes of `key` under `root`; keys that escape `root` are refused."""
    root = Path(root).resolve()
    path = (root / key).resolve()
    if not path.is_relative_to(root):
        raise SourceError(f"key outside the bucket: {key}")
    try:
        return path.read_bytes()
    except OSError as err:
        raise SourceError(f"cannot read {key}: {err.strerror}") from err


def local_bucket(root: Path) -> BucketSource:
    """A directory in the bucket layout (the demo corpus, or a mirror of the bucket)."""
    root = Path(root)

    def fetch(key: str, md5: str | None = None, version: str | None = None) -> bytes:
        return verify(key, read_local(root, key), md5)

    def list_inventory() -> list[InventoryRow]:
        return inventory_from_manifest(fetch, newest_inventory_manifest(root).read_bytes())

    return BucketSource(fetch, list_inventory)


def open_source(settings: dict, only: Collection[str] | None = None) -> Source:
    """The source named by the config's `source` section (see config.yaml for the keys).

    `only`: the PMC ids the caller will read, when it knows them (a legacy mirror then parses
    only their lines of its file list; the other kinds read per article anyway)."""
    kind = settings["kind"]
    if kind in ("demo", "bucket"):
        return local_bucket(Path(settings["dir"]))
    if kind == "cloud":
        from roco.fetch import cloud_bucket

        return cloud_bucket(settings)
    if kind == "legacy":
        from roco.legacy import legacy_source

        return legacy_source(settings, only)
    raise ValueError(f"source.kind must be one of {', '.join(KINDS)}, not {kind!r}")
