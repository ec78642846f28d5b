"""End to end for hospital files: raw -> Parquet -> DuckDB staging, rate summary and unmapped payer names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows import catalog
from flows.ingest import ingest
from flows.run_pipeline import run_pipeline
from flows.settings import Settings
from flows.steps import load_log, warehouse
from schemas.fields import ALL_PAYER_GROUPS
from tests.conftest import FIXTURES, query

BUNDLED = "synthetic_v3_tall_0440T-0442T.csv"
DIR = FIXTURES / "hospital__standard_charge"
PLAN_TYPES = 5  # commercial, not_stated, medicare_ffs, medicare_advantage, medicaid_managed


@pytest.fixture
def loaded(bundled_run: Settings) -> Settings:
    """The session's run over the bundled raw/ (a copy of it for a test marked writes_warehouse)."""
    return bundled_run


def test_the_bundled_hospital_file_loads_and_reconciles(loaded: Settings) -> None:
    log = load_log.read(loaded.lake_dir)
    hospital = log[log["source"] == "hospital_mrf"]
    assert hospital[["source_file", "status", "rows_read", "rows_loaded", "rows_quarantined"]].values.tolist() == [
        [BUNDLED, "loaded", 32, 32, 0]
    ]  # the hospital__file row describes the file: not counted
    # 27 payer rows and 5 items of codes of interest in the file; 99213 and 70551 are filtered out
    assert query(loaded, "select charge_scope, count(*) from stg_hospital_standard_charge group by 1 order by 1") == [
        ("payer_independent", 5),
        ("payer_specific", 27),
    ]
    assert query(
        loaded, "select count(*) from stg_hospital_standard_charge where billing_code in ('99213', '70551')"
    ) == [(0,)]
    assert query(
        loaded,
        "select typeof(negotiated_dollar_usd), typeof(negotiated_percent) from hospital__standard_charge limit 1",
    ) == [("DECIMAL(18,4)", "DECIMAL(18,4)")]


def test_values_a_person_can_check_in_the_bundled_file(loaded: Settings) -> None:
    rows = query(
        loaded,
        """
        select payer_name, plan_name, payer_group, plan_type, negotiated_dollar_usd::varchar, negotiated_percent::varchar,
               item_gross_charge_usd::varchar, hospital_name, source_record
        from stg_hospital_standard_charge
        where billing_code = '0440T' and payer_name in ('BCBS of Texas', 'Blue Cross Blue Shield of Texas', 'UHC Medicare Advantage')
        order by payer_name""",
    )
    assert rows == [
        (
            "BCBS of Texas",
            "BlueChoice PPO",
            "bcbs",
            None,
            "5120.2500",
            None,
            "16150.0000",
            "Synthetic Example Medical Center (SYNTHETIC DATA)",
            "line 7",
        ),
        (
            "Blue Cross Blue Shield of Texas",
            "Blue Advantage HMO",
            "bcbs",
            None,
            None,
            "65.0000",
            "16150.0000",
            "Synthetic Example Medical Center (SYNTHETIC DATA)",
            "line 8",
        ),
        (
            "UHC Medicare Advantage",
            "AARP Medicare Advantage Choice PPO",
            "unitedhealthcare",
            "medicare_advantage",
            "1803.2500",
            None,
            "16150.0000",
            "Synthetic Example Medical Center (SYNTHETIC DATA)",
            "line 10",
        ),
    ]
    line = (loaded.raw_dir / "hospital_mrf" / BUNDLED).read_text(encoding="utf-8").splitlines()[6]
    assert "BCBS of Texas,BlueChoice PPO,5120.25," in line  # line 7 of the file, as the lineage says


def test_rate_summary_grid_and_figures(loaded: Settings) -> None:
    assert query(loaded, "select count(*) from hospital_rate_summary") == [
        (6 * len(ALL_PAYER_GROUPS) * 3 * PLAN_TYPES,)
    ]
    row = dict(
        zip(
            [
                "dollar_rate_count",
                "min",
                "median",
                "max",
                "hospitals",
                "reason",
                "percent_count",
                "median_percent",
                "algorithm",
            ],
            query(
                loaded,
                """
            select dollar_rate_count, min_negotiated_dollar_usd::varchar, median_negotiated_dollar_usd::varchar,
                   max_negotiated_dollar_usd::varchar, dollar_hospital_count, dollar_availability_reason,
                   percent_rate_count, median_negotiated_percent::varchar, algorithm_only_rate_count
            from hospital_rate_summary where billing_code = '0440T' and payer_group = 'aetna' and setting = 'outpatient'
              and plan_type = 'not_stated'""",
            )[0],
        )
    )
    assert row == {
        "dollar_rate_count": 2,
        "min": "3890.0000",
        "median": "4050.2500",
        "max": "4210.5000",
        "hospitals": 1,
        "reason": "reported",
        "percent_count": 0,
        "median_percent": None,
        "algorithm": 0,
    }
    reasons = dict(
        query(
            loaded,
            """
        select payer_group, dollar_availability_reason from hospital_rate_summary
        where billing_code = '0441T' and setting = 'outpatient' and plan_type = 'not_stated'""",
        )
    )
    assert reasons["unitedhealthcare"] == "percentage_or_algorithm_only" and reasons["other"] == "no_rates_published"
    # a percentage never enters a dollar figure: BCBS 0442T has only a 65 % rate
    assert query(
        loaded,
        """
        select dollar_rate_count, min_negotiated_dollar_usd, percent_rate_count, median_negotiated_percent::varchar
        from hospital_rate_summary where billing_code = '0442T' and payer_group = 'bcbs' and setting = 'outpatient'
          and plan_type = 'not_stated'""",
    ) == [(0, None, 1, "65.0000")]
    assert query(
        loaded,
        """select distinct dollar_availability_reason from hospital_rate_summary
                            where billing_code = '64624' or setting <> 'outpatient'""",
    ) == [("no_rates_published",)]
    # Medicare Advantage and traditional Medicare never pool into a group's commercial figures: Cigna 0440T is
    # Open Access Plus $6,480.00 (plan type not stated) and Cigna-HealthSpring Medicare Advantage $1,780.00
    cigna = dict(
        query(
            loaded,
            """select plan_type, median_negotiated_dollar_usd::varchar from hospital_rate_summary
                                   where billing_code = '0440T' and payer_group = 'cigna' and setting = 'outpatient'
                                     and dollar_rate_count > 0""",
        )
    )
    assert cigna == {"not_stated": "6480.0000", "medicare_advantage": "1780.0000"}
    assert query(
        loaded,
        "select count(*) from stg_hospital_standard_charge where negotiated_type = 'percentage' "
        "and negotiated_dollar_usd is not null",
    ) == [(0,)]


def test_unmapped_payer_names_are_listed_for_the_reference_table(loaded: Settings) -> None:
    rows = query(
        loaded, "select payer_name, charge_rows, files, billing_codes from unmapped_payer_name order by payer_name"
    )
    assert rows == [("Example Community Health Plan", 1, 1, ["0440T"]), ("Humana", 1, 1, ["0440T"])]
    groups = dict(
        query(
            loaded,
            "select payer_name, any_value(payer_group) from hospital__standard_charge "
            "where payer_name is not null group by 1",
        )
    )
    assert (
        groups["Cigna-HealthSpring"] == "cigna" and groups["AETNA HMO"] == "aetna" and groups["Medicare"] == "medicare"
    )
    assert query(
        loaded, "select count(*) from hospital__standard_charge where payer_name is null and payer_group is not null"
    ) == [(0,)]


def republish(source: Path, target: Path, updated: str, old_amount: str, new_amount: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old_amount in text
    target.write_text(text.replace("7/1/2026", updated, 1).replace(old_amount, new_amount, 1), encoding="utf-8")
    return target


@pytest.mark.writes_warehouse
def test_a_republished_file_replaces_its_earlier_snapshot(loaded: Settings, tmp_path: Path) -> None:
    bundled = loaded.raw_dir / "hospital_mrf" / BUNDLED
    newer = republish(bundled, tmp_path / "republished.csv", "9/1/2026", ",4210.50,", ",4300.00,")
    assert ingest("hospital_mrf", [newer], loaded)[0].status == "loaded"
    older = republish(bundled, tmp_path / "old_archive_copy.csv", "1/1/2026", ",4210.50,", ",3999.00,")
    assert ingest("hospital_mrf", [older], loaded)[0].status == "loaded"  # loaded last, but an older snapshot
    warehouse.build(loaded, catalog.SCHEMAS)
    assert query(loaded, "select count(*) from hospital__file") == [(3,)]
    assert query(loaded, "select source_file, last_updated_on::varchar from stg_hospital_file where is_latest") == [
        ("republished.csv", "2026-09-01")
    ]
    assert query(loaded, "select count(*) from stg_hospital_standard_charge") == [(32,)]
    assert query(
        loaded,
        """select negotiated_dollar_usd::varchar from stg_hospital_standard_charge
                            where billing_code = '0440T' and payer_name = 'Aetna'""",
    ) == [("4300.0000",)]


def test_an_unattested_file_loads_flagged(settings: Settings) -> None:
    folder = settings.raw_dir / "hospital_mrf"
    folder.mkdir(parents=True)
    shutil.copy(DIR / "attestation_false.csv", folder)
    summary = run_pipeline(settings)
    assert summary.ok
    assert query(settings, "select attestation_confirmed, flags from stg_hospital_file") == [
        (False, ["attestation_confirmed"])
    ]
    assert query(
        settings, "select count(*), bool_and(attestation_confirmed = false) from stg_hospital_standard_charge"
    ) == [(8, True)]


def test_a_truncated_json_loads_nothing(settings: Settings, tmp_path: Path) -> None:
    records = ingest("hospital_mrf", [DIR / "valid_v3.json", DIR / "truncated.json"], settings)
    assert [r.status for r in records] == ["loaded", "rejected"]
    assert records[1].error.startswith("truncated.json (line 91 column 29): invalid or truncated JSON")
    assert (records[1].rows_read, records[1].rows_loaded) == (0, 0)
    warehouse.build(settings, catalog.SCHEMAS)
    assert query(settings, "select distinct source_file from hospital__standard_charge") == [("valid_v3.json",)]


def test_before_any_hospital_file_the_summary_says_so(settings: Settings) -> None:
    assert run_pipeline(settings).ok
    assert query(settings, "select distinct dollar_availability_reason from hospital_rate_summary") == [
        ("no_hospital_file_loaded",)
    ]
    assert query(settings, "select count(*) from hospital_rate_summary") == [
        (6 * len(ALL_PAYER_GROUPS) * 3 * PLAN_TYPES,)
    ]
