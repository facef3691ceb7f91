"""Read one article from a path: its JATS XML, its media files and an old package's license.txt.

Accepted paths: a `.xml`/`.nxml` file (media = the other files in its folder), an article
directory (Cloud Service `PMC<id>.<ver>/` or an unpacked package), a legacy `.tar.gz`/`.tgz`/
`.tar` package, or a publisher `.zip`. Nothing is ever written to disk.

Safety: member names are reduced to their base name for lookup, and members that are not regular
files or whose names are absolute or contain `..` are ignored (never honoured, never read), and
symbolic links in directories are not followed. Every
read is bounded (`max_member_bytes`, and for tar packages `max_total_bytes` over everything kept).
A truncated or corrupt archive raises `ArchiveError` naming the last good member, unless
`allow_truncated` is set, in which case what was read before the damage is returned and
`ArticleFiles.damage` says what happened (a cut download that still holds the XML and some
figures is then usable, with the missing images becoming ordinary missing-image rejects).

Tar packages are gzip streams without an index, so they are read in one forward pass that keeps
the XML, license.txt and members with an image extension (the only files an xlink:href can
resolve to) and skips PDFs and supplements unread. Zip members and directory files are read
lazily, when the caller asks for them.
"""

from __future__ import annotations

import gzip
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

from roco.jats import IMAGE_EXTENSIONS

XML_SUFFIXES = (".nxml", ".xml")
MAX_MEMBER_BYTES = 200_000_000
MAX_TOTAL_BYTES = 2_000_000_000
# What zipfile raises on damaged input: bad headers, bad compressed data (deflate, bzip2, lzma),
# unknown compression methods, encrypted members.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
)
# Compressed data that does not decode or check: corrupt, not cut short.
_CORRUPT_STREAM = (gzip.BadGzipFile, zlib.error, lzma.LZMAError)


class ArchiveError(ValueError):
    """The path cannot be read as one article; the message says why."""


@dataclass
class ArticleFiles:
    xml_name: str
    xml: bytes
    media: Mapping[str, Callable[[], bytes]]
    licence_text: str | None
    damage: str | None = None


def read_article_path(
    path: Path,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    allow_truncated: bool = False,
) -> ArticleFiles:
    """The article at `path`; raises ArchiveError when it is missing, unsafe or unreadable."""
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return _from_directory(path, max_member_bytes)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such file or directory")
    if name.endswith(XML_SUFFIXES):
        return _from_xml_file(path, max_member_bytes)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return _from_tar(path, max_member_bytes, max_total_bytes, allow_truncated)
    if name.endswith(".zip"):
        return _from_zip(path, max_member_bytes)
    raise ArchiveError(f"{path}: not an XML file, article directory, .tar.gz or .zip")


def safe_member_name(name: str) -> str | None:
    """The base name of an archive member, or None when the name must not be honoured."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or re.match(r"[A-Za-z]:", name):
        return None
    return posix.name or None


def choose_xml(names: Iterable[str]) -> str:
    """The article XML among member names: the only .nxml, else the only .xml."""
    names = sorted(names)
    for suffix in XML_SUFFIXES:
        found = [n for n in names if n.lower().endswith(suffix)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ArchiveError(f"several candidate article XML files: {', '.join(found)}")
    raise ArchiveError("no .nxml or .xml file in the article")


def _is_media(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _is_licence(name: str) -> bool:
    return name.lower() == "license.txt"


def _read_file(path: Path, limit: int) -> bytes:
    size = path.stat().st_size
    if size > limit:
        raise ArchiveError(f"{path.name} is {size} bytes, above the limit of {limit}")
    return path.read_bytes()


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _from_files(files: Mapping[str, Path], xml_name: str, limit: int) -> ArticleFiles:
    licence = next((p for n, p in files.items() if _is_licence(n)), None)
    return ArticleFiles(
        xml_name=xml_name,
        xml=_read_file(files[xml_name], limit),
        media={n: partial(_read_file, p, limit) for n, p in files.items() if n != xml_name},
        licence_text=_decode(_read_file(licence, limit)) if licence else None,
    )


def _regular_files(folder: Path) -> dict[str, Path]:
    # Symbolic links are not followed: a link in a mirror could point anywhere on the machine.
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.is_symlink()}


def _from_xml_file(path: Path, limit: int) -> ArticleFiles:
    if path.is_symlink():
        raise ArchiveError(f"{path}: a symbolic link, not followed")
    return _from_files(_regular_files(path.parent), path.name, limit)


def _from_directory(path: Path, limit: int) -> ArticleFiles:
    files = _regular_files(path)
    if not any(n.lower().endswith(XML_SUFFIXES) for n in files):
        # An unpacked legacy package: the article sits in one sub-folder (PMCnnn/ or journal_...).
        subdirs = [p for p in sorted(path.iterdir()) if p.is_dir()]
        if len(subdirs) == 1:
            return _from_directory(subdirs[0], limit)
    return _from_files(files, choose_xml(files), limit)


def _from_zip(path: Path, limit: int) -> ArticleFiles:
    try:
        with zipfile.ZipFile(path) as archive:
            members = {
                base: info
                for info in archive.infolist()
                if not info.is_dir() and (base := safe_member_name(info.filename))
            }
            xml_name = choose_xml(members)
            xml = _zip_read(path, members[xml_name], limit)
            licence = next((i for n, i in members.items() if _is_licence(n)), None)
    except _ZIP_ERRORS as error:
        raise ArchiveError(f"{path.name}: unreadable zip: {error}") from error
    return ArticleFiles(
        xml_name=xml_name,
        xml=xml,
        media={n: partial(_zip_read, path, i, limit) for n, i in members.items() if n != xml_name},
        licence_text=_decode(_zip_read(path, licence, limit)) if licence else None,
    )


def _zip_read(path: Path, info: zipfile.ZipInfo, limit: int) -> bytes:
    # The size in the header may lie (zip bombs): read at most limit + 1 bytes and check.
    if info.file_size > limit:
        raise ArchiveError(f"{info.filename} is {info.file_size} bytes, above the limit of {limit}")
    try:
        with zipfile.ZipFile(path) as archive, archive.open(info) as member:
            data = member.read(limit + 1)
    except _ZIP_ERRORS as error:
        raise ArchiveError(f"{path.name}: cannot read {info.filename}: {error}") from error
    if len(data) > limit:
        raise ArchiveError(f"{info.filename} expands above the limit of {limit} bytes")
    return data


def _from_tar(path: Path, limit: int, total_limit: int, allow_truncated: bool) -> ArticleFiles:
    kept: dict[str, bytes] = {}
    damage = None
    last = "(start)"
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        # gzip.GzipFile checks the stream's CRC-32 and length at its end; tarfile's own gzip
        # reader does not, and a flipped bit would pass as a damaged image.
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as archive:
                for member in archive:
                    last = member.name
                    base = _wanted_member(member, kept, limit, total_limit)
                    if base is not None:
                        kept[base] = archive.extractfile(member).read()
            while stream.read(1 << 20):  # the rest (padding) up to the CRC-32
                pass
        except _CORRUPT_STREAM as error:
            # Corrupt, not cut short: nothing read from the stream can be trusted.
            raise ArchiveError(f"{path.name}: corrupt archive: {error}") from error
        except (tarfile.TarError, EOFError, OSError) as error:
            damage = f"{path.name}: truncated or corrupt archive after member {last!r}: {error}"
            if not allow_truncated:
                raise ArchiveError(damage) from error
    try:
        xml_name = choose_xml(n for n in kept if n.lower().endswith(XML_SUFFIXES))
    except ArchiveError as error:
        raise ArchiveError(f"{error} ({damage})" if damage else str(error)) from None
    licence = next((data for n, data in kept.items() if _is_licence(n)), None)
    return ArticleFiles(
        xml_name=xml_name,
        xml=kept[xml_name],
        media={n: _constant(data) for n, data in kept.items() if n != xml_name},
        licence_text=_decode(licence) if licence is not None else None,
        damage=damage,
    )


def _wanted_member(member: tarfile.TarInfo, kept: dict, limit: int, total_limit: int) -> str | None:
    """The base name to keep `member` under (XML, license.txt, image), or None to skip it;
    raises ArchiveError when keeping it would pass a size limit."""
    base = safe_member_name(member.name)
    if not member.isreg() or base is None or base in kept:
        return None
    if not (base.lower().endswith(XML_SUFFIXES) or _is_licence(base) or _is_media(base)):
        return None
    if member.size > limit:
        raise ArchiveError(f"{member.name} is {member.size} bytes, above {limit}")
    if sum(map(len, kept.values())) + member.size > total_limit:
        raise ArchiveError(f"members exceed {total_limit} bytes in total")
    return base


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data
