"""The TiC crawl against a loopback mirror: a UHC-style blob listing whose two employer ToCs share an in-network
file (one copy signed with another query, one on another host with the same name and size), an Anthem-style gzip
index of ~10 MB read without ever being held, filters, the compact ToC loaded by the real tic adapter, the plan,
a second crawl that lands nothing, bad index content refused, Cigna's signed URL asked of the operator.

All payers, plans, EINs and URLs below are SYNTHETIC (invented names on the real hosts' layouts)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import stamina

from flows.fetch import manifest as manifest_module
from flows.fetch import tic_index
from flows.fetch.http import HttpFetcher
from flows.fetch.manifest import Manifest
from flows.fetch.run import FetchContext
from flows.fetch.tic_index import PayerIndex, crawl_indexes, dedupe_key, month_urls, operator_urls
from flows.settings import Settings
from flows.sources import tic
from flows.sources.base import ReadContext
from flows.steps.validate import DatasetValidator
from schemas import tic as tic_schema
from tests.fetch.server import MirrorServer

TODAY = dt.date(2026, 8, 15)
LISTING = "https://transparency-in-coverage.uhc.com/api/v1/uhc/blobs"
BLOB_HOST = "https://mrfstorageprod.blob.core.windows.net/public-mrf/2026-08-01/"
EDGE_HOST = "https://uhc-tic-mrf.azureedge.net/public-mrf/2026-08-01/"
SHARED = "2026-08-01_UnitedHealthcare-Synthetic_Choice-Plus_in-network-rates.json.gz"
ACME_ONLY = "2026-08-01_Synthetic-ACME_Options-PPO_in-network-rates.json.gz"
ACME_ALLOWED = "2026-08-01_Synthetic-ACME_allowed-amounts.json"
ANTHEM = "https://antm-pt-prod-dataz-nogbd-nophi-us-east1.s3.amazonaws.com/anthem/{YYYY-MM-01}_anthem_index.json.gz"
ANTHEM_AUG = ANTHEM.replace("{YYYY-MM-01}", "2026-08-01")

UHC_ROW = PayerIndex(
    "unitedhealthcare", "unitedhealthcare", "uhc_blob_listing", LISTING, 1, r"_index\.json$", 25,
    file_name_pattern="in-network-rates", source="synthetic", source_confidence="confirmed",
)  # fmt: skip
ANTHEM_ROW = PayerIndex(
    "bcbs", "anthem", "toc_json", ANTHEM, 1, file_name_pattern="_in-network-rates_", max_files=3,
    source="synthetic", source_confidence="confirmed",
)  # fmt: skip
CIGNA_ROW = PayerIndex("cigna", "cigna", "signed_url_required", None, 1, source="synthetic")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(tic_index.SIGNED_URLS_ENV, raising=False)
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


def plan(name: str, ein: str, market: str = "group") -> dict[str, str]:
    return {"plan_name": name, "plan_id_type": "EIN", "plan_id": ein, "plan_market_type": market}


def toc(entity: str, structures: list[dict]) -> bytes:
    return json.dumps(
        {"reporting_entity_name": entity, "reporting_entity_type": "Third-Party Administrator",
         "reporting_structure": structures, "version": "1.0.0"}
    ).encode()  # fmt: skip


def uhc_mirror(server: MirrorServer) -> None:
    """Two employer ToCs sharing the Choice-Plus file: ACME lists it signed (?sig=AAA) on the edge host, BETA on
    the edge host signed otherwise (?sig=BBB) and again on the blob host (same name and size in the listing)."""
    acme = toc(
        "Synthetic ACME Corp",
        [
            {
                "reporting_plans": [plan("ACME PPO", "111111111"), plan("ACME HMO", "111111111")],
                "in_network_files": [
                    {"description": "Choice Plus network", "location": EDGE_HOST + SHARED + "?sig=AAA"},
                    {"description": "Options PPO network", "location": EDGE_HOST + ACME_ONLY},
                ],
                "allowed_amount_file": {"description": "allowed amounts", "location": EDGE_HOST + ACME_ALLOWED},
            }
        ],
    )
    beta = toc(
        "Synthetic BETA LLC",
        [
            {
                "reporting_plans": [plan("BETA Choice Plus", "222222222", "individual")],
                "in_network_files": [
                    {"description": "Choice Plus network", "location": EDGE_HOST + SHARED + "?sig=BBB"}
                ],
            },
            {
                "reporting_plans": [plan("BETA Choice Plus Dental", "222222222")],
                "in_network_files": [{"description": "Choice Plus network", "location": BLOB_HOST + SHARED}],
            },
        ],
    )
    server.put(BLOB_HOST + "2026-08-01_Synthetic-ACME_index.json", acme)
    server.put(BLOB_HOST + "2026-08-01_Synthetic-BETA_index.json", beta)
    blobs = [
        {"name": "2026-08-01_Synthetic-ACME_index.json", "downloadUrl": BLOB_HOST + "2026-08-01_Synthetic-ACME_index.json", "size": len(acme)},
        {"name": SHARED, "downloadUrl": BLOB_HOST + SHARED, "size": 123_456_789},
        {"name": "2026-08-01_Synthetic-BETA_index.json", "downloadUrl": BLOB_HOST + "2026-08-01_Synthetic-BETA_index.json", "size": len(beta)},
    ]  # fmt: skip
    server.put(LISTING, json.dumps({"blobs": blobs}))


def anthem_index(structures: int = 24_000) -> bytes:
    """An Anthem-style ToC, gzip: many structures (50 plans over and over) listing 6 distinct in-network files,
    each under a fresh CloudFront-style signature, plus padding in the descriptions (~10 MB uncompressed)."""
    parts = [b'{"reporting_entity_name":"Synthetic Anthem","reporting_entity_type":"Health Insurance Issuer",'
             b'"reporting_structure":[']  # fmt: skip
    pad = "x" * 250
    for i in range(structures):
        n = i % 6
        item = {
            "reporting_plans": [plan(f"SYNTHETIC PLAN {i % 50}", f"{900000000 + i % 50}")],
            "in_network_files": [
                {
                    "description": f"in-network file {n} {pad}",
                    "location": f"https://anthembcbsxx.mrf.bcbs.com/2026-08_890_58B0_in-network-rates_{n + 1}_of_6.json.gz"
                    f"?&Expires={i}&Signature=S{i}",
                }
            ],
        }
        parts.append((b"," if i else b"") + json.dumps(item).encode())
    parts.append(b"]}")
    return b"".join(parts)


def context(settings: Settings, fetcher: HttpFetcher, fetch_id: str = "f1") -> FetchContext:
    rows = manifest_module.read(settings.raw_dir)
    return FetchContext(settings, fetcher, Manifest(rows), fetch_id, say=lambda _: None)


def crawl(settings: Settings, rows: list[PayerIndex], fetch_id: str = "f1") -> list[manifest_module.ManifestRow]:
    with HttpFetcher(settings) as fetcher:
        got = crawl_indexes(context(settings, fetcher, fetch_id), today=TODAY, rows=rows)
    manifest_module.append(settings.raw_dir, got)
    return got


def mirror_settings(tmp_path: Path, server: MirrorServer) -> Settings:
    return Settings(
        raw_dir=tmp_path / "raw", warehouse_dir=tmp_path / "wh", mirror=server.url, fetch_interval=0, chunk_rows=1000
    )


def landed(settings: Settings, payer: str) -> list[str]:
    folder = settings.raw_dir / "tic" / "fetched" / payer
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def toc_rows(path: Path, settings: Settings) -> pd.DataFrame:
    """The compact ToC through the real tic adapter, validated by tic__toc_file's schema."""
    assert tic.detect(path)
    frames = [b.frame for b in tic.read(path, ReadContext(settings=settings, codes_of_interest=frozenset({"0440T"})))
              if b.dataset == tic.TOC]  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    result = DatasetValidator(tic_schema.TocFile).check(frame, path)
    assert result.failures.empty, result.failures
    return result.valid


# --- pure parts --------------------------------------------------------------------------------------------------
def test_dedupe_key_drops_the_query_and_case_of_the_host_only() -> None:
    assert dedupe_key("https://A.example/x/f.json.gz?sig=1") == dedupe_key("https://a.example/x/f.json.gz?sig=2")
    assert dedupe_key("https://a.example/x/f%20g.json") == dedupe_key("https://a.example/x/f g.json")
    assert dedupe_key("https://a.example/x/F.json") != dedupe_key("https://a.example/x/f.json")


def test_month_urls_fill_this_month_then_the_previous_and_skip_a_day_still_to_come() -> None:
    assert month_urls(ANTHEM, 1, TODAY) == [
        (ANTHEM_AUG, "2026-08-01"),
        (ANTHEM.replace("{YYYY-MM-01}", "2026-07-01"), "2026-07-01"),
    ]
    texas = "https://t.example/toc/{YYYY-MM-DD}_Texas_index.json"
    assert [d for _, d in month_urls(texas, 20, TODAY)] == ["2026-07-20"]  # the 20th of August is still to come
    assert month_urls("https://x.example/{YYYY-MM}/i.json", None, TODAY)[0][0] == "https://x.example/2026-08/i.json"


def test_operator_urls_read_payer_equals_url_words() -> None:
    got = operator_urls("cigna=https://d.example/i.json?Expires=1&Signature=a~b junk bcbs_texas=https://t.example/i")
    assert got == {"cigna": "https://d.example/i.json?Expires=1&Signature=a~b", "bcbs_texas": "https://t.example/i"}


# --- UnitedHealthcare: listing, employer ToCs, dedupe ----------------------------------------------------------
def test_uhc_listing_two_employer_tocs_share_a_file_deduplicated_by_path_and_by_name_and_size(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        uhc_mirror(server)
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [UHC_ROW])
    assert [(r.url.rsplit("/", 1)[1], r.outcome, r.http_status) for r in rows] == [
        ("blobs", "downloaded", 200),
        ("2026-08-01_Synthetic-ACME_index.json", "downloaded", 200),
        ("2026-08-01_Synthetic-BETA_index.json", "downloaded", 200),
    ]
    assert rows[0].message.startswith("5 file listings in 3 index(es), 3 distinct after dedupe, 2 chosen by the filter")
    assert all(r.sha256 and r.bytes_received for r in rows)
    assert landed(settings, "unitedhealthcare") == ["2026-08-01_plan.csv", "2026-08-01_unitedhealthcare_index.json"]
    folder = settings.raw_dir / "tic" / "fetched" / "unitedhealthcare"
    assert rows[0].landed_path == "tic/fetched/unitedhealthcare/2026-08-01_unitedhealthcare_index.json"

    frame = toc_rows(folder / "2026-08-01_unitedhealthcare_index.json", settings)
    by_file = frame.groupby("file_location")["plan_name"].apply(sorted).to_dict()
    assert by_file == {
        EDGE_HOST + SHARED + "?sig=AAA": ["ACME HMO", "ACME PPO", "BETA Choice Plus", "BETA Choice Plus Dental"],
        EDGE_HOST + ACME_ONLY: ["ACME HMO", "ACME PPO"],
        EDGE_HOST + ACME_ALLOWED: ["ACME HMO", "ACME PPO"],
    }
    assert set(frame.loc[frame["file_location"] == EDGE_HOST + ACME_ALLOWED, "file_type"]) == {"allowed_amount"}

    plan_rows = tic_index.read_plan(folder / "2026-08-01_plan.csv")
    assert [r["url"] for r in plan_rows] == [EDGE_HOST + SHARED + "?sig=AAA", EDGE_HOST + ACME_ONLY]
    assert plan_rows[0]["plan_count"] == "4" and plan_rows[0]["size_bytes"] == "123456789"
    assert plan_rows[0]["reason"] == "file name ~ /in-network-rates/; 1 of 2 matching"


@pytest.mark.parametrize(
    ("changes", "chosen"),
    [
        ({"max_files": 1}, [SHARED]),
        ({"plan_name_pattern": "^beta"}, [SHARED]),
        ({"market_type": "individual"}, [SHARED]),
        ({"network_pattern": "options"}, [ACME_ONLY]),
        ({"file_name_pattern": None}, [SHARED, ACME_ONLY, ACME_ALLOWED]),
        ({"file_name_pattern": "nothing-like-this"}, []),
    ],
)
def test_the_rows_filter_picks_the_files_to_read(tmp_path: Path, changes: dict, chosen: list[str]) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        uhc_mirror(server)
        settings = mirror_settings(tmp_path, server)
        crawl(settings, [replace(UHC_ROW, **changes)])
    plan_csv = settings.raw_dir / "tic" / "fetched" / "unitedhealthcare" / "2026-08-01_plan.csv"
    assert [r["url"].split("?")[0].rsplit("/", 1)[1] for r in tic_index.read_plan(plan_csv)] == chosen


# --- Anthem: a big gzip index, streamed ---------------------------------------------------------------------------
def test_a_big_gzip_index_is_streamed_never_held_and_its_signed_duplicates_collapse(tmp_path: Path) -> None:
    body = anthem_index()
    packed = gzip.compress(body, 6)
    assert len(body) > 8_000_000 and len(packed) < len(body) / 10
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(ANTHEM_AUG, packed)
        # 64 KiB blocks (the block read is max_item_bytes / 4): what is held is then a few blocks, whatever the size
        settings = replace(mirror_settings(tmp_path, server), max_item_bytes=256 * 1024)
        crawl(replace(settings, raw_dir=tmp_path / "warm-up"), [ANTHEM_ROW])  # imports done before measuring
        tracemalloc.start()
        try:
            rows = crawl(settings, [ANTHEM_ROW])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert [(r.outcome, r.release, r.bytes_received) for r in rows] == [("downloaded", "2026-08-01", len(packed))]
    # measured 1.1 MB for this 13.8 MB index and for one three times its size: flat, never held whole
    assert peak < 3_000_000 < len(body) / 4, f"peak {peak:,} bytes for an index of {len(body):,}"
    assert rows[0].message.startswith("24,000 file listings in 1 index(es), 6 distinct after dedupe, 3 chosen")
    folder = settings.raw_dir / "tic" / "fetched" / "anthem"
    frame = toc_rows(folder / "2026-08-01_anthem_index.json", settings)
    assert frame["file_location"].nunique() == 6 and len(frame) == 6 * 50 // 2  # each file: the 25 plans listing it
    assert len(tic_index.read_plan(folder / "2026-08-01_plan.csv")) == 3


def test_this_months_index_not_out_yet_reads_the_previous_months(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(ANTHEM.replace("{YYYY-MM-01}", "2026-07-01"), gzip.compress(anthem_index(60)))
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [ANTHEM_ROW])
    assert [(r.outcome, r.http_status) for r in rows] == [("failed", 404), ("downloaded", 200)]
    assert landed(settings, "anthem") == ["2026-07-01_anthem_index.json", "2026-07-01_plan.csv"]


# --- a second crawl lands nothing ---------------------------------------------------------------------------------
def test_a_second_crawl_of_unchanged_indexes_lands_nothing(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        uhc_mirror(server)
        server.put(ANTHEM_AUG, gzip.compress(anthem_index(60)))
        settings = mirror_settings(tmp_path, server)
        crawl(settings, [UHC_ROW, ANTHEM_ROW], "f1")
        before = {p: p.stat().st_mtime_ns for p in (settings.raw_dir / "tic").rglob("*")}
        again = crawl(settings, [UHC_ROW, ANTHEM_ROW], "f2")
        assert server.seen(ANTHEM_AUG)[-1].headers.get("if-none-match")
    assert {r.outcome for r in again} == {"not_modified"}
    assert {p: p.stat().st_mtime_ns for p in (settings.raw_dir / "tic").rglob("*")} == before


def test_the_same_content_served_again_without_validators_is_unchanged(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        uhc_mirror(server)
        settings = mirror_settings(tmp_path, server)
        crawl(settings, [UHC_ROW], "f1")
        uhc_mirror(server)  # rewritten: new mtime, new ETag, same bytes
        again = crawl(settings, [UHC_ROW], "f2")
    assert {r.outcome for r in again} == {"unchanged"}
    assert again[0].message.startswith("the same index content already landed")
    assert landed(settings, "unitedhealthcare") == ["2026-08-01_plan.csv", "2026-08-01_unitedhealthcare_index.json"]


# --- bad content, signed URLs --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Access denied</body></html>", "an HTML page where a JSON index was expected"),
        (
            gzip.compress(b'{"reporting_entity_name":"x","reporting_structure":[' + b'{"a":1},' * 5000 + b"{}]}")[:-40],
            "a truncated or corrupt gzip index",
        ),
        (b'{"reporting_entity_name":"x","reporting_structure":[{"a":', "not valid JSON"),
    ],
)
def test_bad_index_content_is_refused_and_nothing_lands(tmp_path: Path, body: bytes, message: str) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(ANTHEM_AUG, body)
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [ANTHEM_ROW])
    assert [r.outcome for r in rows] == ["refused"]
    assert message in rows[0].message and "nothing landed" in rows[0].message
    assert landed(settings, "anthem") == []


def test_a_listing_that_fails_is_a_failed_row_and_the_other_payers_still_crawl(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(ANTHEM_AUG, gzip.compress(anthem_index(60)))
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [UHC_ROW, ANTHEM_ROW])
    assert [(r.logical_key, r.outcome, r.http_status) for r in rows] == [
        ("tic_index:unitedhealthcare:blobs", "failed", 404),
        ("tic_index:anthem:2026-08-01_anthem_index.json.gz", "downloaded", 200),
    ]


def test_cigna_without_a_pasted_url_says_what_the_operator_must_paste(tmp_path: Path) -> None:
    settings = Settings(raw_dir=tmp_path / "raw", fetch_interval=0)
    (row,) = crawl(settings, [CIGNA_ROW])
    assert row.outcome == "discovered" and row.http_status is None
    assert "PAYERBENCH_TIC_SIGNED_URLS='cigna=<the URL>'" in row.message


def test_cigna_with_a_pasted_signed_url_is_read_and_its_signature_never_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = ("https://d25kgz5rikkq4n.cloudfront.net/cost_transparency/mrf/table-of-contents/reporting_month=2026-08/"
              "2026-08-01_cigna-health-life-insurance-company_index.json?Expires=1&Policy=p&Signature=SECRET")  # fmt: skip
    body = toc("Synthetic Cigna", [{"reporting_plans": [plan("CIGNA OAP", "333333333")],
                                    "in_network_files": [{"description": "OAP", "location": "https://c.example/oap_in-network-rates.json.gz?Expires=9"}]}])  # fmt: skip
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(signed, body)
        settings = mirror_settings(tmp_path, server).replace(tic_signed_urls=f"cigna={signed}")
        (row,) = crawl(settings, [replace(CIGNA_ROW, file_name_pattern="in-network-rates")])
    assert row.outcome == "downloaded" and row.release == "2026-08-01"
    assert "SECRET" not in json.dumps(row.__dict__) and row.url == signed.split("?")[0]
    assert landed(settings, "cigna") == ["2026-08-01_cigna_index.json", "2026-08-01_plan.csv"]


def test_the_bundled_table_crawls_offline_into_offline_and_discovered_rows(tmp_path: Path) -> None:
    settings = Settings(raw_dir=Path("raw"), fetch_interval=0)
    with HttpFetcher(settings) as fetcher:
        ctx = context(replace_raw(settings, tmp_path), fetcher)
        ctx.offline = True
        rows = crawl_indexes(ctx, today=TODAY, rows=tic_index.read_payer_indexes(settings))
    assert [(r.logical_key, r.outcome) for r in rows] == [
        ("tic_index:unitedhealthcare", "offline"),
        ("tic_index:anthem", "offline"),
        ("tic_index:aetna_alicsi", "offline"),
        ("tic_index:bcbs_texas", "offline"),
        ("tic_index:cigna", "discovered"),
    ]


def replace_raw(settings: Settings, tmp_path: Path) -> Settings:
    return Settings(raw_dir=tmp_path / "raw", fetch_interval=0)
