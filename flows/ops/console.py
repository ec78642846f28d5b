"""What the commands print: the rich console, the per-file load table, the exit code those records give, and how an
error ends a command (`exit_code`).

Shared by the command line (flows/cli.py) and the build image an ingest re-executes into (flows/lean_build.py), which
prints the table the command would have printed. rich is imported when something is printed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from flows.errors import EXIT_DATA, EXIT_OK, PayerbenchError
from flows.steps.names import safe_name


def console():  # type: ignore[no-untyped-def]
    """Rich console: terminal width on a terminal; wide (cells never folded) when piped or in CI."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1; `main` treats a reader that stopped early as success
            raise BrokenPipeError

    if sys.stdout.isatty():
        return _Console()
    return _Console(width=400, soft_wrap=False, color_system=None)


def print_load_table(records: Sequence[object], title: str) -> None:
    """Per file: source, file, status, rows read / loaded / quarantined, advisories; then errors."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name, justify in [
        ("source", "left"),
        ("file", "left"),
        ("status", "left"),
        ("read", "right"),
        ("loaded", "right"),
        ("quarantined", "right"),
        ("advisories", "right"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    from rich.text import Text

    styles = {
        "loaded": "green",
        "loaded_with_quarantine": "yellow",
        "unchanged": "dim",
        "rejected": "red",
        "failed": "red",
    }
    for r in records:
        table.add_row(
            Text(r.source),
            Text(safe_name(r.source_file)),
            Text(r.status, style=styles.get(r.status, "")),
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_quarantined:,}",
            f"{r.advisories:,}",
        )
    console_ = console()
    console_.print(table)
    for r in records:
        if r.error:  # plain Text: file names and JSON paths hold [brackets] that are not markup
            console_.print(Text.assemble((r.status, "red"), " ", safe_name(r.error)), highlight=False, soft_wrap=True)


def exit_for(records: Sequence[object]) -> int:
    """The exit code of a command that loaded `records`: 1 when a file was rejected or failed, else 0."""
    return EXIT_DATA if any(r.status in ("rejected", "failed") for r in records) else EXIT_OK


def exit_code(command: str, body: Callable[[], int]) -> int:
    """Run a command's `body` and return its exit code; library code raises, and here (flows/cli.py `main`, and the
    build image an ingest re-executes into) an error becomes its message on stderr and its own exit code."""
    try:
        return body()
    except PayerbenchError as exc:
        # a message may quote a file name or a value: terminal controls shown escaped, its line breaks kept
        message = "\n".join(safe_name(line) for line in str(exc).splitlines())
        print(f"payerbench {command}: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader stopped early (`payerbench query ... | head`): not an error; no traceback at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
