"""What a killed writer leaves behind, removed (and its run recorded as crashed) by the next writer.

A run killed with SIGKILL (the OOM killer, a reboot, `kill -9`) runs no cleanup code. It can leave:
- `.<name>.tmp-<pid>` files from every write-then-rename: the DuckDB rebuild (and DuckDB's `.wal`
  beside it), `.build_state.json`, Parquet parts and load-log rows (`store.write_table_atomic`),
  run records;
- `tic-provider-refs-*` files, a TiC scan's spilled provider_references (tens of MB), in the
  warehouse folder;
- `lake/.staging/<load_id>/` of a load that had not committed, and a load folder already renamed
  into the lake whose load-log row (the commit) was never written;
- its run record, still saying `started`.

`recover` runs when a process first takes the writer lock (see `lock.warehouse_lock`), so before
it changes anything. What it may delete: the warehouse folder and the lake are written only by the
lock holder (readers write nothing there), so a temporary file there is a dead writer's whatever
pid it names (a pid may have been reused by now); only this process's own are kept. Run records
are also written outside the lock (a run publishes its record after releasing it), so a temporary
file there goes only once its pid is gone. A load folder is removed only when the load log has no
committed row for it (the same rule as `store.sweep_orphans`); committed data is never touched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)(\.wal)?$")  # write_table_atomic, the DuckDB rebuild, run records
SPILL_GLOB = "tic-provider-refs-*"  # flows/engines/tic_scan.py's NamedTemporaryFile prefix
STARTED, CRASHED = "started", "crashed"


# --- processes -----------------------------------------------------------------------------------------
def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot, Linux), to tell a reused pid apart; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def this_process() -> dict[str, object]:
    """pid, host and start time of the calling process (what a run record carries to be judged later)."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "pid_started": _start_ticks(pid)}


def process_alive(pid: int, host: str | None = None, pid_started: int | None = None) -> bool | None:
    """Whether the process is still running: None when it ran on another host (it cannot be told from here)."""
    if host is not None and host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, someone else's
    if _zombie(pid):
        return False
    return pid_started is None or _start_ticks(pid) in (None, pid_started)


def run_alive(run: dict[str, object]) -> bool | None:
    """Whether the process of a `started` run record is still running (None: unknown, another host or
    a record without a pid)."""
    pid = run.get("pid")
    if not isinstance(pid, int):
        return None
    started = run.get("pid_started")
    return process_alive(pid, run.get("host"), started if isinstance(started, int) else None)  # type: ignore[arg-type]


# --- what a dead writer left ---------------------------------------------------------------------------
@dataclass
class Recovery:
    """What `recover` removed and which runs it found dead."""

    removed: list[tuple[Path, int]] = field(default_factory=list)  # path, bytes
    crashed_runs: list[dict[str, object]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.removed)

    def describe(self) -> str:
        """One line for the log: what was removed, how many bytes, which runs crashed."""
        parts = []
        if self.removed:
            names = ", ".join(p.name for p, _ in self.removed[:3]) + (", ..." if len(self.removed) > 3 else "")
            parts.append(f"removed {len(self.removed)} leftover(s) of a killed run, {_size(self.bytes)} ({names})")
        parts += [
            f"marked run {r.get('run_id')} ({r.get('flow')}, started {str(r.get('started_at'))[:19]}, "
            f"pid {r.get('pid')}) as crashed"
            for r in self.crashed_runs
        ]
        return "; ".join(parts)


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def _bytes_of(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return path.lstat().st_size


def _remove(path: Path, found: Recovery) -> None:
    try:
        size = _bytes_of(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return
    found.removed.append((path, size))


def _dead_writer_temporary(path: Path, any_pid: bool) -> bool:
    """A `.name.tmp-<pid>` file of another process (`any_pid`) or of a process no longer running."""
    match = TEMPORARY.match(path.name)
    if match is None or not path.is_file():
        return False
    pid = int(match.group(1))
    return pid != os.getpid() if any_pid else process_alive(pid) is False


def temporary_files(warehouse_dir: Path, lake_dir: Path, runs_dir: Path) -> list[Path]:
    """Temporary files a dead writer left (see the module docstring for why each is safe to delete)."""
    found: list[Path] = []
    if warehouse_dir.is_dir():
        found += [p for p in warehouse_dir.iterdir() if _dead_writer_temporary(p, any_pid=True)]
        found += [p for p in warehouse_dir.glob(SPILL_GLOB) if p.is_file()]
    if lake_dir.is_dir():
        for folder, dirs, files in os.walk(lake_dir):
            dirs[:] = [d for d in dirs if d != ".staging"]  # removed whole by `orphans`
            found += [Path(folder) / f for f in files if _dead_writer_temporary(Path(folder) / f, any_pid=True)]
    if runs_dir.is_dir():
        found += [p for p in runs_dir.iterdir() if _dead_writer_temporary(p, any_pid=False)]
    return found


def mark_crashed_runs(runs_dir: Path, now: dt.datetime | None = None) -> list[dict[str, object]]:
    """Rewrite each `started` run record whose process is gone (on this host) as `crashed`."""
    now = now or dt.datetime.now(dt.UTC)
    marked = []
    for path in sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []:
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(run, dict) or run.get("status") != STARTED or run_alive(run) is not False:
            continue
        run.update(crashed_record(run, now))
        partial = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        partial.write_text(json.dumps(run, indent=1, default=str), encoding="utf-8")
        os.replace(partial, path)
        marked.append(run)
    return marked


def crashed_record(run: dict[str, object], noticed: dt.datetime) -> dict[str, object]:
    """The fields that turn a `started` record whose process is gone into a `crashed` one."""
    error = (
        f"the run stopped without finishing (killed, or its machine went down): pid {run.get('pid')} on "
        f"{run.get('host')} is gone; noticed {noticed.isoformat(timespec='seconds')}"
    )
    return {"status": CRASHED, "error": error, "crash_noticed_at": noticed.isoformat(), "problems": [error]}


def recover(warehouse_dir: Path) -> Recovery:
    """Remove what dead writers left in this warehouse and mark their runs crashed. Call it holding the
    writer lock, before writing anything."""
    from flows.settings import Settings
    from flows.steps import load_log, store

    settings = dataclasses.replace(Settings(), warehouse_dir=warehouse_dir)  # the lake and runs folders
    found = Recovery()
    found.crashed_runs = mark_crashed_runs(settings.runs_dir)
    for path in temporary_files(settings.warehouse_dir, settings.lake_dir, settings.runs_dir):
        _remove(path, found)
    try:
        done = load_log.read(settings.lake_dir)
    except Exception as exc:  # noqa: BLE001 - without a readable log nothing can be judged uncommitted
        log.warning("could not read the load log to find uncommitted load folders (%s); none removed", exc)
    else:
        committed = set(done.loc[done["status"].isin(load_log.COMMITTED), "load_id"])
        for path in store.orphans(settings.lake_dir, committed):
            _remove(path, found)
    if found.removed or found.crashed_runs:
        log.warning("%s: %s", warehouse_dir, found.describe())
    return found
