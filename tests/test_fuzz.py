"""Fuzzing the two readers of third-party bytes: the JATS parser and the archive reader.

Generated inputs: JATS-shaped documents (every element the parser looks at, placed where JATS
puts it and anywhere else, hostile prologs with entities and DTDs, odd encodings, entity and
character references) and packages (tar.gz, tar, zip; unsafe member names, links, devices,
duplicates), some of them then damaged (cut, bytes flipped, inserted or dropped). The only
exceptions allowed are JatsError and ArchiveError, and what does parse must keep the contracts
the extract stage relies on (safe member names, unique figure ids, clean captions).

Hypothesis draws the shape of each case (prolog, encoding, archive format, damage, limits) and a
seed from which a plain `random.Random` builds the document tree: drawing whole trees through
Hypothesis strategies costs ~40 ms a case, a seed ~1 ms, and 10,000 cases per reader must fit in
CI. `derandomize=True`: every run sees the same cases; a failure prints the seed that reproduces
it. Run with `-s` to see the number of cases per outcome; set ROCO_FUZZ_CASES for fewer cases.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roco import captions, extract, jats
from roco.archive import ArchiveError, read_article_path

pytestmark = pytest.mark.slow

# Cases per reader; ROCO_FUZZ_CASES=500 gives a quick run while working on a reader.
JATS_CASES = ARCHIVE_CASES = int(os.environ.get("ROCO_FUZZ_CASES", 10_000))
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
SEEDS = st.integers(0, 2**32 - 1)

# ---------------------------------------------------------------- JATS documents

# Elements the parser looks at: wild subtrees use them anywhere, in any nesting.
TAGS = (  # noqa: SIM905 (one line of names reads better than fifty)
    "front article-meta journal-meta journal-title journal-id article-id title-group "
    "article-title pub-date year month day permissions license license-p ali:license_ref "
    "copyright-statement body back sec p fig fig-group caption title label graphic "
    "inline-graphic alternatives inline-formula disp-formula tex-math mml:math mml:mi alt-text "
    "table-wrap xref ext-link italic sup supplementary-material floats-group sub-article list "
    "list-item break media chem-struct object-id"
).split()
INLINE_TAGS = ["italic", "bold", "sup", "xref", "ext-link", "inline-formula", "inline-graphic"]
ATTRIBUTES = {
    "id": ["f1", "f1", "f1_g1", "F 2", "", "a/b", "..", "x" * 300],
    "xlink:href": ["a", "a.jpg", "A.JPG", "b.tif", "../../etc/passwd", "/c.png", "c:\\d", "", "."],
    "pub-id-type": ["pmc", "pmcid", "pmcid-ver", "pmid", "doi", "PMC", ""],
    "pub-type": ["epub", "ppub", "collection", "pmc-release", ""],
    "iso-8601-date": ["2020-01-02", "2020", "0000-00-00", "99999-99", "x"],
    "license-type": ["open-access", "cc-by", "CC BY-NC", "cc0", "by-nd-nc"],
    "journal-id-type": ["nlm-ta", "iso-abbrev", "publisher-id"],
    "alttext": ["x^2", "", "E = mc\u00b2"],
}
TEXTS = [
    "PMC123",
    "PMC7.2",
    "123.x",
    "10.1/x",
    "2019",
    "Mar",
    "13",
    "0",
    "http://creativecommons.org/licenses/by-nc/4.0/",
    "https://creativecommons.org/publicdomain/zero/1.0/",
    "Creative Commons Attribution NonCommercial License",
    "Axial CT of the chest (see http://x.org).",
    "Caf\u00c3\u00a9 \u00e2\u20ac\u2122 mojibake",
    "\u0085\u2028\u200b\u00ad\ufeff\u00a0",
    "Mass.The lesion \u2020",
]
SAFE_REFERENCES = ["&amp;", "&lt;", "&#x2013;", "&#160;", "<![CDATA[a < b]]>", "<!-- c -->"]
# References a document without a DTD may not use: each makes the parse fail (a bad_xml reject).
HOSTILE_REFERENCES = ["&unknown;", "&ndash;", "&#0;", "&#xD800;", "&", "]]>", "\x01"]
PROLOGS = [
    "",
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<?xml version="1.0" encoding="ISO-8859-1"?>',
    '<?xml version="1.0" encoding="no-such-encoding"?>',
    '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Publishing DTD v1.2//EN" '
    '"JATS-journalpublishing1.dtd">',
    '<!DOCTYPE article [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE article [<!ENTITY x "&#x2013;"><!ENTITY y "&x;&x;&x;">]>',
    '<!DOCTYPE article [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
    '<!DOCTYPE article SYSTEM "http://127.0.0.1:9/none.dtd">',
]
NAMESPACES = (
    'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" '
    'xmlns:ali="http://www.niso.org/schemas/ali/1.0/" xmlns:x="u"'
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "")


class JatsBuilder:
    """A random JATS-shaped document; `hostile` is the chance of an invalid reference."""

    def __init__(self, rng: random.Random, hostile: float):
        self.rng = rng
        self.hostile = hostile

    def attributes(self) -> str:
        names = self.rng.sample(sorted(ATTRIBUTES), self.rng.randint(0, 2))
        return "".join(f' {n}="{_escape(self.rng.choice(ATTRIBUTES[n]))}"' for n in names)

    def text(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < self.hostile:
            return rng.choice(HOSTILE_REFERENCES)
        if roll < 0.5:
            return _escape(rng.choice(TEXTS))
        if roll < 0.65:
            return rng.choice(SAFE_REFERENCES)
        # Any characters XML allows, from the whole of Unicode.
        chars = (
            chr(rng.choice([rng.randint(32, 0x2FFF), rng.randint(0xE000, 0x10FFFF)]))
            for _ in range(rng.randint(0, 8))
        )
        return _escape("".join(c for c in chars if c not in "\ufffe\uffff"))

    def element(self, tags: list[str], depth: int) -> str:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.3:
            return self.text()
        tag = rng.choice(tags)
        inner = "".join(self.element(tags, depth - 1) for _ in range(rng.randint(0, 3)))
        return f"<{tag}{self.attributes()}>{inner}</{tag}>"

    def inline(self) -> str:
        return "".join(self.element(INLINE_TAGS, 2) for _ in range(self.rng.randint(0, 3)))

    def figure(self) -> str:
        rng = self.rng
        blocks = "".join(
            f"<{tag}>{self.inline()}</{tag}>"
            for tag in rng.choices(["title", "p"], k=rng.randint(0, 3))
        )
        graphics = "".join(
            rng.choice(
                [
                    f"<graphic{self.attributes()}/>",
                    '<alternatives><graphic xlink:href="a"/><graphic xlink:href="b"/>'
                    "</alternatives>",
                    self.element(TAGS, 3),
                ]
            )
            for _ in range(rng.randint(0, 3))
        )
        permissions = rng.choice(
            [
                "",
                '<permissions><license xlink:href="https://creativecommons.org/licenses/by-nd/'
                '4.0/"/></permissions>',
            ]
        )
        return (
            f"<fig{self.attributes()}><label>{self.inline()}</label><caption>{blocks}</caption>"
            f"{permissions}{graphics}</fig>"
        )

    def block(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.45:
            return self.figure()
        if kind < 0.6:
            figures = "".join(self.figure() for _ in range(rng.randint(0, 3)))
            return f"<fig-group><caption><p>{self.inline()}</p></caption>{figures}</fig-group>"
        if kind < 0.75:
            return f"<sec><p>{self.inline()}{self.figure()}</p></sec>"
        return self.element(TAGS, 4)

    def meta(self) -> str:
        rng = self.rng
        parts = [
            f"<article-id{self.attributes()}>{_escape(rng.choice(TEXTS))}</article-id>",
            f"<pub-date{self.attributes()}><year>{rng.choice(TEXTS)}</year>"
            f"<month>{rng.choice(TEXTS)}</month><day>{rng.choice(TEXTS)}</day></pub-date>",
            f"<permissions><license{self.attributes()}><license-p>{self.inline()}</license-p>"
            "</license></permissions>",
            f"<title-group><article-title>{self.inline()}</article-title></title-group>",
            self.element(TAGS, 3),
        ]
        return "".join(rng.sample(parts, rng.randint(0, len(parts))))

    def document(self, root: str) -> str:
        body = "".join(self.block() for _ in range(self.rng.randint(0, 4)))
        floats = "".join(self.block() for _ in range(self.rng.randint(0, 1)))
        return (
            f"<{root} {NAMESPACES}><front><article-meta>{self.meta()}</article-meta></front>"
            f"<body>{body}</body><floats-group>{floats}</floats-group></{root}>"
        )


@st.composite
def jats_documents(draw) -> bytes:
    builder = JatsBuilder(random.Random(draw(SEEDS)), draw(st.sampled_from([0.0, 0.0, 0.02])))
    root = draw(st.sampled_from(["article"] * 6 + ["html", "x:article"]))
    xml = draw(st.sampled_from(PROLOGS)) + builder.document(root)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1"]))
    return xml.encode(encoding, errors="replace")


@st.composite
def damaged(draw, inputs) -> bytes:
    """An input, possibly cut, with bytes flipped, inserted or dropped."""
    data = bytearray(draw(inputs))
    rng = random.Random(draw(SEEDS))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        at = rng.randrange(len(data))
        action = rng.choice(["cut", "flip", "insert", "drop"])
        if action == "cut":
            del data[at:]
        elif action == "flip":
            data[at] ^= rng.randint(1, 255)
        elif action == "insert":
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        else:
            del data[at : at + rng.randint(1, 16)]
    return bytes(data)


def check_article(article: jats.Article) -> None:
    """The contracts the extract stage relies on."""
    assert [f.ordinal for f in article.figures] == sorted(f.ordinal for f in article.figures)
    assert article.licence in {*jats._URL_CODES.values(), "CC0", jats.NO_LICENCE}
    ids = [i for group in extract.figure_ids("PMC1", article.figures) for i in group]
    assert len(ids) == len(set(ids))
    for figure in article.figures:
        assert figure.caption == figure.caption.strip()
        assert all(g and isinstance(g, str) for g in figure.graphics)
        for href in figure.graphics:
            jats.resolve_graphic(href, ["a.jpg", "a.gif", "b.TIF", "x.png"])
        clean = captions.clean_caption(figure.caption)
        assert clean == clean.strip()
        captions.caption_problem(clean)


def test_jats_reader_raises_only_jats_error():
    outcomes = Counter()

    @settings(FUZZ, max_examples=JATS_CASES)
    @given(st.one_of(jats_documents(), damaged(jats_documents()), st.binary(max_size=200)))
    def parse(data: bytes) -> None:
        try:
            article = jats.parse_article(data)
        except jats.JatsError:
            outcomes["JatsError (bad_xml reject)"] += 1
            return
        check_article(article)
        outcomes["parsed, with figures" if article.figures else "parsed, no figures"] += 1

    parse()
    print(f"\nJATS fuzz: {sum(outcomes.values())} cases: {dict(sorted(outcomes.items()))}")
    assert sum(outcomes.values()) >= JATS_CASES
    assert min(outcomes.values()) > JATS_CASES // 20  # every outcome is well exercised


# ---------------------------------------------------------------- archives

MEMBER_NAMES = [
    "PMC1/a.nxml",
    "PMC1/b.nxml",
    "a.xml",
    "PMC1/f.jpg",
    "PMC1/F.JPG",
    "PMC1/g.tif",
    "PMC1/license.txt",
    "PMC1/doc.pdf",
    "../../escape.jpg",
    "/abs/escape.jpg",
    "C:\\escape.gif",
    "PMC1/../../escape.nxml",
    "PMC1\\back\\slash.png",
    "PMC1/",
    "./f.jpg",
    "x" * 120 + "/long.jpg",
    "\u00e9t\u00e9/\u56fe.png",
]
KINDS = ["file", "file", "file", "file", "dir", "symlink", "hardlink", "fifo", "chrdev"]
# (file name, compression): a ".tar" may hold any compression tarfile detects.
ARCHIVE_FORMATS = [
    (".tar.gz", "gz"),
    (".tgz", "gz"),
    (".tar", ""),
    (".tar", "bz2"),
    (".tar", "xz"),
    (".zip", zipfile.ZIP_STORED),
    (".zip", zipfile.ZIP_DEFLATED),
    (".zip", zipfile.ZIP_BZIP2),
    (".zip", zipfile.ZIP_LZMA),
]
LINK_TYPES = {
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chrdev": tarfile.CHRTYPE,
}


def _members(rng: random.Random, with_xml: bool) -> list[tuple[str, str, bytes]]:
    def name() -> str:
        if rng.random() < 0.8:
            return rng.choice(MEMBER_NAMES)
        return "".join(rng.choice("ab./\\:") for _ in range(rng.randint(1, 12)))

    members = [
        (name(), rng.choice(KINDS), rng.randbytes(rng.randint(0, 300)))
        for _ in range(rng.randint(0, 6))
    ]
    return [("PMC1/a.nxml", "file", b"<article/>")] * with_xml + members


def _tar(members, compression: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=f"w:{compression}", format=tarfile.GNU_FORMAT) as archive:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                info.type = LINK_TYPES[kind]
                info.linkname = "/etc/passwd"
                archive.addfile(info)
    return out.getvalue()


def _zip(members, compression: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, kind, data in members:
            # Duplicate names are what a hostile zip holds; zipfile warns and writes them.
            archive.writestr(name + ("/" if kind == "dir" else ""), data)
    return out.getvalue()


@st.composite
def archives(draw) -> tuple[str, bytes]:
    # Most real packages hold one article XML: make that common.
    members = _members(random.Random(draw(SEEDS)), draw(st.booleans()))
    suffix, method = draw(st.sampled_from(ARCHIVE_FORMATS))
    if suffix == ".zip":
        return suffix, _zip(members, method)
    return suffix, _tar(members, method)


@st.composite
def damaged_archives(draw) -> tuple[str, bytes]:
    suffix, data = draw(archives())
    return suffix, draw(damaged(st.just(data)))


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_archive_reader_raises_only_archive_error():
    outcomes = Counter()
    cwd_before = sorted(os.listdir("."))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)

        @settings(FUZZ, max_examples=ARCHIVE_CASES)
        @given(
            st.one_of(archives(), damaged_archives()),
            st.booleans(),
            st.sampled_from([200, 10_000, 1_000_000]),
        )
        def read(archive: tuple[str, bytes], allow_truncated: bool, limit: int) -> None:
            suffix, data = archive
            path = folder / f"package{suffix}"
            path.write_bytes(data)
            try:
                files = read_article_path(
                    path,
                    max_member_bytes=limit,
                    max_total_bytes=3 * limit,
                    allow_truncated=allow_truncated,
                )
                for load in files.media.values():
                    load()
            except ArchiveError:
                outcomes["ArchiveError (reject)"] += 1
                return
            finally:
                path.unlink()
                assert os.listdir(folder) == []  # nothing was written beside the package
            for name in [files.xml_name, *files.media]:
                assert name and "/" not in name and "\\" not in name and name not in {".", ".."}
            outcomes["read, damaged" if files.damage else "read"] += 1

        read()
    assert sorted(os.listdir(".")) == cwd_before
    print(f"\narchive fuzz: {sum(outcomes.values())} cases: {dict(sorted(outcomes.items()))}")
    assert sum(outcomes.values()) >= ARCHIVE_CASES
    assert min(outcomes.values()) > 0
