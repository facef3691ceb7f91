"""Bad input end to end: a corpus of broken, hostile and unusual files, all made here.

Every case becomes a reject row with a clear reason, or a good row when the input is fine once
handled (CMYK, 16-bit, palette, animated or multi-page images; entities that are never read;
mis-declared encodings that can be repaired). Nothing is written outside the working directory,
and the good articles of a chunk come through exactly as they do in a chunk without bad ones.
Run with `-s` to see the number of cases and rejects per category.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from workflow_helpers import snakemake, write_config

from roco import classify, extract, features, phash
from roco.archive import ArchiveError, read_article_path
from roco.images import load_rgb
from roco.sources import local_bucket, parse_inventory_key

CFG = extract.ExtractConfig(licences=frozenset({"CC BY"}))
CAPTION = "Axial computed tomography of the chest showing a nodule in the right upper lobe."
SECRET = "TOP-SECRET-TOKEN"
NS = 'xmlns:xlink="http://www.w3.org/1999/xlink"'

# ---------------------------------------------------------------- images


def _save(img: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _noise(seed: int, size=(200, 160)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    return Image.fromarray(pixels, "L")


def jpeg(seed: int = 0, size=(200, 160)) -> bytes:
    return _save(_noise(seed, size), "JPEG")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 100_000) -> bytes:
    """69 bytes declaring a side x side greyscale image."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bomb() -> bytes:
    """A small JPEG whose frame header declares 65000 x 65000 pixels."""
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(data)


def animated_gif() -> bytes:
    frames = [_noise(seed).convert("P") for seed in range(3)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def multipage_tiff() -> bytes:
    return _save(_noise(1), "TIFF", save_all=True, append_images=[_noise(2, (120, 300))])


def sixteen_bit(fmt: str) -> bytes:
    pixels = np.random.default_rng(3).integers(0, 65535, (160, 200)).astype(np.uint16)
    return _save(Image.fromarray(pixels), fmt)


def palette_with_transparency() -> bytes:
    return _save(_noise(4).convert("P"), "PNG", transparency=0)


# Images that are fine once converted: each must give a figure row, and decode to 8-bit RGB.
CONVERTIBLE_IMAGES = {
    "cmyk.jpg": lambda: _save(_noise(5).convert("CMYK"), "JPEG"),
    "cmyk.tif": lambda: _save(_noise(5).convert("CMYK"), "TIFF"),
    "sixteen.png": lambda: sixteen_bit("PNG"),
    "sixteen.tif": lambda: sixteen_bit("TIFF"),
    "float.tif": lambda: _save(
        Image.fromarray(np.linspace(0, 1, 32000, dtype=np.float32).reshape(160, 200)), "TIFF"
    ),
    "palette.png": palette_with_transparency,
    "grey-alpha.png": lambda: _save(_noise(6).convert("LA"), "PNG"),
    "bilevel.png": lambda: _save(_noise(7).convert("1"), "PNG"),
    "animated.gif": animated_gif,
    "multipage.tif": multipage_tiff,
}

# Images that must be refused at extract, with the words the reject detail must contain.
REFUSED_IMAGES = {
    "empty.jpg": (lambda: b"", "empty image file"),
    "garbage.jpg": (lambda: b"this is not an image at all", "cannot identify image"),
    "bomb.png": (png_bomb, "decompression bomb"),
    "bomb.jpg": (jpeg_bomb, "decompression bomb"),
    "header-only.jpg": (lambda: jpeg()[:200], "cannot open image"),
}

# ---------------------------------------------------------------- articles


def fig(fig_id: str, href: str | None, caption: str = CAPTION) -> str:
    graphic = f'<graphic xlink:href="{href}"/>' if href else ""
    caption = f"<caption><p>{caption}</p></caption>"
    return f'<fig id="{fig_id}"><label>Figure 1</label>{caption}{graphic}</fig>'


def article_xml(pmc: int, figs: list[str], prolog: str = "", encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{prolog}<article {NS}><front><article-meta>'
        f'<article-id pub-id-type="pmc">{pmc}</article-id><title-group><article-title>T'
        f"</article-title></title-group></article-meta></front><body>{''.join(figs)}</body>"
        "</article>"
    ).encode(encoding)


@dataclass
class Case:
    """One article of the bad-input chunk and what must become of it."""

    category: str
    name: str
    xml: bytes
    media: dict[str, bytes] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    raw_meta: bytes | None = None  # replaces the metadata JSON file
    leave_out: tuple[str, ...] = ()  # files listed in the metadata but missing from the bucket
    reasons: tuple[str, ...] = ()  # expected reject reasons (sorted)
    figures: int = 0  # expected figure rows
    pmc: int = 0


def _xml_cases(root: Path) -> list[Case]:
    good = article_xml(0, [fig("f1", "a.jpg")])
    lol = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)
    )
    cases = [
        ("zero-byte XML", b""),
        ("truncated XML", good[: len(good) // 2]),
        ("mismatched tags", b"<article><front></body></article>"),
        ("not JATS", b"<html><body>hello</body></html>"),
        ("binary garbage", bytes(range(256)) * 4),
        ("nesting 300 deep", b"<article>" + b"<sec>" * 300 + b"</sec>" * 300 + b"</article>"),
        ("raw control character", article_xml(0, [fig("f1", "a.jpg", "CT \x01 of the chest")])),
        ("control character reference", article_xml(0, [fig("f1", "a.jpg", "CT &#1; chest")])),
        ("Latin-1 bytes declared UTF-8", good.replace(b"T</article", b"Caf\xe9</article")),
        (
            "billion laughs",
            good.replace(b"?>", b"?><!DOCTYPE article [" + lol + b"]>", 1).replace(
                b"T</article-title>", b"&lol9;</article-title>"
            ),
        ),
        (
            "quadratic blowup",
            good.replace(
                b"?>", b'?><!DOCTYPE article [<!ENTITY a "' + b"x" * 50_000 + b'">]>', 1
            ).replace(b"T</article-title>", b"&a;" * 50_000 + b"</article-title>"),
        ),
        (
            "external entity in an attribute",
            good.replace(
                b"?>",
                f'?><!DOCTYPE article [<!ENTITY x SYSTEM "{root / "secret.txt"}">]>'.encode(),
                1,
            ).replace(b'id="f1"', b'id="&x;"'),
        ),
    ]
    return [
        Case("malformed XML", name, xml, {"a.jpg": jpeg()}, reasons=("bad_xml",))
        for name, xml in cases
    ]


def _entity_cases(root: Path) -> list[Case]:
    """External entities and DTDs pointing at a secret file: never read, the figure is kept."""
    secret = root / "secret.txt"
    dtd = root / "evil.dtd"
    caption = "Axial computed tomography &x; of the chest showing a nodule in the right lobe."
    prologs = {
        "XXE file entity": f'<!DOCTYPE article [<!ENTITY x SYSTEM "file://{secret}">]>',
        "XXE relative path": f'<!DOCTYPE article [<!ENTITY x SYSTEM "{secret}">]>',
        "XXE over http": '<!DOCTYPE article [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>',
        "external parameter entity": f'<!DOCTYPE article [<!ENTITY % p SYSTEM "{dtd}"> %p;]>',
        "external DTD": f'<!DOCTYPE article SYSTEM "{dtd}">',
    }
    return [
        Case(
            "entities",
            name,
            article_xml(0, [fig("f1", "a.jpg", caption)], prolog),
            {"a.jpg": jpeg()},
            figures=1,
        )
        for name, prolog in prologs.items()
    ]


def _caption_cases() -> list[Case]:
    allowed_controls = "Axial\u0085CT\u2028of the\tchest\ufeff with a \u0007no\u200bdule"
    return [
        # \u0007 is not allowed in XML 1.0: lxml refuses it, so it is the bad_xml kind;
        # the others are legal XML characters that the caption cleaner turns into spaces.
        Case(
            "captions",
            "C1 controls, separators, zero-width",
            article_xml(0, [fig("f1", "a.jpg", allowed_controls.replace("\u0007", ""))]),
            {"a.jpg": jpeg()},
            figures=1,
        ),
        Case(
            "captions",
            "UTF-8 declared Latin-1 (mojibake)",
            article_xml(
                0,
                [
                    fig(
                        "f1",
                        "a.jpg",
                        "Caf\u00e9-au-lait spots on the chest CT of the patient\u2019s brother.",
                    )
                ],
            ).replace(b'encoding="utf-8"', b'encoding="ISO-8859-1"'),
            {"a.jpg": jpeg()},
            figures=1,
        ),
        Case(
            "captions",
            "UTF-16 document",
            article_xml(0, [fig("f1", "a.jpg", "Caf\u00e9-au-lait " + CAPTION)], encoding="utf-16"),
            {"a.jpg": jpeg()},
            figures=1,
        ),
        Case(
            "captions",
            "Windows-1252 document",
            article_xml(
                0,
                [fig("f1", "a.jpg", "The patient\u2019s chest CT shows a nodule.")],
                encoding="cp1252",
            ),
            {"a.jpg": jpeg()},
            figures=1,
        ),
        Case(
            "captions",
            "caption of controls only",
            article_xml(0, [fig("f1", "a.jpg", "\u0085\u2028\u200b\u00ad")]),
            {"a.jpg": jpeg()},
            reasons=("caption_empty",),
        ),
    ]


def _id_cases() -> list[Case]:
    two = (
        '<fig id="f1"><caption><p>' + CAPTION + '</p></caption><graphic xlink:href="a.jpg"/>'
        '<graphic xlink:href="b.jpg"/></fig>'
    )
    figs = [
        two,
        fig("f1", "a.jpg"),
        fig("f1_g1", "b.jpg"),
        fig("f/1", "a.jpg"),
        fig("f:1", "b.jpg"),
        fig("", "a.jpg"),
        fig("f1-2", "a.jpg"),
    ]
    return [
        Case(
            "duplicate figure ids",
            "seven figures, eight graphics, colliding ids",
            article_xml(0, figs),
            {"a.jpg": jpeg(1), "b.jpg": jpeg(2)},
            figures=8,
        )
    ]


def _image_cases() -> list[Case]:
    cases = [
        Case(
            "images: converted", name, article_xml(0, [fig("f1", name)]), {name: make()}, figures=1
        )
        for name, make in CONVERTIBLE_IMAGES.items()
    ]
    cases += [
        Case(
            "images: refused",
            name,
            article_xml(0, [fig("f1", name)]),
            {name: make()},
            reasons=("bad_image",),
        )
        for name, (make, _) in REFUSED_IMAGES.items()
    ]
    thumb = _save(_noise(8, (40, 30)).convert("P"), "GIF")
    cases.append(
        Case(
            "images: refused",
            "thumbnail",
            article_xml(0, [fig("f1", "t.gif")]),
            {"t.gif": thumb},
            reasons=("image_too_small",),
        )
    )
    return cases


def _fetch_cases() -> list[Case]:
    xml = article_xml(0, [fig("f1", "a.jpg")])
    return [
        Case(
            "metadata and fetch",
            "zero-byte metadata JSON",
            xml,
            {"a.jpg": jpeg()},
            raw_meta=b"",
            reasons=("fetch_failed",),
        ),
        Case(
            "metadata and fetch",
            "metadata JSON is a list",
            xml,
            {"a.jpg": jpeg()},
            raw_meta=b"[1, 2]",
            reasons=("fetch_failed",),
        ),
        Case(
            "metadata and fetch",
            "media_urls is a number",
            xml,
            {"a.jpg": jpeg()},
            meta={"media_urls": 5},
            reasons=("bad_metadata",),
        ),
        Case(
            "metadata and fetch",
            "licence is a list",
            xml,
            {"a.jpg": jpeg()},
            meta={"license_code": ["CC BY"]},
            reasons=("bad_metadata",),
        ),
        Case(
            "metadata and fetch",
            "XML missing from the bucket",
            xml,
            {"a.jpg": jpeg()},
            leave_out=("xml",),
            reasons=("fetch_failed",),
        ),
        Case(
            "metadata and fetch",
            "image missing from the bucket",
            xml,
            {"a.jpg": jpeg()},
            leave_out=("a.jpg",),
            reasons=("fetch_failed",),
        ),
        Case(
            "metadata and fetch",
            "image md5 mismatch",
            xml,
            {"a.jpg": jpeg()},
            meta={"md5": {"a.jpg": "0" * 32}},
            reasons=("fetch_failed",),
        ),
        Case(
            "metadata and fetch",
            "media key escaping the bucket",
            xml,
            {"a.jpg": jpeg()},
            meta={"media_urls": ["s3://pmc-oa-opendata/../../secret.txt"]},
            reasons=("missing_image",),
        ),
        Case(
            "metadata and fetch",
            "media key escaping the bucket, named",
            article_xml(0, [fig("f1", "secret.txt")]),
            {},
            meta={"media_urls": ["s3://pmc-oa-opendata/../../secret.txt"]},
            reasons=("fetch_failed",),
        ),
        Case(
            "metadata and fetch",
            "xlink:href with ../ and absolute paths",
            article_xml(0, [fig("f1", "../../../../secret.txt"), fig("f2", "/etc/passwd")]),
            {"a.jpg": jpeg()},
            reasons=("missing_image", "missing_image"),
        ),
    ]


def bad_cases(root: Path) -> list[Case]:
    cases = (
        _xml_cases(root)
        + _entity_cases(root)
        + _caption_cases()
        + _id_cases()
        + _image_cases()
        + _fetch_cases()
    )
    for number, case in enumerate(cases, 1001):
        case.pmc = number
        case.xml = case.xml.replace(b">0</article-id>", f">{number}</article-id>".encode())
    return cases


def good_cases() -> list[Case]:
    return [
        Case(
            "good",
            f"good {k}",
            article_xml(0, [fig("f1", "a.jpg"), fig("f2", "b")]),
            {"a.jpg": jpeg(10 + k), "b.png": _save(_noise(20 + k), "PNG")},
            figures=2,
            pmc=k,
        )
        for k in range(1, 6)
    ]


def add_case(bucket: Path, case: Case):
    """Write one case in the PMC Cloud Service layout; returns its inventory row."""
    prefix = f"PMC{case.pmc}.1"
    folder = bucket / prefix
    folder.mkdir(parents=True)
    files = {f"{prefix}.xml": case.xml, **case.media}
    for name, data in files.items():
        if name not in case.leave_out and not (name.endswith(".xml") and "xml" in case.leave_out):
            (folder / name).write_bytes(data)
    md5 = case.meta.get("md5", {})
    urls = [
        f"s3://pmc-oa-opendata/{prefix}/{n}" + (f"?md5={md5[n]}" if n in md5 else "")
        for n in case.media
    ]
    metadata = {
        "pmcid": f"PMC{case.pmc}",
        "version": 1,
        "license_code": "CC BY",
        "is_pmc_openaccess": True,
        "is_retracted": False,
        "citation": f"Article {case.pmc}",
        "xml_url": f"s3://pmc-oa-opendata/{prefix}/{prefix}.xml",
        "media_urls": urls,
        **{k: v for k, v in case.meta.items() if k != "md5"},
    }
    (bucket / "metadata").mkdir(exist_ok=True)
    raw = case.raw_meta if case.raw_meta is not None else json.dumps(metadata).encode()
    (bucket / "metadata" / f"{prefix}.json").write_bytes(raw)
    return parse_inventory_key(f"metadata/{prefix}.json", "etag")


def run_chunk(bucket: Path, cases: list[Case]):
    rows = [add_case(bucket, case) for case in cases]
    return extract.extract_chunk(local_bucket(bucket), rows, CFG)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
    }


@pytest.fixture(scope="module")
def chunk(tmp_path_factory):
    """The good articles alone, then mixed with every bad case in one chunk."""
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "secret.txt").write_text(SECRET)
    (root / "evil.dtd").write_text(f'<!ENTITY x "{SECRET}">')
    control, _ = run_chunk(root / "control", good_cases())
    work = root / "work"
    work.mkdir()
    cases = bad_cases(root)
    rows = [add_case(root / "bucket", case) for case in good_cases() + cases]
    before = tree(root)
    cwd = Path.cwd()
    try:
        os.chdir(work)
        figures, rejects = extract.extract_chunk(local_bucket(root / "bucket"), rows, CFG)
    finally:
        os.chdir(cwd)
    written = set(tree(root)) - set(before)
    return {
        "cases": cases,
        "control": control,
        "figures": figures,
        "rejects": rejects,
        "root": root,
        "written": written,
    }


def _outcome(case: Case, figures: pd.DataFrame, rejects: pd.DataFrame):
    pmcid = f"PMC{case.pmc}"
    return (
        int((figures["pmcid"] == pmcid).sum()) if len(figures) else 0,
        tuple(sorted(rejects.loc[rejects["pmcid"] == pmcid, "reason"])),
    )


def test_every_bad_case_is_a_reject_with_a_reason_or_a_good_row(chunk):
    wrong = {}
    for case in chunk["cases"]:
        got = _outcome(case, chunk["figures"], chunk["rejects"])
        if got != (case.figures, case.reasons):
            wrong[f"{case.category}: {case.name}"] = {
                "expected": (case.figures, case.reasons),
                "got": got,
            }
    assert not wrong, json.dumps(wrong, indent=1)
    assert chunk["rejects"]["detail"].str.len().gt(0).all()
    summary = Counter()
    for case in chunk["cases"]:
        summary[case.category, "cases"] += 1
        summary[case.category, "rejects"] += len(case.reasons)
        summary[case.category, "figure rows"] += case.figures
    print("\nbad-input corpus (extract): category, cases, rejects, figure rows")
    for category in dict.fromkeys(c.category for c in chunk["cases"]):
        print(
            f"  {category}: {summary[category, 'cases']}, {summary[category, 'rejects']}, "
            f"{summary[category, 'figure rows']}"
        )


def test_reject_details_say_what_is_wrong(chunk):
    rejects = chunk["rejects"]
    by_name = {c.name: c for c in chunk["cases"]}

    def detail(name: str) -> str:
        return " | ".join(rejects.loc[rejects["pmcid"] == f"PMC{by_name[name].pmc}", "detail"])

    assert "amplification" in detail("billion laughs")
    assert "Document is empty" in detail("zero-byte XML")
    assert "Invalid bytes in character encoding" in detail("Latin-1 bytes declared UTF-8")
    assert "md5 mismatch" in detail("image md5 mismatch")
    assert "outside the bucket" in detail("media key escaping the bucket, named")
    assert "media_urls" in detail("media_urls is a number")
    for name, (_, words) in REFUSED_IMAGES.items():
        assert words in detail(name).lower(), (name, detail(name))


def test_entities_are_never_read_and_no_file_is_written(chunk):
    figures = chunk["figures"]
    assert not figures.empty
    for column in ("caption", "figure_id", "title", "attribution"):
        assert not figures[column].astype(str).str.contains(SECRET).any()
    assert not chunk["rejects"]["detail"].astype(str).str.contains(SECRET).any()
    assert chunk["written"] == set()


def test_captions_come_out_clean_and_repaired(chunk):
    captions = {row.pmcid: row.caption for row in chunk["figures"].itertuples()}
    by_name = {c.name: f"PMC{c.pmc}" for c in chunk["cases"]}
    for caption in captions.values():
        assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in caption)
    assert captions[by_name["C1 controls, separators, zero-width"]] == (
        "Axial CT of the chest with a nodule"
    )
    assert captions[by_name["UTF-8 declared Latin-1 (mojibake)"]].startswith(
        "Caf\u00e9-au-lait spots"
    )
    assert "patient\u2019s brother" in captions[by_name["UTF-8 declared Latin-1 (mojibake)"]]
    assert captions[by_name["UTF-16 document"]].startswith("Caf\u00e9-au-lait")
    assert "patient\u2019s chest" in captions[by_name["Windows-1252 document"]]


def test_duplicate_figure_ids_stay_distinct(chunk):
    (case,) = [c for c in chunk["cases"] if c.category == "duplicate figure ids"]
    ids = chunk["figures"].loc[chunk["figures"]["pmcid"] == f"PMC{case.pmc}", "id"].tolist()
    assert len(ids) == len(set(ids)) == 8
    assert f"PMC{case.pmc}_f1_g1" in ids and f"PMC{case.pmc}_f1_g1-3" in ids


def test_good_articles_come_through_unchanged(chunk):
    good = {f"PMC{c.pmc}" for c in good_cases()}
    mixed = chunk["figures"][chunk["figures"]["pmcid"].isin(good)].reset_index(drop=True)
    pd.testing.assert_frame_equal(mixed, chunk["control"])
    assert len(mixed) == 10
    assert not chunk["rejects"]["pmcid"].isin(good).any()


def test_converted_images_decode_to_rgb_in_every_stage_that_reads_pixels(chunk):
    figures = chunk["figures"]
    converted = figures[figures["image_file"].isin(CONVERTIBLE_IMAGES)]
    assert sorted(converted["image_file"]) == sorted(CONVERTIBLE_IMAGES)
    for data in converted["image"]:
        rgb = load_rgb(data)
        assert rgb.mode == "RGB" and rgb.size == (200, 160)
        assert features.image_features(data).shape == (len(features.IMAGE_FEATURES),)
    hashes = phash.phash_or_error(list(converted["image"]))
    assert all(isinstance(h, str) and len(h) == 16 for h in hashes)


def test_an_image_cut_short_passes_extract_and_is_rejected_where_it_is_decoded(tmp_path):
    """extract only opens images (header and size); the stages that decode pixels reject it."""
    whole = jpeg(30, (400, 300))
    case = Case(
        "images",
        "truncated body",
        article_xml(7, [fig("f1", "cut.jpg")]),
        {"cut.jpg": whole[: len(whole) // 2]},
        figures=1,
        pmc=7,
    )
    figures, rejects = run_chunk(tmp_path, [case])
    assert len(figures) == 1 and rejects.empty
    _, hash_rejects = phash.hash_chunk(figures)
    kept, classify_rejects = classify.classify_chunk(
        figures, classify.load_model(None), classify.ClassifyConfig()
    )
    assert kept.empty
    for found in (hash_rejects, classify_rejects):
        assert list(found["reason"]) == ["bad_image"]
        assert "truncated" in found["detail"].iloc[0]


# ---------------------------------------------------------------- archives


def make_tar(
    path: Path, members: dict[str, bytes], kinds: dict[str, bytes] | None = None, mode: str = "w:gz"
) -> Path:
    """A tar package; `kinds` gives special member types (symlink, hard link, fifo) by name."""
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            kind = (kinds or {}).get(name)
            if kind is None:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                info.type = kind
                info.linkname = data.decode()
                archive.addfile(info)
    return path


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _zip_with_lying_size(path: Path) -> Path:
    """A zip whose member header says 100 bytes while the data inflates to 5 MB."""
    make_zip(path, {"a.nxml": article_xml(1, []), "big.jpg": bytes(5_000_000)})
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02", data.index(b"big.jpg") + 7)
    while central >= 0:
        name_length = struct.unpack("<H", data[central + 28 : central + 30])[0]
        if data[central + 46 : central + 46 + name_length] == b"big.jpg":
            data[central + 24 : central + 28] = struct.pack("<I", 100)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path


ARTICLE = {"PMC1/a.nxml": article_xml(1, [fig("f1", "f.jpg")]), "PMC1/f.jpg": jpeg()}


def _archive_cases(root: Path) -> dict[str, tuple[Path, dict]]:
    """name -> (path, read options); the expected outcome is in ARCHIVE_EXPECTED."""
    whole = make_tar(root / "whole.tar.gz", {**ARTICLE, "PMC1/b.pdf": bytes(range(256)) * 4000})
    data = whole.read_bytes()
    zipped = make_zip(root / "whole.zip", {"a.xml": ARTICLE["PMC1/a.nxml"], "f.jpg": jpeg()})
    stored = make_zip(root / "stored.zip", {"a.xml": ARTICLE["PMC1/a.nxml"]}, zipfile.ZIP_STORED)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF

    def write(name: str, content: bytes) -> Path:
        (root / name).write_bytes(content)
        return root / name

    traversal = {f"../../escape-{i}.jpg": b"x" for i in range(2)}
    return {
        "zero-byte .tar.gz": (write("zero.tar.gz", b""), {}),
        "zero-byte .zip": (write("zero.zip", b""), {}),
        "truncated .tar.gz": (write("cut.tar.gz", data[: len(data) - 300]), {}),
        "truncated .tar.gz, partial read allowed": (
            write("cut2.tar.gz", data[: len(data) - 300]),
            {"allow_truncated": True},
        ),
        "truncated .tar.gz before the XML ends": (write("cut3.tar.gz", data[:40]), {}),
        "corrupt .tar.gz (byte flipped)": (write("flip.tar.gz", bytes(flipped)), {}),
        "gzip of text, not tar": (write("text.tar.gz", zlib.compress(b"hello")), {}),
        "truncated .zip": (write("cut.zip", zipped.read_bytes()[:-30]), {}),
        "corrupt .zip member data": (
            write("crc.zip", stored.read_bytes().replace(b"Figure 1", b"Figure 2")),
            {},
        ),
        "zip bomb (member above limit)": (
            make_zip(
                root / "bomb.zip", {"a.xml": ARTICLE["PMC1/a.nxml"], "f.jpg": bytes(50_000_000)}
            ),
            {"max_member_bytes": 1_000_000},
        ),
        "zip with lying size header": (
            _zip_with_lying_size(root / "liar.zip"),
            {"max_member_bytes": 1_000_000},
        ),
        "tar bomb (member above limit)": (
            make_tar(root / "bomb.tar.gz", {**ARTICLE, "PMC1/g.jpg": bytes(50_000_000)}),
            {"max_member_bytes": 1_000_000},
        ),
        "tar bomb (total above limit)": (
            make_tar(
                root / "many.tar.gz",
                {**ARTICLE, **{f"PMC1/g{i}.jpg": bytes(400_000) for i in range(10)}},
            ),
            {"max_total_bytes": 2_000_000},
        ),
        "../ and absolute member names": (
            make_tar(
                root / "evil.tar.gz",
                {
                    **ARTICLE,
                    **traversal,
                    "/tmp/abs-escape.jpg": b"x",
                    "C:\\win-escape.jpg": b"x",
                    "PMC1/../../up-escape.nxml": b"<article/>",
                },
            ),
            {},
        ),
        "../ member names in a zip": (
            make_zip(
                root / "evil.zip",
                {"a.xml": ARTICLE["PMC1/a.nxml"], **traversal, "/abs-escape.jpg": b"x"},
            ),
            {},
        ),
        "symlink, hard link and fifo members": (
            make_tar(
                root / "links.tar.gz",
                {
                    **ARTICLE,
                    "PMC1/passwd.jpg": b"/etc/passwd",
                    "PMC1/hard.jpg": b"/etc/passwd",
                    "PMC1/fifo.jpg": b"",
                },
                {
                    "PMC1/passwd.jpg": tarfile.SYMTYPE,
                    "PMC1/hard.jpg": tarfile.LNKTYPE,
                    "PMC1/fifo.jpg": tarfile.FIFOTYPE,
                },
            ),
            {},
        ),
        "no XML in the package": (make_tar(root / "noxml.tar.gz", {"PMC1/f.jpg": jpeg()}), {}),
        "two candidate XML files": (
            make_tar(root / "two.tar.gz", {**ARTICLE, "PMC1/b.nxml": b"<article/>"}),
            {},
        ),
        "uncompressed .tar": (make_tar(root / "plain.tar", ARTICLE, mode="w"), {}),
    }


# name -> None when the read must succeed, else words the ArchiveError must contain.
ARCHIVE_EXPECTED = {
    "zero-byte .tar.gz": "truncated or corrupt",
    "zero-byte .zip": "unreadable zip",
    "truncated .tar.gz": "truncated or corrupt",
    "truncated .tar.gz, partial read allowed": None,
    "truncated .tar.gz before the XML ends": "truncated or corrupt",
    "corrupt .tar.gz (byte flipped)": "corrupt archive: CRC check failed",
    "gzip of text, not tar": "truncated or corrupt",
    "truncated .zip": "unreadable zip",
    "corrupt .zip member data": "bad crc",
    "zip bomb (member above limit)": "above the limit",
    "zip with lying size header": "f.jpg|big.jpg",
    "tar bomb (member above limit)": "above 1000000",
    "tar bomb (total above limit)": "in total",
    "../ and absolute member names": None,
    "../ member names in a zip": None,
    "symlink, hard link and fifo members": None,
    "no XML in the package": "no .nxml or .xml",
    "two candidate XML files": "several candidate",
    "uncompressed .tar": None,
}


def _read_everything(path: Path, options: dict) -> tuple[str, str | None]:
    """('ok', names) or ('ArchiveError', message), reading the XML and every media member."""
    try:
        files = read_article_path(path, **options)
        names = sorted(files.media)
        for load in files.media.values():
            load()
    except ArchiveError as error:
        return "ArchiveError", str(error)
    return "ok", " ".join(names)


def test_bad_archives_are_archive_errors_with_clear_messages(tmp_path, monkeypatch):
    packages = tmp_path / "mirror" / "deep" / "folder"
    packages.mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    cases = _archive_cases(packages)
    assert sorted(cases) == sorted(ARCHIVE_EXPECTED)
    before = tree(tmp_path)
    monkeypatch.chdir(work)
    outcomes = {name: _read_everything(path, opts) for name, (path, opts) in cases.items()}
    for name, expected in ARCHIVE_EXPECTED.items():
        kind, message = outcomes[name]
        if expected is None:
            assert kind == "ok", (name, message)
        else:
            assert kind == "ArchiveError", (name, message)
            assert re.search(expected, message, re.IGNORECASE), (name, message)
    # Unsafe members are never honoured, and reading writes nothing anywhere.
    assert outcomes["../ and absolute member names"][1] == "f.jpg"
    assert outcomes["../ member names in a zip"][1] == ""
    assert outcomes["symlink, hard link and fifo members"][1] == "f.jpg"
    assert tree(tmp_path) == before
    assert not list(tmp_path.rglob("*escape*"))
    assert not Path("/tmp/abs-escape.jpg").exists()
    errors = sum(kind == "ArchiveError" for kind, _ in outcomes.values())
    print(
        f"\nbad-input corpus (archives): {len(outcomes)} cases, {errors} ArchiveErrors "
        f"(rejects), {len(outcomes) - errors} read safely"
    )


def test_symlinks_in_an_article_directory_are_not_followed(tmp_path):
    (tmp_path / "secret.txt").write_text(SECRET)
    folder = tmp_path / "PMC9.1"
    folder.mkdir()
    (folder / "PMC9.1.xml").write_bytes(article_xml(9, [fig("f1", "a.jpg")]))
    (folder / "a.jpg").symlink_to(tmp_path / "secret.txt")
    (folder / "link.xml").symlink_to(folder / "PMC9.1.xml")
    for path in (folder, folder / "PMC9.1.xml"):
        assert sorted(read_article_path(path).media) == []
    with pytest.raises(ArchiveError, match="symbolic link"):
        read_article_path(folder / "link.xml")


# ---------------------------------------------------------------- failure-rate guard


def _chunk_with_failures(bucket: Path, articles: int, failed: int) -> list:
    """`articles` good articles, the first `failed` of them with an unreadable metadata JSON."""
    cases = [
        Case("guard", f"article {k}", article_xml(k, [fig("f1", "a.jpg")]), {"a.jpg": jpeg(k)},
             raw_meta=b"" if k <= failed else None, pmc=k)
        for k in range(1, articles + 1)
    ]  # fmt: skip
    return [add_case(bucket, case) for case in cases]


def test_an_outage_fails_the_chunk_loudly(tmp_path):
    rows = _chunk_with_failures(tmp_path, articles=25, failed=15)
    with pytest.raises(extract.FailureRateError) as raised:
        extract.extract_chunk(local_bucket(tmp_path), rows, CFG)
    message = str(raised.value)
    assert "15 of 25 articles (60%)" in message
    assert "fetch_failed: 15" in message and "extract.max_failure_rate = 0.5" in message
    assert "PMC1" in message  # the first failure, to start looking from


@pytest.mark.parametrize(("articles", "failed"), [(20, 10), (19, 19)])
def test_half_failed_or_a_small_chunk_is_not_an_outage(tmp_path, articles, failed):
    rows = _chunk_with_failures(tmp_path, articles, failed)
    figures, rejects = extract.extract_chunk(local_bucket(tmp_path), rows, CFG)
    assert len(figures) == articles - failed
    assert (rejects["reason"] == "fetch_failed").sum() == failed


@pytest.mark.workflow
def test_the_guard_is_configured_from_the_workflow(tmp_path):
    """The config key reaches the extract job: a chunk of failures stops the build."""
    bucket = tmp_path / "bucket"
    rows = _chunk_with_failures(bucket, articles=4, failed=3)
    part = "\n".join(f'"pmc-oa-opendata","{r.key}","2026-01-01T00:00:00.000Z","{r.etag}"'
                     for r in rows)  # fmt: skip
    key = "inventory-reports/pmc-oa-opendata/metadata/2026-01-01T01-00Z/data/part.csv.gz"
    (bucket / key).parent.mkdir(parents=True)
    (bucket / key).write_bytes(gzip.compress(part.encode(), mtime=0))
    (bucket / key).parent.parent.joinpath("manifest.json").write_text(
        json.dumps({"files": [{"key": key}]})
    )
    config = write_config(tmp_path, extract={"max_failure_rate": 0.5, "min_articles": 2})
    settings = yaml.safe_load(config.read_text())
    settings["source"] = {"kind": "bucket", "dir": str(bucket)}
    config.write_text(yaml.safe_dump(settings))
    result = snakemake(config, check=False)
    assert result.returncode != 0
    # The first job to read the articles stops: extract, or train_classifier's sample.
    logs = "".join(p.read_text() for p in (tmp_path / "results" / "logs").rglob("*.log"))
    assert "3 of 4 articles (75%) failed to download or parse" in logs
    assert not list((tmp_path / "results" / "chunks").glob("*/extract_rejects.parquet"))


def test_bad_packages_of_a_legacy_mirror_become_reject_rows(tmp_path):
    """Through the legacy source, every unreadable package is a fetch_failed reject carrying the
    archive reader's message; the readable ones and the good packages give their figures."""
    from roco.legacy import LegacySource

    cases = {n: c for n, c in _archive_cases(tmp_path).items() if not c[1]}  # default limits
    good = {f"good{k}.tar.gz": make_tar(tmp_path / f"good{k}.tar.gz", ARTICLE) for k in (1, 2)}
    packages = {**{name: path for name, (path, _) in cases.items()}, **good}
    lines = ["File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License"]
    numbers = {}
    for number, (name, path) in enumerate(sorted(packages.items()), 1):
        numbers[name] = f"PMC{number}"
        lines.append(f"{path.name},Article {number},PMC{number},2020-01-01 00:00:00,,CC BY")
    (tmp_path / "oa_file_list.csv").write_text("\n".join(lines) + "\n")
    source = LegacySource(tmp_path, tmp_path / "oa_file_list.csv")
    figures, rejects = extract.extract_chunk(source, source.inventory(), CFG)
    for name in packages:
        found = rejects[rejects["pmcid"] == numbers[name]]
        if ARCHIVE_EXPECTED.get(name):
            assert list(found["reason"]) == ["fetch_failed"], name
            assert re.search(ARCHIVE_EXPECTED[name], found["detail"].iloc[0], re.IGNORECASE)
        else:
            assert numbers[name] in set(figures["pmcid"]) or list(found["reason"]) == [
                "missing_image"
            ], (name, found)
    assert {numbers[n] for n in good} <= set(figures["pmcid"])
    failed = (rejects["reason"] == "fetch_failed").sum()
    print(
        f"\nbad-input corpus (legacy mirror): {len(packages)} packages, {failed} fetch_failed "
        f"rejects, {figures['pmcid'].nunique()} articles with figures"
    )
