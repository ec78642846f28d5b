"""The load log stays quick to read on a scheduled install: its one-file-per-attempt parts are merged."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb

from flows.settings import Settings
from flows.steps import load_log, warehouse
from flows.steps.store import LOAD_LOG


def attempt(lake: Path, number: int, status: str = "unchanged") -> load_log.LoadRecord:
    started = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=number)
    record = load_log.LoadRecord(load_id=f"load-{number:04d}", run_id=f"run-{number // 10}", source="payer_policy",
                                 source_file=f"file_{number % 7}.csv", source_path="raw/payer_policy", source_sha256="ab" * 32,
                                 file_bytes=100, started_at=started, status=status, ended_at=started)
    load_log.append(lake, record)
    return record


def test_many_attempts_merge_into_one_file_and_nothing_is_lost(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for number in range(70):
        attempt(lake, number)
    before = load_log.read(lake)
    assert load_log.compact(lake, at=100) == 0 and len(list((lake / LOAD_LOG).glob("*.parquet"))) == 70
    assert load_log.compact(lake, at=64) == 70
    files = list((lake / LOAD_LOG).glob("*.parquet"))
    assert len(files) == 1 and files[0].name.startswith("compacted-")
    after = load_log.read(lake)
    assert after.equals(before)
    attempt(lake, 70)  # later attempts write their own part again
    assert list(load_log.read(lake)["load_id"])[-2:] == ["load-0069", "load-0070"]


def test_a_compaction_cut_short_leaves_no_duplicate_rows(settings: Settings, tmp_path: Path) -> None:
    lake = settings.lake_dir
    for number in range(5):
        attempt(lake, number)
    parts = sorted((lake / LOAD_LOG).glob("*.parquet"))
    keep = tmp_path / "parts"
    keep.mkdir()
    for path in parts:
        shutil.copy(path, keep / path.name)
    load_log.compact(lake, at=1)
    for path in keep.iterdir():  # as if it stopped after writing the merged file, before removing the parts
        shutil.copy(path, lake / LOAD_LOG / path.name)
    assert list(load_log.read(lake)["load_id"]) == [f"load-{n:04d}" for n in range(5)]
    warehouse.build(settings)
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        assert con.execute("select count(*), count(distinct load_id) from load_log").fetchone() == (5, 5)
    finally:
        con.close()
