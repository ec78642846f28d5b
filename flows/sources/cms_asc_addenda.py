"""CMS ASC payment addenda AA (covered surgical procedures) and FF (device offsets), CSV.

Publisher: CMS, in the quarterly "ASC Approved HCPCS Code and Payment Rates" files
(https://www.cms.gov/medicare/payment/prospective-payment-systems/ambulatory-surgical-center-asc/asc-payment-rates-addenda).
Cadence: quarterly. Format (October 2025 and January 2026 editions): CSV in Windows-1252 (stray
0x92 right quotes, 0xA0 no-break spaces and 0xFF bytes in the copyright line), three preamble
records (a title such as "Addendum AA -- ASC Covered Surgical Procedures for CY 2026 (Including
Surgical Procedures for Which Payment is Packaged)", which is one quoted field spanning two
lines in 2026; the AMA copyright; a blank row), then the header, one row per code, and notes
("NOTE 1: ...") that are documentation, not records, and are not loaded.
Which addendum a file is comes from its title and header, never its name (CMS names them AA.csv,
FF.csv). Other addenda (BB, EE, ...) are rejected as not read by this source.
Release: from the period prefix of the header ("January 2026 Payment Indicator"), which every
prefixed column must share, checked against the title's "CY <year>" and a dated folder
(20260101/) or file name when present.
Quirks handled: period-prefixed, double-spaced, trailing-blank headers ("January 2026  Payment
Weight  "); an unnamed second column holding footnote asterisks (" *", "**"); money as
"$1,475.61 " and percentages as "64.49%"; blank cells for packaged codes (N1).
Every row is loaded (about 4,800 codes per addendum), not only the codes of interest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from flows.engines.readers import TEXT, detect_format, head_records, normalize_header, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from flows.sources.cms_common import (
    MONTH_WORD,
    MONTHS,
    Number,
    Release,
    agree,
    check_numbers,
    drop_note_rows,
    merge_rejects,
    month_year_in,
    release_from_name,
)
from schemas.cms_asc_addenda import AA_DATASET, FF_DATASET
from schemas.fields import blank_to_null

ENCODING = "cp1252"
PREAMBLE_LIMIT = 20
HOW_TO_NAME = "a header whose columns start with the release month and year ('January 2026 Payment Rate')"

# addendum -> (base header name -> dataset column), after the period prefix is removed
LAYOUTS: dict[str, dict[str, str]] = {
    "AA": {
        "hcpcs_code": "billing_code",
        "": "note_marker",
        "short_descriptor": "short_descriptor",
        "subject_to_multiple_procedure_discounting": "multiple_procedure_discounting",
        "payment_indicator": "payment_indicator",
        "payment_weight": "payment_weight",
        "payment_rate": "payment_rate_usd",
    },
    "FF": {
        "hcpcs_code": "billing_code",
        "": "note_marker",
        "short_descriptor": "short_descriptor",
        "payment_indicator": "payment_indicator",
        "apc": "apc",
        "apc_device_offset_percentage": "apc_device_offset_pct",
        "opps_payment_rate": "opps_payment_rate_usd",
        "device_offset_percentage": "device_offset_pct",
        "device_offset_amount_/_device_portion": "device_portion_usd",
    },
}
OPTIONAL = {"", "short_descriptor"}
DATASETS = {"AA": AA_DATASET, "FF": FF_DATASET}
NUMBERS = {
    "AA": {"payment_weight": Number(places=4, signed=False), "payment_rate_usd": Number(kind="money", places=2)},
    "FF": {
        "apc_device_offset_pct": Number(kind="percent", places=2),
        "opps_payment_rate_usd": Number(kind="money", places=2),
        "device_offset_pct": Number(kind="percent", places=2),
        "device_portion_usd": Number(kind="money", places=2),
    },
}
PERIOD = re.compile(rf"^({MONTH_WORD})_((?:19|20)\d\d)_(.+)$")


def detect(path: Path) -> bool:
    """True for an ASC Addendum AA or FF CSV (title 'Addendum AA/FF' and its header)."""
    try:
        if detect_format(path, sniff(path)) != "csv":
            return False
        layout = _layout(path)
        return layout is not None and layout[0] in LAYOUTS
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse an Addendum AA or FF file into `cms__asc_addendum_aa` / `cms__asc_addendum_ff` batches."""
    if detect_format(path, sniff(path)) != "csv":
        raise FileRejected(path, "not a CSV file", "CMS's ASC Addendum AA or FF as CSV")
    layout = _layout(path)
    if layout is None:
        raise FileRejected(
            path,
            f"no 'HCPCS Code' header row in the first {PREAMBLE_LIMIT} records",
            "CMS's ASC Addendum AA or FF CSV: 3 title rows, then the header",
        )
    addendum, header_line, header, title = layout
    if addendum not in LAYOUTS:
        raise FileRejected(
            path,
            f"this is ASC Addendum {addendum}, which this source does not read",
            "Addendum AA (covered surgical procedures) or FF (device offsets)",
            "title row",
        )
    rename, release = _columns(path, addendum, header, title, header_line)
    dataset, numbers = DATASETS[addendum], NUMBERS[addendum]
    targets = list(LAYOUTS[addendum].values())
    chunks = read_csv_chunks(
        path, required=list(rename), chunk_rows=ctx.settings.chunk_rows, skip_lines=header_line - 1, encoding=ENCODING
    )
    for chunk in chunks:
        raw = chunk.frame.rename(columns=rename)
        for name in targets:
            if name not in raw:
                raw[name] = pd.Series(pd.NA, index=raw.index, dtype=TEXT)
        raw = raw[[*targets, RECORD_COLUMN]]
        text, raw = drop_note_rows(raw, raw)
        frame = blank_to_null(text)
        frame["billing_code"] = frame["billing_code"].str.upper()
        frame["payment_indicator"] = frame["payment_indicator"].str.upper()
        frame["note_marker"] = frame["note_marker"].str.replace(" ", "", regex=False)
        if "multiple_procedure_discounting" in frame:
            frame["multiple_procedure_discounting"] = frame["multiple_procedure_discounting"].str.upper()
        frame, raw, bad = check_numbers(frame, raw, numbers)
        for name, value in release.columns().items():
            frame[name] = value
        yield Batch(dataset, frame, merge_rejects(chunk.rejects, bad), raw=raw)


def _layout(path: Path) -> tuple[str, int, list[str], str] | None:
    """(addendum letters, header line, normalized header, title text) or None without a header."""
    title = ""
    for line, fields in head_records(path, limit=PREAMBLE_LIMIT, encoding=ENCODING):
        header = [normalize_header(f) for f in fields]
        if header and header[0] == "hcpcs_code":
            found = re.search(r"(?i)\baddendum\s+([A-Z]{1,2})\b", title)
            return (found.group(1).upper() if found else "?"), line, header, title
        text = " ".join(" ".join(f.split()) for f in fields if f.strip())
        if not title and "addendum" in text.lower():
            title = text
    return None


def _columns(
    path: Path, addendum: str, header: list[str], title: str, header_line: int
) -> tuple[dict[str, str], Release]:
    """Header name -> dataset column, and the release the period prefixes give."""
    layout = LAYOUTS[addendum]
    rename: dict[str, str] = {}
    periods: set[tuple[int, int]] = set()
    for name in header:
        base = name
        prefixed = PERIOD.match(name)
        if prefixed:
            periods.add((int(prefixed.group(2)), MONTHS[prefixed.group(1)]))
            base = prefixed.group(3)
        if base in layout and (base != "" or "" not in rename):
            rename[name] = layout[base]
    missing = [
        base or "(unnamed marker column)"
        for base, target in layout.items()
        if target not in rename.values() and base not in OPTIONAL
    ]
    if missing:
        raise FileRejected(
            path,
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}",
            f"Addendum {addendum}'s header: {', '.join(b for b in layout if b)} "
            "(period-prefixed, e.g. 'January 2026 Payment Indicator')",
            f"line {header_line}",
        )
    if len(periods) > 1:
        labels = ", ".join(f"{y}-{m:02d}" for y, m in sorted(periods))
        raise FileRejected(
            path,
            f"the header's columns name different release months ({labels})",
            "one release per file",
            f"line {header_line}",
        )
    content = Release(*periods.pop(), basis="header") if periods else None
    title_year = re.search(r"\bCY\s*((?:19|20)\d\d)\b", title)
    if content is not None and title_year and int(title_year.group(1)) != content.year:
        raise FileRejected(
            path,
            f"the title says CY {title_year.group(1)} but the header says {content.label}",
            "one release per file",
            "title row",
        )
    found = month_year_in(path.stem)
    name = Release(found[0], found[1], basis=f"file name {path.name!r}") if found else release_from_name(path, r"^$")
    release = agree(path, content, name, HOW_TO_NAME)
    if release.month is None:
        raise FileRejected(
            path, f"the file gives the year ({release.year}) but not which quarterly release", HOW_TO_NAME
        )
    return rename, release
