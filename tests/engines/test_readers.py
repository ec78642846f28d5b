"""Shared streaming readers: split headers, declared encodings, preamble peeks (CMS files) and the
row filter large files are read through."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pandas as pd
import pytest

from flows.engines.readers import ReadStats, RowFilter, head_records, peek_header, read_csv_chunks
from flows.sources.base import FileRejected
from schemas.fields import BILLING_CODE_RE

CODES = {"0440T", "64640"}
KEEP = RowFilter("hcpcs_cd", lambda value: value.strip().upper() in CODES)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, chunk_rows: int = 2, **kwargs: object) -> pd.DataFrame:
    chunks = list(read_csv_chunks(path, required=["hcpcs_cd"], chunk_rows=chunk_rows, **kwargs))  # type: ignore[arg-type]
    return pd.concat([c.frame for c in chunks], ignore_index=True) if chunks else pd.DataFrame()


def test_filter_keeps_matching_rows_with_their_physical_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'HCPCS_Cd,desc\n99213,"visit,\nestablished"\n0440t,cryo\n20610,inj\n64640,"destroy, nerve"\n'
    )
    stats = ReadStats()
    frame = read(path, row_filter=KEEP, stats=stats)
    assert frame["hcpcs_cd"].tolist() == ["0440t", "64640"]
    assert frame["source_record"].tolist() == ["line 4", "line 6"]  # line 2's quoted newline is counted
    assert (stats.data_rows, stats.skipped_rows) == (4, 2)


def test_a_file_whose_rows_are_all_filtered_yields_nothing_but_is_not_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "HCPCS_Cd,desc\n99213,visit\n")
    stats = ReadStats()
    assert read(path, row_filter=KEEP, stats=stats).empty
    assert (stats.data_rows, stats.skipped_rows) == (1, 1)


def test_a_row_too_short_to_judge_is_kept_for_the_schema(tmp_path: Path) -> None:
    path = write(tmp_path, "desc,HCPCS_Cd\nshort row\nfull,64640\n")
    frame = read(path, row_filter=KEEP)
    assert frame["desc"].tolist() == ["short row", "full"]
    assert pd.isna(frame.loc[0, "hcpcs_cd"])


def test_filter_column_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "code,desc\n0440T,x\n")
    with pytest.raises(FileRejected, match="missing required column 'hcpcs_cd'"):
        read_csv_chunks(path, required=[], chunk_rows=10, row_filter=KEEP).__next__()


def test_without_a_filter_every_row_is_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "HCPCS_Cd\n1\n2\n3\n")
    stats = ReadStats()
    assert len(read(path, stats=stats)) == 3
    assert (stats.data_rows, stats.skipped_rows) == (3, 0)


# The top of CMS's PPRRVU2025_Oct.csv shape: a title, then a header split over three records.
SPLIT_HEADER = (
    ",,2025 National Physician Fee Schedule Relative Value File October Release,,\n"
    ",,,NON-FAC,\n"
    ",,STATUS,PE,MP\n"
    "HCPCS,MOD,CODE,RVU,RVU\n"
    "64640,,A,5.26,0.21\n"
)


def test_a_header_split_over_records_is_joined_per_column(tmp_path: Path) -> None:
    path = tmp_path / "split.csv"
    path.write_text(SPLIT_HEADER, encoding="utf-8")
    chunks = list(
        read_csv_chunks(
            path, required=["hcpcs", "status_code", "non_fac_pe_rvu"], chunk_rows=10, skip_lines=1, header_rows=3
        )
    )
    frame = chunks[0].frame
    assert list(frame.columns[:5]) == ["hcpcs", "mod", "status_code", "non_fac_pe_rvu", "mp_rvu"]
    assert frame.loc[0, "non_fac_pe_rvu"] == "5.26" and frame.loc[0, "source_record"] == "line 5"


def test_a_split_header_missing_a_column_names_it_and_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "split.csv"
    path.write_text(SPLIT_HEADER.replace(",MP\n", "\n").replace(",RVU\n", "\n", 1), encoding="utf-8")
    with pytest.raises(FileRejected) as err:
        list(read_csv_chunks(path, required=["hcpcs", "mp_rvu"], chunk_rows=10, skip_lines=1, header_rows=3))
    assert "missing required column 'mp_rvu'" in err.value.message
    assert "header on lines 2-4" in err.value.message


def test_a_declared_single_byte_encoding_decodes_publisher_bytes(tmp_path: Path) -> None:
    path = tmp_path / "asc.csv"  # 0x92 is a right quote and 0xA0 a no-break space in Windows-1252
    path.write_bytes(b"HCPCS Code,Note\r\n0440T,procedure\x92s rate\xa0\r\n")
    with pytest.raises(FileRejected, match=r"not valid UTF-8 \(byte 0x92 at byte offset 32\)"):
        list(read_csv_chunks(path, required=["hcpcs_code"], chunk_rows=10))
    frame = next(read_csv_chunks(path, required=["hcpcs_code"], chunk_rows=10, encoding="cp1252")).frame
    assert frame.loc[0, "note"] == "procedure\u2019s rate\xa0"


def test_a_byte_the_declared_encoding_lacks_is_located(tmp_path: Path) -> None:
    path = tmp_path / "asc.csv"  # 0x81 is undefined in Windows-1252
    path.write_bytes(b"HCPCS Code,Note\r\n0440T,ok\r\n0441T,bad \x81 byte\r\n")
    with pytest.raises(FileRejected) as err:
        list(read_csv_chunks(path, required=["hcpcs_code"], chunk_rows=10, encoding="cp1252"))
    assert err.value.where == "line 3"
    assert "not valid cp1252 (byte 0x81 at byte offset 37)" in err.value.message


def test_a_utf8_byte_order_mark_overrides_the_declared_encoding(tmp_path: Path) -> None:
    path = tmp_path / "asc.csv"
    path.write_bytes(codecs.BOM_UTF8 + "HCPCS Code,Note\n0440T,procedure\u2019s\n".encode("utf-8"))
    frame = next(read_csv_chunks(path, required=["hcpcs_code"], chunk_rows=10, encoding="cp1252")).frame
    assert frame.loc[0, "note"] == "procedure\u2019s"
    assert peek_header(path, encoding="cp1252") == ["hcpcs_code", "note"]


def test_head_records_reports_the_line_each_record_starts_on(tmp_path: Path) -> None:
    path = tmp_path / "aa.csv"  # CMS's 2026 ASC title is a quoted field spanning two lines
    path.write_bytes(
        b'"Addendum AA -- ASC Covered Surgical Procedures for CY 2026 \n(Including ...)",,\r\n'
        b"CPT codes \xff copyright,,\r\n,,\r\nHCPCS Code,,Short Descriptor\r\n"
    )
    records = head_records(path, limit=3, encoding="cp1252")
    assert [line for line, _ in records] == [1, 3, 4]
    assert records[0][1][0].startswith("Addendum AA") and "\n" in records[0][1][0]


@pytest.mark.parametrize(
    "code, valid",
    [
        ("0001A", True),
        ("0440T", True),
        ("64640", True),
        ("G0465", True),
        ("0001B", False),
        ("440T", False),
        ("W1234", False),
    ],
)
def test_billing_code_pattern_accepts_cpt_vaccine_administration_codes(code: str, valid: bool) -> None:
    assert bool(BILLING_CODE_RE.match(code)) is valid
    assert bool(re.fullmatch(r"\d{4}A", code)) <= valid


def test_xlsx_numbers_read_as_excel_shows_them(tmp_path: Path) -> None:
    import openpyxl

    from flows.engines.readers import read_xlsx_chunks

    path = tmp_path / "rates.xlsx"  # a formula result cached with binary noise, as in CMS's Addendum B
    book = openpyxl.Workbook()
    book.active.append(["HCPCS Code", "Minimum Unadjusted Copayment", "Payment Rate", "Weight"])
    book.active.append(["64640", 71.05000000000001, 1797.52, 3.0])
    book.save(path)
    frame = next(read_xlsx_chunks(path, required=["hcpcs_code"], chunk_rows=10)).frame
    assert frame.loc[0, ["minimum_unadjusted_copayment", "payment_rate", "weight"]].tolist() == [
        "71.05",
        "1797.52",
        "3",
    ]
