"""The live PMC Cloud Service over anonymous HTTPS, with an on-disk cache that makes runs resumable.

`cloud_bucket(settings)` is a `BucketSource` whose fetch is `CachedFetch`: an object is looked up
in the cache directory (the bucket layout, so the cache is itself a partial mirror), else fetched
with `HttpClient.get`, verified, written atomically, and never fetched again. An object is only
cached once verified: XML and media against the `?md5=` of the metadata JSON, inventory parts
against the manifest's `MD5checksum`, the manifest against `manifest.checksum`. The metadata JSON
changes in place (a retraction rewrites it), so it is cached under its inventory ETag (a stamp
file beside the cache) and fetched again when the inventory shows a new ETag.

HttpClient: one GET per call through a shared rate limiter (a minimum interval between request
starts, per process), a socket timeout, and up to `retries` retries with exponential backoff and
jitter (honouring `Retry-After`) on 5xx/429, timeouts, dropped connections, short bodies and
failed verification. 404/403/400 fail at once. After `max_failures` objects in a row failed for
transport reasons the client raises `NetworkDown` (not a SourceError), so a network outage fails
the job instead of turning a whole chunk into rejects that would look final.

Listing uses S3 ListObjectsV2 (`?list-type=2&prefix=...&delimiter=/`, paginated): the dated
inventory folders, and one article's versions (`metadata/PMC<id>.` gives keys with ETags).
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import re
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, fields
from pathlib import Path

from lxml import etree

from roco.sources import (
    BUCKET_URL,
    INVENTORY_PREFIX,
    BucketSource,
    InventoryRow,
    SourceError,
    inventory_from_manifest,
    parse_inventory_key,
    verify,
)

log = logging.getLogger(__name__)
USER_AGENT = "roco/0.1 (ROCOv2 rebuild; https://github.com/)"
_DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z$")
_PERMANENT = {400, 403, 404, 410}
_STAMPS = ".roco-versions"


class NotFound(SourceError):
    """The server answered that the object does not exist or may not be read: never retried."""


class NetworkDown(RuntimeError):
    """Too many objects in a row failed for transport reasons: stop instead of rejecting all."""


@dataclass(frozen=True)
class HttpSettings:
    base_url: str = BUCKET_URL
    timeout: float = 30.0  # seconds without data before a request is abandoned
    retries: int = 5  # retries after the first attempt
    backoff: float = 1.0  # seconds before the first retry; doubled on each further one
    max_backoff: float = 60.0
    rate_limit: float = 10.0  # requests per second, per process (0: unlimited)
    max_failures: int = 20  # consecutive failed objects before NetworkDown

    @classmethod
    def from_source(cls, settings: dict) -> HttpSettings:
        """The HTTP settings among a config `source` section's keys (defaults for the others)."""
        return cls(**{f.name: settings[f.name] for f in fields(cls) if f.name in settings})


class RateLimiter:
    """Request starts at least 1/rate seconds apart, across the threads of one process."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        time.sleep(start - now)


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class HttpClient:
    settings: HttpSettings = field(default_factory=HttpSettings)
    failures: int = 0  # consecutive objects that failed for transport reasons

    def __post_init__(self):
        self.limiter = RateLimiter(self.settings.rate_limit)

    def get(self, url: str, check=None):
        """The body of `url`, passed through `check` (which raises SourceError to retry)."""
        s = self.settings
        last, transport, retry_after = "", False, None
        for attempt in range(s.retries + 1):
            if attempt:
                backoff = min(s.max_backoff, s.backoff * 2 ** (attempt - 1))
                jittered = backoff * (0.5 + random.random() / 2)  # parallel jobs spread out
                time.sleep(max(jittered, min(retry_after or 0.0, s.max_backoff)))
            self.limiter.wait()
            try:
                result = self._get_once(url)
                if check is not None:
                    result = check(result)
            except NotFound:
                self.failures = 0  # the server answered: the network is up
                raise
            except _Transient as err:
                last, transport, retry_after = str(err), True, err.retry_after
            except SourceError as err:  # the body failed verification
                last, transport, retry_after = str(err), False, None
            else:
                self.failures = 0
                return result
        if transport:
            self.failures += 1
            if self.failures >= s.max_failures:
                raise NetworkDown(f"{self.failures} objects in a row failed; last: {url}: {last}")
        raise SourceError(f"GET {url} failed after {s.retries + 1} attempts: {last}")

    def _get_once(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            if err.code in _PERMANENT:
                raise NotFound(f"HTTP {err.code}: {url}") from err
            retry_after = err.headers.get("Retry-After") if err.headers else None
            wait = float(retry_after) if _is_number(retry_after) else None
            raise _Transient(f"HTTP {err.code}", wait) from err
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            # Timeouts, refused or dropped connections, bodies shorter than Content-Length.
            raise _Transient(f"{type(err).__name__}: {err}") from err


def _is_number(text: str | None) -> bool:
    return text is not None and re.fullmatch(r"\d+(\.\d+)?", text.strip()) is not None


@dataclass(frozen=True)
class ObjectCache:
    """Verified objects under `root` in the bucket layout; stamps name mutable objects' versions."""

    root: Path

    def path(self, key: str) -> Path:
        root = self.root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root) or path == root:
            raise SourceError(f"key outside the bucket: {key}")
        return path

    def _stamp(self, key: str) -> Path:
        return self.root / _STAMPS / key

    def get(self, key: str, md5: str | None, version: str | None) -> bytes | None:
        """The cached bytes when they are the wanted version (and digest), else None."""
        path = self.path(key)
        if not path.is_file():
            return None
        if version is not None:
            stamp = self._stamp(key)
            if not stamp.is_file() or stamp.read_text() != version:
                return None
        data = path.read_bytes()
        try:
            return verify(key, data, md5)
        except SourceError:
            return None  # damaged or replaced upstream: fetch again

    def put(self, key: str, data: bytes, version: str | None) -> None:
        # Data first, stamp last: a crash in between leaves a stale stamp, so a re-fetch.
        _atomic_write(self.path(key), data)
        if version is not None:
            _atomic_write(self._stamp(key), version.encode())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def object_url(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/{urllib.parse.quote(key, safe='/~-._')}"


@dataclass(frozen=True)
class CachedFetch:
    """`Fetch` over HTTP: cached when a digest or version identifies the object, else always GET."""

    client: HttpClient
    cache: ObjectCache
    base_url: str

    def __call__(self, key: str, md5: str | None = None, version: str | None = None) -> bytes:
        cacheable = md5 is not None or version is not None
        if cacheable and (hit := self.cache.get(key, md5, version)) is not None:
            return hit
        data = self.client.get(object_url(self.base_url, key), lambda d: verify(key, d, md5))
        if cacheable:
            self.cache.put(key, data, version)
        return data


@dataclass(frozen=True)
class Listing:
    objects: list[tuple[str, str]]  # (key, ETag)
    prefixes: list[str]


def _xml(data: bytes):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise SourceError(f"unreadable bucket listing: {err}") from err


def list_bucket(client: HttpClient, base_url: str, prefix: str, delimiter: str | None = None):
    """Every key (with ETag) and common prefix under `prefix` (ListObjectsV2, all pages)."""
    objects, prefixes, token = [], [], None
    while True:
        query = {"list-type": "2", "prefix": prefix}
        if delimiter:
            query["delimiter"] = delimiter
        if token:
            query["continuation-token"] = token
        url = f"{base_url.rstrip('/')}/?{urllib.parse.urlencode(query)}"
        root = client.get(url, _xml)
        objects += [
            (c.findtext("{*}Key"), (c.findtext("{*}ETag") or "").strip('"'))
            for c in root.iterfind("{*}Contents")
        ]
        prefixes += [p.findtext("{*}Prefix") for p in root.iterfind("{*}CommonPrefixes")]
        token = root.findtext("{*}NextContinuationToken")
        if root.findtext("{*}IsTruncated") != "true" or not token:
            return Listing(sorted(objects), sorted(prefixes))


def article_versions(client: HttpClient, base_url: str, pmcid: str) -> list[InventoryRow]:
    """Every version of one article the bucket holds, from its `metadata/` keys and ETags."""
    pmcid = pmcid.upper() if pmcid.upper().startswith("PMC") else f"PMC{pmcid}"
    listing = list_bucket(client, base_url, f"metadata/{pmcid}.")
    rows = (parse_inventory_key(key, etag) for key, etag in listing.objects)
    return sorted(r for r in rows if r is not None and r.pmcid == pmcid)


def inventory_dates(client: HttpClient, base_url: str) -> list[str]:
    """The dated inventory folders in the bucket, oldest first."""
    listing = list_bucket(client, base_url, f"{INVENTORY_PREFIX}/", "/")
    names = (p.rstrip("/").rsplit("/", 1)[-1] for p in listing.prefixes)
    return sorted(n for n in names if _DATE_FOLDER.match(n))


def cached_inventory_dates(cache_dir: Path) -> list[str]:
    folders = Path(cache_dir, INVENTORY_PREFIX).glob("*/manifest.json")
    return sorted(p.parent.name for p in folders if _DATE_FOLDER.match(p.parent.name))


def manifest_key(date: str) -> str:
    return f"{INVENTORY_PREFIX}/{date}/manifest.json"


def resolve_inventory_date(settings: dict, client: HttpClient | None = None) -> str:
    """The configured inventory date; for "latest", the newest one the bucket lists."""
    date = settings.get("inventory", "latest")
    if date != "latest":
        return date
    http = HttpSettings.from_source(settings)
    dates = inventory_dates(client or HttpClient(http), http.base_url)
    if not dates:
        raise SourceError(f"no dated inventory under {http.base_url}/{INVENTORY_PREFIX}/")
    return dates[-1]


def current_inventory_date(settings: dict) -> str:
    """The inventory a build should use now: the configured date, or the newest one listed; when
    the bucket cannot be listed, the newest one in the cache (with a warning), else SourceError."""
    try:
        return resolve_inventory_date(settings)
    except SourceError as err:
        cached = cached_inventory_dates(Path(settings["dir"]))
        if not cached:
            raise
        log.warning("cannot list the inventories (%s); using the cached %s", err, cached[-1])
        return cached[-1]


def fetch_inventory(fetch: CachedFetch, date: str) -> list[InventoryRow]:
    """The inventory of `date`: manifest and parts fetched once into the cache, verified."""
    key = manifest_key(date)
    md5 = None
    # A dated manifest never changes: the date is its version. Its checksum is only needed once.
    if fetch.cache.get(key, None, date) is None:
        try:
            md5 = fetch(f"{INVENTORY_PREFIX}/{date}/manifest.checksum").decode().split()[0]
        except (SourceError, UnicodeDecodeError, IndexError):
            md5 = None  # no checksum file: the manifest must still parse, the parts carry md5s
    return inventory_from_manifest(fetch, fetch(key, md5, date))


def cached_fetch(settings: dict) -> CachedFetch:
    """The HTTP fetch of a config `source` section, cached under its `dir`."""
    http = HttpSettings.from_source(settings)
    return CachedFetch(HttpClient(http), ObjectCache(Path(settings["dir"])), http.base_url)


def cloud_bucket(settings: dict) -> BucketSource:
    """The live bucket, cached under `settings["dir"]`; its inventory per the settings."""
    fetch = cached_fetch(settings)
    base_url = fetch.base_url

    def list_inventory() -> list[InventoryRow]:
        if settings.get("pmcids"):
            return [
                row
                for pmcid in settings["pmcids"]
                for row in article_versions(fetch.client, base_url, pmcid)
            ]
        date = settings.get("inventory", "latest")
        if date == "latest":
            # The workflow's inventory rule fetched the newest one into the cache already.
            cached = cached_inventory_dates(fetch.cache.root)
            date = cached[-1] if cached else resolve_inventory_date(settings, fetch.client)
        return fetch_inventory(fetch, date)

    return BucketSource(fetch, list_inventory)
