"""CMS Medicare Coverage Database (MCD): local coverage articles and LCDs, their code lists and MACs.

Publisher: CMS, Coverage and Analysis Group, at cms.gov/medicare-coverage-database (Downloads page).
Format: the MCD download exports, as CMS ships them or unpacked:
  - a zip (`current_article.zip`, `current_lcd.zip`, `all_article.zip`, ...) holding an inner zip
    (`current_article_csv.zip`) of CSV tables, a readme and an Access database; or
  - a folder of those CSV tables (one file per table).
  Table and column names match the Coverage API (spec v1.5, `DataArticleHcpcCode` and friends):
  `article`, `article_x_hcpc_code`, `article_x_hcpc_code_group`, `article_x_contractor`,
  `contractor`, and the `lcd*` equivalents. Which table a file holds is told by its header, never
  its name. Also read: the Coverage API's local-coverage report listing (`documents_latest.csv`:
  contractor_name_type, document_display_id, ... url), one row per current LCD or article.
  Other MCD tables (ICD-10 lists, revision history, ...) are recognised and skipped.
Versions: the column sets below (MCD exports since the 2019 redesign; Coverage API 1.5 names).
Cadence: CMS refreshes the exports weekly; articles change when a MAC revises them.
Quirks handled: zips nested in zips; the download's column names differ from the API's
  (`contractor_bus_name` = `contractor_name`, `contractor_number` = `contract_number`,
  `contract_type_id` = `contractor_type_id`); quoted fields with embedded newlines and commas (HTML
  paragraphs, "Noridian Healthcare Solutions, LLC\\n(MAC - Part A, MAC - Part B)"); dates as
  MM/DD/YYYY (rewritten to ISO), `N/A` for no date; HTML (sometimes entity-escaped twice) in the code
  group paragraphs, kept as written and as plain text; tables not in UTF-8 (exports have been
  seen in Windows-1252) are read as Windows-1252.
Filtering: code rows are kept only for the codes of interest (raw/reference/billing_codes.csv); the
  code descriptors (AMA CPT text) are not kept.

Integrity across tables is checked here, not in the schemas: the loader validates each dataset's
rows on their own, but a code row that points to an article (or code group, or contractor) missing
from its release is meaningless. A release is read whole (a zip, or a table and its siblings in the
same folder), and such rows are quarantined with the reason. A table whose parent table is not in
its release at all rejects the file, saying what to add.

Each code group's paragraph ("The following CPT codes are non-covered ...") is classified as
`covered`, `non_covered` or `other` (see `classify_paragraph`), keeping the phrase that decided it
and the paragraph itself as evidence.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import html
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from flows.engines.readers import REJECT_COLUMNS, ReadStats, RowFilter, normalize_header, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from schemas.fields import blank_to_null, normalize_dates

SOURCE = "cms_mcd"
SCOPE_DATASET = "cms__mcd_code_scope"
HEAD_BYTES = 64 * 1024
COPY_BLOCK = 1024 * 1024
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S")
NO_DATE = {"N/A", "NA", "NONE"}

# Column names of the MCD download that the Coverage API (and this project) names differently.
ALIASES = {
    "contractor_bus_name": "contractor_name",
    "contractor_number": "contract_number",
    "contract_type_id": "contractor_type_id",
    "range": "code_range",
}


@dataclass(frozen=True)
class Parent:
    """A table a row must point to: its name and the (child column -> parent column) key."""

    table: str
    key: tuple[tuple[str, str], ...]
    check: str


@dataclass(frozen=True)
class Table:
    """One MCD table this adapter loads: how to recognise it and what to keep."""

    name: str
    dataset: str
    marks: frozenset[str]
    required: tuple[str, ...]
    columns: tuple[str, ...]
    excludes: frozenset[str] = frozenset()
    dates: tuple[str, ...] = ()
    parents: tuple[Parent, ...] = ()
    code_column: str | None = None  # rows kept only for the codes of interest
    paragraph: bool = False


def _doc_tables(kind: str) -> list[Table]:
    """The four tables of one document kind ('article' or 'lcd')."""
    doc_id, doc_version = f"{kind}_id", f"{kind}_version"
    doc_key = ((doc_id, doc_id), (doc_version, doc_version))
    to_doc = Parent(kind, doc_key, f"references_{kind}")
    to_group = Parent(
        f"{kind}_x_hcpc_code_group", (*doc_key, ("hcpc_code_group", "hcpc_code_group")), "references_code_group"
    )
    to_contractor = Parent(
        "contractor",
        (
            ("contractor_id", "contractor_id"),
            ("contractor_type_id", "contractor_type_id"),
            ("contractor_version", "contractor_version"),
        ),
        "references_contractor",
    )
    if kind == "article":
        doc_columns = (
            "article_id",
            "article_version",
            "article_type",
            "title",
            "display_id",
            "status",
            "article_pub_date",
            "article_eff_date",
            "article_end_date",
            "date_retired",
            "last_updated",
        )
        doc_dates = ("article_pub_date", "article_eff_date", "article_end_date", "date_retired", "last_updated")
    else:
        doc_columns = (
            "lcd_id",
            "lcd_version",
            "title",
            "display_id",
            "determination_number",
            "status",
            "orig_det_eff_date",
            "rev_eff_date",
            "rev_end_date",
            "ent_det_end_date",
            "date_retired",
            "last_updated",
        )
        doc_dates = (
            "orig_det_eff_date",
            "rev_eff_date",
            "rev_end_date",
            "ent_det_end_date",
            "date_retired",
            "last_updated",
        )
    not_child = frozenset({"hcpc_code_id", "hcpc_code_group", "contractor_id", "paragraph", "icd10_code_id"})
    return [
        Table(
            kind,
            f"cms__mcd_{kind}",
            frozenset({doc_id, doc_version, "title"}),
            (doc_id, doc_version, "title"),
            doc_columns,
            excludes=not_child,
            dates=doc_dates,
        ),
        Table(
            f"{kind}_x_hcpc_code_group",
            f"cms__mcd_{kind}_hcpc_code_group",
            frozenset({doc_id, doc_version, "hcpc_code_group", "paragraph"}),
            (doc_id, doc_version, "hcpc_code_group", "paragraph"),
            (doc_id, doc_version, "hcpc_code_group", "paragraph", "last_updated"),
            excludes=frozenset({"hcpc_code_id"}),
            dates=("last_updated",),
            parents=(to_doc,),
            paragraph=True,
        ),
        Table(
            f"{kind}_x_hcpc_code",
            f"cms__mcd_{kind}_hcpc_code",
            frozenset({doc_id, doc_version, "hcpc_code_id", "hcpc_code_group"}),
            (doc_id, doc_version, "hcpc_code_id", "hcpc_code_group"),
            (doc_id, doc_version, "hcpc_code_id", "hcpc_code_version", "hcpc_code_group", "code_range", "last_updated"),
            dates=("last_updated",),
            parents=(to_doc, to_group),
            code_column="hcpc_code_id",
        ),
        Table(
            f"{kind}_x_contractor",
            f"cms__mcd_{kind}_contractor",
            frozenset({doc_id, doc_version, "contractor_id"}),
            (doc_id, doc_version, "contractor_id", "contractor_version"),
            (
                doc_id,
                doc_version,
                *(("article_type",) if kind == "article" else ()),
                "contractor_id",
                "contractor_type_id",
                "contractor_version",
                "last_updated",
            ),
            excludes=frozenset({"hcpc_code_id"}),
            dates=("last_updated",),
            parents=(to_doc, to_contractor),
        ),
    ]


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "contractor",
            "cms__mcd_contractor",
            frozenset({"contractor_id", "contractor_version", "contractor_name"}),
            ("contractor_id", "contractor_version", "contractor_name"),
            (
                "contractor_id",
                "contractor_type_id",
                "contractor_version",
                "contract_number",
                "contractor_name",
                "last_updated",
            ),
            excludes=frozenset({"article_id", "lcd_id"}),
            dates=("last_updated",),
        ),
        *_doc_tables("article"),
        *_doc_tables("lcd"),
        Table(
            "document",
            "cms__mcd_document",
            frozenset({"document_display_id", "document_type", "document_version"}),
            (
                "document_id",
                "document_display_id",
                "document_type",
                "document_version",
                "title",
                "contractor_name_type",
            ),
            (
                "document_id",
                "document_display_id",
                "document_type",
                "document_version",
                "title",
                "contractor_name_type",
                "effective_date",
                "retirement_date",
                "updated_on",
                "updated_on_sort",
                "note",
                "url",
            ),
            dates=("effective_date", "retirement_date", "updated_on"),
        ),
    ]
}
DATASETS = tuple(t.dataset for t in TABLES.values()) + (SCOPE_DATASET,)
LOAD_ORDER = [
    "contractor",
    "article",
    "lcd",
    "article_x_hcpc_code_group",
    "lcd_x_hcpc_code_group",
    "article_x_contractor",
    "lcd_x_contractor",
    "article_x_hcpc_code",
    "lcd_x_hcpc_code",
    "document",
]
# Headers of other MCD tables (ICD-10 lists, revision history, lookups, ...): recognised, not loaded.
OTHER_MCD_MARKS = (
    {"article_id", "article_version"},
    {"lcd_id", "lcd_version"},
    {"contractor_id", "contractor_type_id"},
    {"state_id", "state_abbrev"},
    {"period_id"},
    {"ncd_id"},
)


# --- paragraph classification ----------------------------------------------------------------------
# Generic disclaimers CMS prints above most code lists: they say nothing about coverage.
DISCLAIMERS = [
    r"(?:the )?appearance of a code in this section does not necessarily indicate coverage\.?",
    r"does not (?:necessarily )?(?:indicate|guarantee|imply) coverage\.?",
]
NON_COVERED = [
    r"\bnon[- ]?covered\b",
    r"\bnot covered\b",
    r"\bnot be covered\b",
    r"\bnot (?:be )?(?:considered )?reasonable and necessary\b",
    r"\bnot medically necessary\b",
    r"\bexperimental\b",
    r"\binvestigational\b",
    r"\bunproven\b",
    r"\bwill be denied\b",
    r"\bnot payable\b",
    r"\bstatutorily excluded\b",
    r"\bexcluded from coverage\b",
    r"\bno coverage\b",
]
COVERED = [
    r"\bcovered\b",
    r"\breasonable and necessary\b",
    r"\bmedically necessary\b",
    r"\bsupports? medical necessity\b",
    r"\bare payable\b",
    r"\bis payable\b",
]


def paragraph_text(value: object) -> str | None:
    """Plain text of an MCD paragraph: HTML tags dropped, entities (even double-escaped) decoded."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value)
    for _ in range(3):  # '&amp;lt;p&amp;gt;' -> '&lt;p&gt;' -> '<p>'
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    text = re.sub(r"<\s*(?:br|/p|/li|/div|/ul|/ol)\s*/?\s*>", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"<[^<>]{0,500}>", " ", text)
    text = " ".join(text.split())
    return text or None


def classify_paragraph(text: str | None) -> tuple[str, str | None]:
    """('covered' | 'non_covered' | 'other', the phrase that decided it) for a code-group paragraph.

    A stated denial wins over a stated coverage ("not covered" also contains "covered"); CMS's
    generic disclaimer ("does not necessarily indicate coverage") is ignored; a paragraph that
    states neither (billing instructions, "reviewed on a case-by-case basis", blank) is `other`.
    """
    if not text:
        return "other", None
    lowered = text.lower()
    for pattern in DISCLAIMERS:
        lowered = re.sub(pattern, " ", lowered)
    for kind, patterns in (("non_covered", NON_COVERED), ("covered", COVERED)):
        for pattern in patterns:
            found = re.search(pattern, lowered)
            if found:
                return kind, found.group(0)
    return "other", None


# --- reading a release -----------------------------------------------------------------------------
@dataclass
class TableFile:
    """One CSV table of a release, as a UTF-8 file on disk, with where it came from."""

    table: Table
    path: Path  # UTF-8 text (a transcoded copy when the original was not)
    label: str  # "article.csv", or inside a zip "current_article_csv.zip > article.csv"
    file_header: list[str]  # as the reader names the columns (normalized)
    in_zip: bool

    @property
    def header(self) -> list[str]:
        """Column names with the download's aliases resolved to the API's names."""
        return [ALIASES.get(h, h) for h in self.file_header]


@dataclass
class Release:
    """The tables of one MCD release that this adapter reads, plus where their keys come from."""

    members: list[TableFile] = field(default_factory=list)
    workdir: tempfile.TemporaryDirectory | None = None  # type: ignore[type-arg]
    digests: set[str] = field(default_factory=set)  # tables already found (a zip may hold one table twice)
    keys: dict[tuple[str, tuple[str, ...]], set[tuple[str, ...]]] = field(
        default_factory=dict
    )  # parent keys, read once
    extracted: int = 0  # files written to workdir so far (unique names)

    def scratch(self, suffix: str) -> Path:
        """A new file name in the work folder."""
        assert self.workdir is not None
        self.extracted += 1
        return Path(self.workdir.name) / f"member-{self.extracted}{suffix}"

    def of(self, table: str) -> list[TableFile]:
        return [m for m in self.members if m.table.name == table]

    def close(self) -> None:
        if self.workdir is not None:
            self.workdir.cleanup()


def _header_of(head: bytes) -> list[str]:
    """The normalized header of CSV text (its first non-blank record), or []."""
    text = head.decode("utf-8-sig", errors="replace")
    for fields in csv.reader(text.splitlines()[:50]):
        if fields and any(f.strip() for f in fields):
            return [normalize_header(f) for f in fields]
    return []


def table_of(header: list[str]) -> Table | None:
    """The table a (normalized) header belongs to, told by its columns, or None."""
    columns = {ALIASES.get(h, h) for h in header}
    for table in TABLES.values():
        if table.marks <= columns and not (table.excludes & columns):
            return table
    return None


def _is_other_mcd_table(header: list[str]) -> bool:
    columns = {ALIASES.get(h, h) for h in header}
    return any(marks <= columns for marks in OTHER_MCD_MARKS)


def _copy_as_utf8(source: io.BufferedIOBase, target: Path, reopen) -> str:  # type: ignore[no-untyped-def]
    """Copy a byte stream to `target` as UTF-8 (a stream that is not UTF-8 is read as Windows-1252).

    Returns the sha256 of the bytes as stored in the source.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    digest = hashlib.sha256()
    try:
        with target.open("wb") as out:
            while block := source.read(COPY_BLOCK):
                digest.update(block)
                decoder.decode(block)  # raises on the first invalid byte
                out.write(block)
            decoder.decode(b"", final=True)
        return digest.hexdigest()
    except UnicodeDecodeError:
        pass
    digest = hashlib.sha256()
    with reopen() as again, target.open("w", encoding="utf-8", newline="") as out:
        while block := again.read(COPY_BLOCK):
            digest.update(block)
            out.write(block.decode("cp1252", errors="replace"))
    return digest.hexdigest()


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while block := handle.read(COPY_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _zip_members(archive: zipfile.ZipFile, chain: str, release: Release, depth: int = 0) -> None:
    """Find the tables in a zip (and the zips inside it), extracting only what is read."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        label = f"{chain} > {info.filename}" if chain else info.filename
        with archive.open(info) as handle:
            head = handle.read(HEAD_BYTES)
        if head.startswith(b"PK\x03\x04"):
            if depth >= 3:
                continue
            nested = release.scratch(".zip")
            with archive.open(info) as handle, nested.open("wb") as out:
                shutil.copyfileobj(handle, out, COPY_BLOCK)
            try:
                with zipfile.ZipFile(nested) as inner:
                    _zip_members(inner, label, release, depth + 1)
            except zipfile.BadZipFile:
                continue
            continue
        if b"\x00" in head:
            continue  # the Access database, PDFs: not tables
        header = _header_of(head)
        table = table_of(header)
        if table is None:
            continue
        target = release.scratch(".csv")
        with archive.open(info) as handle:
            digest = _copy_as_utf8(handle, target, lambda info=info: archive.open(info))
        if digest in release.digests:  # the same table twice (e.g. contractor.csv in two inner zips): read once
            target.unlink()
            continue
        release.digests.add(digest)
        release.members.append(TableFile(table, target, label, header, in_zip=True))


def _csv_table(path: Path, workdir_holder: Release, wanted: set[str] | None = None) -> TableFile | None:
    """A standalone CSV table (transcoded to a temporary UTF-8 copy when it is not UTF-8).

    With `wanted`, a table of another kind is passed over before its content is read.
    """
    head = sniff(path)
    if head.startswith(b"PK\x03\x04") or b"\x00" in head:
        return None
    header = _header_of(head)
    table = table_of(header)
    if table is None or (wanted is not None and table.name not in wanted):
        return None
    if _is_utf8(path):
        return TableFile(table, path, path.name, header, in_zip=False)
    if workdir_holder.workdir is None:
        workdir_holder.workdir = tempfile.TemporaryDirectory(prefix="payerbench-mcd-")
    target = workdir_holder.scratch(".csv")
    with path.open("rb") as handle:
        _copy_as_utf8(handle, target, lambda: path.open("rb"))
    return TableFile(table, target, path.name, header, in_zip=False)


def open_release(path: Path) -> tuple[Release, list[TableFile]]:
    """The release a file belongs to, and the tables of it to load from this file.

    A zip is its own release. A CSV table's release is its folder: its parent tables are read
    from the sibling files whose headers are those tables'.
    """
    head = sniff(path)
    release = Release()
    if head.startswith(b"PK\x03\x04"):
        release.workdir = tempfile.TemporaryDirectory(prefix="payerbench-mcd-")
        try:
            with zipfile.ZipFile(path) as archive:
                _zip_members(archive, "", release)
        except zipfile.BadZipFile as exc:
            release.close()
            raise FileRejected(
                path, f"not a readable zip ({exc})", "an MCD export zip as downloaded from CMS"
            ) from None
        if not release.members:
            release.close()
            raise FileRejected(
                path,
                "holds no MCD table payerbench reads",
                f"a zip with one of the CSV tables {', '.join(t + '.csv' for t in LOAD_ORDER)}",
            )
        order = {name: i for i, name in enumerate(LOAD_ORDER)}
        release.members.sort(key=lambda m: (order[m.table.name], m.label))
        return release, list(release.members)
    if b"\x00" in head:
        raise FileRejected(path, "binary content, not a CSV table or a zip", "an MCD CSV table or export zip")
    own = _csv_table(path, release)
    if own is None:
        header = _header_of(head)
        if _is_other_mcd_table(header):
            return release, []  # an MCD table this project does not use: nothing to load
        raise FileRejected(
            path,
            "header matches no MCD table",
            "the header of an MCD table, e.g. article_id,article_version,"
            "hcpc_code_id,hcpc_code_version,hcpc_code_group,...",
            "line 1",
        )
    release.members.append(own)
    wanted = {p.table for p in own.table.parents}
    if wanted:
        for sibling in sorted(path.parent.iterdir()):
            if sibling == path or not sibling.is_file() or sibling.name.startswith("."):
                continue
            try:
                found = _csv_table(sibling, release, wanted)
            except (FileRejected, OSError):
                continue
            if found is not None:
                release.members.append(found)
    return release, [own]


# --- keys and references -----------------------------------------------------------------------------
def _key_part(value: object) -> str:
    """One part of a key, compared as text: '0990001' and '990001' are the same id."""
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()
    return str(int(text)) if text.isdigit() else text


def _parent_keys(release: Release, members: list[TableFile], parent: Parent, chunk_rows: int) -> set[tuple[str, ...]]:
    columns = [p for _, p in parent.key]
    cached = release.keys.get((parent.table, tuple(columns)))
    if cached is not None:
        return cached
    keys: set[tuple[str, ...]] = set()
    release.keys[(parent.table, tuple(columns))] = keys
    for member in members:
        use = [c for c in columns if c in member.header]
        for chunk in read_csv_chunks(member.path, required=[], chunk_rows=chunk_rows):
            frame = chunk.frame.rename(columns=ALIASES)
            parts = [frame[c].map(_key_part) if c in use else pd.Series("", index=frame.index) for c in columns]
            keys.update(zip(*parts))
    return keys


def _reference_checker(member: TableFile, release: Release, path: Path, chunk_rows: int):  # type: ignore[no-untyped-def]
    """For each parent: (parent, child columns, the parent's keys); rejects the file if a parent is absent."""
    table = member.table
    checks = []
    for parent in table.parents:
        members = release.of(parent.table)
        if not members:
            where = "the zip" if any(m.in_zip for m in release.members) else f"the folder {path.parent.name or '.'}"
            raise FileRejected(
                path,
                f"table {table.name} points to {parent.table} rows, but {where} holds no {parent.table} table",
                f"the whole release: load the CMS export zip as downloaded, or put {parent.table}.csv of the same "
                f"release next to {path.name}",
            )
        child_columns = [c for c, _ in parent.key]
        parent_columns = [p for _, p in parent.key]
        keys = _parent_keys(release, members, parent, chunk_rows)
        # A key column one side lacks (the API's contractor table has no type id) is left out of the match.
        missing = [
            i
            for i, (c, p) in enumerate(parent.key)
            if c not in member.header or not all(p in m.header for m in members)
        ]
        if missing:
            keep = [i for i in range(len(parent_columns)) if i not in missing]
            keys = {tuple(k[i] for i in keep) for k in keys}
            child_columns = [child_columns[i] for i in keep]
        checks.append((parent, child_columns, keys, ", ".join(m.label for m in members)))
    return checks


def _orphans(frame: pd.DataFrame, raw: pd.DataFrame, checks: list, table: Table) -> tuple[pd.Series, list[dict]]:  # type: ignore[type-arg]
    """(rows to keep, quarantine rows) for rows whose key is missing from a parent table."""
    keep = pd.Series(True, index=frame.index)
    found: list[dict[str, object]] = []
    for parent, columns, keys, where in checks:
        if not len(frame):
            break
        present = [c for c in columns if c in frame]
        parts = [frame[c].map(_key_part) for c in present]
        tuples = list(zip(*parts))
        missing = pd.Series([t not in keys for t in tuples], index=frame.index) & keep
        for row in frame.index[missing]:
            key = dict(zip(present, (frame.at[row, c] for c in present)))
            described = " ".join(f"{k} {v}" for k, v in key.items())
            found.append(
                {
                    "source_record": frame.at[row, RECORD_COLUMN],
                    "column": ",".join(present),
                    "check": parent.check,
                    "failure_value": json.dumps([None if pd.isna(v) else str(v) for v in key.values()]),
                    "reason": f"{table.name} row points to {described}, which is not in the {parent.table} table of its "
                    f"release ({where})",
                    "raw_record": json.dumps(
                        {k: (None if pd.isna(v) else str(v)) for k, v in raw.loc[row].items() if k != RECORD_COLUMN},
                        ensure_ascii=False,
                    ),
                }
            )
        keep &= ~missing
    return keep, found


# --- the adapter ---------------------------------------------------------------------------------------
def detect(path: Path) -> bool:
    """True when the file is an MCD table (by its header) or a zip holding one."""
    try:
        head = sniff(path)
        if head.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(path) as archive:
                return _zip_has_table(archive)
        if b"\x00" in head:
            return False
        return table_of(_header_of(head)) is not None
    except (FileRejected, zipfile.BadZipFile, OSError):
        return False


def _zip_has_table(archive: zipfile.ZipFile, depth: int = 0) -> bool:
    for info in archive.infolist():
        if info.is_dir():
            continue
        with archive.open(info) as handle:
            head = handle.read(HEAD_BYTES)
        if head.startswith(b"PK\x03\x04") and depth < 3:
            with archive.open(info) as handle:
                data = io.BytesIO(handle.read())
            try:
                with zipfile.ZipFile(data) as inner:
                    if _zip_has_table(inner, depth + 1):
                        return True
            except zipfile.BadZipFile:
                continue
        elif b"\x00" not in head and table_of(_header_of(head)) is not None:
            return True
    return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse an MCD export (zip) or one of its CSV tables into batches of its datasets."""
    release, to_load = open_release(path)
    try:
        codes = ctx.codes_of_interest
        rows = ctx.settings.chunk_rows
        for member in to_load:
            yield from _read_table(path, member, release, codes, rows)
    finally:
        release.close()


def _read_table(
    path: Path, member: TableFile, release: Release, codes: frozenset[str], chunk_rows: int
) -> Iterator[Batch]:
    table = member.table
    missing = [c for c in table.required if c not in member.header]
    if missing:
        raise FileRejected(
            path,
            f"table {table.name} ({member.label}) lacks column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}",
            f"the {table.name} columns {', '.join(table.required)}",
        )
    checks = _reference_checker(member, release, path, chunk_rows)
    row_filter = None
    if table.code_column and codes:
        code_at = next(h for h in member.file_header if ALIASES.get(h, h) == table.code_column)
        row_filter = RowFilter(code_at, lambda value: value.strip().upper() in codes)
    stats = ReadStats()
    listed: Counter[str] = Counter()
    prefix = f"{member.label} " if member.in_zip else ""
    for chunk in read_csv_chunks(member.path, required=[], chunk_rows=chunk_rows, row_filter=row_filter, stats=stats):
        raw = chunk.frame.rename(columns=ALIASES)
        raw = raw.loc[:, ~raw.columns.duplicated()]
        if prefix:
            raw[RECORD_COLUMN] = prefix + raw[RECORD_COLUMN]
        frame = _normalize(raw, table)
        keep, orphans = _orphans(frame, raw, checks, table)
        rejects = chunk.rejects
        if rejects is not None and prefix:
            rejects = rejects.assign(source_record=prefix + rejects["source_record"])
        if orphans:
            found = pd.DataFrame(orphans, columns=REJECT_COLUMNS)
            rejects = found if rejects is None else pd.concat([rejects, found], ignore_index=True)
        if table.code_column:
            listed.update(frame.loc[keep, table.code_column].dropna())
        yield Batch(table.dataset, frame[keep], rejects, raw=raw[keep])
    if table.code_column:
        yield Batch(SCOPE_DATASET, _scope(member, codes or frozenset(listed), listed, stats), describes_file=True)


def _normalize(raw: pd.DataFrame, table: Table) -> pd.DataFrame:
    frame = blank_to_null(raw)
    for name in table.columns:
        if name not in frame:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype="str")
    for name in table.dates:
        values = frame[name].where(~frame[name].str.upper().isin(NO_DATE))
        frame[name] = normalize_dates(values, DATE_FORMATS)
    if table.code_column:
        frame[table.code_column] = frame[table.code_column].str.upper()
    if table.name == "document":
        frame["document_type"] = frame["document_type"].str.strip()
    if table.paragraph:
        text = frame["paragraph"].map(paragraph_text)
        classes = text.map(classify_paragraph)
        frame["paragraph_text"] = text.astype("str")
        frame["listing_class"] = classes.map(lambda c: c[0]).astype("str")
        frame["listing_class_phrase"] = classes.map(lambda c: c[1]).astype("str")
    extra = ["paragraph_text", "listing_class", "listing_class_phrase"] if table.paragraph else []
    return frame[[*table.columns, *extra, RECORD_COLUMN]]


def _scope(member: TableFile, codes: frozenset[str], listed: Counter[str], stats: ReadStats) -> pd.DataFrame:
    """One row per code of interest: how many rows of this code table listed it."""
    ordered = sorted(codes)
    return pd.DataFrame(
        {
            "code_table": member.table.name,
            "billing_code": ordered,
            "rows_in_table": str(stats.data_rows),
            "rows_listing_code": [str(listed.get(c, 0)) for c in ordered],
            RECORD_COLUMN: f"{member.label} (whole table)",
        },
        dtype="str",
    )
