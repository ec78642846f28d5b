"""The load log: one row per attempt to load one file, and the commit record of every load.

Invariant (tested): rows_read = rows_loaded + rows_quarantined for every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from flows.steps.store import LOAD_LOG, write_table_atomic

STATUSES = ("loaded", "loaded_with_quarantine", "rejected", "unchanged", "failed")
"""loaded: every row loaded. loaded_with_quarantine: good rows loaded, bad rows quarantined.
rejected: a file-level defect, nothing loaded. unchanged: same sha256 already loaded for this
source, skipped. failed: an internal error (a bug, not the file's fault), nothing loaded."""
COMMITTED = ("loaded", "loaded_with_quarantine")

LOG_SCHEMA = pa.schema(
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
        row = asdict(self)
        return pa.Table.from_pylist([row], schema=LOG_SCHEMA)

    @property
    def reconciled(self) -> bool:
        """Nothing lost: every row read was either loaded or quarantined."""
        return self.rows_read == self.rows_loaded + self.rows_quarantined


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def append(lake_dir: Path, record: LoadRecord) -> None:
    """Write a load-log row for an attempt that committed no data (rejected, unchanged, failed)."""
    write_table_atomic(record.to_table(), lake_dir / LOAD_LOG / f"{record.load_id}.parquet")


COMPACT_AT = 64
"""Log files in the folder from which `compact` merges them into one."""


def read(lake_dir: Path) -> pd.DataFrame:
    """Every load-log row, oldest first (an empty frame with the log's columns when none)."""
    folder = lake_dir / LOAD_LOG
    files = sorted(p for p in folder.glob("*.parquet")) if folder.exists() else []
    if not files:
        return LOG_SCHEMA.empty_table().to_pandas()
    frame = pa.concat_tables(pq.read_table(p, schema=LOG_SCHEMA) for p in files).to_pandas()
    # a row can sit in a compacted file and in its original part if a compaction stopped halfway
    frame = frame.drop_duplicates("load_id", keep="first")
    return frame.sort_values(["started_at", "load_id"], kind="stable").reset_index(drop=True)


def compact(lake_dir: Path, at: int = COMPACT_AT) -> int:
    """Merge the log's files into one when there are `at` or more (each attempt writes one, so a
    scheduled install would otherwise read thousands). Call it holding the writer lock. The merged
    file is written first, then the parts are removed: a crash in between leaves duplicates, which
    `read` and the `load_log` view drop. Returns the number of files merged (0: none)."""
    folder = lake_dir / LOAD_LOG
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if len(files) < at:
        return 0
    rows = read(lake_dir)
    stamp = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}"
    write_table_atomic(pa.Table.from_pandas(rows, schema=LOG_SCHEMA, preserve_index=False),
                       folder / f"compacted-{stamp}.parquet")
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def loaded_sha256s(log: pd.DataFrame, source: str) -> set[str]:
    """Files (by content hash) already committed for a source."""
    done = log[(log["source"] == source) & log["status"].isin(COMMITTED)]
    return set(done["source_sha256"].dropna())
