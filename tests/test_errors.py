"""Library code raises typed errors a caller can catch; only the CLI turns them into exit codes 1/2/3."""

from __future__ import annotations

import ast
import fcntl
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from flows import catalog, cli, errors
from flows.errors import (
    ConfigurationError,
    NoWarehouse,
    PayerbenchError,
    SandboxError,
    SqlBuildError,
    WarehouseBusy,
    WarehouseCorrupt,
)
from flows.lookups import payer_directory
from flows.settings import PROJECT_DIR, Settings, from_env
from flows.sources.base import FileRejected
from flows.steps import sandbox, warehouse
from flows.steps.load import load_file
from flows.steps.lock import lock_path
from tests.conftest import fixture

# Only these may end the process: the console script and `python -m flows`.
# entry points of a process: the CLI, and the gzip child ProcessGzipStream runs as a script (its exit code is
# how it reports; imported, the module only defines the inflating loop)
MAY_EXIT = {
    Path("flows/cli.py"),
    Path("flows/__main__.py"),
    Path("flows/engines/gzip_members.py"),
    Path("flows/lean_build.py"),  # the rest of `payerbench ingest`, exec'd: a program, as __main__.py
}
# Calls that end the process as `raise SystemExit` does.
EXIT_CALLS = {("sys", "exit"), ("os", "_exit"), (None, "exit"), (None, "quit")}


def exits_in(path: Path) -> list[str]:
    """`line: what` for every SystemExit named, and every sys.exit / os._exit / exit / quit called, in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (isinstance(node, ast.Name) and node.id == "SystemExit") or (
            isinstance(node, ast.Attribute) and node.attr == "SystemExit"
        ):
            found.append(f"{node.lineno}: SystemExit")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                name: tuple[str | None, str] = (None, func.id)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                name = (func.value.id, func.attr)
            else:
                continue
            if name in EXIT_CALLS:
                found.append(f"{node.lineno}: {'.'.join(n for n in name if n)}()")
    return sorted(found, key=lambda hit: int(hit.split(":")[0]))


def library_modules() -> list[Path]:
    return sorted(
        p.relative_to(PROJECT_DIR)
        for folder in ("flows", "schemas")
        for p in (PROJECT_DIR / folder).rglob("*.py")
        if p.relative_to(PROJECT_DIR) not in MAY_EXIT
    )


def test_the_scan_finds_an_exit_in_any_spelling(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import builtins, os, sys\n"
        "def a():\n    raise SystemExit('no warehouse')\n"
        "class B(SystemExit): ...\n"
        "def c():\n    raise builtins.SystemExit(2)\n"
        "def d():\n    sys.exit(2)\n"
        "def e():\n    os._exit(1)\n"
        "def f():\n    try: a()\n    except SystemExit: pass\n",
        encoding="utf-8",
    )
    assert exits_in(module) == [
        "3: SystemExit",
        "4: SystemExit",
        "6: SystemExit",
        "8: sys.exit()",
        "10: os._exit()",
        "13: SystemExit",
    ]


def test_no_library_module_ends_the_process() -> None:
    modules = library_modules()
    assert Path("flows/settings.py") in modules and Path("schemas/fields.py") in modules  # the scan sees the code
    found = {str(path): hits for path in modules if (hits := exits_in(PROJECT_DIR / path))}
    assert found == {}, f"library code must raise a flows.errors type, never end the process: {found}"


def test_each_error_type_carries_its_documented_exit_code() -> None:
    assert {
        kind: kind.exit_code
        for kind in (
            ConfigurationError,
            NoWarehouse,
            WarehouseBusy,
            WarehouseCorrupt,
            SqlBuildError,
            SandboxError,
            FileRejected,
        )
    } == {
        ConfigurationError: 2,
        NoWarehouse: 2,
        WarehouseBusy: 3,
        WarehouseCorrupt: 1,
        SqlBuildError: 1,
        SandboxError: 1,
        FileRejected: 1,
    }
    assert (cli.EXIT_DATA, cli.EXIT_USAGE, cli.EXIT_BUSY) == (errors.EXIT_DATA, errors.EXIT_USAGE, errors.EXIT_BUSY)
    for kind in (
        ConfigurationError,
        NoWarehouse,
        WarehouseBusy,
        WarehouseCorrupt,
        SqlBuildError,
        SandboxError,
        FileRejected,
    ):
        assert issubclass(kind, PayerbenchError) and not issubclass(kind, SystemExit)


# --- a library call raises what a notebook can catch --------------------------------------------------------
def test_a_bad_setting_raises_a_configuration_error_not_an_exit() -> None:
    with pytest.raises(PayerbenchError, match="PAYERBENCH_CHUNK_ROWS='ten' is not a number") as caught:
        from_env({"PAYERBENCH_CHUNK_ROWS": "ten"})
    assert type(caught.value) is ConfigurationError


def test_opening_a_missing_warehouse_raises_no_warehouse(settings: Settings) -> None:
    with pytest.raises(
        PayerbenchError, match=f"no warehouse at {settings.duckdb_path}; run `payerbench run`"
    ) as caught:
        sandbox.connect_read_only(settings)
    assert type(caught.value) is NoWarehouse


def test_an_unknown_source_or_option_raises_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown source 'nope'; known sources: "):
        catalog.get("nope")
    with pytest.raises(ConfigurationError, match="source 'payer_policy' takes no option 'data_year'"):
        catalog.get("payer_policy").check_options({"data_year": "2022"})


# --- each type through `main`: its exit code and `payerbench <command>: <message>` on stderr ------------------
def run_cli(settings: Settings, *args: str) -> int:
    return cli.main([*args, "--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)])


def last_error(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_bad_setting_exits_2(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYERBENCH_CHUNK_ROWS", "ten")
    assert run_cli(settings, "query", "select 1") == 2
    assert (
        last_error(capsys)
        == "payerbench query: PAYERBENCH_CHUNK_ROWS='ten' is not a number; set it to e.g. 20000 (rows)"
    )


def test_a_missing_warehouse_exits_2(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(settings, "query", "select 1") == 2
    assert last_error(capsys) == (
        f"payerbench query: no warehouse at {settings.duckdb_path}; run `payerbench run` (or `make run`) first"
    )


@pytest.fixture
def held_lock(settings: Settings) -> Iterator[None]:
    """The writer lock held through another open file (as another process would hold it)."""
    settings.warehouse_dir.mkdir(parents=True)
    with lock_path(settings.warehouse_dir).open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def test_a_held_lock_exits_3(
    settings: Settings, held_lock: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYERBENCH_LOCK_TIMEOUT", "0.2")
    assert run_cli(settings, "build") == 3
    error = last_error(capsys)
    assert error.startswith(f"payerbench build: the warehouse {settings.warehouse_dir} is being written by another")
    assert error.endswith("(set PAYERBENCH_LOCK_TIMEOUT to wait longer).")
    assert not settings.duckdb_path.exists()


def test_a_lake_missing_committed_parts_exits_1(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    record = load_file(
        catalog.get("payer_policy"),
        fixture("payer__policy", "valid_minimal.csv"),
        settings,
        "r",
        payers=payer_directory(settings.payer_alias_file),
    )
    shutil.rmtree(settings.lake_dir / "payer__policy" / record.load_id)
    assert run_cli(settings, "build") == 1
    assert last_error(capsys).startswith(
        "payerbench build: the load log lists 1 committed load(s) whose Parquet "
        f"files are missing (first: {record.load_id})"
    )


def test_sql_that_does_not_build_exits_1(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    (project / "warehouse" / "sql" / "staging").mkdir(parents=True)
    (project / "warehouse" / "sql" / "staging" / "broken.sql").write_text(
        "-- A broken view.\nselect nope from payer__policy", encoding="utf-8"
    )
    monkeypatch.setenv("PAYERBENCH_HOME", str(project))
    assert run_cli(settings, "build") == 1
    assert capsys.readouterr().err.startswith("payerbench build: warehouse/sql/staging/broken.sql does not build: ")
    assert not settings.duckdb_path.exists()


def test_a_warehouse_held_open_outside_the_sandbox_exits_1(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse.build(settings, catalog.SCHEMAS)
    plain = duckdb.connect(str(settings.duckdb_path), read_only=True)
    plain.execute("set lock_configuration = true")  # locked with external access still on
    try:
        assert run_cli(settings, "query", "select 1") == 1
    finally:
        plain.close()
    assert last_error(capsys).startswith(
        "payerbench query: this process already holds the warehouse open with a "
        "locked configuration that is not the analysts' sandbox"
    )


def test_a_warehouse_file_that_is_no_database_stops_the_report_with_exit_1(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.warehouse_dir.mkdir()
    settings.duckdb_path.write_bytes(b"not a database")  # the report first reads which codes to render from it
    assert run_cli(settings, "report") == 1
    assert last_error(capsys) == (
        f"payerbench report: {settings.duckdb_path} is not a DuckDB database; delete it and run "
        "`payerbench build` to rebuild it from the lake"
    )


def test_a_flow_fails_with_the_typed_error(settings: Settings) -> None:
    """Prefect re-raises the library's error from the flow: a caller catches NoWarehouse, not one text per code."""
    from flows.report.flow import render_benchmark_reports

    with pytest.raises(NoWarehouse, match=f"no warehouse at {settings.duckdb_path}"):
        render_benchmark_reports(settings, ["0440T", "0441T"], only_changed=True)
    assert not settings.reports_dir.exists() or not list(settings.reports_dir.glob("*.html"))


def test_the_readme_names_each_error_type_with_its_exit_code() -> None:
    readme = " ".join((PROJECT_DIR / "README.md").read_text(encoding="utf-8").split())
    listed = re.search(r"all `PayerbenchError` \(1: ([^;]*); 2: ([^;]*); 3: ([^)]*)\)", readme)
    assert listed, "README: the exit-code paragraph lists the error types under 1, 2 and 3"
    named = {code: set(re.findall(r"`(\w+)`", listed.group(code))) for code in (1, 2, 3)}
    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, PayerbenchError)]
    assert {k.__name__: k.exit_code for k in [*kinds[1:], FileRejected]} == {
        name: code for code, names in named.items() for name in names
    }
