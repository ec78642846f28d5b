"""Progress of a long file load (or download) on a terminal: bytes, rows parsed, rate and time left.

Shown only where someone watches: stdout and stderr are terminals and `CI` is not set. Cron
jobs, CI logs, Dask workers and tests see nothing. Files that finish within a second never show
a bar, and the bar disappears when the file is done (the load table follows).

Hot loops pay nothing and adapters are untouched: a background thread samples, twice a second,
how far this process has read into the file (the kernel's offset of every open handle on it,
through psutil; on Linux) and the rows the loader has counted so far (once per batch), and
updates a rich progress bar. Compressed files are measured in compressed bytes, which is what
the file's size counts too. Where the offset cannot be read (macOS) the bar shows rows only.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from types import TracebackType

from flows.steps.names import safe_name

DELAY_S = 1.0  # a file loaded sooner than this never shows a bar
INTERVAL_S = 0.5


def enabled() -> bool:
    """True on an interactive terminal outside CI."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


class FileProgress:
    """Context manager around one file's load; `stage()` names the step, `add_rows()` counts rows."""

    def __init__(
        self,
        path: Path,
        stage: str = "sha256",
        *,
        show: bool | None = None,
        console=None,  # type: ignore[no-untyped-def]
        delay: float = DELAY_S,
        interval: float = INTERVAL_S,
        total: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.total = total  # bytes expected (e.g. a download's Content-Length); default: the file's size
        self.rows = 0
        self._stage = stage
        self._stage_number = 0
        self._show = enabled() if show is None else show
        self._console = console
        self._delay, self._interval = delay, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FileProgress:
        if self._show:
            self._thread = threading.Thread(target=self._run, name=f"progress {self.path.name}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stage(self, name: str) -> None:
        """Start the next pass over the file (e.g. hashing, then loading): the bar starts again."""
        self._stage = name
        self._stage_number += 1

    def add_rows(self, count: int) -> None:
        """Rows parsed so far in this file (called once per batch)."""
        self.rows += count

    def position(self) -> int | None:
        """Furthest offset of any handle this process has open on the file (None when unknown)."""
        import psutil

        target = str(self.path.resolve())
        try:
            offsets = [getattr(f, "position", None) for f in psutil.Process().open_files() if f.path == target]
        except (psutil.Error, OSError):
            return None
        known = [o for o in offsets if o is not None]
        return max(known) if known else None

    def _run(self) -> None:
        if self._stop.wait(self._delay):
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        try:
            size = self.total if self.total is not None else self.path.stat().st_size
        except OSError:
            return
        # markup off: a file name's [brackets] are text
        progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeRemainingColumn(),
            console=self._console or Console(stderr=True),
            transient=True,
        )
        task = progress.add_task("", total=size or None, rows="0")
        stage_number = self._stage_number
        with progress:
            while True:
                if stage_number != self._stage_number:  # a new pass: rate and ETA start over
                    stage_number = self._stage_number
                    progress.reset(task, total=size or None)
                offset = self.position()
                progress.update(
                    task,
                    description=f"{self._stage} {safe_name(self.path.name)}",
                    rows=f"{self.rows:,}",
                    **({"completed": min(offset, size)} if offset is not None else {}),
                )
                if self._stop.wait(self._interval):
                    break
