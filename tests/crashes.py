"""Kill writers with SIGKILL at random moments, then check the warehouse lost, duplicated and kept nothing.

Shared by tests/e2e/test_crash_recovery.py (a few kills) and benchmarks/soak_kill.py (many).

Each writer is a real process running the CLI (`payerbench run / ingest / build`, the code path of
`python -m flows`). Starting Python and importing Prefect, pandas and DuckDB takes 2-9 s on a busy
2-core machine, which would leave no room for ten kills in a test, so the processes are forked from
one interpreter that imported everything once (`Forker`): each is still its own process, killed with
SIGKILL, holding its own lock, files and run record. A kill waits until the process holds the
writer lock (its work has begun), then a seeded random delay.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from flows.settings import PROJECT_DIR, Settings
from flows.steps import leftovers, load_log, store
from flows.steps.lock import lock_path

FORKER = textwrap.dedent("""
    import json, os, signal, sys
    from flows import cli
    import flows.catalog, flows.ingest, flows.run_pipeline, flows.ops.status, flows.steps.warehouse  # noqa: F401
    print("ready", flush=True)
    for line in sys.stdin:
        order = json.loads(line)
        if "wait" in order:
            _, status = os.waitpid(order["wait"], 0)
            print(os.waitstatus_to_exitcode(status), flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            out = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(out, 1)
            os.dup2(out, 2)
            code = 70
            try:
                code = cli.main(order["argv"])
            finally:
                sys.stdout.flush()
                os._exit(code if isinstance(code, int) else 1)
        print(pid, flush=True)
""")


class Forker:
    """One interpreter with the pipeline imported; forks a CLI process per command."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PROJECT_DIR,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def start(self, argv: list[str]) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"argv": argv, "log": str(self.log)}) + "\n")
        self.proc.stdin.flush()
        return int(self._read())

    def wait(self, pid: int) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"wait": pid}) + "\n")
        self.proc.stdin.flush()
        return int(self._read())

    def run(self, argv: list[str]) -> int:
        return self.wait(self.start(argv))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def generate_tic(out: Path, size_mb: float, seed: int) -> Path:
    """A synthetic TiC in-network file (benchmarks/tic_generate.py) with its provider_references to spill."""
    spec = importlib.util.spec_from_file_location("tic_generate", PROJECT_DIR / "benchmarks" / "tic_generate.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    out.parent.mkdir(parents=True, exist_ok=True)
    module.generate(out, size_mb, seed, "before", big_item_mb=1)
    out.with_name(out.name + ".truth.json").unlink(missing_ok=True)
    return out


def lock_holder(settings: Settings) -> int | None:
    try:
        return int(json.loads(lock_path(settings.warehouse_dir).read_text() or "{}")["pid"])
    except (OSError, ValueError, KeyError):
        return None


def lock_free_within(settings: Settings, seconds: float) -> bool:
    """The writer lock can be taken (by flock, as a writer would, without running its recovery)."""
    deadline = time.monotonic() + seconds
    with lock_path(settings.warehouse_dir).open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)


def opens_read_only(settings: Settings) -> bool:
    """The analysts' DuckDB file (when there is one) opens read-only and answers."""
    if not settings.duckdb_path.exists():
        return True
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return con.execute("select count(*) from catalog").fetchone()[0] > 0
    finally:
        con.close()


@dataclass
class Soak:
    kills: int = 0
    stale_locks: int = 0
    unreadable: int = 0
    killed: dict[int, str] = field(default_factory=dict)  # pid -> command, of those killed while working
    commands: Counter = field(default_factory=Counter)


def kill_at_random(
    forker: Forker,
    settings: Settings,
    commands: list[list[str]],
    kills: int,
    seed: int,
    max_delay: float,
    hold_timeout: float = 120.0,
) -> Soak:
    """Start each command in turn, kill it `max_delay` s at most after it takes the writer lock; `kills` times."""
    rng = random.Random(seed)
    soak = Soak()
    for i in range(kills):
        argv = commands[i % len(commands)]
        pid = forker.start(argv)
        deadline = time.monotonic() + hold_timeout
        while lock_holder(settings) != pid and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, max_delay))
        os.kill(pid, signal.SIGKILL)
        code = forker.wait(pid)
        if code == -signal.SIGKILL:  # it had not finished on its own
            soak.kills += 1
            soak.killed[pid] = argv[0] + (f" {argv[1]}" if argv[0] == "ingest" else "")
            soak.commands[soak.killed[pid]] += 1
        soak.stale_locks += not lock_free_within(settings, 1.0)
        soak.unreadable += not opens_read_only(settings)
    return soak


def dataset_rows(settings: Settings) -> dict[str, int]:
    """Rows per dataset over the committed loads (what the warehouse views show)."""
    log = load_log.read(settings.lake_dir)
    rows: Counter = Counter()
    for r in log[log["status"].isin(load_log.COMMITTED)].itertuples():
        for dataset in r.datasets:
            rows[dataset] += sum(
                pq.read_metadata(p).num_rows for p in (settings.lake_dir / dataset / r.load_id).glob("*.parquet")
            )
    return dict(rows)


def damage(settings: Settings) -> dict[str, list[str]]:
    """Everything a crash may have broken, as lists that are empty when nothing did."""
    log = load_log.read(settings.lake_dir)
    done = log[log["status"].isin(load_log.COMMITTED)]
    per_file = Counter(zip(done["source"], done["source_sha256"]))
    missing = [
        r.load_id
        for r in done.itertuples()
        if r.rows_loaded and not all(any((settings.lake_dir / d / r.load_id).glob("*.parquet")) for d in r.datasets)
    ]
    committed = set(done["load_id"])
    left = [
        str(p)
        for p in settings.warehouse_dir.rglob("*")
        if leftovers.TEMPORARY.match(p.name) or p.match(leftovers.SPILL_GLOB)
    ]
    left += [str(p) for p in store.orphans(settings.lake_dir, committed)]
    return {
        "duplicate load ids": [k for k, n in Counter(log["load_id"]).items() if n > 1],
        "files committed twice": [f"{s}:{sha[:12]}" for (s, sha), n in per_file.items() if n > 1],
        "committed loads without their parts": missing,
        "unreconciled loads": [
            r.load_id for r in log.itertuples() if r.rows_read != r.rows_loaded + r.rows_quarantined
        ],
        "leftovers": left,
    }


def run_records(settings: Settings) -> dict[int, dict[str, object]]:
    """Run records by pid."""
    return {
        int(r["pid"]): r for r in (json.loads(p.read_text()) for p in settings.runs_dir.glob("*.json")) if "pid" in r
    }
