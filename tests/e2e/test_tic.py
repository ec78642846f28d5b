"""TiC end to end: raw -> Parquet -> DuckDB, quarantine, tables of contents, and a Dask cluster."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flows import catalog
from flows.ingest import ingest
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.steps import load_log, warehouse
from flows.steps.load import load_file
from tests.conftest import FIXTURES, query

FIX = FIXTURES / "tic__in_network_rate"


def test_bundled_excerpts_load_and_answer(bundled_settings: Settings) -> None:
    records = ingest("tic", None, bundled_settings)
    assert {r.status for r in records} == {"loaded"}
    assert all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in records)
    warehouse.build(bundled_settings, catalog.SCHEMAS)
    uhc = query(
        bundled_settings,
        """
        select min_rate_usd, p25_rate_usd, max_rate_usd, rate_count, rate_rows, provider_groups, provider_tins from tic_rate_summary
        where billing_code = '0440T' and payer_group = 'unitedhealthcare' and rate_kind = 'dollars'""",
    )
    # 3 negotiated prices ($596.75, $702.83, $702.83: p25 $649.79), 4 rows (provider group 1 has two TINs), 3 TINs
    assert uhc == [(Decimal("596.7500"), Decimal("649.7900"), Decimal("702.8300"), 3, 4, 3, 3)]
    pct = query(
        bundled_settings,
        """
        select min_pct_of_charges, max_pct_of_charges, min_rate_usd from tic_rate_summary
        where billing_code = '0440T' and rate_kind = 'percentage'""",
    )
    assert pct == [(Decimal("65.0000"), Decimal("65.0000"), None)]  # a percentage never in a dollar column
    assert query(
        bundled_settings,
        "select count(*) from tic__in_network_rate where negotiated_type = 'percentage' "
        "and negotiated_rate_usd is not null",
    ) == [(0,)]
    files = dict(query(bundled_settings, "select source_file, target_items from stg_tic_file"))
    assert files["carefirst_examplefile_excerpt.json.gz"] == 3  # comparators only: no 0440T-0442T
    assert query(
        bundled_settings,
        "select count(*) from stg_tic_in_network_rate where payer_group = 'bcbs' "
        "and billing_code in ('0440T', '0441T', '0442T')",
    ) == [(0,)]


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("negotiated_rate_string.json", "negotiated_rate_is_a_number"),
        ("negative_rate.json", "greater_than_or_equal_to"),
    ],
)
def test_bad_rates_are_quarantined_and_good_rates_of_the_file_load(settings: Settings, name: str, check: str) -> None:
    (record,) = ingest("tic", [FIX / name], settings)
    assert (record.status, record.rows_read, record.rows_loaded, record.rows_quarantined) == (
        "loaded_with_quarantine",
        2,
        1,
        1,
    )  # two rates, one bad (the file's own row is not counted)
    warehouse.build(settings, catalog.SCHEMAS)
    assert query(settings, "select check_name, source_record like '%negotiated_prices[0]%' from quarantine") == [
        (check, True)
    ]


def test_a_code_that_is_not_a_billing_code_is_quarantined(settings: Settings) -> None:
    payers = payer_directory(settings.payer_alias_file)
    record = load_file(
        catalog.get("tic"),
        FIX / "billing_code_0440.json",
        settings,
        "run-x",
        payers=payers,
        codes=frozenset({"0440T", "0440"}),
    )
    assert record.rows_quarantined == 1 and record.rows_loaded == 2  # the two 0440T rates
    warehouse.build(settings, catalog.SCHEMAS)
    assert query(settings, "select column_name, failure_value from quarantine") == [("billing_code", "0440")]


def test_a_broken_file_loads_nothing_and_says_where(settings: Settings) -> None:
    (record,) = ingest("tic", [FIX / "truncated.json"], settings)
    assert record.status == "rejected" and "the stream ends at uncompressed byte" in record.error
    assert not (settings.lake_dir / "tic__in_network_rate").exists()


def test_table_of_contents_expands_to_local_copies(bundled_settings: Settings) -> None:
    toc = FIXTURES / "tic__toc_file" / "toc_listing_local_and_missing_files.json"
    records = ingest("tic", None, bundled_settings, toc=toc)
    assert sorted(r.source_file for r in records) == [
        "toc_listing_local_and_missing_files.json",
        "uhc-ny_TEST_FILE_excerpt.json.gz",
    ]
    warehouse.build(bundled_settings, catalog.SCHEMAS)
    coverage = dict(query(bundled_settings, "select file_name, availability_reason from tic_toc_coverage"))
    assert coverage == {"uhc-ny_TEST_FILE_excerpt.json.gz": "loaded", "not_downloaded.json.gz": "not_loaded"}


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")  # Prefect itself is under test here
def test_files_load_on_a_two_worker_dask_cluster(bundled_settings: Settings) -> None:
    distributed = pytest.importorskip("distributed")
    files = sorted((bundled_settings.raw_dir / "tic").glob("*.json.gz")) + [FIX / "valid_minimal.json"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        records = ingest("tic", files, bundled_settings, dask_address=cluster.scheduler_address)
    assert sorted(r.source_file for r in records) == sorted(p.name for p in files)
    assert {r.status for r in records} == {"loaded"}
    log = load_log.read(bundled_settings.lake_dir)
    assert set(log["source_file"]) == {p.name for p in files}
    warehouse.build(bundled_settings, catalog.SCHEMAS)
    assert query(bundled_settings, "select count(distinct source_file) from tic__file") == [(len(files),)]


def test_every_cms_example_loads(settings: Settings) -> None:
    files = sorted((FIX / "cms_examples").rglob("*.json"))
    kind_of = {
        "in-network-rates": "in_network",
        "allowed-amounts": "allowed_amount",
        "table-of-contents": "table_of_contents",
        "provider-reference": "provider_reference",
    }
    records = ingest("tic", files, settings)
    assert len(records) == len(files) == 21
    assert {r.status for r in records} <= {"loaded", "unchanged"}  # some samples are byte-identical across versions
    assert all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in records)
    warehouse.build(settings, catalog.SCHEMAS)
    loaded = dict(query(settings, "select source_sha256, file_kind from tic__file"))
    for path, record in zip(files, records):
        assert loaded[record.source_sha256] == kind_of[path.parent.name], path
