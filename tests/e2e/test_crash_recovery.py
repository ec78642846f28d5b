"""`kill -9` at random moments of loads, TiC scans and builds: nothing lost, duplicated or left behind.

After every kill the DuckDB file opens read-only and the writer lock is free within a second; after
the kills, one run to the end: the load log reconciles, every committed load has its Parquet parts,
no file is committed twice, the rows equal a clean run's, nothing a killed run left remains, and
every killed run is recorded as crashed and listed by `status`. A longer soak of the same kind is
benchmarks/soak_kill.py. A CLI run without a Prefect API starts no Prefect server; the temporary one
Prefect starts where it is needed (a Dask task runner) dies with a killed process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil  # installed with Prefect's dask and ipykernel dependencies
import pytest

from flows.ops import status
from flows.settings import PROJECT_DIR, Settings
from tests.conftest import BUNDLED_RAW, fixture
from tests.crashes import Forker, damage, dataset_rows, generate_tic, kill_at_random, run_records

KILLS = 8
SEED = 12


@pytest.fixture
def raw(settings: Settings, tmp_path: Path) -> Settings:
    """Reference tables, two policy files and two synthetic TiC files of ~12 MB (a scan takes a while)."""
    policies = settings.raw_dir / "payer_policy"
    policies.mkdir()
    shutil.copy(BUNDLED_RAW / "payer_policy" / "payer_policies_0440T-0442T.csv", policies)
    shutil.copy(fixture("payer__policy", "invalid_code.csv"), policies)
    for seed in (1, 2):
        generate_tic(settings.raw_dir / "tic" / f"in_network_{seed}.json", 8, seed)
    return settings


def cli_env() -> dict[str, str]:
    """A terminal's environment: no Prefect API configured, so flows run as plain calls."""
    return {
        **{k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"},
        "PYTHONPATH": str(PROJECT_DIR),
        "CI": "true",
    }


@pytest.mark.slow
def test_random_kills_lose_duplicate_and_leave_nothing(raw: Settings, tmp_path: Path) -> None:
    where = ["--warehouse", str(raw.warehouse_dir), "--raw-dir", str(raw.raw_dir)]
    tic = [str(p) for p in sorted((raw.raw_dir / "tic").glob("*.json"))]
    commands = [["run", "--no-report", *where], ["ingest", "tic", *tic, *where], ["build", *where]]
    forker = Forker(cli_env(), tmp_path / "cli.log")
    try:
        soak = kill_at_random(forker, raw, commands, KILLS, SEED, max_delay=1.5)
        assert forker.run(["run", "--no-report", *where]) == 0, (tmp_path / "cli.log").read_text()[-3000:]
        clean = raw.replace(warehouse_dir=tmp_path / "clean")
        assert (
            forker.run(["run", "--no-report", "--warehouse", str(clean.warehouse_dir), "--raw-dir", str(raw.raw_dir)])
            == 0
        )
    finally:
        forker.close()

    assert soak.kills >= KILLS // 2, soak  # most kills landed while the process was working
    assert (soak.stale_locks, soak.unreadable) == (0, 0)
    assert damage(raw) == {k: [] for k in damage(raw)}
    assert dataset_rows(raw) == dataset_rows(clean) and dataset_rows(raw)["tic__in_network_rate"] > 0
    records = run_records(raw)
    flows = [pid for pid, command in soak.killed.items() if command != "build"]  # `build` runs no flow, no record
    statuses = {pid: records[pid]["status"] for pid in flows}
    # a kill that lands after the run published its record, in the last milliseconds before the process exits,
    # leaves a finished run ("ok"): what must never be is a record left "started" or anything else
    assert flows and set(statuses.values()) <= {"crashed", "ok"}, statuses
    crashed = [pid for pid, s in statuses.items() if s == "crashed"]
    assert len(crashed) >= len(flows) // 2, statuses  # most kills land mid-run
    listed = {r["run_id"] for r in status.collect(raw).crashed_runs}
    assert {records[pid]["run_id"] for pid in crashed} <= listed


def test_a_cli_run_without_a_prefect_api_starts_no_server(settings: Settings, tmp_path: Path) -> None:
    env = {**cli_env(), "PREFECT_HOME": str(tmp_path / "prefect")}  # its database, were one made: not the user's
    policy = BUNDLED_RAW / "payer_policy" / "payer_policies_0440T-0442T.csv"
    command = [sys.executable, "-m", "flows", "ingest", "payer_policy", str(policy)]
    command += ["--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)]
    proc = subprocess.Popen(command, env=env, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(proc.pid)
    servers: list[list[str]] = []
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            servers += [c.cmdline()[:4] for c in parent.children(recursive=True) if "uvicorn" in c.cmdline()]
        time.sleep(0.05)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    assert servers == []
    assert run_records(settings) and all(r["status"] == "ok" for r in run_records(settings).values())


WITH_A_PREFECT_SERVER = """
import sys, time
from flows.ops import local_server
from prefect.client.orchestration import get_client
with local_server.dies_with_this_process():
    with get_client(sync_client=True) as client:  # no API configured: Prefect starts its temporary server
        client.hello()
    print("ready", flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
def test_the_temporary_prefect_server_dies_with_a_killed_process(tmp_path: Path) -> None:
    # Prefect waits 20 s for its temporary server by default; a loaded 2-core machine took longer
    env = {
        **cli_env(),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", WITH_A_PREFECT_SERVER], env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True
    )
    children: list[psutil.Process] = []
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("uvicorn" in c.cmdline() for c in children), "no temporary server was started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], [c.cmdline()[:4] for c in alive]
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            proc.kill()
