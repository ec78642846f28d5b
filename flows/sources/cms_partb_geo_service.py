"""CMS "Medicare Physician & Other Practitioners – by Geography and Service" (Part B utilization).

Publisher: CMS, Office of Enterprise Data and Analytics (Provider Utilization and Payment Data), on
data.cms.gov. One file per data year: every HCPCS code billed by physicians and other practitioners
to Original Medicare Part B, nationally and per state, by place of service.
Format: CSV (UTF-8, a BOM is fine), one header row, 15 columns:
  Rndrng_Prvdr_Geo_Lvl (National / State), Rndrng_Prvdr_Geo_Cd (state FIPS code; blank on national
  rows), Rndrng_Prvdr_Geo_Desc, HCPCS_Cd, HCPCS_Desc, HCPCS_Drug_Ind (Y/N), Place_Of_Srvc (F facility
  / O office), Tot_Rndrng_Prvdrs, Tot_Benes, Tot_Srvcs, Tot_Bene_Day_Srvcs, Avg_Sbmtd_Chrg,
  Avg_Mdcr_Alowd_Amt, Avg_Mdcr_Pymt_Amt, Avg_Mdcr_Stdzd_Amt. Columns are matched case-insensitively.
  Downloads are named like MUP_PHY_R24_P05_V10_D22_Geo.csv (D22 = data year 2022).
Version: the column set above (data years 2013 on, as republished since the 2021 redesign).
Cadence: yearly; data year Y appears around the middle of Y+2.
Size: ~270,000 rows, ~40 MB per year. The file is streamed and only the rows of the codes of
  interest (raw/reference/billing_codes.csv) are kept; the rest are counted and skipped.
Quirks handled: no year inside the file (see below); HCPCS_Desc quoted with commas; blank cells
  (the national rows' geography code); numbers with thousands separators ("1,234,567") when the
  file went through a spreadsheet; whole numbers written as "12.0"; Geo level and place of service
  in any case. CMS publishes no row for a cell with fewer than 11 beneficiaries, so a rare code is
  absent from most states and some years: the scope rows (one per year and code scanned) record
  that the file was read for the code, so a missing cell reads "not published", not "not loaded".
Data year, first found of: an ingest option (`-o data_year=2022`); a `Data_Year` / `Year` column
  (per row); the file name (CMS's D22 token, or one 4-digit year: `partb_geo_2022.csv`); the name
  of the folder holding the file (`2022/`). Otherwise the file is rejected, saying how to name it or
  pass the year.
Fetched files (flows/fetch/cms_partb.py) hold only the rows of the codes they were fetched for and say
  so on a first line above the header, `# payerbench: HCPCS_Cd scanned: 0440T 0441T; ...`: their scope
  rows name exactly those codes (those of them still of interest), so a code added to
  billing_codes.csv since reads "not scanned", never "not published".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from flows.engines.readers import ReadStats, RowFilter, detect_format, peek_header, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from schemas.cms_partb_geo_service import DATASET, SCOPE_DATASET
from schemas.fields import blank_to_null

# CMS column (as normalize_header writes it) -> schema column.
COLUMNS = {
    "rndrng_prvdr_geo_lvl": "geo_level",
    "rndrng_prvdr_geo_cd": "geo_code",
    "rndrng_prvdr_geo_desc": "geo_name",
    "hcpcs_cd": "billing_code",
    "hcpcs_desc": "hcpcs_description",
    "hcpcs_drug_ind": "drug_indicator",
    "place_of_srvc": "place_of_service",
    "tot_rndrng_prvdrs": "rendering_provider_count",
    "tot_benes": "beneficiary_count",
    "tot_srvcs": "service_count",
    "tot_bene_day_srvcs": "beneficiary_day_service_count",
    "avg_sbmtd_chrg": "avg_submitted_charge_usd",
    "avg_mdcr_alowd_amt": "avg_medicare_allowed_usd",
    "avg_mdcr_pymt_amt": "avg_medicare_payment_usd",
    "avg_mdcr_stdzd_amt": "avg_medicare_standardized_usd",
}
REQUIRED = list(COLUMNS)
YEAR_COLUMNS = ("data_year", "year")
INTEGER_COLUMNS = ["rendering_provider_count", "beneficiary_count", "beneficiary_day_service_count"]
NUMBER_COLUMNS = [
    *INTEGER_COLUMNS,
    "service_count",
    "avg_submitted_charge_usd",
    "avg_medicare_allowed_usd",
    "avg_medicare_payment_usd",
    "avg_medicare_standardized_usd",
]
THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
CMS_YEAR_TOKEN = re.compile(r"(?:^|[_\-\s.])D(\d{2})(?=$|[_\-\s.])", re.IGNORECASE)
FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
SCANNED_MARK = "# payerbench: HCPCS_Cd scanned:"  # first line of a fetched file, above the header
HOW_TO_NAME = (
    "a name carrying the data year as CMS writes it (MUP_PHY_R24_P05_V10_D22_Geo.csv = data year 2022) "
    "or as one 4-digit year (partb_geo_service_2022.csv), a folder named 2022, or pass it: "
    "payerbench ingest cms_partb_geo_service FILE -o data_year=2022"
)


def scanned_codes(head: bytes) -> frozenset[str] | None:
    """The codes a fetched file holds rows for (its `# payerbench: HCPCS_Cd scanned:` line), or None."""
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
    if not first.startswith(SCANNED_MARK):
        return None
    listed = first[len(SCANNED_MARK) :].split(";", 1)[0]
    return frozenset(code.strip().upper() for code in listed.replace(",", " ").split() if code.strip())


def detect(path: Path) -> bool:
    """True when the file's header is the geography-and-service layout."""
    try:
        head = sniff(path)
        if detect_format(path, head) != "csv":
            return False
        skip = 1 if scanned_codes(head) is not None else 0
        return {"rndrng_prvdr_geo_lvl", "hcpcs_cd", "place_of_srvc", "tot_srvcs"} <= set(
            peek_header(path, skip_lines=skip)
        )
    except FileRejected:
        return False


def _year(text: str) -> int | None:
    return int(text) if re.fullmatch(r"20\d{2}", text.strip()) else None


def year_from_name(path: Path) -> tuple[int | None, str | None]:
    """(data year, 'file name' | 'folder name') read from the file's name, else its folder's; or (None, None).

    A name holding two different years is ambiguous and rejected rather than guessed.
    """
    name = path.stem
    found = {2000 + int(m) for m in CMS_YEAR_TOKEN.findall(name)} | {int(m) for m in FOUR_DIGIT_YEAR.findall(name)}
    if len(found) > 1:
        raise FileRejected(
            path,
            f"the file name holds several years ({', '.join(map(str, sorted(found)))}), so the data year is ambiguous",
            HOW_TO_NAME,
        )
    if found:
        return found.pop(), "file name"
    folder = _year(path.parent.name)
    return (folder, "folder name") if folder is not None else (None, None)


def file_year(path: Path, header: list[str], options: dict[str, str]) -> tuple[int | None, str | None]:
    """The data year of the whole file and where it came from; rejects a file whose year cannot be told."""
    if "data_year" in options:
        year = _year(options["data_year"])
        if year is None:
            raise FileRejected(
                path, f"option data_year={options['data_year']!r} is not a year", "a 4-digit year such as 2022"
            )
        return year, "option"
    has_column = any(c in header for c in YEAR_COLUMNS)
    year, how = year_from_name(path)
    if year is None and not has_column:
        raise FileRejected(
            path,
            "cannot tell the data year: the file has no Data_Year column and neither its name nor "
            "its folder holds a year",
            HOW_TO_NAME,
        )
    return year, how


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Stream a geography-and-service file, keeping the rows of the codes of interest."""
    head = sniff(path)
    fmt = detect_format(path, head)
    if fmt != "csv":
        raise FileRejected(path, f"{fmt} content, not the CSV CMS publishes", "the CSV downloaded from data.cms.gov")
    scanned = scanned_codes(head)
    skip = 1 if scanned is not None else 0
    header = peek_header(path, skip_lines=skip)
    year, year_how = file_year(path, header, dict(ctx.options))
    year_column = next((c for c in YEAR_COLUMNS if c in header), None)
    codes = ctx.codes_of_interest
    row_filter = RowFilter("hcpcs_cd", lambda value: value.strip().upper() in codes) if codes else None
    stats = ReadStats()
    kept: Counter[tuple[int, str]] = Counter()
    # Years the file was scanned for: the file's year, or (with a year column) each year its rows carry.
    years_seen: dict[int, str] = {year: year_how} if year is not None and year_column is None else {}  # type: ignore[dict-item]
    required = REQUIRED + ([year_column] if year_column else [])
    for chunk in read_csv_chunks(
        path, required=required, chunk_rows=ctx.settings.chunk_rows, skip_lines=skip, row_filter=row_filter, stats=stats
    ):
        raw = chunk.frame.rename(columns={**COLUMNS, **({year_column: "data_year"} if year_column else {})})
        if year_column is None:
            raw["data_year"] = str(year)
        frame = _normalize(raw, year, year_how, path)
        valid = frame["data_year"].map(lambda v: _year(str(v)) if pd.notna(v) else None)
        for y in valid.dropna().unique():
            years_seen.setdefault(int(y), "column")
        kept.update((int(y), c) for y, c in zip(valid, frame["billing_code"]) if pd.notna(y) and pd.notna(c))
        yield Batch(DATASET, frame, chunk.rejects, raw=raw)
    scope_codes = codes or frozenset(c for _, c in kept)
    if scanned is not None:  # a fetched file: scanned for exactly the codes it was fetched for
        scope_codes = scanned & codes if codes else scanned
    scope = _scope(years_seen, scope_codes, kept, stats)
    if len(scope):
        yield Batch(SCOPE_DATASET, scope, describes_file=True)


def _number(values: pd.Series, integer: bool) -> pd.Series:
    """'1,234,567' -> '1234567' (thousands separators only); '12.0' -> '12' for whole-number columns."""
    out = values.where(~values.fillna("").str.match(THOUSANDS), values.str.replace(",", "", regex=False))
    if integer:
        out = out.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return out


def _normalize(raw: pd.DataFrame, year: int | None, year_how: str | None, path: Path) -> pd.DataFrame:
    frame = blank_to_null(raw)
    frame["geo_level"] = frame["geo_level"].str.lower()
    for name in ("billing_code", "drug_indicator", "place_of_service", "geo_code"):
        frame[name] = frame[name].str.upper()
    for name in NUMBER_COLUMNS:
        frame[name] = _number(frame[name], name in INTEGER_COLUMNS)
    if year is not None:
        given = frame["data_year"]
        if year_how == "option":
            clash = given.notna() & (given != str(year))
            if clash.any():
                row = frame.index[clash][0]
                raise FileRejected(
                    path,
                    f"the Data_Year column says {given[row]} but data_year={year} was passed",
                    "one data year per file, or no option",
                    str(frame.at[row, RECORD_COLUMN]),
                )
        frame["data_year"] = given.fillna(str(year))
    return frame[["data_year", *COLUMNS.values(), RECORD_COLUMN]]


def _scope(
    years: dict[int, str], codes: frozenset[str], kept: Counter[tuple[int, str]], stats: ReadStats
) -> pd.DataFrame:
    """One row per data year and code the file was scanned for."""
    rows = [
        {
            "data_year": str(y),
            "year_source": how,
            "billing_code": code,
            "rows_in_file": str(stats.data_rows),
            "rows_kept": str(stats.data_rows - stats.skipped_rows),
            "code_rows": str(kept.get((y, code), 0)),
            RECORD_COLUMN: "whole file",
        }
        for y, how in sorted(years.items())
        for code in sorted(codes)
    ]
    return pd.DataFrame(
        rows,
        columns=["data_year", "year_source", "billing_code", "rows_in_file", "rows_kept", "code_rows", RECORD_COLUMN],
        dtype="str",
    )
