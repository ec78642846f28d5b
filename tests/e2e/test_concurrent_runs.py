"""Two runs started at once, in two processes: one waits for the other; the warehouse stays whole.

A third process holds the writer lock while both runs start, so both are certain to meet it (a
race left to chance would usually let one finish before the other starts); a third run with a
short PAYERBENCH_LOCK_TIMEOUT gives up with the clear message and exit code 3. Then the lock is
released and the two runs go one after the other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from flows import cli
from flows.settings import Settings
from flows.steps import load_log
from tests.conftest import BUNDLED_RAW, fixture

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from flows.steps.lock import warehouse_lock
    with warehouse_lock(Path(sys.argv[1]), timeout=5):
        print("held", flush=True)
        sys.stdin.readline()  # until the test says go
""")


def start_run(settings: Settings, log: Path, timeout: float) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"},
        "PAYERBENCH_LOCK_TIMEOUT": str(timeout),
        "CI": "true",
    }  # no Prefect API: each run is a plain process, as `payerbench run` from a terminal
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows",
            "run",
            "--no-report",
            "--warehouse",
            str(settings.warehouse_dir),
            "--raw-dir",
            str(settings.raw_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_two_runs_at_once_load_each_file_once(settings: Settings, tmp_path: Path) -> None:
    policies = settings.raw_dir / "payer_policy"
    policies.mkdir()
    shutil.copy(BUNDLED_RAW / "payer_policy" / "payer_policies_0440T-0442T.csv", policies)
    shutil.copy(fixture("payer__policy", "invalid_code.csv"), policies)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.warehouse_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    logs = [tmp_path / "first.log", tmp_path / "second.log", tmp_path / "impatient.log"]
    runs: list[subprocess.Popen] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        runs = [start_run(settings, logs[0], 300), start_run(settings, logs[1], 300), start_run(settings, logs[2], 1)]
        assert runs[2].wait(timeout=180) == cli.EXIT_BUSY
        impatient = logs[2].read_text()
        assert f"is being written by another process (pid {holder.pid} on" in impatient
        assert "set PAYERBENCH_LOCK_TIMEOUT to wait longer" in impatient
        # both patient runs reach the lock and wait
        assert wait_for(
            lambda: all("waiting up to 300 s for the warehouse" in log.read_text() for log in logs[:2]), 180
        )
    finally:
        holder.communicate("go\n", timeout=30)
    codes = [run.wait(timeout=300) for run in runs[:2]]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs[:2]]

    log = load_log.read(settings.lake_dir)
    committed = log[log["status"].isin(load_log.COMMITTED)]
    assert committed["source_sha256"].is_unique  # every file loaded exactly once
    reference = len(list((settings.raw_dir / "reference").glob("*.csv")))
    assert len(committed) == reference + 2  # every reference table and two policy extracts, each once
    assert len(log) == 2 * len(committed)  # the later run saw each file and left it alone
    by_run = log.groupby("run_id")["status"].agg(set).tolist()
    assert sorted(map(sorted, by_run)) == [["loaded", "loaded_with_quarantine"], ["unchanged"]]
    assert (log["rows_read"] == log["rows_loaded"] + log["rows_quarantined"]).all()
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        rows = con.execute("select count(*) from payer__policy").fetchone()[0]
    finally:
        con.close()
    assert rows == committed.loc[committed["source"] == "payer_policy", "rows_loaded"].sum() > 0
