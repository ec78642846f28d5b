"""The load log stays quick to read on a scheduled install (its one-file-per-attempt parts are merged
into a new generation), and no merge removes a file a reader may still be reading."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from flows import catalog
from flows.errors import ConfigurationError
from flows.settings import Settings, from_env
from flows.steps import load_log, store, warehouse
from flows.steps.store import LOAD_LOG, write_table_atomic


def attempt(lake: Path, number: int, status: str = "unchanged") -> load_log.LoadRecord:
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=number)
    record = load_log.LoadRecord(
        load_id=f"load-{number:04d}",
        run_id=f"run-{number // 10}",
        source="payer_policy",
        source_file=f"file_{number % 7}.csv",
        source_path="raw/payer_policy",
        source_sha256="ab" * 32,
        file_bytes=100,
        started_at=started,
        status=status,
        ended_at=started,
    )
    load_log.append(lake, record)
    return record


def view_counts(settings: Settings) -> tuple[int, int]:
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return con.execute("select count(*), count(distinct load_id) from load_log").fetchone()
    finally:
        con.close()


def ids(numbers: range) -> list[str]:
    return [f"load-{n:04d}" for n in numbers]


def test_many_attempts_merge_into_a_new_generation_and_nothing_is_lost(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for number in range(70):
        attempt(lake, number)
    before = load_log.read(lake)
    assert load_log.compact(lake, at=100) == 0 and len(load_log.generation_files(lake, 0)) == 70
    assert load_log.compact(lake, at=64) == 70
    assert (lake / LOAD_LOG / "CURRENT").read_text(encoding="utf-8").strip() == "g000001"
    assert [p.name for p in load_log.generation_files(lake, 1)] == ["compacted.parquet"]
    assert len(load_log.generation_files(lake, 0)) == 70  # left for the readers that listed them
    assert load_log.read(lake).equals(before)
    record = attempt(lake, 70)  # later attempts write their own part, into the current generation
    assert (lake / LOAD_LOG / "g000001" / f"{record.load_id}.parquet").exists()
    assert list(load_log.read(lake)["load_id"])[-2:] == ["load-0069", "load-0070"]


def test_the_pointer_flips_generation_after_generation_and_the_view_follows(settings: Settings) -> None:
    lake = settings.lake_dir
    for number in range(5):
        attempt(lake, number)
    warehouse.build(settings, catalog.SCHEMAS)
    assert warehouse.compact_load_log(settings, catalog.SCHEMAS, at=3) == 5
    for number in range(5, 9):
        attempt(lake, number)
    assert (
        warehouse.compact_load_log(settings, catalog.SCHEMAS, at=3) == 5
    )  # generation 1's merged file and its 4 new parts
    assert load_log.current_generation(lake) == 2 and load_log.generations(lake) == [0, 1, 2]
    assert list(load_log.read(lake)["load_id"]) == ids(range(9))
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)  # moved at once: nothing else changed
    try:
        sql = con.execute("select sql from duckdb_views() where view_name = 'load_log'").fetchone()[0]
    finally:
        con.close()
    assert "/_load_log/g000002/*.parquet" in sql
    assert view_counts(settings) == (9, 9)
    attempt(lake, 9)  # visible without a rebuild
    assert view_counts(settings) == (10, 10)
    assert warehouse.plan(settings, catalog.SCHEMAS).needed is False


def test_a_new_generation_alone_rebuilds_without_calling_any_mart_changed(settings: Settings) -> None:
    for number in range(3):
        attempt(settings.lake_dir, number)
    warehouse.build(settings, catalog.SCHEMAS)
    load_log.compact(settings.lake_dir, at=2)  # the flow's own build (not compact_load_log) moves the view
    result = warehouse.build_if_changed(settings, catalog.SCHEMAS)
    assert result.rebuilt and result.reason == "the load log was merged (generation 1)" and result.marts_rebuilt == []


def test_old_generations_go_only_after_the_grace_period_and_once_no_build_reads_them(settings: Settings) -> None:
    lake = settings.lake_dir
    for number in range(4):
        attempt(lake, number)
    warehouse.build(settings, catalog.SCHEMAS)  # its view globs generation 0
    load_log.compact(lake, at=2)
    hours_ago = time.time() - 7200
    os.utime(lake / LOAD_LOG / "g000001" / "compacted.parquet", (hours_ago, hours_ago))  # merged two hours ago
    assert warehouse.log_generation_in_use(settings)[0] == 0
    assert load_log.prune(lake, 3600, warehouse.log_generation_in_use(settings)) == []
    assert view_counts(settings) == (4, 4)  # the build still reads generation 0, long after the merge
    warehouse.build(settings, catalog.SCHEMAS)
    in_use = warehouse.log_generation_in_use(settings)
    assert in_use[0] == 1
    assert load_log.prune(lake, 3600, in_use) == []  # sessions opened on the previous build may still read it
    assert len(load_log.generation_files(lake, 0)) == 4
    warehouse.build(settings, catalog.SCHEMAS)  # a later build on the same generation does not postpone the removal
    assert warehouse.log_generation_in_use(settings) == in_use
    assert load_log.prune(lake, 3600, in_use, now=time.time() + 3601) == [0]
    assert load_log.generation_files(lake, 0) == [] and load_log.generations(lake) == [1]
    assert list(load_log.read(lake)["load_id"]) == ids(range(4)) and view_counts(settings) == (4, 4)


def test_a_generation_merged_moments_ago_stays_for_the_reads_that_listed_it(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for number in range(3):
        attempt(lake, number)
    load_log.compact(lake, at=2)  # no DuckDB file: only `read` callers can be on generation 0
    assert load_log.prune(lake, 3600, None) == []
    assert load_log.prune(lake, 3600, None, now=time.time() + 3601) == [0]


def test_compact_load_log_prunes_with_the_configured_grace(settings: Settings) -> None:
    settings = settings.replace(log_grace_seconds=0.0)
    for number in range(3):
        attempt(settings.lake_dir, number)
    warehouse.build(settings, catalog.SCHEMAS)
    warehouse.compact_load_log(
        settings, catalog.SCHEMAS, at=2
    )  # moves the build to generation 1, then prunes 0 (grace 0)
    assert load_log.generations(settings.lake_dir) == [1] and view_counts(settings) == (3, 3)


def test_no_warehouse_means_no_generation_is_in_use(settings: Settings) -> None:
    assert warehouse.log_generation_in_use(settings) is None
    warehouse.build(settings, catalog.SCHEMAS)
    (settings.warehouse_dir / warehouse.STATE_NAME).unlink()  # unknown: keep every generation
    assert warehouse.log_generation_in_use(settings)[0] == 0


def test_a_lake_from_before_generations_reads_and_migrates_on_its_first_merge(settings: Settings) -> None:
    lake = settings.lake_dir
    for number in range(5):
        attempt(lake, number)  # no CURRENT: the flat layout of every lake written before generations
    # the old compaction's merged file, with two rows still also in their parts (it was cut short)
    rows = load_log.read(lake)
    write_table_atomic(
        pa.Table.from_pandas(rows.iloc[:2], schema=load_log.LOG_SCHEMA, preserve_index=False),
        lake / LOAD_LOG / "compacted-20260101T000000000000Z.parquet",
    )
    assert list(load_log.read(lake)["load_id"]) == ids(range(5))
    warehouse.build(settings, catalog.SCHEMAS)
    state = settings.warehouse_dir / warehouse.STATE_NAME
    old_state = state.read_text(encoding="utf-8").replace('"log_generation": 0', '"_": 0')
    state.write_text(old_state, encoding="utf-8")  # as an older build wrote it
    assert warehouse.plan(settings, catalog.SCHEMAS).needed  # rebuilt once, recording its generation
    assert view_counts(settings) == (5, 5)
    assert load_log.compact(lake, at=64) == 0
    assert load_log.compact(lake, at=6) == 6
    assert [p.name for p in load_log.generation_files(lake, 1)] == ["compacted.parquet"]
    assert list(load_log.read(lake)["load_id"]) == ids(range(5))
    warehouse.build(settings, catalog.SCHEMAS)
    assert view_counts(settings) == (5, 5)
    assert load_log.prune(lake, 0, (1, 0.0)) == [0] and not list((lake / LOAD_LOG).glob("*.parquet"))


@pytest.mark.parametrize("killed_at", ["writing the merged file", "swapping CURRENT"])
def test_a_compaction_killed_halfway_leaves_readers_consistent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, killed_at: str
) -> None:
    lake = settings.lake_dir
    for number in range(5):
        attempt(lake, number)
    warehouse.build(settings, catalog.SCHEMAS)

    def killed_writing(table: pa.Table, dest: Path) -> None:  # what a kill leaves: part of a file, under a temp name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.with_name(f".{dest.name}.tmp-1").write_bytes(b"PAR1 half a file")
        raise KeyboardInterrupt("killed writing the merged file")

    def killed_swapping(lake_dir: Path, generation: int) -> None:  # the merged file is complete, CURRENT unchanged
        raise KeyboardInterrupt("killed swapping CURRENT")

    where, target, killed = (
        (store, "write_table_atomic", killed_writing)  # load_log imports it when it writes
        if killed_at == "writing the merged file"
        else (load_log, "_point_to", killed_swapping)
    )
    monkeypatch.setattr(where, target, killed)
    with pytest.raises(KeyboardInterrupt):
        warehouse.compact_load_log(settings, catalog.SCHEMAS, at=2)
    monkeypatch.undo()
    assert load_log.current_generation(lake) == 0
    assert list(load_log.read(lake)["load_id"]) == ids(range(5)) and view_counts(settings) == (5, 5)
    attempt(lake, 5)
    assert (
        warehouse.compact_load_log(settings, catalog.SCHEMAS, at=2) == 6
    )  # the next run merges, past the stray folder
    assert load_log.current_generation(lake) == 2
    assert list(load_log.read(lake)["load_id"]) == ids(range(6)) and view_counts(settings) == (6, 6)
    assert load_log.prune(lake, 0, (2, 0.0)) == [0, 1] and load_log.generations(lake) == [2]


def test_the_grace_period_comes_from_the_environment() -> None:
    assert from_env({}).log_grace_seconds == 3600
    assert from_env({"PAYERBENCH_LOG_GRACE_SECONDS": "0"}).log_grace_seconds == 0
    with pytest.raises(ConfigurationError, match="PAYERBENCH_LOG_GRACE_SECONDS='-1' must be 0 or more"):
        from_env({"PAYERBENCH_LOG_GRACE_SECONDS": "-1"})


def test_a_part_is_read_once_per_process_unless_it_changed_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`read` runs once per source in a run: the parts it read before come from memory, not the disk."""
    for number in range(3):
        attempt(tmp_path, number)
    reads: list[Path] = []
    real = load_log._read_part
    monkeypatch.setattr(load_log, "_read_part", lambda path: reads.append(path) or real(path))
    assert list(load_log.read(tmp_path)["load_id"]) == ids(range(3))
    assert len(reads) == 3
    attempt(tmp_path, 3)
    assert list(load_log.read(tmp_path)["load_id"]) == ids(range(4))
    assert len(reads) == 4  # only the new part
    # a part replaced on disk (not something payerbench does: a restored backup, a hand edit) is read again
    changed = load_log.part_path(tmp_path, "load-0001")
    record = attempt(tmp_path, 1, status="failed")
    assert changed.exists() and record.status == "failed"
    assert list(load_log.read(tmp_path)["status"]) == ["unchanged", "failed", "unchanged", "unchanged"]
    assert len(reads) == 5


def test_read_rows_gives_reads_rows_in_its_order_without_importing_pandas(tmp_path: Path) -> None:
    """The warehouse build reads the log with `read_rows` in a process without pandas: the same rows, order and
    columns as `read`, the duplicates of a pre-generation lake dropped the same way."""
    import subprocess
    import sys

    for number in (3, 1, 2, 0):
        attempt(tmp_path, number, status="loaded" if number % 2 else "rejected")
    early = dt.datetime(2025, 12, 31, tzinfo=dt.UTC)  # named last, started first: `read` sorts it first
    for load_id in ("load-9999", "load-9998"):  # (and two at one time: by load_id)
        record = load_log.LoadRecord(load_id, "run-9", "payer_policy", "f.csv", "raw/payer_policy", None, 1, early)
        load_log.append(tmp_path, record)
    first = load_log.generation_files(tmp_path, 0)[0]
    shutil.copy(first, first.with_name("zz-duplicate.parquet"))  # a row twice: kept once, the first
    columns = ("load_id", "status", "rows_loaded", "datasets")
    frame = load_log.read(tmp_path)
    expected = [{c: (list(v) if c == "datasets" else v) for c, v in zip(columns, row, strict=True)}
                for row in frame[list(columns)].itertuples(index=False)]  # fmt: skip
    assert len(expected) == 6 and [row["load_id"] for row in expected[:2]] == ["load-9998", "load-9999"]
    assert load_log.read_rows(tmp_path, columns) == (0, expected)
    script = (
        "import sys, json; from pathlib import Path; from flows.steps import load_log; "
        f"rows = load_log.read_rows(Path({str(tmp_path)!r}), {columns!r}); "
        "print(json.dumps([len(rows[1]), 'pandas' in sys.modules]))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root).stdout
    assert json.loads(out) == [6, False]


def test_unchanged_attempts_inside_gathered_are_written_as_one_part_when_it_ends(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with load_log.gathered(lake):
        for number in range(5):
            attempt(lake, number)
        rejected = attempt(lake, 5, status="rejected")  # not an unchanged file: written at once
        assert [p.name for p in load_log.generation_files(lake, 0)] == [f"{rejected.load_id}.parquet"]
    parts = load_log.generation_files(lake, 0)
    assert len(parts) == 2  # five unchanged rows in one part, the rejected row in its own
    assert sorted(load_log.read(lake)["load_id"]) == ids(range(6))
    assert "load-0000.parquet" in {p.name for p in parts}


def test_gathered_rows_are_written_when_the_block_ends_by_an_exception(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with pytest.raises(RuntimeError), load_log.gathered(lake):
        attempt(lake, 1)
        attempt(lake, 2)
        raise RuntimeError("a source failed half way")
    assert sorted(load_log.read(lake)["load_id"]) == ids(range(1, 3))
    attempt(lake, 3)  # outside the block: one part per attempt again
    assert len(load_log.generation_files(lake, 0)) == 2


def test_gathered_for_another_lake_leaves_this_lakes_rows_alone(tmp_path: Path) -> None:
    with load_log.gathered(tmp_path / "other"):
        attempt(tmp_path / "lake", 1)
        assert len(load_log.generation_files(tmp_path / "lake", 0)) == 1
    assert not (tmp_path / "other").exists()
