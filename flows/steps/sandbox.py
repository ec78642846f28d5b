"""The analysts' connection: the warehouse read-only, and nothing else on the machine.

`query` runs whatever SQL an analyst types and the report runs warehouse/sql/report/*.sql; both
open the DuckDB file through `connect_read_only`, which, before handing the connection over:

- opens the file read-only (a run's rebuild is never blocked, nothing can be written to it);
- turns DuckDB's external access off, except for the lake's own folder (the views read their
  Parquet there) and the DuckDB file itself (DuckDB keeps its file, its WAL and its spill folder
  allowed): `read_csv('/etc/passwd')`, `read_blob`, `glob('/root/*')`, another warehouse's Parquet,
  `COPY ... TO` a file outside the lake, `ATTACH` and any URL (`http://`, `s3://`) are refused
  (DuckDB grants folders, not read-only folders: a `COPY ... TO` into the lake itself is stopped
  one step earlier, by `query`'s statement check, which lets only reading statements through; the
  report runs only the project's own SQL);
- turns extension auto-install and auto-load off (a URL used to make DuckDB download httpfs into
  `~/.duckdb/extensions`), and community extensions;
- locks the configuration, so SQL cannot `SET` or `RESET` any of it back.

DuckDB shares one database instance between the connections a process opens to the same file, so
the sandbox, once set, holds for every connection to that file in the process until the last closes.
This module imports only duckdb, the settings and the errors: `payerbench query` starts fast.
"""

from __future__ import annotations

import duckdb

from flows.errors import NoWarehouse, SandboxError, WarehouseCorrupt
from flows.settings import Settings

# Applied in this order: the allowed folders can only be set while external access is still on,
# and nothing can be set once the configuration is locked.
LOCKED_OFF = ("autoinstall_known_extensions", "autoload_known_extensions", "allow_community_extensions")


def allowed_directories(settings: Settings) -> list[str]:
    """Folders the analysts' connection may read: the lake, as written in the views and as resolved."""
    lake = settings.lake_read_dir  # the lake, or the build's local copy of an object-store lake
    # DuckDB compares path strings (it does not follow symlinks): allow both spellings of the lake
    forms = {str(lake.absolute()), str(lake.resolve())}
    return sorted(form.rstrip("/") + "/" for form in forms)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect_read_only(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the analysts' database that can read nothing but the warehouse."""
    if not settings.duckdb_path.exists():
        raise NoWarehouse(f"no warehouse at {settings.duckdb_path}; run `payerbench run` (or `make run`) first")
    try:
        con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    except duckdb.IOException as exc:
        if "not a valid DuckDB database file" not in str(exc):
            raise
        raise WarehouseCorrupt(
            f"{settings.duckdb_path} is not a DuckDB database; delete it and run `payerbench build` to rebuild it "
            "from the lake"
        ) from None
    try:
        _sandbox(con, allowed_directories(settings))
    except BaseException:
        con.close()
        raise
    return con


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> object:
    row = con.execute("SELECT value FROM duckdb_settings() WHERE name = ?", [name]).fetchone()
    return None if row is None else row[0]


def _sandbox(con: duckdb.DuckDBPyConnection, directories: list[str]) -> None:
    if _setting(con, "lock_configuration") == "true":
        # another connection of this process to the same file set the sandbox already: check it is ours
        allowed = str(_setting(con, "allowed_directories"))
        missing = [d for d in directories if d not in allowed]
        if (
            _setting(con, "enable_external_access") != "false"
            or missing
            or any(_setting(con, name) != "false" for name in LOCKED_OFF)
        ):
            raise SandboxError(
                "this process already holds the warehouse open with a locked configuration that "
                f"is not the analysts' sandbox (allowed folders {allowed}); close that connection first"
            )
        return
    for name in LOCKED_OFF:
        con.execute(f"SET {name} = false")
    con.execute(f"SET allowed_directories = [{', '.join(_quote(d) for d in directories)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def is_refusal(exc: BaseException) -> bool:
    """Whether a DuckDB error is the sandbox refusing a file, a URL, an extension or a setting."""
    text = str(exc)
    return isinstance(exc, duckdb.PermissionException) or "configuration has been locked" in text


def describe_refusal(exc: BaseException, settings: Settings) -> str:
    """One line: what the sandbox refused and why."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = first.replace(" - file system operations are disabled by configuration", "")
    first = first.removeprefix("Permission Error: ").removeprefix("Invalid Input Error: ")
    lake = settings.lake_read_dir.absolute()
    moved = " (if this warehouse folder was moved or copied, run `payerbench build` first)" if "/lake/" in first else ""
    return (
        f"refused: {first}; queries read only this warehouse (its lake {lake}), never other files, "
        f"URLs or extensions{moved}"
    )
