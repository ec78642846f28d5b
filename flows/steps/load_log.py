"""The load log: one row per attempt to load one file, and the commit record of every load.

Invariant (tested): rows_read = rows_loaded + rows_quarantined for every row.

Layout, by generation, so that a reader never meets a file that vanishes under it:

    _load_log/CURRENT                    names the current generation ("g000007"); replaced atomically
    _load_log/<load_id>.parquet          generation 0: a lake that was never compacted (and older lakes)
    _load_log/g000007/compacted.parquet  every row of the generation before, merged
    _load_log/g000007/<load_id>.parquet  one part per attempt since that merge

Every attempt appends one part to the current generation. `compact` (under the writer lock) writes
the next generation's `compacted.parquet` holding every row, then points CURRENT at it: from then on
appends go there and readers read there. Nothing is deleted at that moment. A reader that had already
listed the old generation (a `load_log.read`, or a DuckDB view built over the old generation's glob)
still finds every file it listed. `prune` removes an old generation only once it was superseded more
than `Settings.log_grace_seconds` ago (PAYERBENCH_LOG_GRACE_SECONDS) and the current DuckDB build no
longer reads it; the DuckDB `load_log` view globs only the generation it was built over, and a build
follows the generation (it is part of the build's recorded state). A compaction cut short before the
CURRENT swap leaves a next-generation folder no reader was ever pointed at; the next compaction
writes a later one, and the stray folder is pruned like any old generation. No generation holds a
row twice, so readers never see duplicates.

In an object store (flows/steps/lake.py) the layout and the rules are the same: a part, the merged
file and CURRENT are each one object written by one PUT (CURRENT's flip is that PUT), and a
generation's "folder" is its key prefix. Every function takes either kind of `lake_dir`.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.steps.lake import LOAD_LOG, LakePath, ObjectPath, write_file_atomic

if TYPE_CHECKING:  # `read` makes a frame (Arrow imports pandas then); `read_rows` does not, for the warehouse build
    import pandas as pd
    import pyarrow as pa

# pyarrow (and flows/steps/store.py, which imports it) are imported by the functions that read or write parts, and
# LOG_SCHEMA is made on first use: flows/lean_build.py's process, which is handed the log's rows (`seed_rows`),
# never maps Arrow (~40 MB of the build's peak).

STATUSES = ("loaded", "loaded_with_quarantine", "rejected", "unchanged", "failed")
"""loaded: every row loaded. loaded_with_quarantine: good rows loaded, bad rows quarantined.
rejected: a file-level defect, nothing loaded. unchanged: same sha256 already loaded for this
source, skipped. failed: an internal error (a bug, not the file's fault), nothing loaded."""
COMMITTED = ("loaded", "loaded_with_quarantine")

_SCHEMA: list[Any] = []


def _log_schema() -> pa.Schema:
    """LOG_SCHEMA, made once (`__getattr__`)."""
    if not _SCHEMA:
        import pyarrow as pa

        _SCHEMA.append(
            pa.schema(
                [
                    ("load_id", pa.string()),
                    ("run_id", pa.string()),
                    ("source", pa.string()),
                    ("source_file", pa.string()),
                    ("source_path", pa.string()),
                    ("source_sha256", pa.string()),
                    ("file_bytes", pa.int64()),
                    ("rows_read", pa.int64()),
                    ("rows_loaded", pa.int64()),
                    ("rows_quarantined", pa.int64()),
                    ("advisories", pa.int64()),
                    ("datasets", pa.list_(pa.string())),
                    ("status", pa.string()),
                    ("error", pa.string()),
                    ("started_at", pa.timestamp("us", tz="UTC")),
                    ("ended_at", pa.timestamp("us", tz="UTC")),
                ]
            )
        )
    return _SCHEMA[0]


def __getattr__(name: str) -> Any:
    if name == "LOG_SCHEMA":  # the log's Parquet layout
        return _log_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class LoadRecord:
    """What happened to one file in one run."""

    load_id: str
    run_id: str
    source: str
    source_file: str
    source_path: str
    source_sha256: str | None
    file_bytes: int | None
    started_at: dt.datetime
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    advisories: int = 0
    datasets: list[str] = field(default_factory=list)
    status: str = "failed"
    error: str | None = None
    ended_at: dt.datetime | None = None

    def to_table(self) -> pa.Table:
        """One-row Arrow table in the load-log layout."""
        import pyarrow as pa

        row = asdict(self)
        return pa.Table.from_pylist([row], schema=_log_schema())

    @property
    def reconciled(self) -> bool:
        """Nothing lost: every row read was either loaded or quarantined."""
        return self.rows_read == self.rows_loaded + self.rows_quarantined


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_run_id() -> str:
    """Sortable, unique id for one pipeline or ingest run."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


COMPACT_AT = 64
"""Parts in the current generation from which `compact` merges them into a new one."""

POINTER = "CURRENT"
COMPACTED = "compacted.parquet"


def generation_dir(lake_dir: LakePath, generation: int) -> LakePath:
    """Folder of one generation (0: the log folder itself, the layout of a never-compacted lake)."""
    root = lake_dir / LOAD_LOG
    return root if generation == 0 else root / f"g{generation:06d}"


def current_generation(lake_dir: LakePath) -> int:
    """The generation CURRENT names (0 when there is none: never compacted, or a lake from before)."""
    pointer = lake_dir / LOAD_LOG / POINTER
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return 0
    if len(text) != 7 or text[0] != "g" or not text[1:].isdigit():
        raise ValueError(
            f"{pointer}: expected a generation such as g000007, found {text[:40]!r}; it is written "
            "only by payerbench: restore it, or name the newest g?????? folder beside it"
        )
    return int(text[1:])


def generation_files(lake_dir: LakePath, generation: int) -> list[LakePath]:
    """The Parquet files of one generation (its glob, `<folder>/*.parquet`, matches exactly these)."""
    folder = generation_dir(lake_dir, generation)
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def generations(lake_dir: LakePath) -> list[int]:
    """Every generation with files on disk, oldest first (superseded ones stay until `prune`)."""
    root = lake_dir / LOAD_LOG
    if not root.is_dir():
        return []
    found = {
        int(p.name[1:])
        for p in root.iterdir()
        if p.is_dir() and len(p.name) == 7 and p.name[0] == "g" and p.name[1:].isdigit()
    }
    if generation_files(lake_dir, 0):
        found.add(0)
    return sorted(found)


def part_path(lake_dir: LakePath, load_id: str) -> LakePath:
    """Where the log row of a new attempt goes: its own file in the current generation."""
    return generation_dir(lake_dir, current_generation(lake_dir)) / f"{load_id}.parquet"


def append(lake_dir: LakePath, record: LoadRecord) -> None:
    """Write a load-log row for an attempt that committed no data (rejected, unchanged, failed).

    Inside `gathered(lake_dir)` an `unchanged` row waits and is written with the others when it ends."""
    waiting = _GATHERED.get()
    if record.status == "unchanged" and waiting is not None and waiting[0] == lake_dir:
        waiting[1].append(record)
        return
    from flows.steps.store import write_table_atomic

    write_table_atomic(record.to_table(), part_path(lake_dir, record.load_id))


_GATHERED: contextvars.ContextVar[tuple[LakePath, list[LoadRecord]] | None] = contextvars.ContextVar(
    "load_log_gathered", default=None
)


@contextlib.contextmanager
def gathered(lake_dir: LakePath) -> Iterator[None]:
    """Write the `unchanged` rows of the attempts made inside it as ONE part when it ends (also when it
    ends by an exception), instead of one part each. A run over unchanged files otherwise writes a part
    per file (35 on the bundled data), which brought the log to `COMPACT_AT` every second run, and each
    merge moves the DuckDB `load_log` view to a new generation: a rebuild that a run with nothing new
    should not pay. Hold the writer lock around it (the part is written at its end). Rows that committed
    data, or were rejected or failed, are written at once as before; `unchanged` rows show in the log
    when the block ends, not file by file. Tasks run in threads within it see it (their context is a
    copy holding the same list); a Dask worker, another process, writes its own parts."""
    token = _GATHERED.set((lake_dir, []))
    try:
        yield
    finally:
        _, records = _GATHERED.get() or (lake_dir, [])
        _GATHERED.reset(token)
        if records:
            import pyarrow as pa

            from flows.steps.store import write_table_atomic

            table = pa.concat_tables([r.to_table() for r in records])
            write_table_atomic(table, part_path(lake_dir, records[0].load_id))


_PARTS: dict[Path, tuple[tuple[int, int, int], pa.Table]] = {}
"""Parts of the log read by this process, by path, with the (size, mtime, inode) they were read at."""


def _part(path: LakePath) -> pa.Table:
    """One file of the log. A local one is read once per process: a part is written once (renamed into
    place, its name unique to its attempt) and never changed, so one whose size, mtime and inode are
    those it was read at holds the same rows (a run reads the log once per source: 18 reads of ~70 files)."""
    if isinstance(path, ObjectPath):
        return _read_part(path)
    info = os.stat(path)
    stamp = (info.st_size, info.st_mtime_ns, info.st_ino)
    known = _PARTS.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    table = _read_part(path)
    _PARTS[path] = (stamp, table)
    return table


def _read_part(path: LakePath) -> pa.Table:
    """One file of the log in LOG_SCHEMA (a column it lacks null, one it has beyond dropped): `store.read_table`,
    which reads without importing pandas (the warehouse build reads the log without it)."""
    from flows.steps.store import read_table

    return read_table(path, _log_schema())


def _frame(files: list[LakePath]) -> pd.DataFrame:
    if not files:
        return _log_schema().empty_table().to_pandas()
    frame = _tables(files).to_pandas()
    # a generation never holds a row twice, but a lake from before generations can (a merge of the old
    # kind cut short between writing its merged file and removing the parts)
    frame = frame.drop_duplicates("load_id", keep="first")
    return frame.sort_values(["started_at", "load_id"], kind="stable").reset_index(drop=True)


def _tables(files: list[LakePath]) -> pa.Table:
    import pyarrow as pa

    tables = [_part(p) for p in files]
    for gone in set(_PARTS) - {p for p in files if not isinstance(p, ObjectPath)}:  # merged or pruned
        del _PARTS[gone]
    return pa.concat_tables(tables) if tables else _log_schema().empty_table()


def read_rows(lake_dir: LakePath, columns: tuple[str, ...]) -> tuple[int, list[dict[str, object]]]:
    """`read_generation` without pandas: the current generation and its rows as dicts of `columns`, in the same
    order and with the same duplicates dropped (for the warehouse build, which runs in a process without pandas).
    Rows `seed_rows` gave for this lake and columns are returned as they are, without reading (or importing Arrow)."""
    if _SEEDED and _SEEDED[0][:2] == (lake_dir, columns):
        return _SEEDED[0][2], [dict(row) for row in _SEEDED[0][3]]
    import pyarrow as pa

    for attempt in range(3):
        generation = current_generation(lake_dir)
        try:
            table = _tables(generation_files(lake_dir, generation))
            break
        except FileNotFoundError:  # as in `read_generation`
            if attempt == 2:
                raise
    # the time as microseconds: a zoned timestamp's `to_pylist` imports pandas (for its time zone)
    wanted = table.select([c for c in dict.fromkeys(("load_id", *columns)) if c != "started_at"])
    wanted = wanted.append_column("_started_us", table.column("started_at").cast(pa.int64()))
    seen: set[object] = set()
    rows = []
    for row in wanted.to_pylist():
        if row["load_id"] not in seen:  # `_frame`'s drop_duplicates("load_id", keep="first")
            seen.add(row["load_id"])
            rows.append(row)
    # `_frame`'s stable sort by (started_at, load_id), a missing time last (pandas' na_position)
    rows.sort(key=lambda r: (r["_started_us"] is None, r["_started_us"] or 0, r["load_id"] or ""))
    return generation, [{c: r[c] for c in columns} for r in rows]


_SEEDED: list[tuple[LakePath, tuple[str, ...], int, list[dict[str, object]]]] = []


def seed_rows(lake_dir: LakePath, columns: tuple[str, ...], generation: int, rows: list[dict[str, object]]) -> None:
    """What `read_rows(lake_dir, columns)` returns in this process from now on: the rows another image of it read
    under the writer lock it still holds (flows/lean_build.py), so the log cannot have changed since."""
    _SEEDED[:] = [(lake_dir, tuple(columns), generation, rows)]


def read_generation(lake_dir: LakePath) -> tuple[int, pd.DataFrame]:
    """The current generation and its rows (every load-log row), oldest first."""
    for attempt in range(3):
        generation = current_generation(lake_dir)
        try:
            return generation, _frame(generation_files(lake_dir, generation))
        except FileNotFoundError:  # listed, then pruned: only a reader stalled longer than the grace period
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def read(lake_dir: LakePath) -> pd.DataFrame:
    """Every load-log row, oldest first (an empty frame with the log's columns when none)."""
    return read_generation(lake_dir)[1]


def _point_to(lake_dir: LakePath, generation: int) -> None:
    pointer = lake_dir / LOAD_LOG / POINTER
    if isinstance(pointer, ObjectPath):  # one PUT of a small object: the flip is atomic
        write_file_atomic(pointer, f"g{generation:06d}\n")
        return
    partial = pointer.with_name(f".{POINTER}.tmp-{os.getpid()}")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(f"g{generation:06d}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, pointer)


def compact(lake_dir: LakePath, at: int = COMPACT_AT) -> int:
    """Merge the current generation's files into a new generation when there are `at` or more (each
    attempt writes one, so a scheduled install would otherwise read thousands). Call it holding the
    writer lock. The new generation's merged file is written first, then CURRENT is swapped to it;
    the old generation is left for its readers (see `prune`). Returns the number of files merged."""
    current = current_generation(lake_dir)
    files = generation_files(lake_dir, current)
    if len(files) < max(at, 2):
        return 0
    rows = _frame(files)
    # above every folder on disk: one left by a compaction cut short before its swap is never reused
    following = max([current, *generations(lake_dir)]) + 1
    import pyarrow as pa

    from flows.steps.store import write_table_atomic

    write_table_atomic(
        pa.Table.from_pandas(rows, schema=_log_schema(), preserve_index=False),
        generation_dir(lake_dir, following) / COMPACTED,
    )
    _point_to(lake_dir, following)
    return len(files)


def prune(
    lake_dir: LakePath, grace_seconds: float, in_use: tuple[int, float] | None, now: float | None = None
) -> list[int]:
    """Remove the superseded generations no reader can still be on. Call it holding the writer lock.

    `in_use` is (the oldest generation the current DuckDB build may read, when that build became
    current), or None when there is no DuckDB file. A generation older than the current one goes once
    the build does not read it and `grace_seconds` have passed both since it was superseded (a
    `read` that listed it just before) and since the current build replaced the builds that read it
    (a session still on one of those). Returns the generations removed."""
    now = time.time() if now is None else now
    current = current_generation(lake_dir)
    oldest_read, build_since = in_use if in_use is not None else (current, 0.0)
    existing = generations(lake_dir)
    removed = []
    for generation in existing:
        if generation >= min(current, oldest_read):
            continue
        later = [g for g in existing if g > generation] or [current]
        merged = generation_dir(lake_dir, later[0]) / COMPACTED
        marker = merged if merged.exists() else lake_dir / LOAD_LOG / POINTER
        try:
            superseded_at = marker.stat().st_mtime
        except FileNotFoundError:
            continue
        if now - max(superseded_at, build_since) < grace_seconds:
            continue
        if generation == 0:
            for path in generation_files(lake_dir, 0):
                path.unlink(missing_ok=True)
        else:
            from flows.steps.store import remove_tree

            remove_tree(generation_dir(lake_dir, generation))
        removed.append(generation)
    return removed


def loaded_sha256s(log: pd.DataFrame, source: str) -> set[str]:
    """Files (by content hash) already committed for a source."""
    done = log[(log["source"] == source) & log["status"].isin(COMMITTED)]
    return set(done["source_sha256"].dropna())


def loaded_identities(log: pd.DataFrame, source: str) -> dict[str, str]:
    """Files read from a URL already committed for a source: identity (the load log's `source_path`: URL
    path + `#etag=...` or `#size=...&modified=...`, flows/engines/remote.py) -> sha256."""
    done = log[(log["source"] == source) & log["status"].isin(COMMITTED)]
    done = done[done["source_path"].str.match(r"https?://[^#]+#(etag|size)=")]
    return dict(zip(done["source_path"], done["source_sha256"], strict=True))
