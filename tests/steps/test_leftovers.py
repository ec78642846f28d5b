"""What a killed writer leaves is removed by the next one as it takes the lock; committed data stays."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import pytest

from flows.ingest import ingest
from flows.settings import Settings
from flows.steps import leftovers, load_log
from flows.steps.lock import warehouse_lock
from tests.conftest import fixture


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def loaded(settings: Settings) -> Settings:
    """One committed policy load and a built warehouse."""
    [record] = ingest("payer_policies", [fixture("payer__policy", "valid_minimal.csv")], settings, build=True)
    assert record.status == "loaded"
    return settings


def test_the_next_writer_removes_what_a_killed_build_load_and_tic_scan_left(
    loaded: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    wh, lake, pid = loaded.warehouse_dir, loaded.lake_dir, dead_pid()
    left = {
        wh / f".payerbench.duckdb.tmp-{pid}": 4096,
        wh / f".payerbench.duckdb.tmp-{pid}.wal": 100,
        wh / f".build_state.json.tmp-{pid}": 10,
        wh / "tic-provider-refs-k2j3h4.json": 250_000,  # a killed TiC scan's spill
        lake / "_load_log" / f".20261101T000000Z-abc-123.parquet.tmp-{pid}": 50,
        lake / ".staging" / "20261101T000000Z-abc-123" / "payer__policy" / f".part-00000.parquet.tmp-{pid}": 70,
        lake / "payer__policy" / "20261101T000000Z-abc-456" / "part-00000.parquet": 300,  # renamed, never logged
        loaded.runs_dir / f".20261101T000000Z-abc.json.tmp-{pid}": 20,
    }
    for path, size in left.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    live = loaded.runs_dir / f".20261101T000000Z-def.json.tmp-{os.getppid()}"  # a live run publishing its record
    live.write_text("{}")
    committed = set(load_log.read(lake)["load_id"])
    before = {p for p in lake.rglob("*.parquet") if p.parent.name in committed}
    assert before

    with caplog.at_level(logging.WARNING, logger="flows.steps.leftovers"), warehouse_lock(wh, timeout=1):
        pass

    assert [p for p in left if p.exists()] == []
    assert live.exists()  # its writer is alive: not ours to delete
    assert {p for p in lake.rglob("*.parquet") if p.parent.name in committed} == before  # committed data untouched
    [line] = [r.getMessage() for r in caplog.records if r.name == "flows.steps.leftovers"]
    assert f"removed {len(left)} leftover(s) of a killed run" in line  # the staged part goes with its folder
    assert f"{sum(left.values()):,} bytes" in line


def test_a_started_run_whose_process_is_gone_is_marked_crashed_by_the_next_writer(settings: Settings) -> None:
    runs = settings.runs_dir
    runs.mkdir(parents=True)
    host = socket.gethostname()
    records = {
        "dead": {"pid": dead_pid(), "host": host},
        "alive": {"pid": os.getpid(), "host": host, "pid_started": leftovers.this_process()["pid_started"]},
        "reused": {"pid": os.getpid(), "host": host, "pid_started": 1},  # same pid, another process now
        "elsewhere": {"pid": dead_pid(), "host": "another-host"},  # cannot be judged from here
    }
    for name, proc in records.items():
        (runs / f"{name}.json").write_text(
            json.dumps(
                {
                    "run_id": name,
                    "flow": "ingest_source",
                    "status": "started",
                    "started_at": "2026-11-01T00:00:00+00:00",
                    **proc,
                }
            )
        )
    with warehouse_lock(settings.warehouse_dir, timeout=1):
        pass
    status = {name: json.loads((runs / f"{name}.json").read_text())["status"] for name in records}
    assert status == {"dead": "crashed", "alive": "started", "reused": "crashed", "elsewhere": "started"}
    dead = json.loads((runs / "dead.json").read_text())
    assert dead["crash_noticed_at"] and f"pid {records['dead']['pid']} on {host} is gone" in dead["error"]
    assert dead["problems"] == [dead["error"]] and dead["started_at"] == "2026-11-01T00:00:00+00:00"


def test_an_unreadable_load_log_removes_no_load_folder(settings: Settings) -> None:
    orphan = settings.lake_dir / "payer__policy" / "20261101T000000Z-abc-456"
    orphan.mkdir(parents=True)
    (orphan / "part-00000.parquet").write_bytes(b"x")
    (settings.lake_dir / "_load_log").mkdir()
    (settings.lake_dir / "_load_log" / "broken.parquet").write_bytes(b"not parquet")
    found = leftovers.recover(settings.warehouse_dir)
    assert orphan.exists() and found.removed == []
