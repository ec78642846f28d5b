"""The report's data: the payer filter, the codes to render and the coverage order come from the warehouse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from flows import catalog
from flows.errors import NoWarehouse
from flows.report.data import QUERIES, ReportData, keep_payers, report_codes
from flows.settings import Settings
from flows.steps import warehouse
from flows.steps.sandbox import connect_read_only
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


def _on_the_fly(settings: Settings, code: str, as_of: dt.date) -> ReportData:
    """A report session that reads every mart from its view (`live.<mart>`, computed as of `as_of`), never from
    a materialised table nor a snapshot: what the queries return when nothing is stored."""
    plain = ReportData.__new__(ReportData)
    plain.settings, plain.billing_code, plain.as_of = settings, code, as_of
    plain.sql_dir = settings.sql_dir / "report"
    plain.con = connect_read_only(settings)
    plain.con.execute("SET VARIABLE as_of = ?", [as_of])
    for (mart,) in plain.con.execute("select mart from mart_as_of").fetchall():
        plain.con.execute(f'create temp view "{mart}" as select * from live."{mart}"')
    return plain


def _same_rows(data: ReportData, plain: ReportData) -> None:
    rows = 0
    for name in QUERIES:
        stored, views = data.q(name), plain.q(name)
        pd.testing.assert_frame_equal(stored, views, check_exact=True, obj=name)
        rows += len(views)
    assert rows > 50  # the queries returned rows: an empty warehouse would compare equal too


def _temporary(data: ReportData) -> set[str]:
    return {name for (name,) in data.con.execute("select table_name from duckdb_tables() where temporary").fetchall()}


def test_a_report_as_of_today_reads_the_materialised_marts_and_they_answer_as_the_views_do(
    bundled_warehouse: Settings, request: pytest.FixtureRequest
) -> None:
    """The build materialised the marts as of today: a report at the default as-of reads those tables (nothing
    computed per report), and every query returns exactly what the marts' views compute as of today."""
    settings = bundled_warehouse
    with connect_read_only(settings) as con:
        dates = con.execute("select distinct as_of_date from mart_as_of").fetchall()
    if dates != [(dt.date.today(),)]:  # the session's run was built before midnight: a copy is rebuilt as of today
        settings = request.getfixturevalue("warehouse_copy")
    data = ReportData(settings, "0440T")
    plain = _on_the_fly(settings, "0440T", dt.date.today())
    try:
        built = data.con.execute("select distinct as_of_date from mart_as_of").fetchall()
        assert built == [(dt.date.today(),)]
        assert data.computed == [] and not _temporary(data)  # lookups: no mart computed for this report
        _same_rows(data, plain)
    finally:
        data.close()
        plain.close()


def test_a_report_as_of_an_earlier_date_computes_the_marts_it_reads(bundled_warehouse: Settings) -> None:
    """Each mart the queries read is computed once, from its view as of the session's date, as a temporary
    table shadowing the materialised one; every query returns what the views return at that date."""
    day = dt.date(2025, 6, 1)
    data = ReportData(bundled_warehouse, "0442T", day)
    plain = _on_the_fly(bundled_warehouse, "0442T", day)
    try:
        assert {"medicare_rate", "reimbursement_benchmark", "coverage_matrix"} <= set(data.computed)
        assert set(data.computed) == _temporary(data)
        _same_rows(data, plain)
        # today's materialised rows differ from that date's: reading them would have been wrong
        (database,) = data.con.execute("select current_database()").fetchone()  # `main.` alone finds temp's main
        differ = f"select count(*) from (from {database}.main.reimbursement_benchmark except all from reimbursement_benchmark)"
        assert data.con.execute(differ).fetchone()[0] > 0
    finally:
        data.close()
        plain.close()


def test_marts_materialised_on_an_earlier_day_are_not_read_as_todays(
    warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warehouse last built yesterday (no run since): its tables answer as of yesterday, so a report as of
    today computes the marts from their views instead of reading them as current."""
    yesterday = dt.date.today() - dt.timedelta(days=1)
    monkeypatch.setattr(warehouse, "current_as_of", lambda: yesterday)
    assert warehouse.build(warehouse_copy, catalog.SCHEMAS).rebuilt
    data = ReportData(warehouse_copy, "0440T")
    plain = _on_the_fly(warehouse_copy, "0440T", dt.date.today())
    try:
        assert data.con.execute("select distinct as_of_date from mart_as_of").fetchall() == [(yesterday,)]
        assert {"medicare_rate", "reimbursement_benchmark", "benchmark_rate"} <= set(data.computed)
        _same_rows(data, plain)
    finally:
        data.close()
        plain.close()
