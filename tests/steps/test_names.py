"""File names are data: control characters never reach a terminal, the real name is kept where it is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows import cli
from flows.settings import Settings
from flows.steps import load_log
from flows.steps.names import safe_name
from tests.conftest import fixture

EVIL = "evil\x1b[2J\r\n\u202e\x9b[bold red]x.csv"  # clears the screen, forges a line, flips text, markup
SHOWN = "evil\\x1b[2J\\r\\n\\u202e\\x9b[bold red]x.csv"
TERMINAL_ACTS_ON = "\x1b\r\u202e\x9b\x07\x08"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("\x1b[2Jclear.csv", "\\x1b[2Jclear.csv"),  # ANSI escape (C0)
        ("over\rwrite.csv", "over\\rwrite.csv"),
        ("two\nlines.csv", "two\\nlines.csv"),
        ("bell\x07\x00\x7f.csv", "bell\\x07\\x00\\x7f.csv"),  # BEL, NUL, DEL
        ("csi\x9b2J.csv", "csi\\x9b2J.csv"),  # C1: a one-byte CSI on some terminals
        ("invoice\u202egpj.exe", "invoice\\u202egpj.exe"),  # right-to-left override
        ("iso\u2066late\u2069.csv", "iso\\u2066late\\u2069.csv"),  # bidi isolates
        ("line\u2028sep.csv", "line\\u2028sep.csv"),
        ("bytes\udcff.csv", "bytes\\udcff.csv"),  # an undecodable byte (surrogateescape) would crash a print
        ("Zürich café (2) [2025].csv", "Zürich café (2) [2025].csv"),  # ordinary text is left alone
    ],
)
def test_safe_name_shows_what_a_terminal_would_act_on(name: str, shown: str) -> None:
    assert safe_name(name) == shown


def test_ingest_and_status_print_control_characters_escaped(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), folder / EVIL)
    args = ["--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)]
    assert cli.main(["ingest", "payer_policy", str(folder / EVIL), "--no-build", *args]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert SHOWN in out and not any(char in out for char in TERMINAL_ACTS_ON)
    assert load_log.read(settings.lake_dir)["source_file"].tolist() == [EVIL]  # the log keeps the real name

    cli.main(["status", "--files", *args])
    out = capsys.readouterr().out
    assert SHOWN in out and not any(char in out for char in TERMINAL_ACTS_ON)
