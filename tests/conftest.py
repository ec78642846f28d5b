"""Shared fixtures: isolated settings per test, Prefect's test harness once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from flows.settings import PROJECT_DIR, Settings  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLED_RAW = PROJECT_DIR / "raw"
# Full real public files (CMS, payers, validators) live outside the repo; tests that need the
# whole files read them from here and are skipped, saying so, where they are not present.
REAL_SAMPLES = Path(os.environ.get("PAYERBENCH_REAL_SAMPLES", PROJECT_DIR.parent / "shared" / "real-samples"))


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    """One temporary Prefect API for the whole session (flows run without a configured server).

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
def bundled_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One run over a copy of the whole bundled raw/ folder, shared read-only by the mart and report tests."""
    from flows.run_pipeline import run_pipeline

    root = tmp_path_factory.mktemp("bundled")
    shutil.copytree(BUNDLED_RAW, root / "raw")
    settings = Settings(
        raw_dir=root / "raw", warehouse_dir=root / "warehouse", reports_dir=root / "reports", render_reports=False
    )
    summary = run_pipeline(settings)
    assert summary.ok, [r.error for r in summary.records]
    return settings


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
