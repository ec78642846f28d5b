"""The PPRRVU adapter: CSV with its split header, the fixed-width edition, releases, file defects."""

from __future__ import annotations

import csv
import decimal
from pathlib import Path

import pandas as pd
import pytest

from flows.settings import PROJECT_DIR, Settings
from flows.sources import cms_pfs_rvu
from flows.sources.base import FileRejected, ReadContext
from tests.cms_loading import copy_as, findings, load, rows
from tests.conftest import fixture

DATASET = "cms__pfs_rvu"
EXCERPT = PROJECT_DIR / "raw" / "cms_pfs_rvu" / "PPRRVU2025_Oct_excerpt.csv"


def read_all(path: Path, settings: Settings) -> pd.DataFrame:
    batches = list(cms_pfs_rvu.read(path, ReadContext(settings=settings)))
    assert batches and all(b.dataset == DATASET for b in batches)
    return pd.concat([b.frame for b in batches], ignore_index=True)


def test_csv_excerpt_reads_release_and_the_values_cms_printed(settings: Settings) -> None:
    frame = read_all(EXCERPT, settings).set_index("billing_code", drop=False)
    assert len(frame) == 16  # every data row of the excerpt (codes of interest, neighbours, 93990 x3)
    row = frame.loc["0440T"]
    assert (row["status_code"], row["global_days"], row["work_rvu"], row["nonfacility_total_rvu"]) == (
        "C",
        "YYY",
        "0.00",
        "0.00",
    )
    assert (row["release_year"], row["release_quarter"], row["effective_date"], row["published_date"]) == (
        2025,
        4,
        "2025-10-01",
        "2025-09-11",
    )
    assert row["source_record"] == "line 12" and row["source_layout"] == "csv"
    comparator = frame.loc[
        "64640"
    ]  # line 23 of the excerpt: 64640,,Injection treatment of nerve,A,,1.98,5.26,,1.43,,0.21,...
    assert comparator[
        ["work_rvu", "nonfacility_pe_rvu", "facility_pe_rvu", "mp_rvu", "conversion_factor_usd"]
    ].tolist() == ["1.98", "5.26", "1.43", "0.21", "32.3465"]
    assert (
        frame.loc["64449", "nonfacility_na_indicator"] == "true"
        and frame.loc["64640", "nonfacility_na_indicator"] == "false"
    )
    assert frame.loc["0440T", "preop_share"] == "0.00"
    assert pd.isna(frame.loc["0440T", "modifier"])  # blank modifier = the global service


def test_excerpt_loads_and_reconciles(settings: Settings) -> None:
    record = load(settings, "cms_pfs_rvu", EXCERPT)
    assert (record.status, record.rows_read, record.rows_loaded, record.rows_quarantined) == ("loaded", 16, 16, 0)
    stored = rows(settings, DATASET).set_index("billing_code")
    assert stored.loc["0440T", "status_code"] == "C"
    assert stored.loc["64640", "work_rvu"] == decimal.Decimal("1.98")  # decimal, never binary float


def test_header_that_lost_a_column_rejects_the_file_naming_it(settings: Settings) -> None:
    record = load(settings, "cms_pfs_rvu", fixture(DATASET, "header_lost_a_column.csv"))
    assert record.status == "rejected" and record.rows_loaded == 0
    assert "missing required column 'mp_rvu'" in record.error
    assert "header_lost_a_column.csv (header on lines 6-10)" in record.error


def test_negative_rvu_and_unknown_status_are_quarantined(settings: Settings) -> None:
    load(settings, "cms_pfs_rvu", fixture(DATASET, "negative_rvu.csv"))
    load(settings, "cms_pfs_rvu", fixture(DATASET, "status_not_in_cms_list.csv"), run_id="20260101T000000Z-cms002")
    assert findings(settings) == [
        ("line 12", "mp_rvu", "greater_than_or_equal_to", "-0.21"),
        ("line 12", "status_code", "isin", "Q"),
    ]
    assert rows(settings, DATASET)["billing_code"].tolist() == ["0440T", "0440T"]  # the good rows still load


def test_title_and_name_must_name_the_same_release(settings: Settings, tmp_path: Path) -> None:
    mislabelled = copy_as(EXCERPT, tmp_path, "PPRRVU2025_Jan.csv")
    record = load(settings, "cms_pfs_rvu", mislabelled)
    assert record.status == "rejected"
    assert "the file says release 2025-Q4 (title row) but its name says 2025-Q1" in record.error


# --- payment tracks (CY 2026 on: a QPP and a non-QPP file per release) -------------------------------
# The 2026 fixtures are test fixtures, not CMS data: the 2025 excerpt's 0440T and 64640 rows with a
# 2026 January title and the two CY 2026 conversion factors (tests/fixtures/cms__pfs_rvu/README.md).
@pytest.mark.parametrize(
    ("name", "track"),
    [
        ("PPRRVU2026_Jan_QPP.csv", "qpp"),
        ("PPRRVU2026_Jan_nonQPP.csv", "non_qpp"),
        ("PPRRVU2026_Jan_non-QPP.csv", "non_qpp"),
        ("pprrvu2026_jan_nonqpp.csv", "non_qpp"),
        ("PPRRVU2026_JAN_qpp.csv", "qpp"),
        ("PPRRVU2026_Jan_nonQPP (1).csv", "non_qpp"),
    ],
)
def test_payment_track_comes_from_cms_file_name(settings: Settings, tmp_path: Path, name: str, track: str) -> None:
    frame = read_all(copy_as(fixture(DATASET, "PPRRVU2026_Jan_nonQPP.csv"), tmp_path, name), settings)
    assert frame["payment_track"].unique().tolist() == [track]
    assert (frame["release_year"].iloc[0], frame["release_quarter"].iloc[0]) == (2026, 1)


def test_a_release_of_one_file_is_the_single_track(settings: Settings) -> None:
    assert read_all(EXCERPT, settings)["payment_track"].unique().tolist() == ["single"]


def test_qpp_file_loads_with_one_advisory_saying_which_amounts_medicare_rate_uses(settings: Settings) -> None:
    record = load(settings, "cms_pfs_rvu", fixture(DATASET, "PPRRVU2026_Jan_QPP.csv"))
    assert (record.status, record.rows_loaded, record.advisories) == ("loaded", 2, 1)  # once per file, not per row
    stored = rows(settings, DATASET)
    assert set(stored["payment_track"]) == {"qpp"} and set(stored["conversion_factor_usd"]) == {
        decimal.Decimal("33.5675")
    }
    advisory = pd.concat([pd.read_parquet(p) for p in (settings.lake_dir / "_advisory").glob("*/*.parquet")])
    assert advisory[["source_record", "column_name", "check_name", "failure_value"]].values.tolist() == [
        ["file name", "payment_track", "qpp_track_file", "qpp"]
    ]
    assert "medicare_rate uses the non-QPP file of 2026-Q1 when it is loaded" in advisory["reason"].iloc[0]
    assert "PPRRVU2026_Jan_nonQPP" in advisory["reason"].iloc[0]
    non_qpp = load(settings, "cms_pfs_rvu", fixture(DATASET, "PPRRVU2026_Jan_nonQPP.csv"))
    assert (non_qpp.status, non_qpp.advisories) == ("loaded", 0)


def test_title_naming_a_track_is_read_and_must_agree_with_the_name(settings: Settings, tmp_path: Path) -> None:
    titled = fixture(DATASET, "title_says_non_qpp.csv")
    assert read_all(copy_as(titled, tmp_path / "a", "PPRRVU2026_Jan.csv"), settings)[
        "payment_track"
    ].unique().tolist() == ["non_qpp"]  # the title alone tells
    assert (
        read_all(copy_as(titled, tmp_path / "b", "PPRRVU2026_Jan_nonQPP.csv"), settings)["payment_track"].iloc[0]
        == "non_qpp"
    )
    record = load(settings, "cms_pfs_rvu", copy_as(titled, tmp_path / "c", "PPRRVU2026_Jan_QPP.csv"))
    assert record.status == "rejected" and record.rows_loaded == 0
    assert record.error == (
        "PPRRVU2026_Jan_QPP.csv: its title rows (line 1) say the non-QPP file but its name 'PPRRVU2026_Jan_QPP.csv' says "
        "QPP (qualifying APM participants); expected a file whose name matches its title (rename it PPRRVU2026_Jan_QPP "
        "or PPRRVU2026_Jan_nonQPP)"
    )


def test_a_2026_file_that_does_not_say_its_track_is_rejected(settings: Settings, tmp_path: Path) -> None:
    record = load(
        settings, "cms_pfs_rvu", copy_as(fixture(DATASET, "PPRRVU2026_Jan_QPP.csv"), tmp_path, "PPRRVU2026_Jan.csv")
    )
    assert record.status == "rejected"
    assert "neither this file's name nor its title says which this is" in record.error
    assert "PPRRVU2026_Jan_nonQPP for the non-QPP file (Medicare's standard amounts)" in record.error


def test_fixed_width_track_comes_from_the_name_or_folder_name(settings: Settings, tmp_path: Path) -> None:
    """CMS's bundle folder gives the release; the name (whose month word "QPP" is none) the track."""
    in_bundle = copy_as(fixture(DATASET, "fixed_width_valid.txt"), tmp_path / "RVU26A", "PPRRVU2026_QPP.txt")
    batches = list(cms_pfs_rvu.read(in_bundle, ReadContext(settings=settings)))
    frame = pd.concat([b.frame for b in batches])
    assert frame["payment_track"].unique().tolist() == ["qpp"] and frame["release_quarter"].unique().tolist() == [1]
    assert batches[0].advisories["check"].tolist() == ["qpp_track_file"]
    unnamed = copy_as(fixture(DATASET, "fixed_width_valid.txt"), tmp_path / "RVU26B", "PPRRVU2026_sample.txt")
    with pytest.raises(FileRejected, match="from CY 2026 CMS publishes two files per release"):
        read_all(unnamed, settings)


def test_fixed_width_hdr_line_naming_a_track_must_agree_with_the_name(settings: Settings, tmp_path: Path) -> None:
    text = fixture(DATASET, "fixed_width_valid.txt").read_text(encoding="cp1252")
    path = tmp_path / "PPRRVU2026_Jan_QPP.txt"
    path.write_text("HDR  NON-QPP CONVERSION FACTOR\n" + text, encoding="cp1252", newline="")
    with pytest.raises(FileRejected, match=r"its HDR lines \(line 1\) say the non-QPP file but its name"):
        read_all(path, settings)
    agreeing = tmp_path / "PPRRVU2026_Jan_nonQPP.txt"
    agreeing.write_bytes(path.read_bytes())
    assert read_all(agreeing, settings)["payment_track"].unique().tolist() == ["non_qpp"]


# --- the fixed-width edition -----------------------------------------------------------------------
def test_fixed_width_records_are_read_by_position(settings: Settings, tmp_path: Path) -> None:
    path = copy_as(fixture(DATASET, "fixed_width_valid.txt"), tmp_path, "PPRRVU2025_Oct.txt")
    frame = read_all(path, settings)
    assert len(frame) == 10 and frame["source_record"].iloc[0] == "line 8"
    first = frame.iloc[
        0
    ]  # "0001F  Heart failure composite ... I   0.00 ... 0.009XXX.00.00.0099999 ... 32.3465 090 99 ..."
    assert (first["billing_code"], first["description"], first["status_code"], first["pctc_indicator"]) == (
        "0001F",
        "Heart failure composite",
        "I",
        "9",
    )
    assert (first["global_days"], first["mult_proc_indicator"], first["conversion_factor_usd"]) == (
        "XXX",
        "9",
        "32.3465",
    )
    assert (first["physician_supervision_code"], first["calculation_flag"], first["diagnostic_imaging_family"]) == (
        "09",
        "0",
        "99",
    )
    assert (first["release_year"], first["release_quarter"], first["source_layout"]) == (2025, 4, "fixed_width")
    record = load(settings, "cms_pfs_rvu", path)
    assert (record.status, record.rows_loaded) == ("loaded", 10)


def test_fixed_width_release_comes_from_cms_name_or_folder(settings: Settings, tmp_path: Path) -> None:
    unnamed = copy_as(fixture(DATASET, "fixed_width_valid.txt"), tmp_path, "PPRRVU2025_sample.txt")
    with pytest.raises(FileRejected, match=r"the name gives the year \(2025\) but not which quarterly release"):
        read_all(unnamed, settings)
    in_bundle = copy_as(fixture(DATASET, "fixed_width_valid.txt"), tmp_path / "RVU25D", "PPRRVU2025_sample.txt")
    assert read_all(in_bundle, settings)["release_quarter"].unique().tolist() == [4]


def test_fixed_width_truncated_record_rejects_the_file(settings: Settings, tmp_path: Path) -> None:
    path = copy_as(fixture(DATASET, "fixed_width_truncated_record.txt"), tmp_path, "PPRRVU2025_Oct.txt")
    record = load(settings, "cms_pfs_rvu", path)
    assert record.status == "rejected" and record.rows_loaded == 0
    assert record.error.startswith("PPRRVU2025_Oct.txt (line 11): record is 23 characters long, not 171")


def test_fixed_width_duplicate_key_and_bad_status_are_quarantined(settings: Settings, tmp_path: Path) -> None:
    load(
        settings,
        "cms_pfs_rvu",
        copy_as(fixture(DATASET, "fixed_width_duplicate_key.txt"), tmp_path / "a", "PPRRVU2025_Oct.txt"),
    )
    load(
        settings,
        "cms_pfs_rvu",
        copy_as(fixture(DATASET, "fixed_width_status_not_in_cms_list.txt"), tmp_path / "b", "PPRRVU2025_Oct.txt"),
        run_id="20260101T000000Z-cms002",
    )
    assert findings(settings) == [
        (
            "line 14",
            "release_year,release_quarter,payment_track,billing_code,modifier",
            "unique_key (first seen at line 8)",
            '["2025", "4", "single", "0001F", null]',
        ),
        ("line 8", "status_code", "isin", "Z"),
    ]


def test_detect_tells_both_editions_by_content(settings: Settings, tmp_path: Path) -> None:
    assert cms_pfs_rvu.detect(EXCERPT)
    assert cms_pfs_rvu.detect(fixture(DATASET, "fixed_width_valid.txt"))
    assert cms_pfs_rvu.detect(fixture(DATASET, "PPRRVU2026_Jan_QPP.csv")) and cms_pfs_rvu.detect(
        fixture(DATASET, "title_says_non_qpp.csv")
    )
    assert not cms_pfs_rvu.detect(PROJECT_DIR / "raw" / "cms_pfs_gpci" / "GPCI2025.csv")
    assert not cms_pfs_rvu.detect(settings.billing_code_file)


# --- the full public files (skipped where they are not present) ------------------------------------
def test_full_csv_loads_every_record(settings: Settings, real_samples: Path) -> None:
    record = load(settings, "cms_pfs_rvu", real_samples / "cms-pfs-rvu" / "RVU25D" / "PPRRVU2025_Oct.csv")
    assert (record.status, record.rows_read, record.rows_loaded, record.rows_quarantined) == ("loaded", 19090, 19090, 0)
    stored = rows(settings, DATASET)
    target = stored[stored["billing_code"].isin(["0440T", "0441T", "0442T"])]
    assert target["status_code"].tolist() == ["C", "C", "C"] and target["global_days"].tolist() == ["YYY"] * 3
    assert (target["nonfacility_total_rvu"] == 0).all() and set(stored["conversion_factor_usd"]) == {
        decimal.Decimal("32.3465")
    }


def test_fixed_width_sample_equals_the_csv_edition(settings: Settings, real_samples: Path, tmp_path: Path) -> None:
    """All 94 records of CMS's fixed-width sample read field for field as the same codes in the CSV."""
    fixed = read_all(
        copy_as(real_samples / "cms-pfs-rvu" / "fixed-width" / "PPRRVU2025_sample.txt", tmp_path, "PPRRVU2025_Oct.txt"),
        settings,
    )
    full = read_all(real_samples / "cms-pfs-rvu" / "RVU25D" / "PPRRVU2025_Oct.csv", settings)
    key = ["billing_code", "modifier"]
    columns = [c for c in fixed.columns if c not in ("source_record", "source_layout", "published_date")]
    merged = fixed[columns].merge(full[columns], on=key, suffixes=("_txt", "_csv"), how="left")
    assert len(fixed) == 94 and len(merged) == 94
    for name in columns:
        if name not in key:
            assert merged[f"{name}_txt"].astype(str).tolist() == merged[f"{name}_csv"].astype(str).tolist(), name


@pytest.mark.parametrize("name", ["bad_layout.txt", "bad_dup_keys.txt", "bad_category.txt"])
def test_validator_fixtures_of_cms_api(settings: Settings, real_samples: Path, tmp_path: Path, name: str) -> None:
    """alex-bea/cms_api's negative PPRRVU fixtures: each defect is caught (named as CMS names the file)."""
    path = copy_as(real_samples / "validator-fixtures" / "cms_api-pprrvu" / name, tmp_path, "PPRRVU2025_Oct.txt")
    record = load(settings, "cms_pfs_rvu", path)
    if name == "bad_layout.txt":  # line 8 cut to "0001F  Heart failure co"
        assert record.status == "rejected"
        assert "(line 8): record is 23 characters long, not 171" in record.error
    elif name == "bad_dup_keys.txt":  # 0001F again on line 16, with RVUs whose totals do not add up
        assert (record.status, record.rows_loaded, record.rows_quarantined) == ("loaded_with_quarantine", 8, 1)
        assert {f[0] for f in findings(settings)} == {"line 16"}
        assert rows(settings, DATASET)["billing_code"].tolist().count("0001F") == 1
    else:  # 0001F with status Z
        assert findings(settings) == [("line 8", "status_code", "isin", "Z")]


def test_every_header_name_of_cms_csv_is_mapped(real_samples: Path) -> None:
    with (real_samples / "cms-pfs-rvu" / "RVU25D" / "PPRRVU2025_Oct.csv").open(encoding="utf-8", newline="") as handle:
        header = list(csv.reader(handle))[9]
    assert len(header) == len(cms_pfs_rvu.CSV_COLUMNS) == 31
