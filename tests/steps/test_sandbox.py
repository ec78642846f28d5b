"""The analysts' connection: every warehouse view reads, nothing outside the lake does, nothing can be re-enabled.

These call the connection directly (no statement check in front of it, unlike `payerbench query`):
the sandbox itself must refuse files, URLs, extensions and settings.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows.settings import Settings
from flows.steps.sandbox import SandboxError, connect_read_only


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    """A secret outside the warehouse, readable by this user."""
    path = tmp_path / "outside" / "secret.csv"
    path.parent.mkdir()
    path.write_text("secret\nhunter2\n", encoding="utf-8")
    return path


def test_every_view_of_the_catalog_reads_under_the_sandbox(bundled_warehouse: Settings) -> None:
    con = connect_read_only(bundled_warehouse)
    try:
        names = [n for (n,) in con.execute("select name from catalog").fetchall()]
        counts = {name: con.execute(f'select count(*) from "{name}"').fetchone()[0] for name in names}
    finally:
        con.close()
    assert len(names) > 40 and counts["payer__policy"] > 0 and counts["benchmark_rate"] > 0 and counts["load_log"] > 0


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('{outside}')",
        "select * from read_blob('{outside}')",
        "select * from read_text('{outside}')",
        "select * from read_csv('/etc/passwd')",
        "select * from read_blob('/etc/passwd')",
        "select * from glob('{outside_dir}/*')",
        "select * from glob('/root/*')",
        "select * from sniff_csv('{outside}')",
        "select * from read_csv('{lake}/../../outside/secret.csv')",  # `..` out of the lake
        "copy (select 1) to '{outside_dir}/written.csv'",
        "export database '{outside_dir}/export'",
        "attach '{outside_dir}/other.duckdb'",
        "install httpfs",
        "load httpfs",
        "set enable_external_access = true",
        "set lock_configuration = false",
        "reset enable_external_access",
        "reset lock_configuration",
        "set allowed_directories = ['/']",
        "set autoinstall_known_extensions = true",
    ],
)
def test_the_connection_itself_refuses(bundled_warehouse: Settings, outside_file: Path, sql: str) -> None:
    con = connect_read_only(bundled_warehouse)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(
                sql.format(outside=outside_file, outside_dir=outside_file.parent, lake=bundled_warehouse.lake_dir)
            ).fetchall()
        assert con.execute("select current_setting('enable_external_access')").fetchone()[0] is False
    finally:
        con.close()
    assert sorted(p.name for p in outside_file.parent.iterdir()) == ["secret.csv"]  # nothing written beside it


def test_a_url_neither_downloads_an_extension_nor_creates_its_folder(
    bundled_warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # DuckDB would install httpfs under ~/.duckdb/extensions
    con = connect_read_only(bundled_warehouse)
    try:
        with pytest.raises(duckdb.PermissionException):
            con.execute("select * from read_csv('http://127.0.0.1:1/x.csv')").fetchall()
    finally:
        con.close()
    assert not (tmp_path / ".duckdb").exists()


def test_another_warehouses_parquet_is_refused(bundled_warehouse: Settings, tmp_path: Path) -> None:
    sibling = tmp_path / "other_warehouse" / "lake" / "payer__policy"
    sibling.mkdir(parents=True)
    duckdb.execute(f"copy (select 'other payer' as payer_name) to '{sibling / 'part.parquet'}'")
    con = connect_read_only(bundled_warehouse)
    try:
        with pytest.raises(duckdb.PermissionException, match="other_warehouse"):
            con.execute(f"select * from read_parquet('{sibling}/*.parquet')").fetchall()
        assert con.execute("select count(*) from payer__policy").fetchone()[0] > 0  # its own lake still reads
    finally:
        con.close()


def test_a_warehouse_reached_through_a_symlink_still_reads(bundled_warehouse: Settings, tmp_path: Path) -> None:
    """The views name the lake as it was built; the same lake by another spelling is the same lake."""
    link = tmp_path / "linked_warehouse"
    link.symlink_to(bundled_warehouse.warehouse_dir, target_is_directory=True)
    con = connect_read_only(Settings(warehouse_dir=link))
    try:
        assert con.execute("select count(*) from benchmark_rate").fetchone()[0] > 0
    finally:
        con.close()


def test_a_copied_warehouse_does_not_read_the_original_lake(bundled_warehouse: Settings, tmp_path: Path) -> None:
    """A copy's views still name the original's lake: outside its own, so refused until rebuilt."""
    copy = tmp_path / "copied_warehouse"
    copy.mkdir()
    shutil.copy2(bundled_warehouse.duckdb_path, copy / bundled_warehouse.duckdb_path.name)
    con = connect_read_only(Settings(warehouse_dir=copy))
    try:
        with pytest.raises(duckdb.PermissionException, match=str(bundled_warehouse.lake_dir)):
            con.execute("select count(*) from payer__policy").fetchall()
    finally:
        con.close()


def test_two_connections_in_one_process_share_the_sandbox(bundled_warehouse: Settings, outside_file: Path) -> None:
    """DuckDB shares one instance per file in a process: the second connection finds it locked, and sandboxed."""
    first = connect_read_only(bundled_warehouse)
    second = connect_read_only(bundled_warehouse)
    plain = duckdb.connect(str(bundled_warehouse.duckdb_path), read_only=True)  # the same instance
    try:
        for con in (first, second, plain):
            with pytest.raises(duckdb.PermissionException):
                con.execute(f"select * from read_csv('{outside_file}')").fetchall()
    finally:
        for con in (first, second, plain):
            con.close()


def test_a_locked_instance_that_is_not_the_sandbox_is_refused(bundled_warehouse: Settings) -> None:
    plain = duckdb.connect(str(bundled_warehouse.duckdb_path), read_only=True)
    plain.execute("set lock_configuration = true")  # locked with external access still on
    try:
        with pytest.raises(SandboxError, match="not the analysts' sandbox"):
            connect_read_only(bundled_warehouse)
    finally:
        plain.close()


def test_the_reports_queries_run_in_the_same_sandbox(bundled_warehouse: Settings, outside_file: Path) -> None:
    from flows.report.data import ReportData

    data = ReportData(bundled_warehouse, "0440T")
    try:  # its queries still run (the rendering tests run them all)
        assert len(data.q("coverage")) == 5 and len(data.q("source_files")) > 0
        with pytest.raises(duckdb.PermissionException):
            data.con.execute(f"select * from read_csv('{outside_file}')").fetchall()
        with pytest.raises(duckdb.Error, match="locked"):
            data.con.execute("set enable_external_access = true")
    finally:
        data.close()
