"""One writer at a time: a second run waits, then stops with a message naming the holder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from flows.settings import Settings
from flows.steps.lock import WarehouseBusy, lock_path, warehouse_lock

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from flows.steps.lock import warehouse_lock
    with warehouse_lock(Path(sys.argv[1]), timeout=5):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold(settings: Settings, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.warehouse_dir), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_gives_up_with_a_clear_message(settings: Settings) -> None:
    proc = hold(settings, 30)
    try:
        with (
            pytest.raises(WarehouseBusy, match=rf"being written by another process \(pid {proc.pid} on .* since"),
            warehouse_lock(settings.warehouse_dir, timeout=0.5),
        ):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_second_writer_waits_for_the_first(settings: Settings) -> None:
    proc = hold(settings, 1.0)
    started = time.monotonic()
    with warehouse_lock(settings.warehouse_dir, timeout=30):
        waited = time.monotonic() - started
    proc.wait()
    assert 0.3 < waited < 30


def test_a_killed_holder_leaves_no_stale_lock(settings: Settings) -> None:
    proc = hold(settings, 60)
    proc.kill()
    proc.wait()
    assert lock_path(settings.warehouse_dir).exists()  # the file stays, the lock does not
    with warehouse_lock(settings.warehouse_dir, timeout=1):
        pass


def test_lock_is_reentrant_within_a_process(settings: Settings) -> None:
    with warehouse_lock(settings.warehouse_dir, timeout=1), warehouse_lock(settings.warehouse_dir, timeout=1):
        pass
