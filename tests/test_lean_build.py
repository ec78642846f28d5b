"""flows/lean_build.py: `payerbench ingest` run as the command ends in its build re-executed without pandas."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from flows import cli, lean_build, orchestration
from flows.settings import Settings
from flows.steps import warehouse
from tests.conftest import copy_warehouse, fixture

PROJECT = Path(__file__).resolve().parents[1]
TINY = PROJECT / "raw" / "tic" / "uhc-ny_TEST_FILE_excerpt.json.gz"
IN_PROCESS = "import sys; from flows.cli import main; raise SystemExit(main(sys.argv[1:]))"  # argv given: no exec


def test_the_warehouse_build_module_imports_without_pandas_pandera_duckdb_or_the_loader() -> None:
    script = (
        "import sys, json; import flows.steps.warehouse, flows.lean_build, flows.build_warehouse; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'pandera', 'duckdb') "
        "or m in ('flows.steps.load', 'flows.steps.validate', 'flows.catalog') or m.startswith('flows.sources'))))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=PROJECT)
    assert json.loads(out.stdout) == []
    arrow = script.replace("('pandas', 'pandera', 'duckdb')", "('pyarrow', 'numpy')")
    out = subprocess.run([sys.executable, "-c", arrow], capture_output=True, text=True, check=True, cwd=PROJECT)
    assert json.loads(out.stdout) == []  # not even Arrow: ~40 MB of the build's peak


def test_the_build_may_leave_the_process_only_when_the_cli_allows_it_on_posix_without_prefect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(orchestration, "plain_call", lambda: True)
    monkeypatch.setattr(orchestration, "prefect_imported", lambda: False)
    assert not lean_build.may_exec()  # no command allowed it (a program, a test, a deployment)
    with lean_build.allowed("ingest", "payerbench ingest tic"):
        assert lean_build.may_exec() == (os.name == "posix")
        monkeypatch.setattr(orchestration, "plain_call", lambda: False)  # a Prefect API or a Prefect run
        assert not lean_build.may_exec()
        monkeypatch.setattr(orchestration, "plain_call", lambda: True)
        monkeypatch.setattr(orchestration, "prefect_imported", lambda: True)  # e.g. a Dask runner's server
        assert not lean_build.may_exec()
        monkeypatch.setattr(orchestration, "prefect_imported", lambda: False)
        monkeypatch.setattr(os, "name", "nt")
        assert not lean_build.may_exec()
    assert lean_build._command is None


def test_main_called_in_process_builds_in_process(warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("main([...]) must not exec")

    monkeypatch.setattr(os, "execve", refuse)
    monkeypatch.setattr(os, "execv", refuse)
    code = cli.main(["ingest", "tic", str(TINY), "--force", "--warehouse", str(warehouse_copy.warehouse_dir)])
    assert code == 0
    assert not list(warehouse_copy.warehouse_dir.glob(f"{lean_build.HANDOVER_PREFIX}*"))


def test_main_without_argv_in_a_process_that_is_not_the_command_builds_in_process(
    warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test or program that sets sys.argv and calls `main()` (as the console script does) keeps its process."""

    def refuse(*args: object) -> None:
        raise AssertionError("main() under a test runner must not exec")

    monkeypatch.setattr(os, "execve", refuse)
    monkeypatch.setattr(os, "execv", refuse)
    monkeypatch.setattr(orchestration, "plain_call", lambda: True)
    monkeypatch.setattr(orchestration, "prefect_imported", lambda: False)
    args = ["ingest", "tic", str(TINY), "--force", "--warehouse", str(warehouse_copy.warehouse_dir)]
    monkeypatch.setattr(sys, "argv", [sys.argv[0], *args])
    assert cli.main() == 0
    assert _run_record(warehouse_copy)["warehouse"]["rebuilt"] is True  # type: ignore[index]


def test_an_exec_that_fails_leaves_the_build_to_this_process(
    warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from flows.ingest import ingest

    monkeypatch.setattr(orchestration, "plain_call", lambda: True)
    monkeypatch.setattr(orchestration, "prefect_imported", lambda: False)
    tried: list[str] = []

    def failing(executable: str, args: list[str], env: dict[str, str]) -> None:
        tried.append(args[-1])
        assert Path(args[-1]).is_file()
        raise OSError("no exec here")

    monkeypatch.setattr(os, "execve", failing)
    monkeypatch.setattr(sys, "path", [*sys.path, PROJECT / "not-text"])  # an entry JSON cannot hold: left out
    with lean_build.allowed("ingest", "payerbench ingest tic"):
        records = ingest("tic", [TINY], warehouse_copy, build=True, force=True)
    assert tried and [r.status for r in records] == ["loaded"]
    assert "could not hand the warehouse build to a new process image" in caplog.text
    assert not Path(tried[0]).exists()  # the handover removed
    assert _run_record(warehouse_copy)["warehouse"]["rebuilt"] is True  # type: ignore[index]


def test_an_interrupt_while_handing_over_leaves_no_handover_and_releases_the_lock(
    warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest
    from flows.steps import lock

    monkeypatch.setattr(orchestration, "plain_call", lambda: True)
    monkeypatch.setattr(orchestration, "prefect_imported", lambda: False)
    held: list[bool] = []

    def interrupted(executable: str, args: list[str], env: dict[str, str]) -> None:
        held.append(os.get_inheritable(lock._handles[str(lock.lock_path(warehouse_copy.warehouse_dir))]))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "execve", interrupted)
    with lean_build.allowed("ingest", "payerbench ingest tic"), pytest.raises(KeyboardInterrupt):
        ingest("tic", [TINY], warehouse_copy, build=True, force=True)
    assert held == [True]
    assert not list(warehouse_copy.warehouse_dir.glob(f"{lean_build.HANDOVER_PREFIX}*"))
    with lock.warehouse_lock(warehouse_copy.warehouse_dir, timeout=0.5):  # released: the next writer gets it
        pass
    assert json.loads(max(warehouse_copy.runs_dir.glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())[
        "error"
    ].startswith("KeyboardInterrupt")


def _ingest(settings: Settings, *files: str, lean: bool, mark: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`ingest tic <files> --force` in a process of its own: `python -m flows` (the lean build) or `main([...])`."""
    start = ["-m", "flows"] if lean else ["-c", IN_PROCESS]
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)
    if mark is not None:
        env[lean_build.PANDAS_FREE_MARK] = str(mark)
    args = ["ingest", "tic", *files, "--force", "--warehouse", str(settings.warehouse_dir), "--raw-dir"]
    return subprocess.run(
        [sys.executable, *start, *args, str(settings.raw_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
        timeout=300,
    )


def _relations(settings: Settings) -> dict[str, int]:
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        names = [
            (schema, name)
            for schema, name in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
                "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1, 2"
            ).fetchall()
        ]
        return {f"{s}.{n}": con.execute(f'SELECT count(*) FROM "{s}"."{n}"').fetchone()[0] for s, n in names}
    finally:
        con.close()


def _run_record(settings: Settings) -> dict[str, object]:
    newest = max(settings.runs_dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
    record = json.loads(newest.read_text(encoding="utf-8"))
    return {k: record[k] for k in ("flow", "status", "error", "files", "warehouse", "problems", "datasets")}


@pytest.mark.skipif(os.name != "posix", reason="the build is exec'd on POSIX only")
def test_python_m_flows_ingest_builds_in_a_lean_image_of_the_same_process_as_an_in_process_build_would(
    bundled_warehouse: Settings, tmp_path: Path
) -> None:
    lean, plain = (
        copy_warehouse(bundled_warehouse, tmp_path / "lean"),
        copy_warehouse(bundled_warehouse, tmp_path / "plain"),
    )
    mark = tmp_path / "mark.json"
    exec_d = _ingest(lean, str(TINY), lean=True, mark=mark)
    in_process = _ingest(plain, str(TINY), lean=False, mark=mark.with_name("unused.json"))
    assert exec_d.returncode == in_process.returncode == 0, exec_d.stderr + in_process.stderr
    seen = json.loads(mark.read_text(encoding="utf-8"))  # written by the lean image, at the end of its build
    assert seen["heavy"] == []  # pandas, pandera, the catalog, the loader: gone with the loading image
    assert not mark.with_name("unused.json").exists()  # main([...]) never execs
    assert exec_d.stdout == in_process.stdout and "uhc-ny_TEST_FILE_excerpt" in exec_d.stdout
    assert exec_d.stderr == in_process.stderr
    assert not list(lean.warehouse_dir.glob(f"{lean_build.HANDOVER_PREFIX}*"))
    assert _relations(lean) == _relations(plain)
    assert _run_record(lean) == _run_record(plain)
    assert _run_record(lean)["warehouse"]["rebuilt"] is True  # type: ignore[index]


@pytest.mark.skipif(os.name != "posix", reason="the build is exec'd on POSIX only")
def test_a_rejected_file_still_exits_1_after_the_lean_build(bundled_warehouse: Settings, tmp_path: Path) -> None:
    bad = fixture("tic__in_network_rate", "html_error_page.json.gz")
    seen = []
    for name, lean in (("lean", True), ("plain", False)):
        settings = copy_warehouse(bundled_warehouse, tmp_path / name)
        mark = tmp_path / f"{name}.json"
        done = _ingest(settings, str(TINY), str(bad), lean=lean, mark=mark)
        assert done.returncode == 1, done.stderr
        assert mark.exists() == lean  # the build ran, in the lean image (or in-process)
        assert "rejected" in done.stdout and "loaded" in done.stdout
        assert _run_record(settings)["warehouse"]["rebuilt"] is True  # type: ignore[index]
        record = _run_record(settings)
        seen.append((done.stdout, done.stderr, {**record, "files": len(record["files"])}))  # type: ignore[arg-type]
    assert seen[0] == seen[1]  # the same table, messages and run record as an in-process build


@pytest.mark.skipif(os.name != "posix", reason="the build is exec'd on POSIX only")
def test_a_failed_lean_build_exits_with_the_message_an_in_process_one_prints(
    bundled_warehouse: Settings, tmp_path: Path
) -> None:
    outputs = []
    for name, lean in (("lean", True), ("plain", False)):
        settings = copy_warehouse(bundled_warehouse, tmp_path / name)
        policy = sorted(p for p in (settings.lake_dir / "payer__policy").iterdir() if p.is_dir())
        shutil.rmtree(policy[0])  # a committed load's Parquet gone: the build refuses (WarehouseCorrupt)
        before = settings.duckdb_path.read_bytes()
        done = _ingest(settings, str(TINY), lean=lean, mark=tmp_path / f"{name}.json")
        assert done.returncode == 1
        assert settings.duckdb_path.read_bytes() == before
        assert not list(settings.warehouse_dir.glob(f"{lean_build.HANDOVER_PREFIX}*"))
        record = json.loads(max(settings.runs_dir.glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())
        assert record["status"] == "failed" and "WarehouseCorrupt" in record["error"]
        outputs.append((done.stdout, done.stderr.replace(str(settings.warehouse_dir), "<warehouse>")))
    assert outputs[0] == outputs[1]
    assert "payerbench ingest: the load log lists 1 committed load(s) whose Parquet files are missing" in outputs[0][1]


def test_the_handover_keeps_the_settings_and_records(settings: Settings) -> None:
    from flows.steps.load_log import LoadRecord, now_utc

    changed = settings.replace(inbox_allow_links_from=(Path("/a"), Path("/b")), lake_url=None, build_threads=3)
    assert lean_build._settings_from_json(json.loads(json.dumps(lean_build._settings_to_json(changed)))) == changed
    record = LoadRecord("l", "r", "tic", "f.json", "raw/tic/f.json", None, 3, now_utc(), datasets=["a"], ended_at=None)
    assert lean_build._record_from_json(json.loads(json.dumps(lean_build._record_to_json(record)))) == record


def test_datasets_made_from_the_catalog_are_what_the_build_reads(settings: Settings) -> None:
    from flows import catalog

    made = warehouse.datasets_of(catalog.SCHEMAS)
    assert list(made) == list(catalog.SCHEMAS) and warehouse.datasets_of(made) is made
    assert made.fingerprint == warehouse.datasets_of(catalog.SCHEMAS).fingerprint
    files = made.empty_files(settings, "k" * 40)
    assert set(files) == {*catalog.SCHEMAS, "load_log", "quarantine", "advisory"}
    assert all(f.exists() for f in files.values())


def test_the_names_the_lean_modules_spell_are_the_stores() -> None:
    """flows/steps/warehouse.py and load_log.py name the lake's folders without importing store.py (Arrow)."""
    from flows.steps import load_log, store

    assert warehouse.FINDINGS == {"quarantine": store.QUARANTINE, "advisory": store.ADVISORY}
    assert load_log.LOAD_LOG == store.LOAD_LOG


def test_a_handover_left_by_a_killed_process_is_removed_by_the_next_writer(settings: Settings) -> None:
    from flows.steps import leftovers

    settings.warehouse_dir.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = settings.warehouse_dir / f"{lean_build.HANDOVER_PREFIX}{int(dead.stdout)}"
    left.write_text("{}", encoding="utf-8")
    leftovers.recover(settings.warehouse_dir)
    assert not left.exists()


@pytest.mark.skipif(os.name != "posix", reason="the build is exec'd on POSIX only")
def test_the_lean_image_imports_this_flows_not_one_in_the_working_folder(
    warehouse_copy: Settings, tmp_path: Path
) -> None:
    """The console script never looks in the working folder; `-m` in the new image would put it first, and a project's
    own `flows` package there (a Prefect project's) would be imported instead: no flows.lean_build, no build."""
    elsewhere = tmp_path / "project"
    (elsewhere / "flows").mkdir(parents=True)
    (elsewhere / "flows" / "__init__.py").write_text('raise ImportError("a project of its own")\n')
    script = tmp_path / "payerbench"  # as the console script: its folder first on sys.path, then where flows is
    script.write_text(
        f"import sys; sys.path.insert(1, {str(PROJECT)!r}); from flows.cli import main; sys.exit(main())\n"
    )
    mark = tmp_path / "mark.json"
    env = {**os.environ, "COLUMNS": "200", lean_build.PANDAS_FREE_MARK: str(mark)}
    env.pop("PREFECT_API_URL", None)
    env.pop("PYTHONPATH", None)
    settings = warehouse_copy
    args = ["ingest", "tic", str(TINY), "--force", "--warehouse", str(settings.warehouse_dir), "--raw-dir"]
    done = subprocess.run(
        [sys.executable, str(script), *args, str(settings.raw_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=elsewhere,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(mark.read_text(encoding="utf-8"))["heavy"] == []  # built in the lean image
    assert not list(settings.warehouse_dir.glob(f"{lean_build.HANDOVER_PREFIX}*"))
    assert _run_record(settings)["warehouse"]["rebuilt"] is True  # type: ignore[index]


def test_an_interrupt_before_the_lean_build_starts_exits_130_and_removes_the_handover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(data: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lean_build, "_settings_from_json", interrupted)
    handover = tmp_path / f"{lean_build.HANDOVER_PREFIX}1"
    handover.write_text(json.dumps({"command": {"command": "ingest", "title": "t"}, "settings": {}}))
    try:
        code = lean_build.main([str(handover)])
    except KeyboardInterrupt:  # (not let through to pytest, which would stop the session)
        pytest.fail("the interrupt escaped the lean image's main: a traceback and exit 1, not 130")
    assert code == 130
    assert not handover.exists()


def test_what_the_loading_image_wrote_reaches_its_destination_before_the_exec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`exec_build` flushes stdout, stderr and the log handlers: an exec discards whatever a buffer still holds."""
    import io
    import logging
    import logging.handlers

    files = {name: tmp_path / name for name in ("out", "err", "log")}
    streams = {name: io.TextIOWrapper(open(path, "wb"), encoding="utf-8") for name, path in files.items()}  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", streams["out"])
    monkeypatch.setattr(sys, "stderr", streams["err"])
    handler = logging.handlers.MemoryHandler(100, logging.CRITICAL, logging.StreamHandler(streams["log"]))  # buffers
    logger = logging.getLogger("payerbench.test_lean_build")
    logger.addHandler(handler)
    try:
        print("a line", file=sys.stdout, end="")
        print("a message", file=sys.stderr, end="")
        logger.warning("a warning")
        assert all(path.read_bytes() == b"" for path in files.values())  # still buffered
        lean_build._flush()
        assert [files[n].read_text() for n in ("out", "err")] == ["a line", "a message"]
        assert files["log"].read_text() == "a warning\n"
    finally:
        logger.removeHandler(handler)
        handler.close()
        for stream in streams.values():
            stream.close()
