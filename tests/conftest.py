"""Shared fixtures: isolated settings per test, Prefect's test harness once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from flows.settings import PROJECT_DIR, Settings  # noqa: E402
from flows.steps.lock import LOCK_NAME  # noqa: E402

FOLDERS = ("raw_dir", "warehouse_dir", "reports_dir", "inbox_dir")

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLED_RAW = PROJECT_DIR / "raw"
# Full real public files (CMS, payers, validators) live outside the repo; tests that need the
# whole files read them from here and are skipped, saying so, where they are not present.
REAL_SAMPLES = Path(os.environ.get("PAYERBENCH_REAL_SAMPLES", PROJECT_DIR.parent / "shared" / "real-samples"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with the most `slow` tests first, the rest in their usual order: `make test` hands whole modules
    to its two workers (--dist loadfile) in this order, so the long ones start early and the workers finish
    together instead of one running a 40-second module while the other waits."""
    slow: dict[str, int] = {}
    for item in items:
        slow.setdefault(item.nodeid.split("::")[0], 0)
        if item.get_closest_marker("slow"):
            slow[item.nodeid.split("::")[0]] += 1
    rank = {module: (-count, i) for i, (module, count) in enumerate(slow.items())}
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session", autouse=True)
def no_retry_waits() -> Iterator[None]:
    """Fetch retries (stamina) retry as configured but without their backoff waits: a test of a 503 takes
    milliseconds, not the seconds a polite client waits. Retry-After waits go through each fetcher's own
    injectable sleep (tests/fetch/test_http.py)."""
    import stamina

    stamina.set_testing(True, attempts=5, cap=True)
    yield
    stamina.set_testing(False)


@pytest.fixture(scope="session", autouse=True)
def no_prefect_api():
    """No Prefect API for the session, whatever the machine's Prefect profile says: flows run as plain calls."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: None}):
        yield


@pytest.fixture(scope="session")
def prefect_harness(no_prefect_api: None):
    """A temporary Prefect API for the tests that need Prefect itself (artifacts, a Dask task runner),
    started at most once per session (per xdist worker) and configured only while such a test runs;
    every other test calls the flows with no API configured (`plain_flows_unless_prefect`), so they run
    as plain calls (flows/orchestration.py), as a program or notebook would.

    Flow-run heartbeats are off: they serve a server's crashed-run detection, which tests do not
    use, and each flow run's exit waits up to a second for the heartbeat thread (about 10 s per
    pipeline run of 15 flows).
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture(autouse=True)
def plain_flows_unless_prefect(request: pytest.FixtureRequest) -> Iterator[None]:
    """No Prefect API during a test that does not ask for `prefect_harness`, even after one started it."""
    if "prefect_harness" in request.fixturenames:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: None}):
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose raw folder holds copies of the bundled reference tables and nothing else."""
    raw = tmp_path / "raw"
    shutil.copytree(BUNDLED_RAW / "reference", raw / "reference")
    return Settings(
        raw_dir=raw,
        warehouse_dir=tmp_path / "warehouse",
        reports_dir=tmp_path / "reports",
        chunk_rows=1000,
        render_reports=False,
        inbox_dir=tmp_path / "inbox",
    )


@pytest.fixture
def bundled_settings(tmp_path: Path) -> Settings:
    """Settings over a copy of the whole bundled raw/ folder, with a fresh warehouse."""
    raw = tmp_path / "raw"
    shutil.copytree(BUNDLED_RAW, raw)
    return Settings(
        raw_dir=raw,
        warehouse_dir=tmp_path / "warehouse",
        reports_dir=tmp_path / "reports",
        render_reports=False,
        inbox_dir=tmp_path / "inbox",
    )  # the report tests render explicitly


@pytest.fixture(scope="session")
def bundled_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One run over a copy of the whole bundled raw/ folder, shared read-only by every test that only reads it.

    A test that changes the warehouse or raw/ takes `warehouse_copy` (or is marked `writes_warehouse`
    where its module's fixture hands it the run): a test that writes here without saying so fails
    the session at the end, naming what changed.
    """
    from flows.run_pipeline import run_pipeline

    root = tmp_path_factory.mktemp("bundled")
    shutil.copytree(BUNDLED_RAW, root / "raw")
    settings = _settings_under(root)
    summary = run_pipeline(settings)
    assert summary.ok, [r.error for r in summary.records]
    before = _tree_state(settings.raw_dir, settings.warehouse_dir)
    yield settings
    after = _tree_state(settings.raw_dir, settings.warehouse_dir)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a test wrote to the shared bundled warehouse (use warehouse_copy): {changed[:10]}"


def _settings_under(root: Path) -> Settings:
    return Settings(
        raw_dir=root / "raw",
        warehouse_dir=root / "warehouse",
        reports_dir=root / "reports",
        inbox_dir=root / "inbox",
        render_reports=False,
    )


def _tree_state(*folders: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under the folders: what a write would change."""
    return {
        str(path): (stat.st_size, stat.st_mtime_ns)
        for folder in folders
        for path in folder.rglob("*")
        if path.is_file() and path.name != LOCK_NAME
        for stat in [path.stat()]
    }


_COPIES_CHECKED: set[Path] = set()


def copy_warehouse(source: Settings, root: Path) -> Settings:
    """A copy of `source`'s raw/ and warehouse (lake, load log, run records, DuckDB file) under `root`.

    The DuckDB views name the lake by its absolute path, so the copy is rebuilt once (about a second,
    against some ten for a pipeline run) to read its own lake; after that it is what a pipeline run
    over a copy of raw/ would have left: a second run finds every file unchanged.
    """
    from flows import catalog
    from flows.steps import warehouse

    shutil.copytree(source.raw_dir, root / "raw", symlinks=True)
    shutil.copytree(source.warehouse_dir, root / "warehouse", symlinks=True, ignore=shutil.ignore_patterns(LOCK_NAME))
    settings = replace(source, **{f: getattr(_settings_under(root), f) for f in FOLDERS})
    result = warehouse.build(settings, catalog.SCHEMAS)
    assert result.rebuilt
    if source.warehouse_dir in _COPIES_CHECKED:  # the copy mechanism is checked once per source and worker
        return settings
    _COPIES_CHECKED.add(source.warehouse_dir)
    lake = str(source.lake_dir).replace("'", "''")
    assert query(settings, f"select count(*) from duckdb_views() where sql like '%{lake}/%'") == [(0,)]
    assert not warehouse.plan(
        settings, catalog.SCHEMAS
    ).needed  # a run over the copy rebuilds only what its own loads feed
    same = "select (select count(*) from load_log), (select count(*) from coverage_matrix), (select count(*) from medicare_rate)"
    assert query(settings, same) == query(source, same)
    return settings


@pytest.fixture
def warehouse_copy(bundled_warehouse: Settings, tmp_path: Path) -> Settings:
    """The session's bundled run, copied for a test that changes it (not a rerun: see `copy_warehouse`)."""
    return copy_warehouse(bundled_warehouse, tmp_path)


@pytest.fixture
def bundled_run(request: pytest.FixtureRequest, bundled_warehouse: Settings, tmp_path: Path) -> Settings:
    """The session's bundled run for a test that only reads it; a copy of its own for one marked `writes_warehouse`."""
    if request.node.get_closest_marker("writes_warehouse"):
        return copy_warehouse(bundled_warehouse, tmp_path)
    return bundled_warehouse


def fixture(dataset: str, name: str) -> Path:
    """Path of a defect fixture: tests/fixtures/<dataset>/<name>."""
    path = FIXTURES / dataset / name
    assert path.exists(), path
    return path


@pytest.fixture(scope="session")
def real_samples() -> Path:
    """The folder of full real sample files, or a skip when this machine does not have it."""
    if not REAL_SAMPLES.is_dir():
        pytest.skip(f"full real sample files not found at {REAL_SAMPLES} (set PAYERBENCH_REAL_SAMPLES)")
    return REAL_SAMPLES


def query(settings: Settings, sql: str) -> list[tuple]:
    """Rows of one read-only query against the settings' DuckDB file."""
    import duckdb

    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
