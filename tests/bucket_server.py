"""A loopback HTTP server that serves a directory in the PMC bucket layout, S3-style, with faults.

GET /<key> returns the file; GET /?list-type=2&prefix=..&delimiter=.. answers like S3
ListObjectsV2 (paginated by `max-keys`, ETag = md5 of the file). `faults[key]` is a list of faults
served one per request before the object is served normally; `persistent[key]` is served on every
request. Faults: "503" (with Retry-After: 0), "500", "404", "timeout" (stall longer than the
client's timeout), "truncate" (half the body under the full Content-Length), "badmd5" (same length,
one byte changed). Every request path is recorded in `requests`.
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.parse
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape


class BucketServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, stall: float = 1.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = Path(root)
        self.stall = stall
        self.page_size = 1000
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.persistent: dict[str, str] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def handle_error(self, request, client_address):
        pass  # a client that timed out closed the socket: expected, not worth a traceback

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_fault(self, key: str) -> str | None:
        with self.lock:
            self.requests.append(key)
            if key in self.persistent:
                return self.persistent[key]
            return self.faults[key].pop(0) if self.faults.get(key) else None

    def keys(self, prefix: str) -> list[str]:
        files = (p for p in self.root.rglob("*") if p.is_file())
        keys = (p.relative_to(self.root).as_posix() for p in files)
        return sorted(k for k in keys if k.startswith(prefix) and "/." not in f"/{k}")


class _Handler(BaseHTTPRequestHandler):
    server: BucketServer

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/" and url.query:
            self._list(urllib.parse.parse_qs(url.query))
            return
        key = urllib.parse.unquote(url.path.lstrip("/"))
        fault = self.server.next_fault(key)
        path = self.server.root / key
        if fault in ("404",) or not path.is_file() or ".." in key.split("/"):
            self._status(404)
            return
        if fault in ("500", "503"):
            self._status(int(fault), {"Retry-After": "0"})
            return
        if fault == "timeout":
            time.sleep(self.server.stall)
        body = path.read_bytes()
        if fault == "badmd5":
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)

    def _status(self, code: int, headers: dict | None = None):
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _list(self, query: dict):
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [None])[0]
        start = query.get("continuation-token", [""])[0]
        max_keys = min(int(query.get("max-keys", ["1000"])[0]), self.server.page_size)
        self.server.next_fault(f"?list {prefix}")
        entries: list[tuple[str, bool]] = []
        for key in self.server.keys(prefix):
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest.split(delimiter, 1)[0] + delimiter
                if not entries or entries[-1] != (common, True):
                    entries.append((common, True))
            else:
                entries.append((key, False))
        entries = [e for e in entries if e[0] > start]
        page, more = entries[:max_keys], len(entries) > max_keys
        parts = ['<?xml version="1.0" encoding="UTF-8"?>']
        parts.append('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">')
        parts.append(f"<Prefix>{escape(prefix)}</Prefix><IsTruncated>{str(more).lower()}")
        parts.append("</IsTruncated>")
        if more:
            parts.append(f"<NextContinuationToken>{escape(page[-1][0])}</NextContinuationToken>")
        for name, is_prefix in page:
            if is_prefix:
                parts.append(f"<CommonPrefixes><Prefix>{escape(name)}</Prefix></CommonPrefixes>")
            else:
                etag = hashlib.md5((self.server.root / name).read_bytes()).hexdigest()
                parts.append(
                    f"<Contents><Key>{escape(name)}</Key><ETag>&quot;{etag}&quot;</ETag></Contents>"
                )
        parts.append("</ListBucketResult>")
        body = "".join(parts).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start(root: Path, stall: float = 1.0) -> BucketServer:
    server = BucketServer(root, stall)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
