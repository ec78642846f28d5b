"""Parquet writing for one file load, committed atomically into the lake.

Layout (all under `settings.lake_dir`):

    <dataset>/<load_id>/part-00000.parquet   rows that loaded, one folder per file load
    _quarantine/<load_id>/part-00000.parquet rows that failed a blocking check (all datasets)
    _advisory/<load_id>/part-00000.parquet   advisory findings on rows that loaded
    _load_log/[g<generation>/]<load_id>.parquet  one row per file attempt: the commit marker
                                             (generations: see flows/steps/load_log.py)

A load writes everything under `.staging/<load_id>/` first. Commit renames each folder into
place (a same-filesystem rename is atomic) and writes the load-log row last: until that row
exists the load does not exist for the warehouse, which lists Parquet files from the log,
never by globbing. A crash at any point leaves the previous state readable; the next writer
removes folders of loads that never committed (`orphans`, through `leftovers.recover`).

In an object store (`PAYERBENCH_LAKE_URL`, flows/steps/lake.py) there is no rename and no staging:
parts are written straight to `<folder>/<load_id>/`, where no reader looks until the load-log row
(one object, one PUT) commits that load id; a load that fails deletes them, one that crashed leaves
them for `sweep_orphans`, exactly as a renamed folder without its log row on disk.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from flows.steps.lake import ADVISORY, LOAD_LOG, QUARANTINE, LakePath, ObjectPath, write_file_atomic  # noqa: F401 - re-exported

if TYPE_CHECKING:  # frames come from the callers: the warehouse build imports this module without pandas
    import pandas as pd

FINDING_SCHEMA = pa.schema(
    [
        ("load_id", pa.string()),
        ("run_id", pa.string()),
        ("source", pa.string()),
        ("dataset", pa.string()),
        ("source_file", pa.string()),
        ("source_sha256", pa.string()),
        ("source_record", pa.string()),
        ("column_name", pa.string()),
        ("check_name", pa.string()),
        ("failure_value", pa.string()),
        ("reason", pa.string()),
        ("raw_record", pa.string()),
        ("found_at", pa.timestamp("us", tz="UTC")),
    ]
)
"""Layout of the quarantine and advisory tables (QUARANTINE, ADVISORY): one row per (row, failed rule). Here, not
in load.py (which writes them), so the warehouse build reads it without importing the loader."""
SYSTEM_FOLDERS = (QUARANTINE, ADVISORY, LOAD_LOG, ".staging")

PARQUET_OPTIONS = {"compression": "zstd"}
# Columns written without a dictionary and without min/max statistics: a value per row that rarely repeats
# within a row group (a TiC row's locator and NPI list, a quarantined row's JSON), where a dictionary is built
# only to be given up and statistics filter nothing. Only the encoding changes: every value reads back the same.
PLAIN_COLUMNS = frozenset({"source_record", "npis", "raw_record"})


def parquet_options(schema: pa.Schema) -> dict:
    """The write options for a table of `schema`: PARQUET_OPTIONS, with PLAIN_COLUMNS plain and unstated."""
    names = [field.name for field in schema]
    if not PLAIN_COLUMNS.intersection(names):
        return PARQUET_OPTIONS
    rest = [name for name in names if name not in PLAIN_COLUMNS]
    return {**PARQUET_OPTIONS, "use_dictionary": rest, "write_statistics": rest}


def write_table_atomic(table: pa.Table, dest: LakePath) -> None:
    """Write a Parquet file under a temporary name and rename it into place (in an object store:
    write the object, which appears whole when its upload completes)."""
    if isinstance(dest, ObjectPath):
        pq.write_table(table, dest.path, filesystem=dest.fs, **parquet_options(table.schema))
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, **parquet_options(table.schema))
    os.replace(tmp, dest)


def write_tables_atomic(schema: pa.Schema, tables: Iterable[pa.Table], dest: LakePath) -> None:
    """`write_table_atomic` for a table given in slices, each written as it comes (row groups of one file), so
    the whole table is never held at once."""
    if isinstance(dest, ObjectPath):
        with pq.ParquetWriter(dest.path, schema, filesystem=dest.fs, **parquet_options(schema)) as writer:
            for table in tables:
                writer.write_table(table)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        with pq.ParquetWriter(tmp, schema, **parquet_options(schema)) as writer:
            for table in tables:
                writer.write_table(table)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_table(path: LakePath, schema: pa.Schema | None = None) -> pa.Table:
    """One Parquet file of the lake, local or in an object store; with `schema`, its columns in that order
    and of those types (a column the file lacks is null), as `pq.read_table(path, schema=schema)` reads it.

    Read by `pq.ParquetFile`: `pq.read_table` imports pyarrow's dataset layer (which imports pandas, and maps
    Arrow's dataset, Acero and Substrait libraries: +6.6 MB RSS) for every command reading the load log, and the
    warehouse build reads the log in a process without pandas (flows/lean_build.py)."""
    if isinstance(path, ObjectPath):
        with path.fs.open_input_file(path.path) as source:
            return _read_file(source, schema)
    return _read_file(path, schema)


def _read_file(source: Path | pa.NativeFile, schema: pa.Schema | None) -> pa.Table:
    with pq.ParquetFile(source) as handle:
        if schema is None:
            return handle.read()
        names = set(handle.schema_arrow.names)
        table = handle.read(columns=[field.name for field in schema if field.name in names])
    columns = [
        table.column(field.name).cast(field.type) if field.name in names else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def parquet_source(path: LakePath) -> Path | pa.NativeFile:
    """What `pq.read_metadata` / `pq.read_table` take for a file of the lake, local or in an object store."""
    return path.fs.open_input_file(path.path) if isinstance(path, ObjectPath) else path


def remove_tree(path: LakePath) -> None:
    """Delete a folder of the lake and everything in it (nothing when it is not there)."""
    if isinstance(path, ObjectPath):
        path.remove_tree()
    else:
        shutil.rmtree(path, ignore_errors=True)


def frame_to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Build an Arrow table with exactly `schema` (columns missing from the frame become null)."""
    arrays = []
    for field in schema:
        if field.name in frame.columns:
            values = frame[field.name]
            try:  # vectorised path: Arrow strings, numbers, Decimal/date objects with NaN as null
                array = pa.array(values, type=field.type, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                array = pa.array(values.astype(object).where(values.notna(), None).tolist(), type=field.type)
        else:
            array = pa.nulls(len(frame), type=field.type)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


class LoadWriter:
    """Accumulates the Parquet parts of one file load in its staging folder.

    With `threaded`, a part given in slices (`write_slices`) is encoded and compressed by a writer thread while the loader
    builds the next slice (pyarrow's Parquet writer releases the GIL): at most `AHEAD` slices wait for it,
    so memory stays one or two slices. A failure there (a full disk) is raised in the loader, as it was
    raised, at its next write or at `flush` (which `commit` calls); `discard` stops the thread first."""

    AHEAD = 1
    """Slices that may wait for the writer thread, beside the one it is writing."""

    def __init__(self, lake_dir: LakePath, load_id: str, threaded: bool = False) -> None:
        self.lake_dir = lake_dir
        self.threaded = threaded  # parts given in slices written by a writer thread (settings.load_writer_thread)
        self.load_id = load_id
        self.direct = isinstance(lake_dir, ObjectPath)  # no rename there: parts go to their final place
        self.staging = lake_dir / ".staging" / load_id
        self._parts: dict[str, int] = {}
        self._jobs: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def _folder(self, folder: str) -> LakePath:
        return self.lake_dir / folder / self.load_id if self.direct else self.staging / folder

    def write(self, folder: str, table: pa.Table) -> None:
        """Stage one part of `folder` (a dataset name, or _quarantine / _advisory)."""
        if table.num_rows == 0:
            return
        self._raise_failure()
        number = self._parts.get(folder, 0)
        self._parts[folder] = number + 1
        write_table_atomic(table, self._folder(folder) / f"part-{number:05d}.parquet")

    def write_slices(self, folder: str, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
        """Stage one part of `folder` from `tables` (slices of its rows, in order, at least one row in all),
        written one after another as row groups of the part, by the writer thread (see the class)."""
        self._raise_failure()
        number = self._parts.get(folder, 0)
        self._parts[folder] = number + 1
        if not self.threaded:
            write_tables_atomic(schema, tables, self._folder(folder) / f"part-{number:05d}.parquet")
            return
        jobs = self._start()
        jobs.put((self._folder(folder) / f"part-{number:05d}.parquet", schema))
        try:
            for table in tables:
                self._put(jobs, table)
        except BaseException:
            jobs.put(_ABORT)  # the part is cut short: the thread removes its file
            raise
        jobs.put(None)  # the part ends (a failure writing it is raised at the next write, or by `flush`)

    def _start(self) -> queue.Queue:
        if self._jobs is None:
            self._jobs = queue.Queue(maxsize=self.AHEAD)
            self._thread = threading.Thread(target=self._run, name=f"parquet-{self.load_id}", daemon=True)
            self._thread.start()
        return self._jobs

    def _put(self, jobs: queue.Queue, item: object) -> None:
        self._raise_failure()
        jobs.put(item)

    def _run(self) -> None:
        """The writer thread: parts one after another, each (path, schema), its slices, then None."""
        jobs = self._jobs
        assert jobs is not None
        while True:
            job = jobs.get()
            if job is _STOP:
                # the pages Arrow's allocator keeps for this thread go back (~30 MB after the 1 GB TiC file)
                pa.default_memory_pool().release_unused()
                return
            dest, schema = job

            ended = [False]

            def slices(jobs: queue.Queue = jobs, ended: list[bool] = ended) -> Iterable[pa.Table]:
                while (table := jobs.get()) is not None:
                    if table is _ABORT:
                        ended[0] = True
                        raise _Aborted
                    yield table
                ended[0] = True

            try:
                if self._failure is not None:
                    raise self._failure
                write_tables_atomic(schema, slices(), dest)
            except _Aborted:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the loader (`_raise_failure`)
                if self._failure is None:
                    self._failure = exc
                while not ended[0]:  # the part's remaining slices are let go
                    item = jobs.get()
                    if item is _STOP:
                        return
                    ended[0] = item is None or item is _ABORT

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def flush(self) -> None:
        """Wait until every part given is written; raise what failed writing one."""
        if self._thread is not None and self._jobs is not None:
            self._jobs.put(_STOP)
            self._thread.join()
            self._thread = self._jobs = None
        self._raise_failure()

    def _stop(self) -> None:
        with contextlib.suppress(Exception):  # the load is discarded anyway
            self.flush()

    @property
    def folders(self) -> list[str]:
        return sorted(self._parts)

    def commit(self, log_row: pa.Table, log_path: LakePath) -> None:
        """Move every staged folder into the lake, then write the load-log row (the commit) to
        `log_path` (load_log.part_path: a file in the log's current generation). In an object store
        the parts are in place already: the log row alone commits them."""
        self.flush()
        if self.direct:
            write_table_atomic(log_row, log_path)
            return
        for folder in self.folders:
            target = self.lake_dir / folder / self.load_id
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # a previous crashed attempt with the same id
                shutil.rmtree(target)
            os.replace(self.staging / folder, target)
        write_table_atomic(log_row, log_path)
        self.discard()

    def discard(self) -> None:
        """Forget everything staged (a rejected file loads nothing)."""
        self._stop()
        if self.direct:
            for folder in self.folders:
                remove_tree(self._folder(folder))
            return
        shutil.rmtree(self.staging, ignore_errors=True)


_STOP = object()
"""Tells the writer thread no part follows."""
_ABORT = object()
"""Tells the writer thread the part it writes was cut short."""


class _Aborted(Exception):
    """A part cut short by the loader (its own error is raised there)."""


def orphans(lake_dir: LakePath, committed: set[str]) -> list[LakePath]:
    """What a load that never committed left: everything staged, and lake folders of load ids with no
    committed load-log row (a crash between the folder's rename and the log row)."""
    found: list[LakePath] = []
    if not lake_dir.exists():
        return found
    staging = lake_dir / ".staging"
    if staging.is_dir():
        found += sorted(staging.iterdir())
    for dataset_dir in sorted(lake_dir.iterdir()):
        if not dataset_dir.is_dir() or dataset_dir.name in (LOAD_LOG, ".staging"):
            continue
        found += [d for d in sorted(dataset_dir.iterdir()) if d.is_dir() and d.name not in committed]
    return found


def sweep_orphans(lake_dir: LakePath, committed: set[str]) -> list[LakePath]:
    """Delete lake folders whose load never committed (a crash between rename and log)."""
    removed = []
    for path in orphans(lake_dir, committed):
        remove_tree(path)
        if path.parent.name != ".staging":
            removed.append(path)
    return removed
