"""Progress of long loads: shown on a terminal (bytes, rows, rate), quiet in CI and when piped."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from flows.steps import progress
from flows.steps.progress import FileProgress


def test_quiet_in_ci_and_when_output_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert progress.enabled()
    monkeypatch.setenv("CI", "true")
    assert not progress.enabled()
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)  # piped into a log file
    assert not progress.enabled()


def test_position_is_how_far_the_process_has_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 100_000)
    tracker = FileProgress(path, show=False)
    assert tracker.position() is None  # not open
    with path.open("rb", buffering=0) as handle:
        handle.read(40_000)
        if sys.platform.startswith("linux"):
            assert tracker.position() == 40_000


def test_bar_shows_file_bytes_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 2_000_000)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with (
        path.open("rb", buffering=0) as handle,
        FileProgress(path, show=True, console=console, delay=0, interval=0.02) as tracker,
    ):
        tracker.stage("loading")
        handle.read(1_000_000)
        tracker.add_rows(1234)
        time.sleep(0.3)
    text = out.getvalue()
    assert "loading big.csv" in text and "1,234 rows" in text and "2.0 MB" in text
    if sys.platform.startswith("linux"):
        assert "1.0/2.0 MB" in text


def test_a_download_is_measured_against_its_expected_size(tmp_path: Path) -> None:
    path = tmp_path / "in-network.json.gz.part"
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with (
        path.open("wb", buffering=0) as handle,
        FileProgress(path, "downloading", show=True, console=console, delay=0, interval=0.02, total=4_000_000),
    ):
        handle.write(b"x" * 1_000_000)
        time.sleep(0.3)
    assert "downloading in-network.json.gz.part" in out.getvalue() and "4.0 MB" in out.getvalue()
    if sys.platform.startswith("linux"):
        assert "1.0/4.0 MB" in out.getvalue()


def test_a_file_name_is_shown_escaped_and_its_brackets_as_text(tmp_path: Path) -> None:
    path = tmp_path / "bad\x1b[2J[bold]x.csv"  # would clear the screen; [bold] would be read as markup
    path.write_bytes(b"x" * 100_000)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with FileProgress(path, show=True, console=console, delay=0, interval=0.02) as tracker:
        tracker.stage("loading")
        time.sleep(0.2)
    text = out.getvalue()
    assert "loading bad\\x1b[2J[bold]x.csv" in text and "\x1b[2J" not in text
