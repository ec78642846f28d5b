"""End to end on the bundled MCD and Part B files: raw -> Parquet -> DuckDB -> coverage_matrix, medicare_utilization."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from flows import catalog
from flows.ingest import ingest_source
from flows.run_pipeline import run_pipeline
from flows.settings import Settings
from flows.steps import load_log, warehouse
from schemas.fields import MCD_AVAILABILITY, PAYER_GROUPS, TREND_AVAILABILITY, UTILIZATION_AVAILABILITY
from tests.conftest import BUNDLED_RAW, fixture, query

PARTB = BUNDLED_RAW / "cms_partb_geo_service"
RELEASE = BUNDLED_RAW / "cms_mcd" / "synthetic_mcd_release"
GEOGRAPHIES = 1 + 56  # national + states, DC and territories of raw/reference/us_geographies.csv


@pytest.fixture
def loaded(bundled_warehouse: Settings) -> Settings:
    """The session's run over the bundled raw/ folder, shared by the read-only tests here."""
    return bundled_warehouse


def test_every_mcd_and_partb_file_loads_and_reconciles(loaded: Settings) -> None:
    log = load_log.read(loaded.lake_dir)
    ours = log[log["source"].isin(["cms_mcd", "cms_partb_geo_service"])]
    assert len(ours) == 10 + 3 and set(ours["status"]) == {"loaded"}
    assert (ours["rows_read"] == ours["rows_loaded"] + ours["rows_quarantined"]).all()
    kept = sum(
        1
        for path in PARTB.glob("*.csv")
        for row in csv.DictReader(path.open(encoding="utf-8"))
        if row["HCPCS_Cd"] in {"0440T", "0441T", "0442T", "64640", "64624", "64450"}
    )
    assert query(loaded, "select count(*) from cms__partb_geo_service")[0][0] == kept > 0


# --- coverage_matrix --------------------------------------------------------------------------------
def test_medicare_row_for_0440t_combines_the_extract_and_the_mcd(loaded: Settings) -> None:
    row = query(
        loaded,
        """
        select coverage_status, availability_reason, policy_id, mcd_availability, mcd_listing_status, mcd_listing_count,
               mcd_contractors, mcd_detail, mcd_source_files, mcd_is_synthetic
        from coverage_matrix where billing_code = '0440T' and payer_group = 'medicare'""",
    )
    assert len(row) == 1
    status, reason, policy, availability, listing, count, contractors, detail, files, synthetic = row[0]
    assert (status, reason, policy) == ("case_by_case", "reported", "cope24853")  # the analysts' extract, unchanged
    assert (availability, listing, count, contractors) == ("no_lcd_or_article", None, 0, None)
    assert detail == "SYNTHETIC DATA: no current LCD or article in the loaded MCD code lists names 0440T"
    assert files == ["synthetic_article_x_hcpc_code.csv", "synthetic_lcd_x_hcpc_code.csv"] and synthetic is True


@pytest.mark.parametrize("code", ["0440T", "0441T", "0442T", "64640", "64624", "64450"])
def test_still_five_rows_per_code_and_mcd_only_on_medicare(loaded: Settings, code: str) -> None:
    rows = dict(
        query(loaded, f"select payer_group, mcd_availability from coverage_matrix where billing_code = '{code}'")
    )
    assert sorted(rows) == sorted(PAYER_GROUPS)
    assert {v for k, v in rows.items() if k != "medicare"} == {"not_applicable"}
    assert rows["medicare"] in ("listed", "no_lcd_or_article")


def test_listed_codes_name_their_macs_and_how(loaded: Settings) -> None:
    rows = {
        r[0]: r[1:]
        for r in query(
            loaded,
            """
        select billing_code, mcd_availability, mcd_listing_status, mcd_listing_count, mcd_contractors, mcd_documents, mcd_detail
        from coverage_matrix where payer_group = 'medicare' and mcd_availability = 'listed'""",
        )
    }
    assert set(rows) == {"64640", "64624", "64450"}
    assert rows["64640"][:4] == ("listed", "covered", 1, ["Synthetic Example Administrators, LLC"])
    assert rows["64624"][1] == "mixed" and rows["64624"][3] == [
        "Illustrative Health Solutions, Inc.",
        "Synthetic Example Administrators, LLC",
    ]
    assert "A990002 v1" in rows["64624"][4] and "group 1 non_covered" in rows["64624"][5]
    assert rows["64450"][4] == ["A990002 v1", "L990102 v2"]  # the retired article A990003 is not current
    assert all(r[5].startswith("SYNTHETIC DATA: ") for r in rows.values())


def test_code_listing_keeps_the_paragraph_as_evidence(loaded: Settings) -> None:
    rows = query(
        loaded,
        """
        select listing_class, listing_class_phrase, paragraph_text, document_url, is_synthetic from stg_mcd_code_listing
        where billing_code = '64624' and document_display_id = 'A990002'""",
    )
    assert rows == [
        (
            "non_covered",
            "non-covered",
            "Group 1 Paragraph: The following code is non-covered when billed for knee "
            "pain without a prior diagnostic genicular nerve block (not reasonable and necessary).",
            None,
            True,
        )
    ]
    assert query(loaded, "select count(*) from stg_mcd_code_listing where document_id = 990003")[0][0] == 0


def test_real_document_listing_is_queryable(loaded: Settings) -> None:
    rows = query(
        loaded,
        "select document_version, effective_date::varchar, is_retired from stg_mcd_document "
        "where document_display_id = 'L35490'",
    )
    assert rows == [(81, "2025-06-26", False)]


def test_mcd_not_loaded_and_partially_loaded_are_told_apart(settings: Settings) -> None:
    medicare_rows = (
        "select billing_code, mcd_availability, mcd_detail from coverage_matrix where payer_group = 'medicare'"
    )
    assert run_pipeline(settings).ok  # reference tables only
    assert {r[1] for r in query(settings, medicare_rows)} == {"not_loaded"}
    articles_only = [
        RELEASE / f"synthetic_{t}.csv" for t in ("article", "article_x_hcpc_code_group", "article_x_hcpc_code")
    ]
    folder = settings.raw_dir / "cms_mcd" / "release"
    folder.mkdir(parents=True)
    for path in articles_only:
        shutil.copy(path, folder / path.name)
    ingest_source("cms_mcd", [folder / p.name for p in articles_only], settings)
    warehouse.build(settings, catalog.SCHEMAS)
    rows = {r[0]: r[1:] for r in query(settings, medicare_rows)}
    assert rows["0440T"] == (
        "partially_loaded",
        "SYNTHETIC DATA: no current article in the loaded MCD code lists names 0440T; LCD code lists not loaded",
    )
    assert rows["64640"][0] == "listed"


# --- medicare_utilization -----------------------------------------------------------------------------
def test_utilization_grid_is_complete_with_explicit_reasons(loaded: Settings) -> None:
    total, distinct, years = query(
        loaded,
        """
        select count(*), count(distinct (billing_code, data_year, geo_name, place_of_service)), count(distinct data_year)
        from medicare_utilization""",
    )[0]
    assert years == 3 and total == distinct == 6 * 3 * GEOGRAPHIES * 2
    reasons = dict(query(loaded, "select availability_reason, count(*) from medicare_utilization group by 1"))
    assert set(reasons) == {"reported", "not_published_small_cell"}
    assert (
        query(
            loaded,
            """
        select count(*) from medicare_utilization
        where (availability_reason = 'reported') <> (beneficiary_count is not null and avg_medicare_allowed_usd is not null)""",
        )[0][0]
        == 0
    )
    assert query(loaded, "select count(*) from medicare_utilization where not source_is_synthetic")[0][0] == 0


def test_a_value_a_person_can_check_in_the_file(loaded: Settings) -> None:
    path = PARTB / "synthetic_MUP_PHY_R25_P05_V10_D23_Geo.csv"
    line = next(
        r
        for r in csv.DictReader(path.open(encoding="utf-8"))
        if r["HCPCS_Cd"] == "0440T" and r["Rndrng_Prvdr_Geo_Lvl"] == "National" and r["Place_Of_Srvc"] == "O"
    )
    row = query(
        loaded,
        """
        select beneficiary_count, service_count::varchar, avg_medicare_allowed_usd::varchar, availability_reason, source_file
        from medicare_utilization
        where billing_code = '0440T' and data_year = 2023 and geo_level = 'national' and place_of_service = 'O'""",
    )[0]
    assert row[0] == int(line["Tot_Benes"]) and float(row[1]) == float(line["Tot_Srvcs"])
    assert row[2] == f"{float(line['Avg_Mdcr_Alowd_Amt']):.4f}"  # exact decimal, not a float
    assert row[3:] == ("reported", path.name)
    cells = dict(
        query(
            loaded,
            """
        select state_abbrev, availability_reason from medicare_utilization
        where billing_code = '0440T' and data_year = 2023 and geo_level = 'state' and place_of_service = 'O'""",
        )
    )
    assert cells["TX"] == "reported" and cells["CA"] == "not_published_small_cell"


def test_thousands_separators_load_as_numbers(loaded: Settings) -> None:
    path = PARTB / "synthetic_MUP_PHY_R24_P05_V10_D22_Geo.csv"
    line = next(
        r
        for r in csv.DictReader(path.open(encoding="utf-8"))
        if r["HCPCS_Cd"] == "64450" and r["Rndrng_Prvdr_Geo_Lvl"] == "National" and r["Place_Of_Srvc"] == "O"
    )
    assert "," in line["Tot_Benes"]
    benes = query(
        loaded,
        "select beneficiary_count from medicare_utilization where billing_code = '64450' and data_year = 2022 "
        "and geo_level = 'national' and place_of_service = 'O'",
    )[0][0]
    assert benes == int(line["Tot_Benes"].replace(",", ""))


def test_trend_is_national_by_year(loaded: Settings) -> None:
    rows = {
        r[0]: r[1:]
        for r in query(
            loaded,
            """
        select data_year, availability_reason, facility_service_count, office_service_count, service_count
        from medicare_utilization_trend where billing_code = '0440T' order by data_year""",
        )
    }
    assert rows[2021] == ("not_published_small_cell", None, None, None)
    assert rows[2023][0] == "partial_small_cell" and rows[2023][1] is None and rows[2023][3] == rows[2023][2]
    both = query(
        loaded,
        "select availability_reason, service_count = facility_service_count + office_service_count "
        "from medicare_utilization_trend where billing_code = '64450' and data_year = 2022",
    )
    assert both == [("reported", True)]
    # a total that leaves out a suppressed setting is a lower bound; a total over both settings is exact
    bounds = dict(
        query(
            loaded,
            "select data_year, totals_are_lower_bounds from medicare_utilization_trend where billing_code = '0440T'",
        )
    )
    assert bounds == {2021: None, 2022: True, 2023: True}
    assert query(
        loaded,
        "select totals_are_lower_bounds from medicare_utilization_trend "
        "where billing_code = '64450' and data_year = 2022",
    ) == [(False,)]


def test_gap_year_quarantined_cell_and_late_code_are_not_loaded(settings: Settings, tmp_path: Path) -> None:
    folder = settings.raw_dir / "cms_partb_geo_service"
    folder.mkdir(parents=True)
    for name in ("synthetic_MUP_PHY_R23_P05_V10_D21_Geo.csv", "synthetic_MUP_PHY_R25_P05_V10_D23_Geo.csv"):
        shutil.copy(PARTB / name, folder / name)
    shutil.copy(fixture("cms__partb_geo_service", "negative_counts_2022.csv"), folder / "bad_rows_2024.csv")
    summary = run_pipeline(settings)
    assert summary.ok  # quarantined rows are not a failed run
    assert {r.source_file: r.status for r in summary.records}["bad_rows_2024.csv"] == "loaded_with_quarantine"
    years = [r[0] for r in query(settings, "select distinct data_year from medicare_utilization order by 1")]
    assert years == [2021, 2023, 2024]
    trend = dict(
        query(
            settings,
            "select data_year, availability_reason from medicare_utilization_trend where billing_code = '64450'",
        )
    )
    assert trend[2022] == "not_loaded"  # between loaded years, no file
    cells = dict(
        query(
            settings,
            """
        select geo_name, availability_reason from medicare_utilization
        where billing_code = '64450' and data_year = 2024 and place_of_service = 'O'""",
        )
    )
    assert cells["Texas"] == "not_loaded" and cells["California"] == "not_loaded"  # their rows are in quarantine
    assert cells["National"] == "reported" and cells["Ohio"] == "not_published_small_cell"

    codes = settings.billing_code_file  # a code added after the files were loaded was never scanned for
    codes.write_text(
        codes.read_text(encoding="utf-8") + "64633,CPT,category_i,comparator,facet destruction,Facet joint "
        "destruction (test),\n",
        encoding="utf-8",
    )
    run_pipeline(settings)
    late = {
        r[0]
        for r in query(settings, "select availability_reason from medicare_utilization where billing_code = '64633'")
    }
    assert late == {"not_loaded"}


def test_thin_flows_load_their_source(settings: Settings) -> None:
    from flows.ingest import ingest

    records = ingest(
        "partb_utilization",
        [fixture("cms__partb_geo_service", "no_year_in_name.csv")],
        settings,
        options={"data_year": "2019"},
    )
    assert [(r.status, r.rows_loaded) for r in records] == [("loaded", 1)]
    records = ingest("medicare_coverage", [fixture("cms__mcd_document", "documents_latest_excerpt.csv")], settings)
    assert [(r.status, r.rows_loaded) for r in records] == [("loaded", 12)]


def test_reasons_are_the_documented_enumerations(loaded: Settings) -> None:
    assert {r[0] for r in query(loaded, "select distinct mcd_availability from coverage_matrix")} <= set(
        MCD_AVAILABILITY
    )
    assert {r[0] for r in query(loaded, "select distinct availability_reason from medicare_utilization")} <= set(
        UTILIZATION_AVAILABILITY
    )
    assert {r[0] for r in query(loaded, "select distinct availability_reason from medicare_utilization_trend")} <= set(
        TREND_AVAILABILITY
    )
    kinds = dict(query(loaded, "select name, kind from catalog"))
    assert kinds["medicare_utilization"] == kinds["medicare_utilization_trend"] == "mart"
    assert (
        kinds["stg_mcd_code_listing"] == "intermediate"
        and kinds["stg_mcd_article"] == "staging"
        and kinds["cms__partb_geo_service"] == "dataset"
    )
