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


@pytest.mark.parametrize(("code", "as_of"), [("0440T", None), ("0442T", "2025-06-01")])
def test_the_marts_snapshot_answers_every_query_as_the_views_do(
    bundled_warehouse: Settings, code: str, as_of: str | None
) -> None:
    """A report's session computes each mart it reads once (a temporary table shadowing the view); every
    query must return exactly what it returns from the views themselves, at the session's as-of date."""
    import datetime as dt

    from flows.report.data import QUERIES

    day = dt.date.fromisoformat(as_of) if as_of else None
    data = ReportData(bundled_warehouse, code, day)
    plain = ReportData.__new__(ReportData)  # the same session without the snapshot: the views answer
    plain.settings, plain.billing_code, plain.as_of, plain.sql_dir = (
        data.settings,
        data.billing_code,
        data.as_of,
        data.sql_dir,
    )
    from flows.steps.sandbox import connect_read_only

    plain.con = connect_read_only(bundled_warehouse)
    plain.con.execute("SET VARIABLE as_of = ?", [plain.as_of])
    try:
        shadowed = {
            name for (name,) in data.con.execute("select table_name from duckdb_tables() where temporary").fetchall()
        }
        assert {"medicare_rate", "reimbursement_benchmark", "coverage_matrix"} <= shadowed
        assert not {
            name for (name,) in plain.con.execute("select table_name from duckdb_tables() where temporary").fetchall()
        }
        rows = 0
        for name in QUERIES:
            snapshot, views = data.q(name), plain.q(name)
            pd.testing.assert_frame_equal(snapshot, views, check_exact=True, obj=name)
            rows += len(views)
        assert rows > 50  # the queries returned rows: an empty warehouse would compare equal too
    finally:
        data.close()
        plain.close()
