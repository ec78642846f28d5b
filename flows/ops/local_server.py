"""The temporary Prefect server Prefect starts when it runs without an API (a Dask task runner), stopped
when the run's process dies, even by SIGKILL.

Without PREFECT_API_URL, Prefect 3 starts `python -m uvicorn ... prefect.server.api.server:create_app`
as a child process on the first API call (`SubprocessASGIServer`) and stops it from an `atexit`
hook. A process killed with SIGKILL runs no `atexit` hook, so each killed run left a server behind
(a port and ~150 MB each). `dies_with_this_process()` registers, under the key Prefect looks its
server up by (`SubprocessASGIServer()`, the hook Prefect's own `prefect_test_harness` uses), a
server that starts a watchdog beside each server process: this file run as a stdlib-only script.
The watchdog blocks on a pipe whose write end only this process holds; the kernel closes it when
this process dies, however it dies, and the watchdog then stops the server (SIGTERM, SIGKILL after
5 s). It also exits by itself once the server is gone (a normal exit stops the server first).

Why not `prctl(PR_SET_PDEATHSIG)` in the server: the signal follows the *thread* that started the
child, and Prefect may start the server from a worker thread (its log or event workers) that ends
before the run does; and Prefect's `Popen` takes no `preexec_fn`, so its command would have to be
copied here. Why not Prefect's in-process API: Prefect 3 no longer has one (the ephemeral API is
this subprocess).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

STOP_GRACE_S = 5.0
POLL_S = 1.0


@contextlib.contextmanager
def dies_with_this_process() -> Iterator[None]:
    """Make the temporary server Prefect starts in this block (if any) stop when this process dies.
    Flow-run heartbeats (a server's crashed-run detection) are off meanwhile: each flow's exit would
    wait up to a second for their thread."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    class WatchedServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen:  # type: ignore[type-arg]
            server = super()._run_uvicorn_command()
            self.watchdogs = [*getattr(self, "watchdogs", []), watch(server.pid)]
            return server

    if None in SubprocessASGIServer._instances:  # already there: someone else (a test harness) owns it
        yield
        return
    server = WatchedServer()  # registers itself under the key None
    try:
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
    finally:
        if not server.running and SubprocessASGIServer._instances.get(None) is server:
            del SubprocessASGIServer._instances[None]  # never started: leave Prefect as it was


def watch(server_pid: int) -> subprocess.Popen:  # type: ignore[type-arg]
    """Start the watchdog of one server process; it holds the read end of a pipe only we write to."""
    return subprocess.Popen(
        [sys.executable, "-I", "-S", str(Path(__file__).resolve()), str(server_pid), str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # a Ctrl-C to the run's terminal is for the run, not for it


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a zombie: exited, not yet reaped by its parent
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and not _gone(pid):
            time.sleep(0.1)
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)


def _watchdog(server_pid: int, parent_pid: int) -> None:
    """Wait until the parent is gone (its pipe closed, or we were re-parented), then stop the server."""
    while not _gone(server_pid):
        readable, _, _ = select.select([sys.stdin], [], [], POLL_S)
        if readable or os.getppid() != parent_pid:  # the parent never writes: readable means end of file
            _stop(server_pid)
            return


if __name__ == "__main__":  # the watchdog: stdlib only, started with -I -S (nothing of flows is importable)
    _watchdog(int(sys.argv[1]), int(sys.argv[2]))
