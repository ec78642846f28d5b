"""CMS PFS GPCIs by state and Medicare locality: GPCI<YYYY>.csv (PFS Addendum E).

Publisher: CMS, in the PFS relative value zip (RVU25A-D) and the final rule's Addendum E.
Cadence: yearly (a calendar year's GPCIs; the quarterly zips repeat them). Format (CY 2025):
CSV, a title row ("ADDENDUM E. FINAL CY 2025 GEOGRAPHIC PRACTICE COST INDICES (GPCIs) BY STATE
AND MEDICARE LOCALITY"), a blank row, the header ("Medicare Administrative Contractor (MAC),State,
Locality Number,Locality Name,2025 PW GPCI (with 1.0 Floor),2025 PE GPCI,2025 MP GPCI"), one row
per locality, then notes ("MAC Assignments as of November 22, 2023", "*Work GPCI reflects a 1.5
floor in Alaska ...") that are documentation, not records, and are not loaded.
Release: the year is read from the header's GPCI columns and the title, which must agree.
Quirks handled: year-prefixed GPCI column names; asterisks marking floors in locality names
("ALASKA*", "MONTANA**") kept as written; MAC numbers and locality numbers kept as text
("01112", "05": leading zeros matter).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from flows.engines.readers import detect_format, head_records, normalize_header, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from flows.sources.cms_common import (
    Number,
    Release,
    agree,
    check_numbers,
    drop_note_rows,
    merge_rejects,
    release_from_name,
)
from schemas.cms_pfs_gpci import DATASET
from schemas.fields import blank_to_null

PREAMBLE_LIMIT = 20
NAME_PATTERN = r"gpci(?P<year>\d{4})"
FIXED = {"state": "state", "locality_number": "locality_number", "locality_name": "locality_name"}
MAC_HEADERS = ("medicare_administrative_contractor_(mac)", "medicare_administrative_contractor", "mac", "carrier")
GPCI_HEADERS = {"pw": "work_gpci", "pe": "pe_gpci", "mp": "mp_gpci"}
COLUMNS = ["mac", "state", "locality_number", "locality_name", "work_gpci", "pe_gpci", "mp_gpci"]
NUMBERS = {
    "work_gpci": Number(places=3, signed=False),
    "pe_gpci": Number(places=3, signed=False),
    "mp_gpci": Number(places=3, signed=False),
}


def detect(path: Path) -> bool:
    """True when the file's header has a locality number and year-prefixed GPCI columns."""
    try:
        return detect_format(path, sniff(path)) == "csv" and _layout(path) is not None
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse a GPCI file into `cms__pfs_gpci` batches."""
    layout = _layout(path)
    if layout is None:
        raise FileRejected(
            path,
            f"no GPCI header (MAC, Locality Number, '<year> PW GPCI' ...) in the first {PREAMBLE_LIMIT} records",
            "CMS's GPCI<YYYY>.csv (PFS Addendum E)",
        )
    header_line, header, year = layout
    title = _title_year(path, header_line)
    if title is not None and title != year:
        raise FileRejected(
            path, f"the title says CY {title} but the GPCI columns say {year}", "one calendar year per GPCI file"
        )
    release = agree(path, Release(year, basis="header"), release_from_name(path, NAME_PATTERN), "GPCI<YYYY>.csv")
    release = Release(release.year, None, basis=release.basis)  # GPCIs are yearly
    rename = _rename(header)
    missing = [c for c in COLUMNS if c not in rename.values()]
    if missing:
        raise FileRejected(
            path,
            f"no column for {', '.join(missing)} in the header",
            "CMS's GPCI header: MAC, State, Locality Number, Locality Name, <year> PW / PE / MP GPCI",
            f"line {header_line}",
        )
    for chunk in read_csv_chunks(
        path, required=list(rename), chunk_rows=ctx.settings.chunk_rows, skip_lines=header_line - 1
    ):
        raw = chunk.frame.rename(columns=rename)[[*rename.values(), RECORD_COLUMN]]
        frame, raw = drop_note_rows(raw, raw)
        frame = blank_to_null(frame)
        frame["mac"] = frame["mac"].str.zfill(5)
        frame["locality_number"] = frame["locality_number"].str.zfill(2)
        frame["state"] = frame["state"].str.upper()
        frame, raw, bad = check_numbers(frame, raw, NUMBERS)
        for name, value in release.columns().items():
            frame[name] = value
        yield Batch(DATASET, frame, merge_rejects(chunk.rejects, bad), raw=raw)


def _layout(path: Path) -> tuple[int, list[str], int] | None:
    """(header line, normalized header, year of the GPCI columns) or None."""
    for line, fields in head_records(path, limit=PREAMBLE_LIMIT):
        header = [normalize_header(f) for f in fields]
        years = {m.group(1) for h in header if (m := re.match(r"^(\d{4})_(pw|pe|mp)_gpci", h))}
        if "locality_number" in header and len(years) == 1:
            return line, header, int(years.pop())
    return None


def _rename(header: list[str]) -> dict[str, str]:
    rename: dict[str, str] = {}
    for name in header:
        gpci = re.match(r"^\d{4}_(pw|pe|mp)_gpci", name)
        if gpci:
            rename[name] = GPCI_HEADERS[gpci.group(1)]
        elif name in MAC_HEADERS:
            rename[name] = "mac"
        elif name in FIXED:
            rename[name] = FIXED[name]
    return rename


def _title_year(path: Path, header_line: int) -> int | None:
    for line, fields in head_records(path, limit=PREAMBLE_LIMIT):
        if line >= header_line:
            break
        found = re.search(r"\bCY\s+((?:19|20)\d\d)\b", " ".join(fields))
        if found:
            return int(found.group(1))
    return None
