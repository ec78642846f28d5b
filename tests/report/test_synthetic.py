"""Synthetic demonstration rows walled off from real evidence (flows/report/synthetic.py)."""

from __future__ import annotations

import pandas as pd

from flows.report import synthetic
from flows.report.labels import REASONS


def rate(**values: object) -> dict[str, object]:
    row = {
        "payer_group": "aetna",
        "payer_name": "Aetna",
        "plan_type": "commercial",
        "setting": "hospital_outpatient",
        "source": "hospital_mrf",
        "rate_kind": "dollars",
        "rate_usd": 100.0,
        "rate_pct_of_charges": None,
        "rate_formula": None,
        "provider_keys": ["p1"],
        "as_of_date": pd.Timestamp("2026-01-01"),
        "source_file": "real_hospital.csv",
        "is_synthetic": False,
    }
    return row | values


def cell(**values: object) -> dict[str, object]:
    row = {
        "payer_group": "aetna",
        "plan_type": "commercial",
        "setting": "hospital_outpatient",
        "source": "hospital_mrf",
        "availability_reason": "reported",
        "rate_count": 3,
        "min_usd": 100.0,
        "median_usd": 200.0,
        "max_usd": 900.0,
        "providers": 2,
        "pct_rate_count": 0,
        "min_pct_of_charges": None,
        "max_pct_of_charges": None,
        "pct_payer_names": None,
        "formula_rate_count": 0,
        "medicare_rate_usd": 200.0,
        "median_pct_of_medicare": 100.0,
        "latest_as_of": pd.Timestamp("2026-07-01"),
        "includes_synthetic": True,
    }
    return row | values


def frames_with_mixed_cell() -> dict[str, pd.DataFrame]:
    """One benchmark cell pooling two real rates ($100, $300) with a synthetic $900 (the defect: the mart's cell mixes them)."""
    rates = pd.DataFrame(
        [
            rate(rate_usd=100.0),
            rate(rate_usd=300.0, provider_keys=["p2"]),
            rate(rate_usd=900.0, source_file="synthetic_hospital.csv", is_synthetic=True),
        ]
    )
    files = pd.DataFrame(
        {
            "source": ["hospital_mrf", "hospital_mrf", "tic"],
            "source_file": ["synthetic_hospital.csv", "real_hospital.csv", "uhc.json.gz"],
        }
    )
    trend = pd.DataFrame(
        {
            "data_year": [2023],
            "service_count": [None],
            "availability_reason": ["not_published_small_cell"],
            "facility_reason": ["not_published_small_cell"],
            "source_is_synthetic": [True],
        }
    )
    return {
        "commercial_rates": rates,
        "benchmark": pd.DataFrame([cell()]),
        "source_files": files,
        "utilization_trend": trend,
        "utilization_cells": pd.DataFrame(columns=["availability_reason", "synthetic"]),
        "data_availability": pd.DataFrame(
            {
                "mart": ["medicare_utilization_trend"],
                "subject": ["2023"],
                "measure": ["national services"],
                "reason": ["not_published_small_cell"],
                "payer_group": [None],
            }
        ),
    }


def test_the_file_name_rule_is_the_warehouses() -> None:
    assert synthetic.is_synthetic_file("Synthetic_v3_tall.csv") and synthetic.is_synthetic_file("synthetic_lcd.csv")
    assert not synthetic.is_synthetic_file("uhc-ny_TEST_FILE_excerpt.json.gz")
    assert not synthetic.is_synthetic_file("not_synthetic.csv") and not synthetic.is_synthetic_file(None)


def test_by_default_a_mixed_cell_is_recomputed_from_its_real_rates_and_synthetic_rows_go_to_the_appendix() -> None:
    frames = synthetic.wall_off(frames_with_mixed_cell())
    assert list(frames["commercial_rates"]["rate_usd"]) == [100.0, 300.0]
    assert list(frames[synthetic.DEMO_RATES]["rate_usd"]) == [900.0]
    bench = frames["benchmark"].iloc[0]
    # the mart's cell said 3 rates, max $900, median $200: the real ones are 2 rates, $100-$300, median $200
    assert (bench["rate_count"], bench["max_usd"], bench["median_usd"]) == (2, 300.0, 200.0)
    assert bench["median_pct_of_medicare"] == 100.0 and not bench["includes_synthetic"] and bench["providers"] == 2
    # real files first in the sources table, each marked
    files = frames["source_files"]
    assert list(files["is_synthetic"]) == [False, False, True]
    # the synthetic Part B year is the appendix's, and its empty cells are not "not published by CMS"
    assert frames["utilization_trend"].empty
    assert frames[synthetic.DEMO_UTILIZATION]["availability_reason"].tolist() == ["synthetic_small_cell"]
    assert frames["data_availability"].query("mart == 'medicare_utilization_trend'").empty
    assert "CMS" not in REASONS["synthetic_small_cell"].replace("CMS's small-cell rule, not CMS data", "")


def test_a_source_with_only_synthetic_files_proves_no_absence() -> None:
    frames = frames_with_mixed_cell()
    frames["source_files"] = frames["source_files"][frames["source_files"]["source_file"] != "real_hospital.csv"]
    frames["commercial_rates"] = frames["commercial_rates"][frames["commercial_rates"]["is_synthetic"]]
    no_rate = cell(includes_synthetic=False, availability_reason="no_rates_found", rate_count=0, median_usd=None)
    frames["benchmark"] = pd.DataFrame([cell(), no_rate])
    bench = synthetic.wall_off(frames)["benchmark"]
    assert list(bench["availability_reason"]) == ["only_synthetic_loaded", "only_synthetic_loaded"]
    assert list(bench["rate_count"]) == [0, 0]
    assert "synthetic" in REASONS["only_synthetic_loaded"]


def test_include_synthetic_keeps_every_row_inline_but_still_rewords_the_samples_reasons() -> None:
    frames = synthetic.wall_off(frames_with_mixed_cell(), include_synthetic=True)
    assert list(frames["commercial_rates"]["rate_usd"]) == [100.0, 300.0, 900.0]
    assert frames["benchmark"].iloc[0]["max_usd"] == 900.0
    assert frames["utilization_trend"]["availability_reason"].tolist() == ["synthetic_small_cell"]
    # section 9 lists the same cell: the sample's reason there too, never "not published by CMS"
    assert frames["data_availability"]["reason"].tolist() == ["synthetic_small_cell"]
