"""OPPS Addendum B (xlsx and CSV editions) and ASC Addenda AA / FF: values, releases, defects."""

from __future__ import annotations

import decimal
from pathlib import Path

import pandas as pd
import pytest

from flows.settings import PROJECT_DIR, Settings
from flows.sources import cms_asc_addenda, cms_opps_addendum_b
from flows.sources.base import ReadContext
from tests.cms_loading import copy_as, findings, load, rows
from tests.conftest import fixture

RAW = PROJECT_DIR / "raw"
ADDENDUM_B = RAW / "cms_opps_addendum_b" / "2023_January_Web_Addendum_B.12212022_excerpt.xlsx"
AA_2026 = RAW / "cms_asc_addenda" / "20260101" / "AA_January_2026_excerpt.csv"
FF_2026 = RAW / "cms_asc_addenda" / "20260101" / "FF_January_2026_excerpt.csv"
AA_2025 = RAW / "cms_asc_addenda" / "20251001" / "AA_October_2025_excerpt.csv"
USD = decimal.Decimal


def read_all(module, path: Path, settings: Settings) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.concat([b.frame for b in module.read(path, ReadContext(settings=settings))], ignore_index=True)


# --- OPPS Addendum B ---------------------------------------------------------------------------------
def test_addendum_b_0440t_as_cms_printed_it(settings: Settings) -> None:
    record = load(settings, "cms_opps_addendum_b", ADDENDUM_B)
    assert (record.status, record.rows_read, record.rows_loaded) == ("loaded", 14, 14)
    b = rows(settings, "cms__opps_addendum_b").set_index("billing_code")
    row = b.loc["0440T"]  # ('0440T', 'Abltj perc uxtr/perph nrv', 'J1', '5431', 21.0028, 1797.52, '.', 359.51, ...)
    assert (row["status_indicator"], row["apc"], row["relative_weight"], row["payment_rate_usd"]) == (
        "J1",
        "5431",
        USD("21.0028"),
        USD("1797.52"),
    )
    assert pd.isna(row["national_unadjusted_copayment_usd"])  # CMS's "." is no amount, not 0
    assert row["minimum_unadjusted_copayment_usd"] == USD("359.51")
    assert (row["release_year"], row["release_quarter"]) == (2023, 1)  # from the sheet "2023 January Addendum B"
    assert row["source_record"].startswith("sheet '2023 January Addendum B' row ")
    assert b.loc["64640", ["status_indicator", "apc"]].tolist() == ["T", "5443"]


def test_addendum_b_csv_edition_reads_like_the_workbook(settings: Settings) -> None:
    workbook = read_all(cms_opps_addendum_b, ADDENDUM_B, settings).drop(columns="source_record")
    csv_edition = read_all(
        cms_opps_addendum_b, fixture("cms__opps_addendum_b", "2023_January_csv_edition.csv"), settings
    )
    assert csv_edition["source_record"].iloc[0] == "line 5"
    pd.testing.assert_frame_equal(workbook, csv_edition.drop(columns="source_record"))


def test_addendum_b_csv_without_a_month_is_rejected(settings: Settings, tmp_path: Path) -> None:
    path = copy_as(fixture("cms__opps_addendum_b", "2023_January_csv_edition.csv"), tmp_path, "addendum_b.csv")
    record = load(settings, "cms_opps_addendum_b", path)
    assert record.status == "rejected" and "gives the year (2023) but not which quarterly release" in record.error


def test_full_addendum_b_workbook_loads(settings: Settings, real_samples: Path) -> None:
    record = load(
        settings,
        "cms_opps_addendum_b",
        real_samples / "cms-opps-addendum-b" / "2023_January_Web_Addendum_B.12212022.xlsx",
    )
    assert (record.status, record.rows_read, record.rows_loaded, record.rows_quarantined) == ("loaded", 17559, 17559, 0)
    b = rows(settings, "cms__opps_addendum_b").set_index("billing_code")
    assert b.loc["0440T", ["status_indicator", "apc", "payment_rate_usd"]].tolist() == ["J1", "5431", USD("1797.52")]
    assert b.loc["0001A", "status_indicator"] == "S"  # a CPT vaccine administration code
    assert b.loc["0736T", "status_indicator"] == "S"  # written "0736T " with "S " in CMS's cells


# --- ASC Addenda AA and FF ---------------------------------------------------------------------------
def test_asc_aa_0440t_in_both_quarters(settings: Settings) -> None:
    load(settings, "cms_asc_addenda", AA_2026)
    load(settings, "cms_asc_addenda", AA_2025, run_id="20260101T000000Z-cms002")
    aa = rows(settings, "cms__asc_addendum_aa")
    target = aa[aa["billing_code"] == "0440T"].set_index("release_quarter")
    # AA.csv, January 2026: 0440T,,Abltj perc uxtr/perph nrv,Y,J8,26.1995,"$1,475.61 "
    assert target.loc[1, ["payment_indicator", "payment_weight", "payment_rate_usd"]].tolist() == [
        "J8",
        USD("26.1995"),
        USD("1475.61"),
    ]
    assert bool(target.loc[1, "multiple_procedure_discounting"]) is True
    # AA.csv, October 2025: 0440T,,Abltj perc uxtr/perph nrv,Y,J8,27.3901,"$1,503.58"
    assert target.loc[4, ["release_year", "payment_rate_usd"]].tolist() == [2025, USD("1503.58")]
    packaged = aa[(aa["billing_code"] == "0439T") & (aa["release_quarter"] == 1)].iloc[0]
    assert packaged["payment_indicator"] == "N1" and pd.isna(packaged["payment_rate_usd"])


def test_asc_ff_reads_apc_and_percentages(settings: Settings) -> None:
    record = load(settings, "cms_asc_addenda", FF_2026)
    assert record.datasets == ["cms__asc_addendum_ff"]
    ff = rows(settings, "cms__asc_addendum_ff").set_index("billing_code")
    # 0440T,,Abltj perc uxtr/perph nrv,J8,5431,0.92%,"$1,765.76",64.49%,"$1,138.74"
    assert ff.loc[
        "0440T", ["apc", "apc_device_offset_pct", "opps_payment_rate_usd", "device_offset_pct", "device_portion_usd"]
    ].tolist() == ["5431", USD("0.92"), USD("1765.76"), USD("64.49"), USD("1138.74")]


def test_asc_money_that_is_not_a_number_is_quarantined_as_written(settings: Settings) -> None:
    record = load(settings, "cms_asc_addenda", fixture("cms__asc_addendum_aa", "money_not_a_number.csv"))
    assert (record.status, record.rows_quarantined) == ("loaded_with_quarantine", 1)
    assert findings(settings) == [("line 7", "payment_rate_usd", "number_format", "$1,4x5.61 ")]
    assert "0440T" not in set(rows(settings, "cms__asc_addendum_aa")["billing_code"])


def test_asc_notes_header_quirks_and_cp1252(settings: Settings) -> None:
    frame = read_all(cms_asc_addenda, AA_2026, settings)
    assert len(frame) == 13  # 13 codes; the 3 NOTE rows at the end are documentation, not records
    assert frame["note_marker"].dropna().tolist() == []  # no asterisked code among these
    assert (frame["release_year"].unique().tolist(), frame["release_quarter"].unique().tolist()) == ([2026], [1])


def test_other_asc_addenda_are_rejected_by_content(settings: Settings) -> None:
    path = fixture("cms__asc_addendum_aa", "addendum_bb_not_read.csv")
    assert not cms_asc_addenda.detect(path)
    record = load(settings, "cms_asc_addenda", path)
    assert record.status == "rejected" and "this is ASC Addendum BB, which this source does not read" in record.error


def test_asc_header_and_file_name_must_agree(settings: Settings, tmp_path: Path) -> None:
    path = copy_as(AA_2026, tmp_path, "AA_October_2025.csv")
    record = load(settings, "cms_asc_addenda", path)
    assert record.status == "rejected" and "says release 2026-Q1 (header) but its name says 2025-Q4" in record.error


@pytest.mark.parametrize(
    ("folder", "name", "count"),
    [
        ("2026/20260101", "AA.csv", 4821),
        ("2026/20260101", "FF.csv", 4821),
        ("2025/20251001", "AA.csv", 4201),
        ("2025/20251001", "FF.csv", 4201),
    ],
)
def test_full_asc_addenda_load(settings: Settings, real_samples: Path, folder: str, name: str, count: int) -> None:
    record = load(settings, "cms_asc_addenda", real_samples / "cms-asc-addenda" / folder / name)
    assert (record.status, record.rows_read, record.rows_loaded, record.rows_quarantined) == ("loaded", count, count, 0)
    if name == "AA.csv" and folder.startswith("2026"):
        aa = rows(settings, "cms__asc_addendum_aa").set_index("billing_code")
        assert aa.loc["0440T", ["payment_indicator", "payment_rate_usd"]].tolist() == ["J8", USD("1475.61")]
        assert aa.loc["0441T", "payment_rate_usd"] == USD("1466.13") and aa.loc["0442T", "payment_rate_usd"] == USD(
            "6353.37"
        )
