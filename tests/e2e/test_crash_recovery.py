"""`kill -9` at random moments of loads, TiC scans and builds: nothing lost, duplicated or left behind.

After every kill the DuckDB file opens read-only and the writer lock is free within a second; after
the kills, one run to the end: the load log reconciles, every committed load has its Parquet parts,
no file is committed twice, the rows equal a clean run's, nothing a killed run left remains, and
every killed run is recorded as crashed and listed by `status`. A longer soak of the same kind is
benchmarks/soak_kill.py. The temporary Prefect server of a killed `python -m flows` dies with it.
"""

from __future__ import annotations

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
    from prefect.settings import PREFECT_API_URL

    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_DIR),
        "CI": "true",
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }  # the test session's Prefect server


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
    assert flows and {pid: records[pid]["status"] for pid in flows} == dict.fromkeys(flows, "crashed")
    listed = {r["run_id"] for r in status.collect(raw).crashed_runs}
    assert {records[pid]["run_id"] for pid in flows} <= listed


def test_the_temporary_prefect_server_dies_with_a_killed_run(settings: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env().items() if k != "PREFECT_API_URL"}  # no server: Prefect starts its own
    env["PREFECT_HOME"] = str(tmp_path / "prefect")  # its database, not the user's
    policy = BUNDLED_RAW / "payer_policy" / "payer_policies_0440T-0442T.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows",
            "ingest",
            "payer_policy",
            str(policy),
            "--warehouse",
            str(settings.warehouse_dir),
            "--raw-dir",
            str(settings.raw_dir),
        ],
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    while proc.poll() is None and time.monotonic() < deadline:
        children = parent.children(recursive=True)
        if any("uvicorn" in c.cmdline() for c in children):
            break
        time.sleep(0.05)
    try:
        assert any("uvicorn" in c.cmdline() for c in children), "the run started no temporary server"
        time.sleep(0.5)  # the run is waiting for the server to answer (its watchdog starts right after it)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], [c.cmdline()[:4] for c in alive]
    finally:
        for child in children:
            if child.is_running():
                child.kill()
