"""The errors payerbench raises: library code raises these, only the CLI turns them into exit codes.

A notebook or another program calling payerbench catches `PayerbenchError` (or one of its kinds)
and keeps its process; `payerbench` (flows/cli.py) prints the message on stderr and exits with the
error's `exit_code`: 1 a data or warehouse problem, 2 a usage problem (a setting, a name or an
option the user gave, or a warehouse not built yet), 3 the warehouse is busy. The message is one
line saying what is wrong and what to do. This module imports nothing of payerbench: every layer
may raise these.
"""

from __future__ import annotations

EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


class PayerbenchError(Exception):
    """Something payerbench cannot do, with a message for the person who asked for it."""

    exit_code: int = EXIT_DATA


class ConfigurationError(PayerbenchError):
    """A setting, source name, ingest option or deployment definition that is not valid (exit 2)."""

    exit_code = EXIT_USAGE


class NoWarehouse(PayerbenchError):
    """No warehouse has been built at the configured place yet (exit 2)."""

    exit_code = EXIT_USAGE


class WarehouseBusy(PayerbenchError):
    """Another process held the warehouse's writer lock for longer than the timeout (exit 3)."""

    exit_code = EXIT_BUSY


class WarehouseCorrupt(PayerbenchError):
    """The lake does not match its load log (committed loads whose Parquet is gone), or the DuckDB file is not a
    database: rebuild it (exit 1)."""


class SqlBuildError(PayerbenchError):
    """A warehouse/sql file does not build, or the SQL files reference each other in a circle (exit 1)."""


class BuildOutOfMemory(PayerbenchError):
    """The warehouse build ran out of memory with no memory limit of payerbench's in force (exit 1)."""


class SandboxError(PayerbenchError, RuntimeError):
    """The process already holds the DuckDB file open with a configuration that is not the sandbox (exit 1)."""
