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

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from flows.steps.lake import LakePath, ObjectPath

QUARANTINE = "_quarantine"
ADVISORY = "_advisory"
LOAD_LOG = "_load_log"
SYSTEM_FOLDERS = (QUARANTINE, ADVISORY, LOAD_LOG, ".staging")

PARQUET_OPTIONS = {"compression": "zstd"}


def write_table_atomic(table: pa.Table, dest: LakePath) -> None:
    """Write a Parquet file under a temporary name and rename it into place (in an object store:
    write the object, which appears whole when its upload completes)."""
    if isinstance(dest, ObjectPath):
        pq.write_table(table, dest.path, filesystem=dest.fs, **PARQUET_OPTIONS)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, **PARQUET_OPTIONS)
    os.replace(tmp, dest)


def write_tables_atomic(schema: pa.Schema, tables: Iterable[pa.Table], dest: LakePath) -> None:
    """`write_table_atomic` for a table given in slices, each written as it comes (row groups of one file), so
    the whole table is never held at once."""
    if isinstance(dest, ObjectPath):
        with pq.ParquetWriter(dest.path, schema, filesystem=dest.fs, **PARQUET_OPTIONS) as writer:
            for table in tables:
                writer.write_table(table)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
            for table in tables:
                writer.write_table(table)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_file_atomic(dest: LakePath, data: str | bytes) -> None:
    """Write a file (a report, a state file) under a temporary name beside it and rename it into
    place: a reader sees the old file or the new one, never part of one, and a crash leaves the old.
    (In an object store: one PUT, which has the same property.)"""
    if isinstance(dest, ObjectPath):
        dest.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_table(path: LakePath, schema: pa.Schema | None = None) -> pa.Table:
    """One Parquet file of the lake, local or in an object store."""
    if isinstance(path, ObjectPath):
        return pq.read_table(path.path, filesystem=path.fs, schema=schema)
    return pq.read_table(path, schema=schema)


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
    """Accumulates the Parquet parts of one file load in its staging folder."""

    def __init__(self, lake_dir: LakePath, load_id: str) -> None:
        self.lake_dir = lake_dir
        self.load_id = load_id
        self.direct = isinstance(lake_dir, ObjectPath)  # no rename there: parts go to their final place
        self.staging = lake_dir / ".staging" / load_id
        self._parts: dict[str, int] = {}

    def _folder(self, folder: str) -> LakePath:
        return self.lake_dir / folder / self.load_id if self.direct else self.staging / folder

    def write(self, folder: str, table: pa.Table) -> None:
        """Stage one part of `folder` (a dataset name, or _quarantine / _advisory)."""
        if table.num_rows == 0:
            return
        number = self._parts.get(folder, 0)
        self._parts[folder] = number + 1
        write_table_atomic(table, self._folder(folder) / f"part-{number:05d}.parquet")

    def write_slices(self, folder: str, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
        """Stage one part of `folder` from `tables` (slices of its rows, in order, at least one row in all),
        written one after another as row groups of the part."""
        number = self._parts.get(folder, 0)
        self._parts[folder] = number + 1
        write_tables_atomic(schema, tables, self._folder(folder) / f"part-{number:05d}.parquet")

    @property
    def folders(self) -> list[str]:
        return sorted(self._parts)

    def commit(self, log_row: pa.Table, log_path: LakePath) -> None:
        """Move every staged folder into the lake, then write the load-log row (the commit) to
        `log_path` (load_log.part_path: a file in the log's current generation). In an object store
        the parts are in place already: the log row alone commits them."""
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
        if self.direct:
            for folder in self.folders:
                remove_tree(self._folder(folder))
            return
        shutil.rmtree(self.staging, ignore_errors=True)


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
