"""Reading one article from an XML file, a directory, a .tar.gz package or a .zip, safely."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from roco.archive import ArchiveError, choose_xml, read_article_path, safe_member_name

XML = b"<article><body/></article>"
JPG = b"\xff\xd8\xff\xe0 fake jpeg"
TIF = b"II*\x00" + bytes(100)


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_legacy_tar_package_with_journal_folder(tmp_path):
    package = make_tar(
        tmp_path / "PMC1.tar.gz",
        {
            "PLoS_One_2010_5(8)_e1/pone.1.nxml": XML,
            "PLoS_One_2010_5(8)_e1/pone.1.g001.jpg": JPG,
            "PLoS_One_2010_5(8)_e1/pone.1.g001.gif": b"GIF89a",
            "PLoS_One_2010_5(8)_e1/pone.1.pdf": b"%PDF" * 100,
            "PLoS_One_2010_5(8)_e1/license.txt": b"Creative Commons Attribution License",
        },
    )
    files = read_article_path(package)
    assert files.xml_name == "pone.1.nxml"
    assert files.xml == XML
    assert sorted(files.media) == ["license.txt", "pone.1.g001.gif", "pone.1.g001.jpg"]
    assert files.media["pone.1.g001.jpg"]() == JPG
    assert files.licence_text == "Creative Commons Attribution License"
    assert files.damage is None


def test_unsafe_member_names_are_never_honoured(tmp_path):
    package = make_tar(
        tmp_path / "evil.tgz",
        {"../../etc/a.nxml": XML, "/abs/b.jpg": JPG, "PMC1/ok.nxml": XML, "PMC1/f.jpg": JPG},
    )
    files = read_article_path(package)
    assert files.xml_name == "ok.nxml"
    assert sorted(files.media) == ["f.jpg"]
    assert not (tmp_path.parent / "etc").exists()
    assert safe_member_name("../x.jpg") is None
    assert safe_member_name("/x.jpg") is None
    assert safe_member_name("C:\\x.jpg") is None
    assert safe_member_name("PMC1/sub/x.jpg") == "x.jpg"


def test_truncated_tar_is_a_clear_error_or_a_marked_partial_read(tmp_path):
    whole = make_tar(
        tmp_path / "whole.tar.gz",
        {"PMC2/a.nxml": XML, "PMC2/f1.jpg": JPG, "PMC2/big.pdf": bytes(range(256)) * 4000},
    ).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) - 200])
    with pytest.raises(ArchiveError, match="truncated or corrupt archive"):
        read_article_path(cut)
    partial = read_article_path(cut, allow_truncated=True)
    assert partial.xml == XML
    assert partial.media["f1.jpg"]() == JPG
    assert "truncated" in partial.damage


def test_tar_cut_before_the_xml_ends_names_the_damage(tmp_path):
    whole = make_tar(tmp_path / "w.tar.gz", {"PMC3/a.nxml": bytes(range(256)) * 4000}).read_bytes()
    cut = tmp_path / "c.tar.gz"
    cut.write_bytes(whole[:2000])
    with pytest.raises(ArchiveError, match="no .nxml or .xml.*truncated"):
        read_article_path(cut, allow_truncated=True)


def test_member_size_limit(tmp_path):
    package = make_tar(tmp_path / "p.tar.gz", {"PMC4/a.nxml": XML, "PMC4/f.jpg": JPG * 100})
    with pytest.raises(ArchiveError, match="above"):
        read_article_path(package, max_member_bytes=200)


def test_zip_package_reads_members_lazily_and_checks_sizes(tmp_path):
    package = make_zip(
        tmp_path / "elife-1.zip",
        {"elife-1.xml": XML, "elife-1-fig1.tif": TIF, "elife-1.pdf": b"%PDF"},
    )
    files = read_article_path(package)
    assert files.xml_name == "elife-1.xml"
    assert files.media["elife-1-fig1.tif"]() == TIF
    assert files.licence_text is None
    small = read_article_path(package, max_member_bytes=len(XML))
    with pytest.raises(ArchiveError, match="above the limit"):
        small.media["elife-1-fig1.tif"]()


def test_corrupt_zip_is_an_archive_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArchiveError, match="unreadable zip"):
        read_article_path(bad)


def test_xml_file_takes_its_siblings_as_media(tmp_path):
    (tmp_path / "PMC5.1.xml").write_bytes(XML)
    (tmp_path / "fig1.jpg").write_bytes(JPG)
    files = read_article_path(tmp_path / "PMC5.1.xml")
    assert files.xml == XML
    assert files.media["fig1.jpg"]() == JPG
    assert "PMC5.1.xml" not in files.media


def test_cloud_article_directory_and_unpacked_package_directory(tmp_path):
    cloud = tmp_path / "PMC6.1"
    cloud.mkdir()
    (cloud / "PMC6.1.xml").write_bytes(XML)
    (cloud / "PMC6.1.json").write_text("{}")
    (cloud / "g001.jpg").write_bytes(JPG)
    assert read_article_path(cloud).xml_name == "PMC6.1.xml"
    unpacked = tmp_path / "unpacked"
    (unpacked / "Journal_2010").mkdir(parents=True)
    (unpacked / "Journal_2010" / "a.nxml").write_bytes(XML)
    (unpacked / "Journal_2010" / "license.txt").write_text("CC BY")
    files = read_article_path(unpacked)
    assert (files.xml_name, files.licence_text) == ("a.nxml", "CC BY")


def test_choose_xml_prefers_nxml_and_refuses_ambiguity():
    assert choose_xml(["a.xml", "b.nxml", "c.jpg"]) == "b.nxml"
    with pytest.raises(ArchiveError, match="several"):
        choose_xml(["a.xml", "b.xml"])
    with pytest.raises(ArchiveError, match="no .nxml"):
        choose_xml(["a.jpg"])


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(ArchiveError, match="no such file"):
        read_article_path(tmp_path / "nope.tar.gz")
    other = tmp_path / "notes.docx"
    other.write_bytes(b"x")
    with pytest.raises(ArchiveError, match="not an XML file"):
        read_article_path(other)
