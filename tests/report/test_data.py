"""The report's data: the payer filter, the codes to render and the coverage order come from the warehouse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.errors import NoWarehouse
from flows.report.data import ReportData, keep_payers, report_codes
from flows.settings import Settings
from schemas.fields import PAYER_GROUPS


def test_the_payer_filter_keeps_the_groups_asked_rows_of_no_group_and_medicares_reference() -> None:
    frame = pd.DataFrame(
        {
            "payer_group": ["aetna", "cigna", None, "medicare", "cigna"],
            "source": ["payer_tic", "payer_tic", "hospital_mrf", "medicare_fee_schedule", "medicare_fee_schedule"],
        }
    )
    kept = keep_payers(frame, ["aetna"])
    assert kept["payer_group"].fillna("no group").tolist() == ["aetna", "no group", "medicare", "cigna"]
    assert kept.index.tolist() == [0, 1, 2, 3]
    assert keep_payers(frame, None) is frame
    no_group = pd.DataFrame({"x": [1, 2]})
    assert keep_payers(no_group, ["aetna"]) is no_group
    without_source = frame.drop(columns="source")
    assert keep_payers(without_source, ["aetna"])["payer_group"].fillna("no group").tolist() == ["aetna", "no group"]


def test_the_codes_to_render_come_from_the_warehouse_not_raw(bundled_warehouse: Settings, tmp_path: Path) -> None:
    no_raw = bundled_warehouse.replace(raw_dir=tmp_path / "no-raw-here")
    assert report_codes(no_raw) == ["0440T", "0441T", "0442T"]
    with pytest.raises(NoWarehouse):
        report_codes(bundled_warehouse.replace(warehouse_dir=tmp_path / "none"))


def test_coverage_rows_follow_the_payer_groups_order(bundled_warehouse: Settings) -> None:
    sql = (bundled_warehouse.sql_dir / "report" / "coverage.sql").read_text(encoding="utf-8")
    assert "sort_order" in sql and not [g for g in PAYER_GROUPS if f"'{g}'" in sql]  # the order is not retyped
    data = ReportData(bundled_warehouse, "0440T")
    try:
        assert data.q("coverage")["payer_group"].tolist() == list(PAYER_GROUPS)
    finally:
        data.close()
