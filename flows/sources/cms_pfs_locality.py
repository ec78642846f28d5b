"""CMS PFS locality-to-county crosswalk: <YY>LOCCO.csv ("Counties included in <YYYY> localities").

Publisher: CMS, in the PFS relative value zip (RVU25A-D). Cadence: yearly. Format (CY 2025): CSV,
a title row ("COUNTIES INCLUDED IN 2025 LOCALITIES. (ALPHABETICALLY BY STATE AND LOCALITY NAME
WITHIN STATE)"), a blank row, the header ("Medicare Adminstrative Contractor,Locality Number,
State ,Fee Schedule Area ,Counties", CMS's spelling), then one row per locality with blank spacer
rows between states, and a footnote ("*  Payment locality is serviced by two carriers.").
Release: the year from the title (or the file name's two digits, 25LOCCO), which must agree.
Quirks handled: the state is written on a state's first row only (carried down to the rows
below it, within the file); MAC numbers lose their leading zero ("2102" -> "02102") and
locality numbers theirs ("5" -> "05"), restored so they match the GPCI file; trailing blanks
("ALABAMA "); spacer rows of commas or blanks; the footnote (not a record, not loaded).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from flows.engines.readers import detect_format, head_records, normalize_header, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from flows.sources.cms_common import Release, agree, drop_note_rows, release_from_name
from schemas.cms_pfs_locality import DATASET
from schemas.fields import blank_to_null

PREAMBLE_LIMIT = 20
NAME_PATTERN = r"^(?P<year>\d{2})locco"
HEADERS = {
    "medicare_adminstrative_contractor": "mac",
    "medicare_administrative_contractor": "mac",
    "locality_number": "locality_number",
    "state": "state_name",
    "fee_schedule_area": "fee_schedule_area",
    "counties": "counties",
}
COLUMNS = ["mac", "locality_number", "state_name", "fee_schedule_area", "counties"]


def detect(path: Path) -> bool:
    """True when the header names a locality number, a fee schedule area and counties."""
    try:
        return detect_format(path, sniff(path)) == "csv" and _layout(path) is not None
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse a locality crosswalk into `cms__pfs_locality` batches."""
    layout = _layout(path)
    if layout is None:
        raise FileRejected(
            path,
            f"no header with Locality Number, Fee Schedule Area and Counties in the first {PREAMBLE_LIMIT} records",
            "CMS's <YY>LOCCO.csv locality-county crosswalk",
        )
    header_line, header, title_year = layout
    content = Release(title_year, basis="title row") if title_year else None
    release = agree(
        path,
        content,
        release_from_name(path, NAME_PATTERN),
        "a title 'COUNTIES INCLUDED IN <YYYY> LOCALITIES' or CMS's file name, e.g. 25LOCCO.csv",
    )
    release = Release(release.year, None, basis=release.basis)
    rename = {h: HEADERS[h] for h in header if h in HEADERS}
    missing = [c for c in COLUMNS if c not in rename.values()]
    if missing:
        raise FileRejected(
            path,
            f"no column for {', '.join(missing)} in the header",
            "CMS's header: Medicare Administrative Contractor, Locality Number, State, Fee Schedule Area, Counties",
            f"line {header_line}",
        )
    state: object = None
    for chunk in read_csv_chunks(
        path, required=list(rename), chunk_rows=ctx.settings.chunk_rows, skip_lines=header_line - 1
    ):
        raw = chunk.frame.rename(columns=rename)[[*COLUMNS, RECORD_COLUMN]]
        frame, raw = drop_note_rows(raw, raw)
        frame = blank_to_null(frame)
        # The state is printed on a state's first locality only: carry it down (across chunks too).
        states = frame["state_name"].astype(object)
        if len(states) and pd.isna(states.iloc[0]) and state is not None:
            states.iloc[0] = state
        states = states.ffill()
        if len(states) and pd.notna(states.iloc[-1]):
            state = states.iloc[-1]
        frame["state_name"] = states.astype("str")
        frame["mac"] = frame["mac"].str.zfill(5)
        frame["locality_number"] = frame["locality_number"].str.zfill(2)
        for name, value in release.columns().items():
            frame[name] = value
        yield Batch(DATASET, frame, chunk.rejects, raw=raw)


def _layout(path: Path) -> tuple[int, list[str], int | None] | None:
    title_year = None
    for line, fields in head_records(path, limit=PREAMBLE_LIMIT):
        found = re.search(r"(?i)\bin\s+((?:19|20)\d\d)\s+localities", " ".join(fields))
        if found:
            title_year = int(found.group(1))
        header = [normalize_header(f) for f in fields]
        if {"locality_number", "fee_schedule_area", "counties"} <= set(header):
            return line, header, title_year
    return None
