"""`roco fetch PMC<id> ...`: list an article's versions in the bucket and download one of them.

For each PMC id: list its versions (S3 ListObjectsV2 on `metadata/PMC<id>.`), take the newest
(or `--version`), fetch its metadata JSON, its JATS XML and the figure images the XML references,
each verified against its md5 and cached in `--cache` (the bucket layout; a second run downloads
nothing). Prints one JSON object per article on stdout and one per failure on stderr; exits 1
when any article failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from roco import jats
from roco.fetch import article_versions, cloud_bucket
from roco.sources import BUCKET_URL, SourceError


def _emit(obj: dict, stream=None) -> None:
    print(json.dumps(obj, ensure_ascii=False), file=stream or sys.stdout)


def fetch_article(source, client, base_url: str, pmcid: str, version: int | None) -> dict:
    """Versions listed and files fetched for one article; raises SourceError or JatsError."""
    versions = article_versions(client, base_url, pmcid)
    if not versions:
        raise SourceError(f"{pmcid}: no version in the bucket")
    chosen = [r for r in versions if version is None or r.version == version]
    if not chosen:
        raise SourceError(f"{pmcid}: no version {version} (have {[r.version for r in versions]})")
    row = chosen[-1]
    metadata = source.metadata(row)
    article = jats.parse_article(source.article_xml(row, metadata))
    available = source.media_names(metadata)
    images, missing = [], []
    for fig in article.figures:
        for href in fig.graphics:
            name = jats.resolve_graphic(href, available)
            if name is None:
                missing.append(href)
                continue
            source.media(row, metadata, name)
            images.append(name)
    return {
        "pmcid": row.pmcid,
        "versions": [r.version for r in versions],
        "version": row.version,
        "license_code": metadata.get("license_code"),
        "is_retracted": metadata.get("is_retracted"),
        "xml": f"{row.prefix}/{row.prefix}.xml",
        "figures": len(article.figures),
        "images": sorted(set(images)),
        "missing_images": missing,
    }


def cmd_fetch(args) -> int:
    settings = {
        "kind": "cloud",
        "dir": args.cache,
        "base_url": args.base_url,
        "rate_limit": args.rate_limit,
        "retries": args.retries,
        "timeout": args.timeout,
    }
    source = cloud_bucket(settings)
    client = source.fetch.client
    failed = 0
    for pmcid in args.pmcids:
        try:
            _emit(fetch_article(source, client, args.base_url, pmcid, args.version))
        except (SourceError, jats.JatsError) as err:
            _emit({"item": pmcid, "reason": "fetch_failed", "detail": str(err)}, sys.stderr)
            failed += 1
    return 1 if failed else 0


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("fetch", help="list and download articles from the PMC Cloud Service")
    p.add_argument("pmcids", nargs="+", help="PMC ids such as PMC11370360")
    p.add_argument("--version", type=int, help="article version (default: the newest)")
    p.add_argument("--cache", default="resources/pmc-cache", help="download cache (bucket layout)")
    p.add_argument("--base-url", default=BUCKET_URL, help="bucket URL (a mirror, a test server)")
    p.add_argument("--rate-limit", type=float, default=10.0, help="requests per second")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds")
    p.set_defaults(run=cmd_fetch)
    return p
