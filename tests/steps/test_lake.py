"""A lake in an object store (flows/steps/lake.py): the same loads, log, commit rule and build as on
local disk, against an S3-compatible server on loopback (moto)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from flows import catalog
from flows.errors import ConfigurationError
from flows.lookups import codes_of_interest, payer_directory
from flows.settings import Settings, from_env
from flows.steps import load, load_log, store, warehouse
from flows.steps.lake import ObjectPath, lake_root
from tests.conftest import FIXTURES, query
from tests.s3_lake import s3_server

FIX = FIXTURES / "tic__in_network_rate"
TIC = catalog.SOURCES["tic"]


def load_file(source, path, settings: Settings, run_id: str):  # type: ignore[no-untyped-def]
    payers = payer_directory(settings.payer_alias_file)
    return load.load_file(source, path, settings, run_id, payers=payers, codes=codes_of_interest(settings))


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    with s3_server(monkeypatch) as bucket:
        yield bucket


@pytest.fixture
def s3_settings(settings: Settings, s3_bucket: Callable[[], str]) -> Settings:
    return dataclasses.replace(settings, lake_url=s3_bucket())


def test_the_setting_is_read_from_the_environment() -> None:
    assert from_env({"PAYERBENCH_LAKE_URL": "s3://b/p"}).lake_url == "s3://b/p"
    assert from_env({}).lake_url is None


def test_without_a_url_the_lake_is_the_local_folder(settings: Settings) -> None:
    assert lake_root(settings) == settings.lake_dir
    assert settings.lake_read_dir == settings.lake_dir


def test_a_url_pyarrow_cannot_open_is_a_configuration_error(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="PAYERBENCH_LAKE_URL='nosuch://x/y'"):
        lake_root(dataclasses.replace(settings, lake_url="nosuch://x/y"))


def test_a_load_writes_its_parts_and_log_row_to_the_bucket_and_nothing_locally(s3_settings: Settings) -> None:
    record = load_file(TIC, FIX / "valid_minimal.json", s3_settings, "run1")
    assert (record.status, record.error) == ("loaded", None) and record.rows_loaded > 0
    lake = lake_root(s3_settings)
    assert isinstance(lake, ObjectPath) and str(lake).startswith("s3://lake-")
    parts = (lake / "tic__in_network_rate" / record.load_id).glob("*.parquet")
    assert len(parts) == 1
    assert (lake / "_load_log" / f"{record.load_id}.parquet").is_file()
    assert not (lake / ".staging").exists()  # no staging in an object store: parts go to their place
    assert list(load_log.read(lake)["load_id"]) == [record.load_id]
    assert not s3_settings.lake_dir.exists()  # the local lake folder is never made


def test_parts_without_their_log_row_are_invisible_and_swept(s3_settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    good = load_file(TIC, FIX / "valid_minimal.json", s3_settings, "run1")

    def crash(self, log_row, log_path):  # type: ignore[no-untyped-def]  # dies after the parts, before the log row
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(store.LoadWriter, "commit", crash)
        load_file(TIC, FIX / "per_diem_rate.json", s3_settings, "run2")
    lake = lake_root(s3_settings)
    written = [d.name for d in (lake / "tic__in_network_rate").iterdir()]
    assert len(written) == 2  # the crashed load's parts are in the bucket ...
    log = load_log.read(lake)
    assert list(log["load_id"]) == [good.load_id]  # ... but the log does not commit them
    warehouse.build(s3_settings, catalog.SCHEMAS)
    assert query(s3_settings, "select distinct load_id from tic__in_network_rate") == [(good.load_id,)]
    removed = store.sweep_orphans(lake, {good.load_id})
    assert sorted(p.parent.name for p in removed) == ["tic__file", "tic__in_network_rate"]
    assert [d.name for d in (lake / "tic__in_network_rate").iterdir()] == [good.load_id]


def test_a_rejected_file_leaves_no_parts_in_the_bucket(s3_settings: Settings) -> None:
    record = load_file(TIC, FIX / "truncated.json", s3_settings, "run1")
    assert record.status == "rejected"
    lake = lake_root(s3_settings)
    assert not (lake / "tic__in_network_rate" / record.load_id).exists()
    assert load_log.read(lake)["status"].tolist() == ["rejected"]


def test_compaction_flips_the_pointer_object_and_prune_removes_the_old_generation(s3_settings: Settings) -> None:
    lake = lake_root(s3_settings)
    for n in range(3):
        rec = load_log.LoadRecord(f"L{n}", "r", "tic", "f", "p", None, None, load_log.now_utc(), status="rejected")
        load_log.append(lake, rec)
    assert load_log.current_generation(lake) == 0
    assert load_log.compact(lake, at=3) == 3
    assert (lake / "_load_log" / "CURRENT").read_text().strip() == "g000001"
    assert load_log.current_generation(lake) == 1
    assert list(load_log.read(lake)["load_id"]) == ["L0", "L1", "L2"]
    load_log.append(lake, load_log.LoadRecord("L3", "r", "tic", "f", "p", None, None, load_log.now_utc()))
    assert (lake / "_load_log" / "g000001" / "L3.parquet").is_file()
    assert load_log.prune(lake, grace_seconds=3600, in_use=None) == []  # superseded just now: kept
    assert load_log.prune(lake, grace_seconds=0, in_use=None) == [0]
    assert load_log.generation_files(lake, 0) == []
    assert list(load_log.read(lake)["load_id"]) == ["L0", "L1", "L2", "L3"]


def test_the_build_reads_local_copies_and_answers_as_a_local_lake(settings: Settings, s3_settings: Settings) -> None:
    files = [FIX / "valid_minimal.json", FIX / "per_diem_rate.json", FIX / "negative_rate.json"]
    for path in files:
        load_file(TIC, path, settings, "run1")
        load_file(TIC, path, s3_settings, "run1")
    local = dataclasses.replace(settings, warehouse_dir=settings.warehouse_dir.parent / "local-warehouse")
    for path in files:
        load_file(TIC, path, local, "run1")
    warehouse.build(local, catalog.SCHEMAS)
    warehouse.build(s3_settings, catalog.SCHEMAS)
    sql = "select count(*), count(distinct source_file) from tic__in_network_rate"
    assert query(s3_settings, sql) == query(local, sql) != [(0, 0)]
    sql = "select status, count(*) from load_log group by all order by all"
    assert query(s3_settings, sql) == query(local, sql)
    assert query(s3_settings, "select count(*) from quarantine") == query(local, "select count(*) from quarantine")
    copies = sorted(
        p.relative_to(s3_settings.lake_read_dir).parts[0] for p in s3_settings.lake_read_dir.rglob("*.parquet")
    )
    assert "tic__in_network_rate" in copies and "_load_log" in copies
    assert warehouse.plan(s3_settings, catalog.SCHEMAS).needed is False  # nothing new: no rebuild
    from flows.ops import status

    def rows(found: status.Status) -> dict[str, tuple[int, int, int]]:
        return {d.dataset: (d.files, d.rows, d.rows_quarantined) for d in found.datasets if d.source == "tic"}

    assert rows(status.collect(s3_settings)) == rows(status.collect(local))  # `payerbench status` reads it too
    assert rows(status.collect(local))["tic__in_network_rate"][1] > 0


def test_an_object_path_reads_writes_and_lists_like_a_path(s3_settings: Settings) -> None:
    lake = lake_root(s3_settings)
    assert isinstance(lake, ObjectPath)
    store.write_table_atomic(pa.table({"a": [1, 2]}), lake / "x" / "one.parquet")
    store.write_file_atomic(lake / "x" / "note.txt", "hello")
    assert (lake / "x" / "note.txt").read_text() == "hello"
    assert [p.name for p in (lake / "x").glob("*.parquet")] == ["one.parquet"]
    assert store.read_table(lake / "x" / "one.parquet").num_rows == 2
    assert (lake / "x").is_dir() and not (lake / "x").is_file() and (lake / "x" / "one.parquet").stat().st_size > 0
    with pytest.raises(FileNotFoundError):
        (lake / "x" / "missing").read_text()
    store.remove_tree(lake / "x")
    assert (lake / "x").glob("*") == []
