"""The marts over the bundled raw/ data: values a person can check in the raw files (warehouse/sql/*.sql)."""

from __future__ import annotations

import re
from decimal import Decimal

import duckdb

from flows import catalog
from flows.ingest import ingest
from flows.settings import PROJECT_DIR, Settings
from tests.conftest import query

SQL_DIR = PROJECT_DIR / "warehouse" / "sql"


# --- one synthetic rule ---------------------------------------------------------------------------------
SYNTHETIC_FLAGS = {
    "benchmark_rate": "is_synthetic",
    "reimbursement_benchmark": "includes_synthetic",
    "hospital_rate_summary": "is_synthetic",
    "tic_rate_summary": "is_synthetic",
    "medicare_rate": "is_synthetic",
    "coverage_matrix": "is_synthetic",
    "medicare_utilization": "source_is_synthetic",
    "medicare_utilization_trend": "source_is_synthetic",
}


def test_the_synthetic_rule_is_written_once() -> None:
    """Only stg_source_file says what makes a file synthetic; every other view asks it."""
    for path in sorted(SQL_DIR.rglob("*.sql")):
        if path.name == "stg_source_file.sql":
            continue
        code = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8")).lower()
        assert not re.search(r"like\s+'synthetic", code), (
            f"{path.name} writes its own synthetic rule; use stg_source_file"
        )


def test_every_mart_showing_values_carries_the_flag(bundled_warehouse: Settings) -> None:
    for mart, column in SYNTHETIC_FLAGS.items():
        total, flagged, nulls = query(
            bundled_warehouse,
            f"select count(*), count(*) filter ({column}), count(*) filter ({column} is null) from {mart}",
        )[0]
        assert total > 0 and nulls == 0, mart


def test_synthetic_hospital_amounts_are_flagged_and_real_tic_rates_are_not(bundled_warehouse: Settings) -> None:
    # raw/hospital_mrf/synthetic_v3_tall_0440T-0442T.csv: Aetna 0440T outpatient 3,890.00 and 4,210.50 -> median 4,050.25
    rows = query(
        bundled_warehouse,
        """
        select median_negotiated_dollar_usd, is_synthetic from hospital_rate_summary
        where billing_code = '0440T' and payer_group = 'aetna' and setting = 'outpatient' and plan_type = 'not_stated'""",
    )
    assert rows == [(Decimal("4050.2500"), True)]
    # raw/tic/uhc-ny_TEST_FILE_excerpt.json.gz is a real payer file
    assert query(
        bundled_warehouse,
        """
        select distinct is_synthetic from tic_rate_summary where billing_code = '0440T' and payer_group = 'unitedhealthcare'""",
    ) == [(False,)]
    flags = dict(query(bundled_warehouse, "select source_file, is_synthetic from stg_source_file"))
    assert flags["synthetic_v3_tall_0440T-0442T.csv"] and flags["synthetic_article.csv"]
    assert not flags["uhc-ny_TEST_FILE_excerpt.json.gz"] and not flags["AA_January_2026_excerpt.csv"]
    assert query(
        bundled_warehouse,
        """
        select is_synthetic from coverage_matrix where billing_code = '0440T' and payer_group = 'medicare'""",
    ) == [(True,)]
    assert query(
        bundled_warehouse,
        """
        select count(*) from coverage_matrix where billing_code = '0440T' and payer_group <> 'medicare' and is_synthetic""",
    ) == [(0,)]


# --- medicare_rate ----------------------------------------------------------------------------------------
def test_every_indicator_the_schemas_accept_has_a_meaning(bundled_warehouse: Settings) -> None:
    from schemas.cms_common import ASC_PAYMENT_INDICATORS, OPPS_STATUS_INDICATORS, PFS_STATUS_CODES

    known = set(query(bundled_warehouse, "select payment_system, indicator from medicare_indicator"))
    accepted = (
        {("pfs", i) for i in PFS_STATUS_CODES}
        | {("opps", i) for i in OPPS_STATUS_INDICATORS}
        | {("asc", i) for i in ASC_PAYMENT_INDICATORS}
    )
    assert accepted == known


def test_an_indicator_missing_from_the_lookup_gives_a_reason_not_a_silent_null(
    bundled_warehouse: Settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A schema that learns a new indicator before medicare_indicator does: NULL amount, reason unknown_indicator."""
    import shutil

    copy = tmp_path / "copy.duckdb"
    shutil.copy(bundled_warehouse.duckdb_path, copy)
    con = duckdb.connect(str(copy))
    try:
        # the marts' views (schema live: the tables of the same names hold the build's rows)
        lookup = con.execute(
            "select sql from duckdb_views() where schema_name = 'live' and view_name = 'medicare_indicator'"
        ).fetchone()[0]
        body = lookup.split(" AS\n", 1)[1] if " AS\n" in lookup else lookup.split(" AS ", 1)[1]
        con.execute(f"create or replace view live.medicare_indicator_full as {body.rstrip().rstrip(';')}")
        con.execute("""create or replace view live.medicare_indicator as select * from medicare_indicator_full
                       where (payment_system, indicator) not in (('asc', 'J8'), ('opps', 'J1'), ('pfs', 'C'))""")
        rows = {
            r[0]: r[1:]
            for r in con.execute("""
            select setting, payment_usd, availability_reason, availability_note from live.medicare_rate
            where billing_code = '0440T' and locality_id = 'national'
              and (setting, release_period) in (('asc', '2026-Q1'), ('hopd_opps', '2023-Q1'), ('physician_nonfacility', '2025-Q4'))
            """).fetchall()
        }
    finally:
        con.close()
    assert rows["asc"][:2] == (None, "unknown_indicator") and "J8 is not in medicare_indicator" in rows["asc"][2]
    assert rows["hopd_opps"][:2] == (None, "unknown_indicator") and "J1" in rows["hopd_opps"][2]
    assert (
        rows["physician_nonfacility"][:2] == (None, "unknown_indicator")
        and "status C" in rows["physician_nonfacility"][2]
    )


def test_opps_rate_of_a_quarter_without_addendum_b_comes_from_addendum_ff(bundled_warehouse: Settings) -> None:
    # Addendum B January 2023: 0442T J1, APC 5432, $6,178.65. ASC Addendum FF October 2025: APC 5432, OPPS rate
    # $5,755.32; January 2026: APC 5433, OPPS rate $7,754.67 (no Addendum B of those quarters is bundled).
    rows = query(
        bundled_warehouse,
        """
        select release_period, payment_usd, apc, rate_source, status_indicator, source_file from medicare_rate
        where billing_code = '0442T' and setting = 'hopd_opps' and locality_id = 'national' order by release_period""",
    )
    assert rows == [
        (
            "2023-Q1",
            Decimal("6178.6500"),
            "5432",
            "opps_addendum_b",
            "J1",
            "2023_January_Web_Addendum_B.12212022_excerpt.xlsx",
        ),
        ("2025-Q4", Decimal("5755.3200"), "5432", "asc_addendum_ff", None, "FF_October_2025_excerpt.csv"),
        ("2026-Q1", Decimal("7754.6700"), "5433", "asc_addendum_ff", None, "FF_January_2026_excerpt.csv"),
    ]
    bench = query(
        bundled_warehouse,
        """
        select medicare_rate_usd, medicare_release_period, medicare_rate_label from reimbursement_benchmark
        where billing_code = '0442T' and payer_group = 'medicare' and setting = 'hospital_outpatient'
          and source = 'medicare_fee_schedule'""",
    )
    assert bench == [
        (
            Decimal("7754.6700"),
            "2026-Q1",
            "CMS OPPS 2026-Q1, national unadjusted: APC 5433 rate as printed in ASC Addendum FF",
        )
    ]


def test_a_medicare_release_out_of_step_with_the_rates_is_flagged(bundled_warehouse: Settings) -> None:
    rows = {
        (r[0], r[1], r[2]): r[3:]
        for r in query(
            bundled_warehouse,
            """
        select payer_group, setting, source, medicare_release_period, latest_as_of::varchar,
               medicare_release_lag_quarters, medicare_release_mismatch
        from reimbursement_benchmark where billing_code = '64640' and median_pct_of_medicare is not null""",
        )
    }
    # UHC New York TiC file of 2022-09-01 against the PFS 2025-Q4 national amount: 13 quarters apart
    assert rows[("unitedhealthcare", "professional_office", "payer_tic")] == ("2025-Q4", "2022-09-01", -13, True)
    # the hospital file of 2026-07-01 against the OPPS 2026-Q1 rate: 2 quarters, in step
    assert rows[("aetna", "hospital_outpatient", "hospital_mrf")] == ("2026-Q1", "2026-07-01", 2, False)


# --- coverage_matrix ------------------------------------------------------------------------------------------
def test_a_medicare_advantage_policy_never_sets_the_commercial_stance(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flows.ingest import ingest
    from flows.steps import warehouse
    from tests.conftest import fixture

    header = fixture("payer__policy", "valid_minimal.csv").read_text(encoding="utf-8").splitlines()[0]
    rows = [  # Cigna: commercial covered (inferred) and Medicare Advantage not covered (verified)
        "Cigna,commercial,C1,Commercial policy,https://example.org/c1,0440T,CPT,covered,unknown,,,2026-01-05,,inferred,",
        "Cigna,medicare_advantage,MA1,MA policy,https://example.org/ma1,0440T,CPT,not_medically_necessary,unknown,,,2026-01-05,,verified,",
        "Aetna,commercial,,,,0440T,CPT,no_policy_found,unknown,,,2026-01-05,,not_found,searched",
    ]
    extract = tmp_path / "extract.csv"
    extract.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    assert ingest("payer_policies", [extract], settings)[0].status == "loaded"
    warehouse.build(settings, catalog.SCHEMAS)
    got = {
        r[0]: r[1:]
        for r in query(
            settings,
            """
        select payer_group, coverage_status, availability_reason, policy_id, source_confidence,
               medicare_advantage_coverage_status, medicare_advantage_source_confidence, medicare_advantage_availability_reason
        from coverage_matrix where billing_code = '0440T'""",
        )
    }
    # before: the verified MA guideline was the strongest evidence, so Cigna read "not medically necessary"
    assert got["cigna"] == ("covered", "reported", "C1", "inferred", "not_medically_necessary", "verified", "reported")
    assert got["aetna"] == (None, "no_policy_found", None, None, None, None, "not_in_extract")
    assert got["bcbs"][:2] == (None, "not_loaded")
    assert got["medicare"][-1] == "not_applicable"


# --- TiC rates: one negotiated price counts once ------------------------------------------------------------
def test_a_tic_price_counts_once_however_many_tins_it_applies_to(bundled_warehouse: Settings) -> None:
    # raw/tic/uhc-ny_TEST_FILE_excerpt.json.gz, 0440T: negotiated_rates[0] $596.75 (provider group 0: 1 TIN),
    # [1] $702.83 (group 1: TINs 112923650 and 262306566), [2] $702.83 (group 2: 1 TIN)
    bench = query(
        bundled_warehouse,
        """
        select rate_count, min_usd, p25_usd, median_usd, max_usd, providers from reimbursement_benchmark
        where billing_code = '0440T' and payer_group = 'unitedhealthcare' and source = 'payer_tic'
          and setting = 'professional_office'""",
    )
    assert bench == [(3, Decimal("596.7500"), Decimal("649.7900"), Decimal("702.8300"), Decimal("702.8300"), 3)]
    rates = query(
        bundled_warehouse,
        """
        select provider_count from benchmark_rate
        where billing_code = '0440T' and payer_group = 'unitedhealthcare' and source = 'payer_tic' order by provider_count""",
    )
    assert rates == [(1,), (1,), (2,)]


# --- units in column names ------------------------------------------------------------------------------------
def test_dollars_per_diem_and_percentages_never_share_a_column(settings: Settings) -> None:
    from flows.steps import warehouse
    from tests.conftest import FIXTURES

    (record,) = ingest("tic", [FIXTURES / "tic__in_network_rate" / "per_diem_rate.json"], settings)
    assert record.status == "loaded"
    warehouse.build(settings, catalog.SCHEMAS)
    summary = {
        r[0]: r[1:]
        for r in query(
            settings,
            """
        select rate_kind, rate_count, min_rate_usd, max_rate_usd, min_per_diem_usd, min_pct_of_charges from tic_rate_summary
        where billing_code = '0440T'""",
        )
    }
    assert summary == {
        "dollars": (1, Decimal("2000.0000"), Decimal("2000.0000"), None, None),
        "per_diem": (1, None, None, Decimal("3500.0000"), None),
    }
    bench = query(
        settings,
        """
        select rate_count, median_usd, per_diem_rate_count from reimbursement_benchmark
        where billing_code = '0440T' and source = 'payer_tic' and setting = 'hospital_outpatient' and payer_group = 'unitedhealthcare'""",
    )
    assert bench == [(1, Decimal("2000.0000"), 1)]  # the $3,500 a day is counted, never a per-service dollar rate
    units = query(
        settings,
        """
        select rate_kind, rate_usd, per_diem_usd, rate_pct_of_charges from benchmark_rate where source = 'payer_tic' order by rate_kind""",
    )
    assert units == [("dollars", Decimal("2000.0000"), None, None), ("per_diem", None, Decimal("3500.0000"), None)]


def test_the_bundled_percentage_rate_sits_in_its_own_column(bundled_warehouse: Settings) -> None:
    # raw/tic/healthscope_examplefile2_excerpt.json.gz: 0440T negotiated_type percentage, 65.0 (percent of billed charges)
    rows = query(
        bundled_warehouse,
        """
        select distinct rate_usd, rate_pct_of_charges from benchmark_rate
        where billing_code = '0440T' and payer_name = 'HealthSCOPE Benefits, Inc.'""",
    )
    assert rows == [(None, Decimal("65.0000"))]
    columns = {r[0] for r in query(bundled_warehouse, "describe benchmark_rate")} | {
        r[0] for r in query(bundled_warehouse, "describe tic_rate_summary")
    }
    assert not columns & {"rate_value", "min_rate", "median_rate", "max_rate"}  # no column without its unit


def test_a_rate_given_only_as_a_formula_keeps_its_text_and_no_amount(bundled_warehouse: Settings) -> None:
    # raw/hospital_mrf/synthetic_v3_tall_0440T-0442T.csv line 9: UnitedHealthcare Choice Plus, 0440T outpatient,
    # standard_charge | negotiated_algorithm only
    rows = query(
        bundled_warehouse,
        """
        select rate_kind, rate_usd, per_diem_usd, rate_pct_of_charges, rate_formula from benchmark_rate
        where billing_code = '0440T' and source = 'hospital_mrf' and payer_group = 'unitedhealthcare' and plan_type = 'not_stated'""",
    )
    assert rows == [
        (
            "formula",
            None,
            None,
            None,
            "110% of the Medicare OPPS payment rate for APC 5431 in effect on the date of service",
        )
    ]
    cell = query(
        bundled_warehouse,
        """
        select availability_reason, rate_count, median_usd, formula_rate_count, rate_formulas, includes_synthetic
        from reimbursement_benchmark
        where billing_code = '0440T' and source = 'hospital_mrf' and payer_group = 'unitedhealthcare'
          and plan_type = 'not_stated' and setting = 'hospital_outpatient'""",
    )
    assert cell == [
        (
            "formula_only",
            0,
            None,
            1,
            ["110% of the Medicare OPPS payment rate for APC 5431 in effect on the date of service"],
            True,
        )
    ]
    # a formula never sets a value column: every other rate kind sets exactly one
    assert query(
        bundled_warehouse,
        """
        select count(*) from benchmark_rate
        where (rate_kind = 'formula') <> (rate_usd is null and per_diem_usd is null and rate_pct_of_charges is null)""",
    ) == [(0,)]


# --- plan types: commercial never pools Medicare Advantage or traditional Medicare -----------------------------
def test_benchmark_rows_are_per_plan_type(bundled_warehouse: Settings) -> None:
    rows = {
        (r[0], r[1]): r[2:]
        for r in query(
            bundled_warehouse,
            """
        select payer_group, plan_type, rate_count, median_usd from reimbursement_benchmark
        where billing_code = '0440T' and source = 'hospital_mrf' and setting = 'hospital_outpatient' and rate_count > 0""",
        )
    }
    # synthetic hospital file: Cigna Open Access Plus $6,480.00 (plan type not stated) and Cigna-HealthSpring
    # Medicare Advantage $1,780.00 were one "commercial" median of $4,130.00 before
    assert rows[("cigna", "not_stated")] == (1, Decimal("6480.0000"))
    assert rows[("cigna", "medicare_advantage")] == (1, Decimal("1780.0000"))
    assert rows[("unitedhealthcare", "medicare_advantage")] == (1, Decimal("1803.2500"))
    assert rows[("medicare", "medicare_ffs")] == (1, Decimal("1750.0000"))
    assert ("unitedhealthcare", "commercial") not in rows and ("unitedhealthcare", "not_stated") not in rows
    # the grid stays complete: every plan type a source can carry has its row, with a reason where empty
    grid = dict(
        query(
            bundled_warehouse,
            """
        select source, count(distinct plan_type) from reimbursement_benchmark where billing_code = '0440T' group by 1""",
        )
    )
    assert grid == {"medicare_fee_schedule": 1, "payer_tic": 1, "hospital_mrf": 5}
    impossible = query(
        bundled_warehouse,
        """
        select distinct availability_reason from reimbursement_benchmark
        where billing_code = '0440T' and source = 'hospital_mrf' and payer_group = 'medicare' and plan_type <> 'medicare_ffs'""",
    )
    assert impossible == [("not_applicable",)]
    assert query(
        bundled_warehouse,
        """
        select distinct plan_type from benchmark_rate where source = 'payer_tic'""",
    ) == [("commercial",)]


# --- as of a date --------------------------------------------------------------------------------------------
def test_the_marts_answer_as_of_the_session_date(bundled_warehouse: Settings) -> None:
    """The marts' views (live.<mart>) answer as of the session's as_of; the tables hold the build's date's rows."""
    con = duckdb.connect(str(bundled_warehouse.duckdb_path), read_only=True)
    try:
        latest = con.execute("select as_of_date::varchar from stg_as_of").fetchone()
        con.execute("SET VARIABLE as_of = DATE '2025-11-15'")
        reference = con.execute("""
            select medicare_rate_usd, medicare_release_period from live.reimbursement_benchmark
            where billing_code = '0442T' and payer_group = 'medicare' and setting = 'hospital_outpatient'
              and source = 'medicare_fee_schedule'""").fetchall()
        hospital = con.execute("select count(*) from live.benchmark_rate where source = 'hospital_mrf'").fetchone()
        reason = con.execute("""select distinct availability_reason from live.reimbursement_benchmark
                                where source = 'hospital_mrf' and availability_reason <> 'not_applicable'""").fetchall()
        con.execute("SET VARIABLE as_of = DATE '2022-12-31'")
        tic = con.execute("select distinct source_file from stg_tic_in_network_rate order by 1").fetchall()
    finally:
        con.close()
    assert latest == ("9999-12-31",)  # unset: everything loaded
    assert reference == [(Decimal("5755.3200"), "2025-Q4")]  # ASC Addendum FF October 2025, APC 5432
    assert hospital == (0,)  # the bundled hospital file is dated 2026-07-01
    assert reason == [("source_not_loaded",)]
    # HealthSCOPE's file is dated 2023-02-01; CareFirst 2020-08-27 and UHC 2022-09-01 were published by then
    assert tic == [("carefirst_examplefile_excerpt.json.gz",), ("uhc-ny_TEST_FILE_excerpt.json.gz",)]
