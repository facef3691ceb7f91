"""A local mirror of the legacy PMC OA packages: `PMCnnn.tar.gz` files and `oa_file_list.csv`.

The file list is the inventory: `File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD
HH:MM:SS),PMID,License[,Retracted]`, with or without its header line. Citations may hold commas,
quoted or not, so a line is read from both ends: the first field is the package path, the
Accession ID is the last `PMC<digits>` field before the date, and what lies between is the
citation. Dates a spreadsheet rewrote (`dd-mm-yy HH:MM`) are read back to ISO form. When an
article is listed twice the most recently updated line wins.

`LegacySource` offers the `Source` methods: `metadata` is made from the file list line, with the
keys of the Cloud Service JSON (`license_code`, `is_retracted`, `is_pmc_openaccess`, ...) so the
selection (`plan.select_reason`) and extraction run unchanged and need no package read for
rejected articles. The XML and images are streamed out of the `.tar.gz` by `roco.archive` without
extracting anything to disk; the last package read is kept in memory for the article's figures.
An article's "ETag" is its Last Updated time plus its licence and retraction flag, because a
retraction may change the list without changing the date, and it must still re-run the chunk.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from roco.archive import ArchiveError, ArticleFiles, read_article_path
from roco.sources import InventoryRow, SourceError

log = logging.getLogger(__name__)

PACKAGE_BASE_URL = "https://ftp.ncbi.nlm.nih.gov/pub/pmc"
_ACCESSION = re.compile(r"^PMC(\d+)$")
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d-%m-%y %H:%M", "%d-%m-%y %H:%M:%S")
_YES = {"yes", "y", "true", "1", "retracted"}


@dataclass(frozen=True)
class FileListRow:
    """One line of `oa_file_list.csv`."""

    file: str
    citation: str
    pmcid: str
    last_updated: str  # ISO "YYYY-MM-DD HH:MM:SS"
    pmid: str | None
    licence: str
    retracted: bool

    @property
    def pmc_number(self) -> int:
        return int(self.pmcid[3:])

    @property
    def etag(self) -> str:
        return f"{self.last_updated}|{self.licence}|{'retracted' if self.retracted else 'ok'}"


def parse_last_updated(text: str) -> str:
    """`YYYY-MM-DD HH:MM:SS` from the list's own format or a spreadsheet's `dd-mm-yy HH:MM`."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
    raise ValueError(f"unreadable Last Updated {text!r}")


def normalise_licence(text: str) -> str:
    """`cc  by-nc` -> `CC BY-NC`; an empty field is `NO-CC CODE` as in the list itself."""
    code = " ".join(text.upper().split())
    return code or "NO-CC CODE"


def accession_index(fields: list[str]) -> int:
    """Where the Accession ID is: the right-most PMC<digits> field followed by at least date,
    PMID and licence; raises ValueError when there is none."""
    for index in range(len(fields) - 4, 0, -1):
        if _ACCESSION.match(fields[index].strip()):
            return index
    raise ValueError("no Accession ID (PMC<digits>) field")


def parse_line(fields: list[str]) -> FileListRow:
    """One file list line; raises ValueError when it is not one."""
    index = accession_index(fields)
    tail = [f.strip() for f in fields[index + 1 :]]
    if len(tail) > 4:
        raise ValueError(f"{len(tail)} fields after the Accession ID, expected 3 or 4")
    return FileListRow(
        file=fields[0].strip(),
        citation=",".join(fields[1:index]).strip(),
        pmcid=fields[index].strip(),
        last_updated=parse_last_updated(tail[0]),
        pmid=tail[1] or None,
        licence=normalise_licence(tail[2]),
        retracted=len(tail) == 4 and tail[3].lower() in _YES,
    )


def read_file_list(
    path: Path, only: Collection[str] | None = None
) -> tuple[list[FileListRow], list[tuple[int, str]]]:
    """(rows, unreadable lines as (line number, reason)); one row per article, sorted by id.

    With `only` (PMC ids), the lines of other articles are skipped before they are parsed (date
    parsing is most of the cost: 35-70 s for PMC's ~3M lines, which every extract job would pay).
    """
    rows: dict[str, FileListRow] = {}
    problems = []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for number, fields in enumerate(csv.reader(handle), 1):
            if not fields or (number == 1 and fields[0].strip() == "File"):
                continue
            try:
                if only is not None and fields[accession_index(fields)].strip() not in only:
                    continue
                row = parse_line(fields)
            except ValueError as err:
                problems.append((number, str(err)))
                continue
            old = rows.get(row.pmcid)
            if old is None or row.last_updated >= old.last_updated:
                rows[row.pmcid] = row
    return sorted(rows.values(), key=lambda r: r.pmc_number), problems


def metadata_of(row: FileListRow) -> dict:
    """A Cloud-Service-shaped metadata dict from a file list line."""
    return {
        "pmcid": row.pmcid,
        "version": None,
        "pmid": row.pmid,
        "doi": None,
        "title": None,
        "citation": row.citation,
        "is_pmc_openaccess": True,  # the file list is the OA subset
        "is_manuscript": False,
        "is_retracted": row.retracted,
        "license_code": row.licence,
        "package": row.file,
        "last_updated": row.last_updated,
    }


@dataclass
class LegacySource:
    """Packages under `packages`, listed by the file list at `file_list` (of which only the
    articles in `only` are read, when it is given)."""

    packages: Path
    file_list: Path
    allow_truncated: bool = False
    only: frozenset[str] | None = None
    _rows: dict[str, FileListRow] | None = field(default=None, repr=False)
    _open: tuple[str, ArticleFiles] | None = field(default=None, repr=False)

    def rows(self) -> dict[str, FileListRow]:
        if self._rows is None:
            rows, problems = read_file_list(self.file_list, self.only)
            for number, reason in problems[:20]:
                log.warning("%s line %d skipped: %s", self.file_list, number, reason)
            if problems:
                log.warning("%s: %d unreadable lines skipped", self.file_list, len(problems))
            self._rows = {r.pmcid: r for r in rows}
        return self._rows

    def inventory(self) -> list[InventoryRow]:
        return [InventoryRow(r.pmc_number, 1, r.file, r.etag) for r in self.rows().values()]

    def metadata(self, row: InventoryRow) -> dict:
        if self.only is not None and row.pmcid not in self.only:
            raise ValueError(f"{row.pmcid} is not one of the articles this source was opened for")
        found = self.rows().get(row.pmcid)
        if found is None:
            raise SourceError(f"{row.pmcid} is not in {self.file_list.name}")
        return metadata_of(found)

    def package_path(self, file: str) -> Path:
        """The package on disk: at its list path, or flat in the folder (any letter case)."""
        name = PurePosixPath(file).name
        for candidate in (file, name, name.lower()):
            path = (self.packages / candidate).resolve()
            if path.is_relative_to(self.packages.resolve()) and path.is_file():
                return path
        raise SourceError(f"package {file} is not in the mirror {self.packages}")

    def _package(self, metadata: dict) -> ArticleFiles:
        if self._open is None or self._open[0] != metadata["pmcid"]:
            self._open = None  # free the previous article's images first
            path = self.package_path(metadata["package"])
            try:
                files = read_article_path(path, allow_truncated=self.allow_truncated)
            except ArchiveError as err:
                raise SourceError(str(err)) from err
            if files.damage:
                log.warning("%s: using what survived: %s", metadata["pmcid"], files.damage)
            self._open = (metadata["pmcid"], files)
        return self._open[1]

    def article_xml(self, row: InventoryRow, metadata: dict) -> bytes:
        return self._package(metadata).xml

    def media_names(self, metadata: dict) -> list[str]:
        return sorted(self._package(metadata).media)

    def media(self, row: InventoryRow, metadata: dict, name: str) -> bytes:
        media = self._package(metadata).media
        if name not in media:
            raise SourceError(f"{name} is not in package {metadata['package']}")
        try:
            return media[name]()
        except ArchiveError as err:
            raise SourceError(str(err)) from err

    def media_url(self, row: InventoryRow, name: str) -> str:
        return f"{PACKAGE_BASE_URL}/{row.key}#{name}"


def legacy_source(settings: dict, only: Collection[str] | None = None) -> LegacySource:
    """The mirror named by a config `source` section: `dir`, optional `file_list`; `only` as in
    `LegacySource`."""
    packages = Path(settings["dir"])
    file_list = Path(settings.get("file_list") or packages / "oa_file_list.csv")
    allow_truncated = settings.get("allow_truncated", False)
    subset = None if only is None else frozenset(only)
    return LegacySource(packages, file_list, allow_truncated, subset)
