"""CMS OPPS Addendum B (payment by HCPCS code), as the .xlsx workbook and its CSV edition.

Publisher: CMS, quarterly OPPS addenda (https://www.cms.gov/medicare/payment/prospective-payment-
systems/hospital-outpatient/addendum-a-b-updates). Cadence: quarterly (January, April, July,
October). Format versions read here:
  - XLSX (e.g. 2023_January_Web_Addendum_B.12212022.xlsx): one sheet named "<YYYY> <Month>
    Addendum B"; rows 1-3 a title ("Addendum B.- OPPS Payment by HCPCS Code for CY 2023"), the
    AMA copyright and a coverage disclaimer; the header on row 4 (found by its "HCPCS Code" cell,
    not by position); one row per code.
  - CSV edition of the same columns (same preamble and header rows). Read as Windows-1252, the
    encoding CMS's Excel-exported CSVs use (the ASC addenda are; a UTF-8 file with a byte-order
    mark is read as UTF-8).
Release: year and month from the sheet name, else the title's "CY <year>" with the month from
the file name ("2023_January_..."); the parts must agree. Quirks handled: stray spaces in header
names (" SI", "APC ", "Relative Weight ") and in values ("Q4 ", "0736T ", "G0465" + no-break
space); "." for an empty copayment; APCs stored as numbers in some cells (5431 -> "5431");
"*" flag columns (copayment capped at the inpatient deductible, pass-through expiring, changed)
read as booleans. Every row is loaded (about 17,500 codes), not only the codes of interest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from flows.engines.readers import (
    TEXT,
    detect_format,
    head_records,
    normalize_header,
    read_csv_chunks,
    read_xlsx_chunks,
    sniff,
)
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from flows.sources.cms_common import (
    Number,
    Release,
    agree,
    check_numbers,
    drop_note_rows,
    merge_rejects,
    month_year_in,
)
from schemas.cms_opps_addendum_b import DATASET
from schemas.fields import blank_to_null

PREAMBLE_LIMIT = 20
CSV_ENCODING = "cp1252"
HOW_TO_NAME = "a sheet named '<YYYY> <Month> Addendum B', or the file named as CMS does (2023_January_Web_Addendum_B)"
REQUIRED = {
    "hcpcs_code": "billing_code",
    "si": "status_indicator",
    "apc": "apc",
    "relative_weight": "relative_weight",
    "payment_rate": "payment_rate_usd",
}
OPTIONAL = {
    "short_descriptor": "short_descriptor",
    "national_unadjusted_copayment": "national_unadjusted_copayment_usd",
    "minimum_unadjusted_copayment": "minimum_unadjusted_copayment_usd",
    "drug_and_device_pass_through_expiration_during_calendar_year": "pass_through_expires_this_year",
    "*_indicates_a_change": "changed_this_release",
}
# This header is a whole sentence ("Note: Actual copayments would be lower due to the cap on
# copayments at the Inpatient Deductible of $1,600.00"), its amount changing yearly: matched by prefix.
PREFIXED = {"note:_actual_copayments": "copayment_capped_at_inpatient_deductible"}
FLAGS = ["copayment_capped_at_inpatient_deductible", "pass_through_expires_this_year", "changed_this_release"]
NUMBERS = {
    "relative_weight": Number(places=4),
    "payment_rate_usd": Number(kind="money", places=4),
    "national_unadjusted_copayment_usd": Number(kind="money", places=4),
    "minimum_unadjusted_copayment_usd": Number(kind="money", places=4),
}


def detect(path: Path) -> bool:
    """True for a workbook or CSV whose header row has HCPCS Code, SI, APC and Payment Rate."""
    try:
        fmt = detect_format(path, sniff(path))
        if fmt == "xlsx":
            return _xlsx_layout(path) is not None
        if fmt == "csv":
            return _csv_layout(path) is not None
        return False
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse an Addendum B workbook or CSV into `cms__opps_addendum_b` batches."""
    fmt = detect_format(path, sniff(path))
    rows = ctx.settings.chunk_rows
    if fmt == "xlsx":
        layout = _xlsx_layout(path)
        if layout is None:
            raise FileRejected(
                path,
                f"no header row with 'HCPCS Code', 'SI', 'APC' in the first {PREAMBLE_LIMIT} rows of any sheet",
                "CMS's Addendum B workbook (header on row 4)",
            )
        sheet, header_row, header, preamble = layout
        release = _release(path, preamble, sheet)
        rename = _rename(path, header, f"sheet {sheet!r} row {header_row}")
        chunks = read_xlsx_chunks(path, required=list(rename), chunk_rows=rows, sheet=sheet, header_row=header_row)
    elif fmt == "csv":
        layout_csv = _csv_layout(path)
        if layout_csv is None:
            raise FileRejected(
                path,
                f"no header row with 'HCPCS Code', 'SI', 'APC' in the first {PREAMBLE_LIMIT} records",
                "CMS's Addendum B CSV (title rows, then the header)",
            )
        header_line, header, preamble = layout_csv
        release = _release(path, preamble, None)
        rename = _rename(path, header, f"line {header_line}")
        chunks = read_csv_chunks(
            path, required=list(rename), chunk_rows=rows, skip_lines=header_line - 1, encoding=CSV_ENCODING
        )
    else:
        raise FileRejected(path, f"{fmt} content is not an OPPS Addendum B", "CMS's .xlsx workbook or its CSV edition")
    targets = [*REQUIRED.values(), *OPTIONAL.values(), *PREFIXED.values()]
    for chunk in chunks:
        raw = chunk.frame.rename(columns=rename)
        for name in targets:
            if name not in raw:
                raw[name] = pd.Series(pd.NA, index=raw.index, dtype=TEXT)
        raw = raw[[*targets, RECORD_COLUMN]]
        frame, raw = drop_note_rows(raw, raw)
        yield _batch(frame, raw, chunk.rejects, release)


def _batch(text: pd.DataFrame, raw: pd.DataFrame, rejects: pd.DataFrame | None, release: Release) -> Batch:
    frame = blank_to_null(text)  # strips stray blanks, no-break spaces included
    frame["billing_code"] = frame["billing_code"].str.upper()
    frame["status_indicator"] = frame["status_indicator"].str.upper()
    apc = frame["apc"]
    frame["apc"] = apc.where(~apc.str.fullmatch(r"\d{1,3}").fillna(False).astype(bool), apc.str.zfill(4))
    for name in ("national_unadjusted_copayment_usd", "minimum_unadjusted_copayment_usd"):
        frame[name] = frame[name].mask(frame[name] == ".")  # CMS's "." = no amount
    for name in FLAGS:
        frame[name] = frame[name].mask(frame[name] == "*", "true").mask(frame[name].isna(), "false")
    frame, raw, bad = check_numbers(frame, raw, NUMBERS)
    for name, value in release.columns().items():
        frame[name] = value
    return Batch(DATASET, frame, merge_rejects(rejects, bad), raw=raw)


def _rename(path: Path, header: list[str], where: str) -> dict[str, str]:
    rename: dict[str, str] = {}
    for name in header:
        if name in REQUIRED:
            rename[name] = REQUIRED[name]
        elif name in OPTIONAL:
            rename[name] = OPTIONAL[name]
        else:
            for prefix, target in PREFIXED.items():
                if name.startswith(prefix):
                    rename[name] = target
    missing = [h for h, t in REQUIRED.items() if t not in rename.values()]
    if missing:
        raise FileRejected(
            path,
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}",
            "Addendum B's header: HCPCS Code, Short Descriptor, SI, APC, Relative Weight, Payment Rate, ...",
            where,
        )
    return rename


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and cells[0] == "hcpcs_code" and {"si", "apc"} <= set(cells)


def _xlsx_layout(path: Path) -> tuple[str, int, list[str], list[str]] | None:
    """(sheet, header row, normalized header, preamble texts) of the first sheet holding Addendum B."""
    import zipfile

    import openpyxl

    try:
        with path.open("rb") as handle:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                for ws in book.worksheets:
                    preamble: list[str] = []
                    for number, values in enumerate(ws.iter_rows(values_only=True, max_row=PREAMBLE_LIMIT), start=1):
                        cells = [normalize_header(v) for v in values]
                        if _is_header(cells):
                            while cells and cells[-1] == "":
                                cells.pop()
                            return ws.title, number, cells, preamble
                        preamble.append(" ".join(str(v) for v in values if v not in (None, "")))
            finally:
                book.close()
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return None
    return None


def _csv_layout(path: Path) -> tuple[int, list[str], list[str]] | None:
    preamble: list[str] = []
    for line, fields in head_records(path, limit=PREAMBLE_LIMIT, encoding=CSV_ENCODING):
        cells = [normalize_header(f) for f in fields]
        if _is_header(cells):
            return line, cells, preamble
        preamble.append(" ".join(f.strip() for f in fields if f.strip()))
    return None


def _release(path: Path, preamble: list[str], sheet: str | None) -> Release:
    """Release from the sheet name (year and month), the title's 'CY <year>', and the file name."""
    title = next((t for t in preamble if "addendum b" in t.lower()), "")
    title_year = re.search(r"\bCY\s*((?:19|20)\d\d)\b", title)
    content: Release | None = None
    from_sheet = month_year_in(sheet) if sheet else None
    if from_sheet:
        content = Release(from_sheet[0], from_sheet[1], basis=f"sheet name {sheet!r}")
    elif month_year_in(title):
        year, month = month_year_in(title)  # type: ignore[misc]
        content = Release(year, month, basis="title row")
    elif title_year:
        content = Release(int(title_year.group(1)), basis="title row")
    if content is not None and title_year and int(title_year.group(1)) != content.year:
        raise FileRejected(
            path,
            f"the title says CY {title_year.group(1)} but {content.basis} says {content.year}",
            "one release per file",
        )
    found = month_year_in(path.stem)
    name = Release(found[0], found[1], basis=f"file name {path.name!r}") if found else None
    release = agree(path, content, name, HOW_TO_NAME)
    if release.month is None:
        raise FileRejected(
            path, f"the file gives the year ({release.year}) but not which quarterly release", HOW_TO_NAME
        )
    return release
