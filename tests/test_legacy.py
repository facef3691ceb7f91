"""Legacy mirror: the file list (real shapes), packages streamed from .tar.gz, same extraction."""

import csv
import io
import tarfile

import pytest
from conftest import jpeg_bytes

from roco import extract, legacy, plan, sources

CFG = extract.ExtractConfig(licences=frozenset({"CC BY", "CC BY-NC", "CC0"}))
XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'


def jats(pmcid: str, hrefs: list[str]) -> bytes:
    figs = "".join(
        f'<fig id="F{i}"><label>Figure {i}</label><caption><p>Axial CT of the chest showing a '
        f'nodule in case {i}.</p></caption><graphic xlink:href="{h}"/></fig>'
        for i, h in enumerate(hrefs, 1)
    )
    return (
        f'<?xml version="1.0"?><article {XLINK}><front><journal-meta><journal-title-group>'
        f"<journal-title>J Test</journal-title></journal-title-group></journal-meta>"
        f'<article-meta><article-id pub-id-type="pmc">{pmcid[3:]}</article-id><title-group>'
        f"<article-title>A case</article-title></title-group></article-meta></front>"
        f"<body>{figs}</body></article>"
    ).encode()


def package(path, folder: str, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def file_list(path, rows, header=True) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(
                ["File", "Article Citation", "Accession ID", "Last Updated (YYYY-MM-DD HH:MM:SS)"]
                + ["PMID", "License", "Retracted"]
            )
        writer.writerows(rows)


@pytest.fixture
def mirror(tmp_path):
    """Four articles: new layout, old layout (flat, lower-case name), retracted, not CC."""
    package(
        tmp_path / "oa_package/aa/01/PMC101.tar.gz",
        "PMC101",
        {
            "a.nxml": jats("PMC101", ["f1", "f2"]),
            "f1.jpg": jpeg_bytes(1, (200, 160)),
            "f2.jpg": jpeg_bytes(2, (200, 160)),
        }
        | {"a.pdf": b"%PDF" * 1000, "supp.docx": b"x" * 100},
    )
    package(
        tmp_path / "pmc102.tar.gz",
        "J_Test_2010_Aug_19_5(8)_e1",
        {
            "b.nxml": jats("PMC102", ["g1.jpg"]),
            "g1.jpg": jpeg_bytes(3, (200, 160)),
            "license.txt": b"CC BY",
        },
    )
    file_list(
        tmp_path / "oa_file_list.csv",
        [
            ["oa_package/aa/01/PMC101.tar.gz", "J Test. 2020; 1(2):3, erratum", "PMC101"]
            + ["2020-01-02 03:04:05", "11", "CC BY", "no"],
            ["oa_package/bb/02/PMC102.tar.gz", "J Test. 2010", "PMC102"]
            + ["2019-05-06 07:08:09", "12", "CC BY-NC", "no"],
            ["oa_package/cc/03/PMC103.tar.gz", "J Test. 2011", "PMC103"]
            + ["2019-05-06 07:08:09", "13", "CC BY", "yes"],
            ["oa_package/dd/04/PMC104.tar.gz", "J Test. 2012", "PMC104"]
            + ["2019-05-06 07:08:09", "", "NO-CC CODE", "no"],
        ],
    )
    return tmp_path


def extract_all(source):
    rows = source.inventory()
    return extract.extract_chunk(source, rows, CFG)


def test_packages_go_through_extraction_like_any_source(mirror):
    before = sorted(p.relative_to(mirror) for p in mirror.rglob("*"))
    source = sources.open_source({"kind": "legacy", "dir": str(mirror)})
    figures, rejects = extract_all(source)
    assert list(figures["id"]) == ["PMC101_F1", "PMC101_F2", "PMC102_F1"]
    assert figures.set_index("id").loc["PMC101_F2", "image"] == jpeg_bytes(2, (200, 160))
    assert figures.set_index("id").loc["PMC102_F1", "licence"] == "CC BY-NC"
    assert "J Test. 2020; 1(2):3, erratum" in figures["attribution"].iloc[0]
    assert figures["source_url"].iloc[0].endswith("oa_package/aa/01/PMC101.tar.gz#f1.jpg")
    # The retracted and the non-CC article are rejected from the list alone: their packages
    # are not even in the mirror.
    reasons = dict(zip(rejects["pmcid"], rejects["reason"], strict=True))
    assert reasons == {"PMC103": "retracted", "PMC104": "licence"}
    assert sorted(p.relative_to(mirror) for p in mirror.rglob("*")) == before  # nothing unpacked


def test_a_source_opened_for_some_articles_reads_only_their_lines(mirror):
    settings = {"kind": "legacy", "dir": str(mirror)}
    whole = sources.open_source(settings)
    rows = [r for r in whole.inventory() if r.pmcid in ("PMC101", "PMC103")]
    some = sources.open_source(settings, {"PMC101", "PMC103"})
    assert sorted(some.rows()) == ["PMC101", "PMC103"]
    assert extract.extract_chunk(some, rows, CFG)[0].equals(
        extract.extract_chunk(whole, rows, CFG)[0]
    )
    other = next(r for r in whole.inventory() if r.pmcid == "PMC102")
    with pytest.raises(ValueError, match="not one of the articles"):
        some.metadata(other)


def test_missing_and_corrupt_packages_are_rejects(mirror):
    (mirror / "oa_package/aa/01/PMC101.tar.gz").write_bytes(b"\x1f\x8b garbage")
    (mirror / "pmc102.tar.gz").unlink()
    _, rejects = extract_all(legacy.legacy_source({"dir": str(mirror)}))
    failed = rejects[rejects["reason"] == "fetch_failed"].set_index("pmcid")["detail"]
    assert "corrupt" in failed["PMC101"]
    assert "not in the mirror" in failed["PMC102"]


def test_etag_changes_with_retraction_even_at_the_same_date(mirror):
    source = legacy.legacy_source({"dir": str(mirror)})
    before = {r.pmcid: r.etag for r in source.inventory()}
    text = (mirror / "oa_file_list.csv").read_text()
    (mirror / "oa_file_list.csv").write_text(text.replace("CC BY,no", "CC BY,yes", 1))
    after = {r.pmcid: r.etag for r in legacy.legacy_source({"dir": str(mirror)}).inventory()}
    assert [p for p in before if before[p] != after[p]] == ["PMC101"]
    articles, _ = plan.plan_articles(legacy.legacy_source({"dir": str(mirror)}).inventory(), 100)
    assert list(articles["key"])[0] == "oa_package/aa/01/PMC101.tar.gz"


def test_line_shapes():
    row = legacy.parse_line(
        ["oa_package/x/PMC1.tar.gz", "Lancet. 2003 May 24", " 361(9371)", "PMC1"]
        + ["06-04-20 14:56", "", "cc  by-nc"]
    )
    assert row.citation == "Lancet. 2003 May 24, 361(9371)"
    assert (row.last_updated, row.pmid, row.licence, row.retracted) == (
        "2020-04-06 14:56:00",
        None,
        "CC BY-NC",
        False,
    )
    with_flag = legacy.parse_line(["f", "c", "PMC2", "2020-01-01 00:00:00", "5", "CC0", "yes"])
    assert with_flag.retracted and with_flag.licence == "CC0"
    for bad in (
        ["f", "c", "2020-01-01 00:00:00", "5", "CC0"],
        ["f", "c", "PMC3", "2020", "5", "x"],
    ):
        with pytest.raises(ValueError):
            legacy.parse_line(bad)


def test_duplicates_keep_the_newest_line_and_bad_lines_are_reported(tmp_path):
    file_list(
        tmp_path / "list.csv",
        [
            ["p/PMC7.tar.gz", "c", "PMC7", "2020-01-01 00:00:00", "1", "CC BY"],
            ["p/PMC7.tar.gz", "c", "PMC7", "2021-01-01 00:00:00", "1", "CC0"],
            ["p/PMC8.tar.gz", "c", "no accession here", "2021-01-01 00:00:00", "1", "CC0"],
        ],
        header=False,
    )
    rows, problems = legacy.read_file_list(tmp_path / "list.csv")
    assert [(r.pmcid, r.licence) for r in rows] == [("PMC7", "CC0")]
    assert [n for n, _ in problems] == [3]


def test_real_file_list_parses(realdata):
    lists = realdata / "filelists"
    rows, problems = legacy.read_file_list(
        lists / "geralddzx_capstone_oa_file_list_first10000rows_noheader.csv"
    )
    assert (len(rows), problems) == (10_000, [])
    assert rows[0].file == "oa_package/08/e0/PMC13900.tar.gz"
    assert {r.licence for r in rows} == {"NO-CC CODE", "CC BY", "CC0"}
    assert all(r.last_updated[:2] in ("19", "20") for r in rows)
    wanted = {r.pmcid for r in rows[::100]}
    some, problems = legacy.read_file_list(
        lists / "geralddzx_capstone_oa_file_list_first10000rows_noheader.csv", wanted
    )
    assert problems == [] and some == [r for r in rows if r.pmcid in wanted]
    sheet, problems = legacy.read_file_list(lists / "seanBr97_oa_file_list_4rows.csv")
    assert problems == [] and [r.last_updated for r in sheet][:2] == [
        "2020-04-06 14:56:00",
        "2020-06-18 12:56:00",
    ]


def test_real_packages_and_the_truncated_one(realdata, tmp_path):
    nxml = realdata / "nxml"
    entries = [
        ("pmc_oa_packages_oldstyle_2014/pmc2924383.tar.gz", "PMC2924383"),
        ("pmc_oa_packages_oldstyle_2014/pmc2958805.tar.gz", "PMC2958805"),
        ("pmc_oa_packages_oldstyle_2014/pmc3532326.tar.gz", "PMC3532326"),
        ("pmc_oa_packages_partial/PMC10802347.truncated.tar.gz", "PMC10802347"),
    ]
    file_list(
        tmp_path / "list.csv",
        [
            [f, "Real article, with a comma", p, "2014-01-01 00:00:00", "", "CC BY"]
            for f, p in entries
        ],
    )
    settings = {"dir": str(nxml), "file_list": str(tmp_path / "list.csv")}
    figures, rejects = extract_all(legacy.legacy_source(settings))
    assert set(figures["pmcid"]) == {"PMC2924383", "PMC2958805", "PMC3532326"}
    assert len(figures) >= 10
    truncated = rejects[rejects["pmcid"] == "PMC10802347"]
    assert list(truncated["reason"]) == ["fetch_failed"]
    assert "truncated or corrupt" in truncated["detail"].iloc[0]
    # Asked to, the source uses what survived: Figure 1's JPEG was cut off, its GIF is used.
    partial = legacy.legacy_source({**settings, "allow_truncated": True})
    row = next(r for r in partial.inventory() if r.pmcid == "PMC10802347")
    figures, rejects = extract.extract_chunk(partial, [row], CFG)
    assert len(figures) == 4 and len(rejects) == 0
    assert figures["image_file"].iloc[0].endswith("-f0001.gif")
