"""The payerbench command line: read-only queries, output formats, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import cli
from flows.settings import Settings
from tests.conftest import fixture

PROJECT = Path(__file__).resolve().parents[1]


def run_cli(settings: Settings, *args: str) -> int:
    return cli.main([*args, "--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)])


@pytest.fixture
def run_by_cli(bundled_settings: Settings) -> Settings:
    """A warehouse of the bundled data built by `payerbench run` itself, from scratch."""
    assert run_cli(bundled_settings, "run", "--no-report") == 0
    return bundled_settings


@pytest.fixture
def built(warehouse_copy: Settings) -> Settings:
    """A warehouse of the bundled data that the test may change (a copy of the session's run)."""
    return warehouse_copy


@pytest.fixture
def shared(bundled_warehouse: Settings) -> Settings:
    """One warehouse of the bundled data (the session's run) for the read-only tests of this module."""
    return bundled_warehouse


@pytest.mark.slow  # `payerbench run` from scratch, then again
def test_run_prints_a_summary_per_file(run_by_cli: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    built = run_by_cli
    assert run_cli(built, "run", "--no-report") == 0
    out = capsys.readouterr().out
    assert "payer_policies_0440T-0442T.csv" in out and "unchanged" in out


def test_query_coverage_matrix_as_csv(shared: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    sql = "select payer_group, coverage_status from coverage_matrix where billing_code = '0440T'"
    assert run_cli(shared, "query", sql, "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["payer_group"] for r in rows] == ["aetna", "bcbs", "cigna", "unitedhealthcare", "medicare"]


def test_query_as_json_keeps_dates_and_lists(shared: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert (
        run_cli(
            shared,
            "query",
            "select effective_date, policy_ids from coverage_matrix where billing_code='0440T' and payer_group='medicare'",
            "--format",
            "json",
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"effective_date": "2022-01-31", "policy_ids": ["cope24853", "A55681"]}]


@pytest.mark.parametrize(
    "sql",
    [
        "drop view coverage_matrix",
        "delete from payer__policy",
        "copy (select 1) to '/tmp/x.csv'",
        "attach 'other.db'",
        "select 1; drop view coverage_matrix",
        "create table t as select 1",
        "explain analyze copy (select 42) to '/tmp/payerbench-explain.csv'",
    ],
)
def test_query_refuses_anything_but_a_read(shared: Settings, sql: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(shared, "query", sql) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "refused" in err or "exactly one SQL statement" in err
    assert run_cli(shared, "query", "select count(*) from coverage_matrix") == 0  # still intact


def test_query_error_is_reported_not_raised(shared: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(shared, "query", "select * from no_such_table") == cli.EXIT_USAGE
    assert "no_such_table" in capsys.readouterr().err


def test_ingest_bad_file_exits_non_zero_with_the_reason(built: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(built, "ingest", "payer_policy", str(fixture("payer__policy", "missing_required_column.csv")))
    assert code == cli.EXIT_DATA
    assert "missing required column 'coverage_status'" in capsys.readouterr().out
    assert run_cli(built, "status") == cli.EXIT_DATA  # the latest attempt of that file was rejected


def test_ingest_good_file_and_status(built: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(built, "ingest", "payer_policy", str(fixture("payer__policy", "invalid_code.csv"))) == 0
    out = capsys.readouterr().out
    assert "loaded_with_quarantine" in out
    assert run_cli(built, "status") == 0
    assert "invalid_code.csv" in capsys.readouterr().out


def test_unknown_source_is_a_usage_error(built: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(built, "ingest", "nope", str(fixture("payer__policy", "valid_minimal.csv"))) == cli.EXIT_USAGE
    assert "unknown source 'nope'" in capsys.readouterr().err


def test_query_without_a_warehouse_says_what_to_do(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(settings, "query", "select 1") == cli.EXIT_USAGE
    assert "run `payerbench run`" in capsys.readouterr().err


def test_python_dash_m_flows_is_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flows", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        timeout=120,
    )
    assert result.returncode == 0
    for command in ("run", "ingest", "query", "status"):
        assert command in result.stdout
    assert "PAYERBENCH_WAREHOUSE_DIR" in result.stdout


def test_ingest_refuses_an_option_the_source_does_not_take(built: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(fixture("payer__policy", "valid_minimal.csv"))
    assert run_cli(built, "ingest", "payer_policy", path, "-o", "data_year=2022") == cli.EXIT_USAGE
    assert "source 'payer_policy' takes no option 'data_year'" in capsys.readouterr().err
    assert run_cli(built, "ingest", "payer_policy", path, "-o", "data_year") == cli.EXIT_USAGE
    assert "is not KEY=VALUE" in capsys.readouterr().err


def test_sources_lists_each_source_and_its_ingest_options(shared: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run_cli(shared, "sources") == 0
    out = capsys.readouterr().out
    assert "cms_mcd" in out and "cms__mcd_article_hcpc_code" in out
    assert "ingest option -o data_year=...: the data year of the file" in out


def test_report_without_a_warehouse_says_what_to_do(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(settings, "report", "--code", "0440T") == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"no warehouse at {settings.duckdb_path}" in err and "payerbench run" in err
    assert not settings.reports_dir.exists()  # nothing was rendered


def test_a_date_not_written_yyyy_mm_dd_is_a_usage_error(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(settings, "report", "--as-of", "01/06/2025")
    assert exc.value.code == 2
    assert "'01/06/2025' is not a date written YYYY-MM-DD" in capsys.readouterr().err


@pytest.mark.parametrize("output", ["csv", "table"])
def test_a_reader_that_stops_early_is_not_an_error(shared: Settings, output: str) -> None:
    """`payerbench query ... | head -1`: exit 0, no BrokenPipeError traceback. 20,000 rows are about 150 KB
    as CSV, more than a pipe holds (64 KB), so the writer meets the closed pipe."""
    env = {**os.environ, "PAYERBENCH_WAREHOUSE_DIR": str(shared.warehouse_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "query", "select * from range(20000)", "--format", output],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip()
    proc.stdout.close()  # like `head`: stop reading
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_a_local_run_turns_flow_heartbeats_off_and_a_server_run_keeps_them() -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_API_URL: None, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        with cli._local_prefect(runs_flows=True):
            assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
        with cli._local_prefect(runs_flows=False):
            assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == 180
    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api", PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}),
        cli._local_prefect(runs_flows=True),
    ):
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == 180


def test_report_refuses_an_unknown_payer_group(shared: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(shared, "report", "--code", "0440T", "--payer", "humana") == cli.EXIT_USAGE
    assert "unknown payer group humana; use some of aetna, bcbs" in capsys.readouterr().err


@pytest.mark.parametrize("code", ["../../x", "0440T/../../etc", "a b", "<img>"])
def test_report_refuses_a_code_that_is_not_a_code(
    shared: Settings, capsys: pytest.CaptureFixture[str], code: str
) -> None:
    """The code names the report's files: a path in it would write outside the reports folder."""
    assert run_cli(shared, "report", "--code", code) == cli.EXIT_USAGE
    assert "is not a CPT/HCPCS code" in capsys.readouterr().err
    assert not any((shared.reports_dir.parent).glob("**/*_benchmark.html"))


def test_render_report_raises_on_a_path_for_a_code(shared: Settings) -> None:
    from flows.report.render import render_report

    with pytest.raises(ValueError, match="not a CPT/HCPCS code"):
        render_report(shared, "../evil")


def test_downloads_show_a_progress_bar_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.fetch.run import PROGRESS

    with cli._download_bars():
        assert PROGRESS.get() is None  # not a terminal (pytest captures stderr): plain lines only
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with cli._download_bars():
        listener = PROGRESS.get()
        assert listener is not None
        listener("https://www.cms.gov/files/zip/rvu26a.zip", 10, 100)
        listener("https://www.cms.gov/files/zip/rvu26a.zip", 100, 100)
    assert PROGRESS.get() is None


def test_the_ingest_modules_import_neither_httpx_nor_duckdb(tmp_path: Path) -> None:
    """`payerbench ingest` loads its files without httpx (which imports rich, click and pygments: ~7 MB) or
    DuckDB (13 MB): the first comes with a request (flows/fetch/http.py), the second with a compaction or a build."""
    heavy = ("httpx", "rich", "pygments", "click", "duckdb", "prefect")
    code = (
        "import sys\nimport flows.cli, flows.catalog, flows.ingest, flows.fetch.http\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    from flows.fetch import mirror  # the folder mirror's transport needs httpx: it imports it

    assert "httpx" in sys.modules and mirror.FolderMirror.__mro__[1].__module__.startswith("httpx")


def test_report_imports_only_what_rendering_needs(built: Settings, tmp_path: Path) -> None:
    """`payerbench report` with no Prefect API renders without Prefect, the catalog (every adapter and schema),
    pandera, dask or papermill: about two seconds of imports it does not use."""
    heavy = ("prefect", "flows.catalog", "pandera", "dask", "papermill")
    code = (
        "import sys\nfrom flows.cli import main\n"
        f"code = main(['report', '--code', '0440T', '--warehouse', {str(built.warehouse_dir)!r}, "
        f"'--out', {str(tmp_path / 'out')!r}])\n"
        f"print(code, [m for m in {heavy!r} if m in sys.modules])"
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"
    from flows import catalog

    markdown = (tmp_path / "out" / "0440T_benchmark.md").read_text(encoding="utf-8")
    assert f"| {catalog.SOURCES['tic'].description} |" in markdown  # the catalog's words, read without importing it
