"""One writer at a time: a lock file around every step that changes the warehouse.

Loads, orphan sweeps and DuckDB rebuilds take `warehouse_lock`. A second writer (another `run`,
a cron job, an `ingest` in another terminal) waits up to `timeout` seconds, then stops with a
message naming the holder. The lock is an `fcntl.flock` on `<warehouse>/.payerbench.lock`: the
kernel releases it when the holding process exits or is killed, so a crashed run never leaves a
stale lock behind (the holder details written in the file are informational only). Readers
(`query`, analysts' DuckDB sessions) never take it. A process taking the lock first removes what a
killed writer left and marks that writer's run crashed (`leftovers.recover`), before it writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from flows.errors import WarehouseBusy  # noqa: F401 - raised here; also importable from here, as before

LOCK_NAME = ".payerbench.lock"
log = logging.getLogger(__name__)
_held: dict[str, int] = {}  # lock path -> depth, so nested flows in one process re-enter
_handles: dict[str, int] = {}  # lock path -> the descriptor holding it (`inheritable`)
_guard = threading.Lock()


def lock_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / LOCK_NAME


@contextlib.contextmanager
def warehouse_lock(warehouse_dir: Path, timeout: float = 600.0, poll: float = 0.2) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block (re-entrant within a process)."""
    path = lock_path(warehouse_dir)
    key = str(path)
    with _guard:
        if _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return

    warehouse_dir.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    deadline = time.monotonic() + timeout
    waiting = False
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:  # say so once: a scheduled run that seems idle is queued behind another
                    waiting = True
                    log.warning(
                        "waiting up to %.0f s for the warehouse %s: another run is writing it (%s)",
                        timeout,
                        warehouse_dir,
                        _holder(path),
                    )
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"the warehouse {warehouse_dir} is being written by another process "
                        f"({_holder(path)}); waited {timeout:.0f} s. Try again when it finishes "
                        f"(set PAYERBENCH_LOCK_TIMEOUT to wait longer)."
                    ) from None
                time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
            )
        )
        handle.flush()
        with _guard:
            _held[key] = 1
            _handles[key] = handle.fileno()
        try:
            _recover(warehouse_dir)
            yield
        finally:
            with _guard:
                _held[key] = 0
                _handles.pop(key, None)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def _recover(warehouse_dir: Path) -> None:
    """Clean up after a dead writer; a failure here is logged, never stops the writer that found it
    (a leftover wastes space but changes no data)."""
    from flows.steps import leftovers

    try:
        leftovers.recover(warehouse_dir)
    except Exception:  # noqa: BLE001
        log.exception("could not clean up what a previous run left in %s", warehouse_dir)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"


# Handing the lock across `os.execv` (flows/lean_build.py: an ingest's build runs in the same process, re-executed
# without pandas). The lock is kept, not released and taken again: an flock belongs to the open file description, which
# an inheritable descriptor carries across exec, so the new image holds it from the first instruction. Released and
# taken again, another writer could get in between the load and its build (its own load then built by ours, or our
# build waiting behind its whole run), and the ingest would no longer be one writer's step. If the new image dies, the
# kernel releases the lock as it would for any holder.
def inheritable(warehouse_dir: Path) -> int:
    """The descriptor holding this process's lock on `warehouse_dir`, made inheritable across exec (it must be held)."""
    key = str(lock_path(warehouse_dir))
    with _guard:
        if not _held.get(key) or key not in _handles:
            raise RuntimeError(f"the writer lock of {warehouse_dir} is not held by this process")
        fd = _handles[key]
    os.set_inheritable(fd, True)
    return fd


@contextlib.contextmanager
def adopted(warehouse_dir: Path, fd: int) -> Iterator[None]:
    """Hold the lock an exec'd-from image of this process held on descriptor `fd` (`inheritable`) for the block,
    as `warehouse_lock` would (re-entered inside); release it and close the descriptor after."""
    key = str(lock_path(warehouse_dir))
    os.set_inheritable(fd, False)
    with _guard:
        _held[key] = 1
        _handles[key] = fd
    try:
        yield
    finally:
        with _guard:
            _held[key] = 0
            _handles.pop(key, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
