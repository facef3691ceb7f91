"""Where articles come from: one interface over the PMC Cloud Service layout.

The PMC Cloud Service bucket holds one prefix per article version (`PMC<id>.<ver>/`) with the JATS
XML, a metadata JSON and the media files, plus a daily S3 Inventory of every `metadata/*.json` key
with its ETag. A `BucketSource` reads that layout through one `fetch(key) -> bytes` function, so the
demo corpus (a local directory in the same layout) and the live bucket differ only in how bytes
are fetched. The rest of the workflow sees `InventoryRow`s and `Source` methods, never paths.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

BUCKET = "pmc-oa-opendata"
BUCKET_URL = f"https://{BUCKET}.s3.amazonaws.com"
INVENTORY_PREFIX = f"inventory-reports/{BUCKET}/metadata"
_METADATA_KEY = re.compile(r"^metadata/(PMC(\d+))\.(\d+)\.json$")


class SourceError(OSError):
    """An object that could not be fetched or verified; the message is the reject detail."""


@dataclass(frozen=True, order=True)
class InventoryRow:
    """One article version as an inventory lists it."""

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


def parse_inventory_key(key: str, etag: str) -> InventoryRow | None:
    """An InventoryRow for a `metadata/PMC<id>.<ver>.json` key; None for any other key."""
    match = _METADATA_KEY.match(key)
    if match is None:
        return None
    return InventoryRow(int(match[2]), int(match[3]), key, etag.strip('"'))


def read_inventory_csv(data: bytes) -> Iterator[InventoryRow]:
    """Rows of one gzipped inventory CSV: bucket, key, last-modified, ETag."""
    text = gzip.decompress(data).decode("utf-8")
    for fields in csv.reader(io.StringIO(text)):
        if len(fields) >= 4:
            row = parse_inventory_key(fields[1], fields[3])
            if row is not None:
                yield row


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


@dataclass(frozen=True)
class BucketSource:
    """The Cloud Service layout read through `fetch(key)`; `fetch` raises SourceError."""

    fetch: Callable[[str], bytes]
    inventory_keys: Callable[[], list[str]]

    def inventory(self) -> list[InventoryRow]:
        """Every article version of the newest inventory, sorted by PMC id and version."""
        rows = set()
        for key in self.inventory_keys():
            rows.update(read_inventory_csv(self.fetch(key)))
        return sorted(rows)

    def metadata(self, row: InventoryRow) -> dict:
        try:
            return json.loads(self.fetch(row.key))
        except ValueError as err:
            raise SourceError(f"metadata {row.key} is not JSON: {err}") from err

    def article_xml(self, row: InventoryRow, metadata: dict) -> bytes:
        key = split_s3_url(metadata["xml_url"])[0] if metadata.get("xml_url") else None
        return self.fetch(key or f"{row.prefix}/{row.prefix}.xml")

    def media_names(self, metadata: dict) -> list[str]:
        return sorted(
            split_s3_url(u)[0].rsplit("/", 1)[-1] for u in metadata.get("media_urls") or []
        )

    def media(self, row: InventoryRow, metadata: dict, name: str) -> bytes:
        return self.fetch(f"{row.prefix}/{name}")

    def media_url(self, row: InventoryRow, name: str) -> str:
        return f"{BUCKET_URL}/{row.prefix}/{name}"


def newest_inventory_manifest(root: Path) -> Path:
    """The manifest.json of the newest dated inventory folder under `root`."""
    manifests = sorted((root / INVENTORY_PREFIX).glob("*/manifest.json"))
    if not manifests:
        raise SourceError(f"no inventory manifest under {root / INVENTORY_PREFIX}")
    return manifests[-1]


def local_bucket(root: Path) -> BucketSource:
    """A directory in the bucket layout (the demo corpus, or a mirror of the bucket)."""
    root = Path(root)

    def fetch(key: str) -> bytes:
        path = (root / key).resolve()
        if not path.is_relative_to(root.resolve()):
            raise SourceError(f"key outside the bucket: {key}")
        try:
            return path.read_bytes()
        except OSError as err:
            raise SourceError(f"cannot read {key}: {err.strerror}") from err

    def inventory_keys() -> list[str]:
        manifest = json.loads(newest_inventory_manifest(root).read_text())
        return sorted(f["key"] for f in manifest["files"])

    return BucketSource(fetch, inventory_keys)


def open_source(settings: dict) -> BucketSource:
    """The source named by the config's `source` section."""
    return local_bucket(Path(settings["dir"]))
