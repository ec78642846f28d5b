"""Helpers for the CMS source tests: load one file through the real loader and read what it wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from flows import catalog
from flows.settings import Settings
from flows.steps import store
from flows.steps.load import load_file
from flows.steps.load_log import LoadRecord


def load(
    settings: Settings, source: str, path: Path, run_id: str = "20260101T000000Z-cms001", force: bool = False
) -> LoadRecord:
    """Load one file with the shared loader (no codes filter: CMS national files load whole).

    `force` loads it even when the same bytes were loaded before (as `ingest --force` does).
    """
    record = load_file(catalog.get(source), path, settings, run_id, already_loaded=set() if force else None)
    assert record.reconciled, record
    return record


def rows(settings: Settings, dataset: str) -> pd.DataFrame:
    """Every row loaded into a dataset (all loads), as stored in Parquet."""
    parts = sorted((settings.lake_dir / dataset).glob("*/*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True) if parts else pd.DataFrame()


def quarantine(settings: Settings) -> pd.DataFrame:
    parts = sorted((settings.lake_dir / store.QUARANTINE).glob("*/*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True) if parts else pd.DataFrame()


def findings(settings: Settings) -> list[tuple[object, object, object, object]]:
    """(record, column, check, value as written) of every quarantined row, in file order."""
    q = quarantine(settings)
    if q.empty:
        return []
    return [
        tuple(None if pd.isna(v) else v for v in r)
        for r in q[["source_record", "column_name", "check_name", "failure_value"]].itertuples(index=False)
    ]


def copy_as(path: Path, folder: Path, name: str) -> Path:
    """A copy of a fixture under the name CMS gives the file (the release some files only carry there)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copyfile(path, target)
    return target
