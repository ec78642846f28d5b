"""The DuckDB build: typed empty views, SQL ordering, and readers never blocked by a rebuild."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows import catalog
from flows.errors import SqlBuildError, WarehouseCorrupt
from flows.settings import Settings
from flows.steps import warehouse
from flows.steps.load import load_file
from flows.steps.references import PayerDirectory
from tests.conftest import fixture


def test_views_exist_with_types_before_anything_is_loaded(settings: Settings) -> None:
    warehouse.build(settings, catalog.SCHEMAS)
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
    source = catalog.get("payer_policy")
    load_file(source, fixture("payer__policy", "valid_minimal.csv"), settings, "run-1", payers=payers)
    warehouse.build(settings, catalog.SCHEMAS)
    reader = duckdb.connect(str(settings.duckdb_path), read_only=True)  # an analyst's open session
    assert reader.execute("select count(*) from payer__policy").fetchone()[0] == 2

    load_file(source, fixture("payer__policy", "us_dates.csv"), settings, "run-2", payers=payers)
    warehouse.build(settings, catalog.SCHEMAS)  # must not fail on the analyst's lock, must not disturb the analyst
    assert reader.execute("select count(*) from payer__policy").fetchone()[0] == 2
    reader.close()
    fresh = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert fresh.execute("select count(*) from payer__policy").fetchone()[0] == 4
    fresh.close()


def test_a_load_reaches_other_marts_through_the_synthetic_lookup_only_when_its_sql_changes(tmp_path: Path) -> None:
    (tmp_path / "stg_source_file.sql").write_text("-- Lookup.\nselect load_id from load_log", encoding="utf-8")
    (tmp_path / "policy_mart.sql").write_text(
        "-- A.\nselect * from payer__policy join stg_source_file using (load_id)", encoding="utf-8"
    )
    (tmp_path / "rate_mart.sql").write_text(
        "-- B.\nselect * from cms__pfs_rvu join stg_source_file using (load_id)", encoding="utf-8"
    )
    (tmp_path / "log_mart.sql").write_text("-- C.\nselect * from load_log", encoding="utf-8")
    # a new policy load: the lookup and the log change, the rate mart shows the same rows
    assert warehouse.affected_views(tmp_path, {"payer__policy", "load_log"}) == [
        "log_mart",
        "stg_source_file",
        "policy_mart",
    ]
    # the lookup's own rule changed: every reader of it
    assert set(warehouse.affected_views(tmp_path, {"stg_source_file"})) == {
        "stg_source_file",
        "policy_mart",
        "rate_mart",
    }


def test_sql_views_are_built_in_dependency_order(tmp_path: Path) -> None:
    (tmp_path / "a_mart.sql").write_text("-- A mart.\nselect * from stg_z", encoding="utf-8")
    (tmp_path / "stg_z.sql").write_text("-- Staging.\nselect 1 as x", encoding="utf-8")
    ordered = [name for name, _, _ in warehouse.sql_views(tmp_path)]
    assert ordered == ["stg_z", "a_mart"]
    assert warehouse.sql_views(tmp_path)[1][2] == "A mart."


def test_empty_warehouse_still_has_the_coverage_grid(settings: Settings) -> None:
    load_file(catalog.get("reference"), settings.billing_code_file, settings, "run-1")
    warehouse.build(settings, catalog.SCHEMAS)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    rows = con.execute(
        "select billing_code, count(*), count(coverage_status), min(availability_reason) "
        "from coverage_matrix group by 1 order by 1"
    ).fetchall()
    con.close()
    assert len(rows) == 6 and all(r[1:] == (5, 0, "not_loaded") for r in rows)


def test_a_failed_build_keeps_the_previous_database(settings: Settings, tmp_path: Path) -> None:
    warehouse.build(settings, catalog.SCHEMAS)
    before = settings.duckdb_path.stat().st_mtime_ns
    project = tmp_path / "project"
    (project / "warehouse" / "sql").mkdir(parents=True)
    (project / "warehouse" / "sql" / "broken.sql").write_text(
        "-- A broken mart.\nselect nope from nowhere", encoding="utf-8"
    )
    broken = Settings(project_dir=project, raw_dir=settings.raw_dir, warehouse_dir=settings.warehouse_dir)
    with pytest.raises(SqlBuildError, match=r"warehouse/sql/broken.sql does not build"):
        warehouse.build(broken, catalog.SCHEMAS)
    assert settings.duckdb_path.stat().st_mtime_ns == before
    assert not list(settings.warehouse_dir.glob(".payerbench.duckdb.tmp-*"))
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert con.execute("select count(*) from coverage_matrix").fetchone() == (0,)
    con.close()


def test_build_refuses_a_lake_with_missing_parts(settings: Settings) -> None:
    import shutil

    payers = PayerDirectory.from_file(settings.payer_alias_file)
    record = load_file(
        catalog.get("payer_policy"), fixture("payer__policy", "valid_minimal.csv"), settings, "r", payers=payers
    )
    shutil.rmtree(settings.lake_dir / "payer__policy" / record.load_id)
    with pytest.raises(WarehouseCorrupt, match="committed load.*Parquet files are missing"):
        warehouse.build(settings, catalog.SCHEMAS)


def test_incremental_build_rebuilds_only_after_a_commit(settings: Settings) -> None:
    payers = PayerDirectory.from_file(settings.payer_alias_file)
    source = catalog.get("payer_policy")
    first = warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert first.rebuilt and first.reason == "no warehouse built yet"
    assert warehouse.build_if_changed(settings, catalog.SCHEMAS).rebuilt is False  # nothing new: the file stays

    load_file(source, fixture("payer__policy", "valid_minimal.csv"), settings, "run-1", payers=payers)
    result = warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert result.rebuilt and result.reason == "new loads of payer__policy"
    assert {"stg_payer_policy", "coverage_matrix"} <= set(result.marts_rebuilt)
    assert "medicare_rate" not in result.marts_rebuilt and "stg_pfs_rvu" not in result.marts_rebuilt
    assert result.marts_rebuilt.index("stg_payer_policy") < result.marts_rebuilt.index("coverage_matrix")

    again = load_file(source, fixture("payer__policy", "valid_minimal.csv"), settings, "run-2", payers=payers)
    assert again.status == "unchanged"
    assert warehouse.build_if_changed(settings, catalog.SCHEMAS).rebuilt is False
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)  # the log view reads every attempt at once
    assert con.execute("select status from load_log where run_id = 'run-2'").fetchall() == [("unchanged",)]
    con.close()


def test_a_changed_sql_file_rebuilds_that_view_and_its_dependents(settings: Settings, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(settings.sql_dir, project / "warehouse" / "sql")
    edited = settings.replace(project_dir=project)
    warehouse.build(edited, catalog.SCHEMAS)
    stg = project / "warehouse" / "sql" / "stg_pfs_rvu.sql"
    stg.write_text(stg.read_text(encoding="utf-8") + "\n-- a comment changes the text\n", encoding="utf-8")
    result = warehouse.build_if_changed(edited, catalog.SCHEMAS)
    assert result.rebuilt and result.reason == "SQL changed: stg_pfs_rvu"
    assert result.marts_rebuilt[0] == "stg_pfs_rvu" and "medicare_rate" in result.marts_rebuilt
    assert "coverage_matrix" not in result.marts_rebuilt


def test_parts_written_before_a_column_was_added_still_read(settings: Settings) -> None:
    """A lake written by an older schema: the view reads its parts by name, the new column NULL."""
    import pyarrow.parquet as pq

    payers = PayerDirectory.from_file(settings.payer_alias_file)
    source = catalog.get("payer_policy")
    old = load_file(source, fixture("payer__policy", "valid_minimal.csv"), settings, "run-old", payers=payers)
    load_file(source, fixture("payer__policy", "us_dates.csv"), settings, "run-new", payers=payers)
    for part in (settings.lake_dir / "payer__policy" / old.load_id).glob("*.parquet"):  # as an older schema wrote it
        pq.write_table(pq.read_table(part).drop_columns(["policy_title"]), part)
    warehouse.build(settings, catalog.SCHEMAS)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    rows = con.execute(
        "select load_id = ?, count(*), count(policy_title), count(billing_code) from payer__policy "
        "group by 1 order by 1",
        [old.load_id],
    ).fetchall()
    columns = [r[0] for r in con.execute("describe payer__policy").fetchall()]
    con.close()
    assert rows[1] == (True, 2, 0, 2)  # the old part's rows, policy_title NULL
    assert rows[0] == (False, 2, 2, 2)
    assert columns[-6:] == ["source_file", "source_sha256", "source_record", "load_id", "run_id", "loaded_at"]
