"""The DuckDB build: typed empty views, SQL ordering, and readers never blocked by a rebuild."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flows.settings import Settings
from flows.sources import registry
from flows.steps import warehouse
from flows.steps.load import load_file
from flows.steps.references import PayerDirectory
from tests.conftest import fixture


def test_views_exist_with_types_before_anything_is_loaded(settings: Settings) -> None:
    warehouse.build(settings)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    types = dict(con.execute("select column_name, column_type from (describe payer__policy)").fetchall())
    assert types["effective_date"] == "DATE" and types["billing_code"] == "VARCHAR"
    assert types["loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    assert con.execute("select count(*) from payer__policy").fetchone()[0] == 0
    # The grid still has its rows: every code of interest x five payer groups once codes load.
    kinds = dict(con.execute("select name, kind from catalog").fetchall())
    assert kinds["coverage_matrix"] == "mart" and kinds["payer__policy"] == "dataset" and kinds["load_log"] == "system"
    con.close()


def test_reader_keeps_its_snapshot_while_the_pipeline_rebuilds(settings: Settings) -> None:
    payers = PayerDirectory.from_file(settings.payer_alias_file)
    source = registry.get("payer_policy")
    load_file(source, fixture("payer__policy", "valid_minimal.csv"), settings, "run-1", payers=payers)
    warehouse.build(settings)
    reader = duckdb.connect(str(settings.duckdb_path), read_only=True)  # an analyst's open session
    assert reader.execute("select count(*) from payer__policy").fetchone()[0] == 2

    load_file(source, fixture("payer__policy", "us_dates.csv"), settings, "run-2", payers=payers)
    warehouse.build(settings)  # must not fail on the analyst's lock, must not disturb the analyst
    assert reader.execute("select count(*) from payer__policy").fetchone()[0] == 2
    reader.close()
    fresh = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert fresh.execute("select count(*) from payer__policy").fetchone()[0] == 4
    fresh.close()


def test_sql_views_are_built_in_dependency_order(tmp_path: Path) -> None:
    (tmp_path / "a_mart.sql").write_text("-- A mart.\nselect * from stg_z", encoding="utf-8")
    (tmp_path / "stg_z.sql").write_text("-- Staging.\nselect 1 as x", encoding="utf-8")
    ordered = [name for name, _, _ in warehouse.sql_views(tmp_path)]
    assert ordered == ["stg_z", "a_mart"]
    assert warehouse.sql_views(tmp_path)[1][2] == "A mart."
