"""Side by side: roco.jats.parse_article vs pubmed_parser.parse_pubmed_caption on the same files.

Inputs: every real article in ../shared/realdata/nxml (loose .nxml/.xml, and the XML inside the
.tar.gz/.zip packages, written to a temporary folder because pubmed_parser wants a path), plus a
few generated edge cases (fig-group, <alternatives>, several graphics, sub-article, figure
without id or caption, nested markup, inline formula) to show what each parser does with them.

Per file it prints figures and graphics found by each, figures one finds that the other misses
(matched by figure id), and captions that differ after whitespace normalisation; then totals,
examples of differing captions, and the throughput ratio (files per second, best of 5 passes,
each parser reading from the path). pubmed_parser errors count as zero figures.

Run: .venv/bin/python bench/extract_vs_pubmed_parser.py   (needs pubmed_parser==0.5.1)
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pubmed_parser

from roco.archive import read_article_path
from roco.jats import parse_article

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "nxml"
HEAD = (
    '<article xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:mml="http://www.w3.org/1998/Math/MathML"><front><article-meta>'
    '<article-id pub-id-type="pmc">1</article-id><article-id pub-id-type="pmid">2</article-id>'
    "</article-meta></front>"
)
EDGE_CASES = {
    "edge_fig_group.nxml": (
        '<body><fig-group id="g"><caption><p>Group caption.</p></caption>'
        '<fig id="ga"><caption><p>Panel a.</p></caption><graphic xlink:href="ga"/></fig>'
        '<fig id="gb"><caption><p>Panel b.</p></caption><graphic xlink:href="gb"/></fig>'
        "</fig-group></body>"
    ),
    "edge_alternatives.nxml": (
        '<body><fig id="f"><caption><p>Chest CT.</p></caption><alternatives>'
        '<graphic xlink:href="f.tif"/><graphic xlink:href="f.jpg"/></alternatives></fig></body>'
    ),
    "edge_two_graphics.nxml": (
        '<body><fig id="f"><caption><p>Axial and coronal MRI.</p></caption>'
        '<graphic xlink:href="f1"/><graphic xlink:href="f2"/></fig></body>'
    ),
    "edge_no_id_no_caption.nxml": (
        '<body><fig id="a"><caption><p>First.</p></caption><graphic xlink:href="a"/></fig>'
        '<fig><graphic xlink:href="b"/></fig><fig id="c"><graphic xlink:href="c"/></fig></body>'
    ),
    "edge_sub_article.nxml": (
        '<body><fig id="m"><caption><p>Main.</p></caption><graphic xlink:href="m"/></fig></body>'
        '<sub-article><body><fig id="r"><caption><p>Reply figure.</p></caption>'
        '<graphic xlink:href="r"/></fig></body></sub-article>'
    ),
    "edge_nested_markup.nxml": (
        '<body><fig id="f"><caption><p>Lesion <bold><italic>in situ</italic></bold> with '
        "<inline-formula><mml:math><mml:mi>p</mml:mi><mml:mo>&lt;</mml:mo><mml:mn>0.05"
        '</mml:mn></mml:math></inline-formula>.</p></caption><graphic xlink:href="f"/></fig>'
        "</body>"
    ),
}


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _ours(path: Path):
    return parse_article(path.read_bytes()).figures


def _theirs(path: Path) -> list[dict]:
    with contextlib.redirect_stdout(io.StringIO()):
        return pubmed_parser.parse_pubmed_caption(str(path)) or []


def _safe_theirs(path: Path) -> tuple[list[dict], str]:
    try:
        return _theirs(path), ""
    except Exception as error:  # noqa: BLE001 - a peer's crash is a measured outcome
        return [], f"{type(error).__name__}: {error}"[:60]


def _inputs(folder: Path) -> list[Path]:
    paths = []
    for path in sorted(REALDATA.rglob("*")):
        if "synthetic_fixtures" in path.parts:
            continue
        if path.suffix in {".nxml", ".xml"}:
            paths.append(path)
        elif path.name.endswith((".tar.gz", ".zip")):
            files = read_article_path(path, allow_truncated=True)
            copy = folder / f"pkg_{path.name.split('.')[0]}_{files.xml_name}"
            copy = copy.with_suffix(".nxml")
            copy.write_bytes(files.xml)
            paths.append(copy)
    for name, body in EDGE_CASES.items():
        (folder / name).write_text(HEAD + body + "</article>")
        paths.append(folder / name)
    return paths


def _compare(path: Path) -> dict:
    ours = _ours(path)
    theirs, error = _safe_theirs(path)
    our_ids = {f.figure_id: f for f in ours}
    their_ids = {d["fig_id"]: d for d in theirs}
    differing = [
        (fid, _norm(their_ids[fid]["fig_caption"]), our_ids[fid].caption)
        for fid in our_ids.keys() & their_ids.keys()
        if _norm(their_ids[fid]["fig_caption"]) != our_ids[fid].caption
    ]
    return {
        "file": path.name,
        "ours_figs": len(ours),
        "theirs_figs": len(theirs),
        "ours_graphics": sum(len(f.graphics) for f in ours),
        "theirs_graphics": sum(d["graphic_ref"] is not None for d in theirs),
        "only_theirs": sorted(their_ids.keys() - our_ids.keys()),
        "only_ours": sorted(our_ids.keys() - their_ids.keys()),
        "differing": differing,
        "error": error,
    }


def _throughput(paths: list[Path], parsers: dict) -> dict[str, float]:
    """Files per second of each parser, best of 7 passes, passes interleaved so that load from
    other processes hits both alike."""
    best = dict.fromkeys(parsers, float("inf"))
    for _ in range(7):
        for name, parse in parsers.items():
            start = time.perf_counter()
            for path in paths:
                parse(path)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(paths) / seconds for name, seconds in best.items()}


def _first_difference(a: str, b: str, width: int = 60) -> tuple[str, str]:
    """Both texts around the first character where they differ."""
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    start = max(0, at - width // 2)
    return a[start : at + width], b[start : at + width]


def main() -> int:
    if not REALDATA.is_dir():
        print(f"real data absent: {REALDATA}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        paths = _inputs(Path(tmp))
        rows = [_compare(p) for p in paths]
        parseable = [p for p, r in zip(paths, rows, strict=True) if not r["error"]]
        rates = _throughput(parseable, {"roco": _ours, "pubmed_parser": _theirs})
        ours_rate, theirs_rate = rates["roco"], rates["pubmed_parser"]
    print(f"pubmed_parser {metadata.version('pubmed_parser')} vs roco.jats")
    header = f"{'file':42} {'figs ours/pp':>12} {'graphics ours/pp':>16} {'only pp':>7} "
    print(header + f"{'only ours':>9} {'captions differ':>15}  pubmed_parser error")
    for r in rows:
        print(
            f"{r['file'][:42]:42} {r['ours_figs']:>5}/{r['theirs_figs']:<6} "
            f"{r['ours_graphics']:>8}/{r['theirs_graphics']:<7} {len(r['only_theirs']):>7} "
            f"{len(r['only_ours']):>9} {len(r['differing']):>15}  {r['error']}"
        )
    total = {
        k: sum(r[k] if isinstance(r[k], int) else len(r[k]) for r in rows)
        for k in rows[0]
        if k not in {"file", "error"}
    }
    print(
        f"{'TOTAL (' + str(len(rows)) + ' files)':42} {total['ours_figs']:>5}/"
        f"{total['theirs_figs']:<6} {total['ours_graphics']:>8}/{total['theirs_graphics']:<7} "
        f"{total['only_theirs']:>7} {total['only_ours']:>9} {total['differing']:>15}  "
        f"{sum(bool(r['error']) for r in rows)} files failed"
    )
    print(
        "\nFigures only pubmed_parser finds:",
        [(r["file"], r["only_theirs"]) for r in rows if r["only_theirs"]] or "none",
    )
    print("Figures only roco finds:")
    for r in rows:
        if r["only_ours"]:
            print(f"  {r['file']}: {', '.join(r['only_ours'][:8])}")
    print("\nDiffering captions, one per file, around the first difference (pubmed_parser | roco):")
    for r in rows:
        for fid, theirs, ours in r["differing"][:1]:
            theirs, ours = _first_difference(theirs, ours)
            print(f"  {r['file']} {fid}\n    pp:   {theirs!r}\n    roco: {ours!r}")
    print(
        f"\nThroughput on {len(parseable)} files both parse: roco {ours_rate:.0f} files/s, "
        f"pubmed_parser {theirs_rate:.0f} files/s, ratio roco/pp = {ours_rate / theirs_rate:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
