"""The DuckDB build: typed empty views, SQL ordering, and readers never blocked by a rebuild."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from flows import catalog
from flows.errors import BuildOutOfMemory, SqlBuildError, WarehouseCorrupt
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.steps import warehouse
from flows.steps.load import load_file
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
    payers = payer_directory(settings.payer_alias_file)
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


def _sql(root: Path, layer: str, name: str, text: str) -> None:
    (root / layer).mkdir(parents=True, exist_ok=True)
    (root / layer / f"{name}.sql").write_text(text, encoding="utf-8")


def test_a_load_reaches_other_marts_through_the_load_log_lookup_only_when_its_sql_changes(tmp_path: Path) -> None:
    _sql(tmp_path, "intermediate", "stg_source_file", "-- Lookup.\nselect load_id from load_log")
    _sql(tmp_path, "staging", "stg_policy", "-- S.\nselect * from payer__policy")
    _sql(tmp_path, "staging", "stg_rvu", "-- S.\nselect * from cms__pfs_rvu")
    _sql(tmp_path, "marts", "policy_mart", "-- A.\nselect * from stg_policy join stg_source_file using (load_id)")
    _sql(tmp_path, "marts", "rate_mart", "-- B.\nselect * from stg_rvu join stg_source_file using (load_id)")
    _sql(tmp_path, "marts", "log_mart", "-- C.\nselect * from load_log")
    # a new policy load: the lookup and the log change, the rate mart shows the same rows
    assert warehouse.affected_views(tmp_path, {"payer__policy", "load_log"}, catalog.SCHEMAS) == [
        "stg_policy",
        "stg_source_file",
        "log_mart",
        "policy_mart",
    ]
    # the lookup's own rule changed: every reader of it
    assert set(warehouse.affected_views(tmp_path, {"stg_source_file"}, catalog.SCHEMAS)) == {
        "stg_source_file",
        "policy_mart",
        "rate_mart",
    }


def test_build_order_comes_from_the_sql_references_not_the_names(tmp_path: Path) -> None:
    # a_mart sorts first by every name rule (layer folder aside) yet reads z_inter, which reads stg_z
    _sql(tmp_path, "marts", "a_mart", "-- A mart.\nwith stg_z as (select 1 as y) select * from z_inter, stg_z")
    _sql(tmp_path, "marts", "b_mart", "-- B.\nselect * from a_mart")
    _sql(tmp_path, "intermediate", "z_inter", "-- Inter.\nselect * from (select * from stg_z) where x = 1")
    _sql(tmp_path, "staging", "stg_z", "-- Staging.\nselect 1 as x")
    ordered = warehouse.sql_views(tmp_path, catalog.SCHEMAS)
    assert [v.name for v in ordered] == ["stg_z", "z_inter", "a_mart", "b_mart"]
    assert ordered[2].doc == "A mart." and ordered[2].reads == {"z_inter"}  # the CTE named stg_z is no reference
    assert [v.layer for v in ordered] == ["staging", "intermediate", "marts", "marts"]


def test_a_mart_listed_before_the_mart_it_reads_still_builds(settings: Settings, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(settings.sql_dir, project / "warehouse" / "sql")
    _sql(project / "warehouse" / "sql", "marts", "aaa_first", "-- Reads a later file.\nselect * from zzz_last")
    _sql(
        project / "warehouse" / "sql",
        "marts",
        "zzz_last",
        "-- Reads the benchmark.\nselect count(*) as n from reimbursement_benchmark",
    )
    warehouse.build(settings.replace(project_dir=project), catalog.SCHEMAS)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert con.execute("select n from aaa_first").fetchall() == [(0,)]  # built, over the empty warehouse
    con.close()


def test_an_unknown_relation_is_an_error_naming_the_file(tmp_path: Path) -> None:
    _sql(tmp_path, "staging", "stg_a", "-- A.\nselect * from payer__policy")
    _sql(tmp_path, "marts", "typo_mart", "-- Typo.\nselect * from stg_a join stg_b using (load_id)")
    with pytest.raises(SqlBuildError, match=r"warehouse/sql/marts/typo_mart.sql reads stg_b, which is no dataset"):
        warehouse.sql_views(tmp_path, catalog.SCHEMAS)


def test_a_cycle_is_an_error_naming_the_files(tmp_path: Path) -> None:
    _sql(tmp_path, "marts", "m_one", "-- 1.\nselect * from m_two")
    _sql(tmp_path, "marts", "m_two", "-- 2.\nselect * from (select * from m_one)")
    with pytest.raises(SqlBuildError, match=r"circular reference: m_one.sql -> m_two.sql -> m_one.sql"):
        warehouse.sql_views(tmp_path, catalog.SCHEMAS)


@pytest.mark.parametrize("layer", ["marts", "intermediate", "report"])
def test_reading_a_raw_dataset_outside_staging_is_an_error_naming_file_and_dataset(tmp_path: Path, layer: str) -> None:
    _sql(tmp_path, "staging", "stg_policy", "-- S.\nselect * from payer__policy")
    _sql(tmp_path, layer, "direct", "-- Reads raw.\nselect * from stg_policy join hospital__file using (load_id)")
    with pytest.raises(
        SqlBuildError, match=rf"warehouse/sql/{layer}/direct.sql reads the dataset hospital__file directly"
    ):
        warehouse.sql_views(tmp_path, catalog.SCHEMAS)


def test_staging_never_reads_a_later_layer(tmp_path: Path) -> None:
    _sql(tmp_path, "intermediate", "stg_lookup", "-- L.\nselect 1 as x")
    _sql(tmp_path, "staging", "stg_policy", "-- S.\nselect * from payer__policy, stg_lookup")
    with pytest.raises(SqlBuildError, match=r"staging/stg_policy.sql reads intermediate/stg_lookup.sql, a later layer"):
        warehouse.sql_views(tmp_path, catalog.SCHEMAS)


def test_the_project_sql_keeps_its_layers_and_grain_comments(settings: Settings) -> None:
    views = warehouse.sql_views(settings.sql_dir, catalog.SCHEMAS)  # raises on any layer breach
    assert all(v.doc.startswith("One row") for v in views), [v.name for v in views if not v.doc.startswith("One row")]
    datasets = set(catalog.SCHEMAS)
    assert all(not (v.reads & datasets) for v in views if v.layer != "staging")


def test_the_rate_statistics_and_the_latest_load_rule_are_written_once(settings: Settings) -> None:
    views = {v.name: v for v in warehouse.sql_views(settings.sql_dir, catalog.SCHEMAS)}
    macros = dict(warehouse.sql_macros(settings.sql_dir))
    assert {"rate_distribution", "is_latest_load", "as_of_date"} <= macros.keys()
    for mart in ("reimbursement_benchmark", "tic_rate_summary", "hospital_rate_summary"):
        assert "rate_distribution" in views[mart].reads
        assert "quantile_cont(" not in views[mart].sql and "median(" not in views[mart].sql
    for view in views.values():  # no view spells out the latest-load window itself
        assert (
            "order by loaded_at desc, load_id desc) = 1" not in view.sql.replace("\n", " ") or "row_number" in view.sql
        )
    assert sum("is_latest_load" in v.reads for v in views.values()) >= 10


def test_the_rate_distribution_macro_gives_the_statistics_it_replaced(settings: Settings) -> None:
    con = duckdb.connect()
    con.execute(dict(warehouse.sql_macros(settings.sql_dir))["rate_distribution"])
    got = con.execute(
        "select rate_distribution(v) from (values (10.0::decimal(18, 4)), (20.0), (40.0), (null)) t(v)"
    ).fetchone()[0]
    assert got == {"min": 10, "p25": 15, "median": 20, "p75": 30, "max": 40}


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
    _sql(project / "warehouse" / "sql", "staging", "broken", "-- A broken view.\nselect nope from payer__policy")
    broken = Settings(project_dir=project, raw_dir=settings.raw_dir, warehouse_dir=settings.warehouse_dir)
    with pytest.raises(SqlBuildError, match=r"warehouse/sql/staging/broken.sql does not build"):
        warehouse.build(broken, catalog.SCHEMAS)
    assert settings.duckdb_path.stat().st_mtime_ns == before
    assert not list(settings.warehouse_dir.glob(".payerbench.duckdb.tmp-*"))
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert con.execute("select count(*) from coverage_matrix").fetchone() == (0,)
    con.close()


def _settings_mart(settings: Settings, project: Path) -> Settings:
    """`settings` over the project SQL plus a mart recording the build connection's memory limit and threads."""
    shutil.copytree(settings.sql_dir, project / "warehouse" / "sql")
    _sql(
        project / "warehouse" / "sql",
        "marts",
        "zz_build_settings",
        "-- One row: the build's DuckDB settings.\n"
        "select current_setting('memory_limit') as memory_limit, current_setting('threads') as threads",
    )
    return settings.replace(project_dir=project)


def test_the_build_connection_takes_its_memory_limit_and_threads_from_the_settings(
    settings: Settings, tmp_path: Path
) -> None:
    limited = _settings_mart(settings, tmp_path / "project").replace(build_memory_limit=300 * 1024**2, build_threads=1)
    warehouse.build(limited, catalog.SCHEMAS)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert con.execute("select memory_limit, threads from zz_build_settings").fetchall() == [("300.0 MiB", 1)]
    con.close()
    assert not list(settings.warehouse_dir.glob("*.spill"))  # the spill folder goes with the connection


def test_a_mart_out_of_memory_within_the_limit_is_computed_again_without_it(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # one list of 8 million integers (a list aggregate cannot spill) does not fit 32 MB; the rest of the build does
    project = tmp_path / "project"
    limited = _settings_mart(settings, project).replace(build_memory_limit=32_000_000)
    _sql(
        project / "warehouse" / "sql",
        "marts",
        "zy_big_list",
        "-- One row: a list too long for the build's memory limit.\n"
        "select len(list(i)) as items, current_setting('memory_limit') as memory_limit from range(8000000) t(i)",
    )
    with caplog.at_level("WARNING", logger="flows.steps.warehouse"):
        result = warehouse.build(limited, catalog.SCHEMAS)
    assert result.rebuilt
    assert "the mart zy_big_list ran out of memory within PAYERBENCH_BUILD_MEMORY_LIMIT (32000000 bytes)" in caplog.text
    assert "computing it again without the limit" in caplog.text
    assert "building again without the limit" not in caplog.text  # the marts before it are not computed again
    assert caplog.text.count("ran out of memory") == 1
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    items, limit = con.execute("select items, memory_limit from zy_big_list").fetchone()
    assert items == 8_000_000 and limit.endswith("GiB")  # DuckDB's default: a share of the machine's memory
    # the mart after it has the limit again
    assert con.execute("select memory_limit from zz_build_settings").fetchone() == ("30.5 MiB",)
    assert con.execute("select count(*) from coverage_matrix").fetchone() == (0,)
    con.close()
    assert not list(settings.warehouse_dir.glob(".payerbench.duckdb.tmp-*"))


def test_a_build_out_of_memory_within_the_limit_outside_a_mart_is_retried_without_it(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = _settings_mart(settings, tmp_path / "project").replace(build_memory_limit=300 * 1024**2)
    enum_tables = warehouse._enum_tables

    def out_of_memory_when_limited(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
        if con.execute("select current_setting('memory_limit')").fetchone()[0] == "300.0 MiB":
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")
        return enum_tables(con)

    monkeypatch.setattr(warehouse, "_enum_tables", out_of_memory_when_limited)
    with caplog.at_level("WARNING", logger="flows.steps.warehouse"):
        result = warehouse.build(limited, catalog.SCHEMAS)
    assert result.rebuilt
    assert f"ran out of memory within PAYERBENCH_BUILD_MEMORY_LIMIT ({300 * 1024**2} bytes)" in caplog.text
    assert "building again without the limit" in caplog.text
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert con.execute("select memory_limit from zz_build_settings").fetchone()[0].endswith("GiB")
    assert con.execute("select count(*) from coverage_matrix").fetchone() == (0,)
    con.close()
    assert not list(settings.warehouse_dir.glob(".payerbench.duckdb.tmp-*"))


def test_a_build_out_of_memory_without_a_limit_is_not_retried(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def out_of_memory(*args: object) -> tuple[list[str], int]:
        calls.append(args[-1])
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate")

    monkeypatch.setattr(warehouse, "_write_database", out_of_memory)
    with pytest.raises(BuildOutOfMemory, match="ran out of memory with no PAYERBENCH_BUILD_MEMORY_LIMIT in force"):
        warehouse.build(settings.replace(build_memory_limit=0), catalog.SCHEMAS)
    assert calls == [False]
    calls.clear()
    with pytest.raises(BuildOutOfMemory, match="previous payerbench.duckdb is unchanged"):
        warehouse.build(settings, catalog.SCHEMAS)  # limited, then once without the limit, then the error
    assert calls == [True, False]


def test_a_mart_out_of_memory_without_the_limit_too_ends_the_build_without_building_it_all_again(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mart that runs out of memory on its retry without the limit would do so again in a whole build without
    it: the build stops with BuildOutOfMemory (exit 1), naming the mart; the previous file stays."""
    limited = _settings_mart(settings, tmp_path / "project").replace(build_memory_limit=300 * 1024**2)
    warehouse.build(limited, catalog.SCHEMAS)
    before = settings.duckdb_path.read_bytes()

    class AlwaysOut:
        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self.con = con

        def execute(self, sql: str, *args: object):  # type: ignore[no-untyped-def]
            if sql.startswith("CREATE TABLE main.coverage_matrix"):
                raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")
            return self.con.execute(sql, *args)

    create_table = warehouse._create_table
    monkeypatch.setattr(warehouse, "_create_table", lambda con, *a: create_table(AlwaysOut(con), *a))
    with (
        caplog.at_level("WARNING", logger="flows.steps.warehouse"),
        pytest.raises(BuildOutOfMemory, match="the mart coverage_matrix ran out of memory with no"),
    ):
        warehouse.build(limited, catalog.SCHEMAS)
    assert "computing it again without the limit" in caplog.text
    assert "building again without the limit" not in caplog.text
    assert settings.duckdb_path.read_bytes() == before
    assert not list(settings.warehouse_dir.glob(".payerbench.duckdb.tmp-*"))


def test_build_refuses_a_lake_with_missing_parts(settings: Settings) -> None:
    import shutil

    payers = payer_directory(settings.payer_alias_file)
    record = load_file(
        catalog.get("payer_policy"), fixture("payer__policy", "valid_minimal.csv"), settings, "r", payers=payers
    )
    shutil.rmtree(settings.lake_dir / "payer__policy" / record.load_id)
    with pytest.raises(WarehouseCorrupt, match="committed load.*Parquet files are missing"):
        warehouse.build(settings, catalog.SCHEMAS)


def test_incremental_build_rebuilds_only_after_a_commit(settings: Settings) -> None:
    payers = payer_directory(settings.payer_alias_file)
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
    stg = project / "warehouse" / "sql" / "staging" / "stg_pfs_rvu.sql"
    stg.write_text(stg.read_text(encoding="utf-8") + "\n-- a comment changes the text\n", encoding="utf-8")
    result = warehouse.build_if_changed(edited, catalog.SCHEMAS)
    assert result.rebuilt and result.reason == "SQL changed: stg_pfs_rvu"
    assert result.marts_rebuilt[0] == "stg_pfs_rvu" and "medicare_rate" in result.marts_rebuilt
    assert "coverage_matrix" not in result.marts_rebuilt


def test_parts_written_before_a_column_was_added_still_read(settings: Settings) -> None:
    """A lake written by an older schema: the view reads its parts by name, the new column NULL."""
    import pyarrow.parquet as pq

    payers = payer_directory(settings.payer_alias_file)
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


def test_a_sql_file_outside_the_layer_folders_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "loose.sql").write_text("-- Loose.\nselect 1 as x", encoding="utf-8")
    with pytest.raises(SqlBuildError, match=r"warehouse/sql/loose.sql is in no layer folder"):
        warehouse.sql_views(tmp_path, catalog.SCHEMAS)


def test_a_plan_that_finds_nothing_changed_builds_no_schema_and_parses_no_sql(settings: Settings, monkeypatch) -> None:
    from pandera.api.dataframe.model import DataFrameModel

    warehouse.build(settings, catalog.SCHEMAS)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the up-to-date check built a schema or parsed SQL")

    monkeypatch.setattr(DataFrameModel, "to_schema", classmethod(refuse))
    monkeypatch.setattr(warehouse, "_parse_now", refuse)
    assert warehouse.plan(settings, catalog.SCHEMAS).needed is False


def test_another_model_for_a_dataset_or_a_stray_sql_file_is_a_change(settings: Settings, tmp_path: Path) -> None:
    warehouse.build(settings, catalog.SCHEMAS)
    swapped = {**catalog.SCHEMAS, "payer__policy": catalog.SCHEMAS["ref__geography"]}
    assert (
        warehouse.plan(settings, swapped).reason == "the dataset schemas, the build code or the lake's location changed"
    )
    project = tmp_path / "project"
    shutil.copytree(settings.sql_dir, project / "warehouse" / "sql")
    edited = settings.replace(project_dir=project)
    warehouse.build(edited, catalog.SCHEMAS)
    (project / "warehouse" / "sql" / "loose.sql").write_text("-- Loose.\nselect 1 as x", encoding="utf-8")
    with pytest.raises(SqlBuildError, match=r"warehouse/sql/loose.sql is in no layer folder"):
        warehouse.build_if_changed(edited, catalog.SCHEMAS)


def test_a_build_on_a_later_day_recomputes_the_marts_that_read_the_date_and_copies_the_others(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing new but the date: the plan notices (a build the day before answers as of that day), the marts
    reading as_of_date() are recomputed as of today, a mart that does not read it is copied; the next plan the
    same day needs nothing. The tables are the views' rows as of the build's date."""
    import datetime as dt

    sql = tmp_path / "project" / "warehouse" / "sql"
    _sql(sql, "macros", "as_of_date", "create macro as_of_date() as getvariable('as_of')")
    _sql(sql, "staging", "stg_policy", "-- S.\nselect * from payer__policy")
    _sql(sql, "marts", "dated_mart", "-- A.\nselect as_of_date() as as_of, count(*) as n from stg_policy")
    _sql(sql, "marts", "reads_dated", "-- B.\nselect as_of, n + 1 as n from dated_mart")
    _sql(sql, "marts", "undated_mart", "-- C.\nselect count(*) as n from stg_policy")
    settings = settings.replace(project_dir=tmp_path / "project")
    schemas = {"payer__policy": catalog.SCHEMAS["payer__policy"]}
    monkeypatch.setattr(warehouse, "current_as_of", lambda: dt.date(2026, 3, 1))
    warehouse.build(settings, schemas)
    monkeypatch.setattr(warehouse, "current_as_of", lambda: dt.date(2026, 3, 2))
    again = warehouse.build_if_changed(settings, schemas)
    assert again.rebuilt and "the date moved to 2026-03-02" in again.reason
    assert again.marts_rebuilt == ["dated_mart", "reads_dated"]
    assert not warehouse.build_if_changed(settings, schemas).rebuilt
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        assert con.execute("select * from reads_dated").fetchall() == [(dt.date(2026, 3, 2), 1)]
        assert con.execute("select * from undated_mart").fetchall() == [(0,)]
        assert set(con.execute("select * from mart_as_of").fetchall()) == {
            (m, dt.date(2026, 3, 2)) for m in ("dated_mart", "reads_dated", "undated_mart")
        }
        con.execute("SET VARIABLE as_of = DATE '2020-01-01'")  # the views answer as of the session's date
        assert con.execute("select * from live.reads_dated").fetchall() == [(dt.date(2020, 1, 1), 1)]
        assert con.execute("select * from reads_dated").fetchall() == [(dt.date(2026, 3, 2), 1)]
        kinds = dict(con.execute("select name, kind from catalog").fetchall())
        assert kinds["dated_mart"] == "mart" and kinds["mart_as_of"] == "system"
        tables = con.execute("select table_name from duckdb_tables() where schema_name = 'main'").fetchall()
        assert ("undated_mart",) in tables
    finally:
        con.close()


def test_a_build_with_the_same_schemas_lists_the_empty_files_without_building_a_schema(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.build(settings, catalog.SCHEMAS)
    indexes = list((settings.lake_read_dir / "_empty").glob("index-*.json"))
    assert len(indexes) == 1
    listed = json.loads(indexes[0].read_text(encoding="utf-8"))
    assert set(listed) == set(catalog.SCHEMAS) and all((indexes[0].parent / n).exists() for n in listed.values())

    from flows.steps import warehouse_datasets

    made = warehouse_datasets.empty_file

    def refuse(settings: Settings, name: str, schema: object) -> Path:
        if name in catalog.SCHEMAS:
            raise AssertionError(f"a schema was built for {name}")
        return made(settings, name, schema)  # the load log's, the quarantine's: fixed Arrow schemas

    monkeypatch.setattr(warehouse_datasets, "empty_file", refuse)
    warehouse.build(settings, catalog.SCHEMAS)  # the index names every file: no schema is built
    (indexes[0].parent / listed["payer__policy"]).unlink()  # a file gone: the index is not trusted
    with pytest.raises(AssertionError, match="a schema was built"):
        warehouse.build(settings, catalog.SCHEMAS)


def test_a_new_day_recomputes_every_mart_that_depends_on_the_date_including_coverage_documents(
    settings: Settings,
) -> None:
    """A document whose end date passes overnight must leave coverage_matrix: the views deciding what is current
    read the as-of date, so a new day reaches them (a copied table would keep the ended document)."""
    moved = set(warehouse.affected_views(settings.sql_dir, {warehouse.DATE_MOVED}, catalog.SCHEMAS))
    assert {"stg_mcd_code_listing", "coverage_matrix", "benchmark_rate", "reimbursement_benchmark"} <= moved
    for view in warehouse.sql_views(settings.sql_dir, catalog.SCHEMAS):  # no view reads the clock unseen
        assert "current_date" not in view.sql.replace("least(as_of_date(), current_date)", ""), view.name


def test_giving_back_free_memory_before_a_build_is_a_no_op_where_ctypes_cannot_open_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Windows `ctypes.CDLL(None)` raises TypeError (CPython 3.11's nt branch evaluates `'/' in name`);
    every build calls this first, so it must stay a no-op there."""
    import ctypes

    def windows_cdll(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        return "/" in name

    monkeypatch.setattr(ctypes, "CDLL", windows_cdll)
    warehouse._give_back_free_memory()


def _snapshot(path: Path) -> dict[str, object]:
    """Every relation of a DuckDB file (main and live): its columns, comment and rows (sorted), as of a fixed date."""
    import datetime as dt

    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET VARIABLE as_of = ?", [dt.date(2026, 1, 15)])
        relations = con.execute(
            "select schema_name, table_name, comment from duckdb_tables() where not internal "
            "union all select schema_name, view_name, comment from duckdb_views() where not internal"
        ).fetchall()
        found: dict[str, object] = {}
        for schema, name, comment in relations:
            result = con.execute(f"select * from {schema}.{name}")
            columns = [(d[0], str(d[1])) for d in result.description]
            found[f"{schema}.{name}"] = (comment, columns, sorted(map(repr, result.fetchall())))
        return found
    finally:
        con.close()


def _full_build_of_the_same_lake(settings: Settings, schemas: dict[str, type]) -> dict[str, object]:
    """What a build from nothing makes of the lake as it is (the state removed: nothing to start from)."""
    (settings.warehouse_dir / warehouse.STATE_NAME).unlink()
    full = warehouse.build(settings, schemas)
    assert not full.incremental
    return _snapshot(settings.duckdb_path)


def test_an_incremental_build_makes_what_a_full_build_makes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load of one dataset, then a new day: each build starts from a copy of the previous file, replaces what
    changed, and holds the same relations, comments and rows as a build from nothing."""
    import datetime as dt

    monkeypatch.setattr(warehouse, "current_as_of", lambda: dt.date(2026, 3, 1))
    payers = payer_directory(settings.payer_alias_file)
    first = warehouse.build(settings, catalog.SCHEMAS)
    assert not first.incremental  # nothing to start from
    load_file(catalog.get("payer_policy"), fixture("payer__policy", "valid_minimal.csv"), settings, "r1", payers=payers)
    result = warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert result.rebuilt and result.incremental and "coverage_matrix" in result.marts_rebuilt
    incremental = _snapshot(settings.duckdb_path)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    assert con.execute("select count(*) from payer__policy").fetchone()[0] > 0  # the replaced view reads the load
    con.close()
    assert _full_build_of_the_same_lake(settings, catalog.SCHEMAS) == incremental

    monkeypatch.setattr(warehouse, "current_as_of", lambda: dt.date(2026, 3, 2))
    moved = warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert moved.incremental and "the date moved" in moved.reason
    incremental = _snapshot(settings.duckdb_path)
    as_of_rows = incremental["main.mart_as_of"][2]  # type: ignore[index]
    assert as_of_rows and all("datetime.date(2026, 3, 2)" in row for row in as_of_rows)
    assert _full_build_of_the_same_lake(settings, catalog.SCHEMAS) == incremental


def test_a_sql_change_builds_from_nothing(settings: Settings, tmp_path: Path) -> None:
    warehouse.build(settings, catalog.SCHEMAS)
    project = tmp_path / "project"
    shutil.copytree(settings.sql_dir, project / "warehouse" / "sql")
    mart = project / "warehouse" / "sql" / "marts" / "coverage_matrix.sql"
    mart.write_text(mart.read_text(encoding="utf-8") + "\n-- a trailing comment\n", encoding="utf-8")
    changed = settings.replace(project_dir=project)
    result = warehouse.build_if_changed(changed, catalog.SCHEMAS)
    assert result.rebuilt and "SQL changed: coverage_matrix" in result.reason and not result.incremental


def test_an_unreadable_previous_file_builds_from_nothing(settings: Settings) -> None:
    import os

    payers = payer_directory(settings.payer_alias_file)
    warehouse.build(settings, catalog.SCHEMAS)
    target = settings.duckdb_path
    stat = target.stat()
    target.write_bytes(b"\0garbage" * (stat.st_size // 8) + b"\0" * (stat.st_size % 8))  # same size and time:
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the recorded state still names it
    load_file(catalog.get("payer_policy"), fixture("payer__policy", "valid_minimal.csv"), settings, "r1", payers=payers)
    result = warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert result.rebuilt and not result.incremental
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("select count(*) from payer__policy").fetchone()[0] > 0
    con.close()


def test_an_incremental_build_failing_midway_leaves_the_previous_file_untouched(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    payers = payer_directory(settings.payer_alias_file)
    warehouse.build(settings, catalog.SCHEMAS)
    before = hashlib.sha256(settings.duckdb_path.read_bytes()).hexdigest(), settings.duckdb_path.stat().st_mtime_ns
    load_file(catalog.get("payer_policy"), fixture("payer__policy", "valid_minimal.csv"), settings, "r1", payers=payers)
    calls: list[str] = []

    def fail(con: duckdb.DuckDBPyConnection, name: str, source: str, limit: int) -> None:
        calls.append(name)
        raise duckdb.IOException("no space left on device")

    monkeypatch.setattr(warehouse, "_create_table", fail)
    with pytest.raises(SqlBuildError, match="does not materialise"):  # the full build it falls back to fails too
        warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert len(calls) == 2  # the incremental build's first mart, then the full build's
    after = hashlib.sha256(settings.duckdb_path.read_bytes()).hexdigest(), settings.duckdb_path.stat().st_mtime_ns
    assert after == before
    assert sorted(p.name for p in settings.warehouse_dir.glob(".payerbench.duckdb.tmp-*")) == []

    monkeypatch.undo()
    result = warehouse.build_if_changed(settings, catalog.SCHEMAS)  # the state still describes the file: incremental
    assert result.incremental


def test_a_file_with_much_free_space_is_built_from_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    payers = payer_directory(settings.payer_alias_file)
    warehouse.build(settings, catalog.SCHEMAS)
    load_file(catalog.get("payer_policy"), fixture("payer__policy", "valid_minimal.csv"), settings, "r1", payers=payers)
    monkeypatch.setattr(warehouse, "MAX_FREE_SHARE", -1.0)  # any file has more free blocks than that
    with caplog.at_level("INFO", logger=warehouse.__name__):
        result = warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert result.rebuilt and not result.incremental
    assert "blocks are free" in caplog.text
