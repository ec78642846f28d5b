"""The TiC crawl against a loopback mirror: a UHC-style blob listing whose two employer ToCs share an in-network
file (one copy signed with another query, one on another host with the same name and size), an Anthem-style gzip
index of ~10 MB read without ever being held, filters, the compact ToC loaded by the real tic adapter, the plan,
a second crawl that lands nothing, bad index content refused, Cigna's signed URL asked of the operator, Aetna's
metadata listing (newest listed ToC; none listed), BCBS Texas' two-page Azure container listing (newest dated ToC;
a 403 on the listing).

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
from tests.fetch.server import MirrorServer, Status

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


def crawl(
    settings: Settings, rows: list[PayerIndex], fetch_id: str = "f1", today: dt.date = TODAY
) -> list[manifest_module.ManifestRow]:
    with HttpFetcher(settings) as fetcher:
        got = crawl_indexes(context(settings, fetcher, fetch_id), today=today, rows=rows)
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


# --- Aetna: the healthsparq metadata listing ------------------------------------------------------------------------
AETNA_BASE = "https://mrf.healthsparq.com/aetnacvs-egress.nophi.kyruushsq.com/prd/mrf/AETNACVS_I/ALICSI/"
AETNA_META = AETNA_BASE + "latest_metadata.json"
AETNA_TOC = "2026-08-05_Aetna-Life-Insurance-Company_index.json.gz"
AETNA_OLD_TOC = AETNA_BASE + "2026-07-05/tableOfContents/2026-07-05_Aetna-Life-Insurance-Company_index.json.gz"
AETNA_ROW = PayerIndex(
    "aetna", "aetna_alicsi", "aetna_metadata", AETNA_META, 5, r"_index\.json(\.gz)?$", 1, max_files=10,
    source="synthetic",
)  # fmt: skip


def aetna_noise() -> list[dict[str, object]]:
    """Listing entries that are not tables of contents: in-network files (one dated after every ToC), a checksum
    of a ToC, the listing itself, numbers; and a key (not a value) that names a ToC."""
    return [
        {"fileName": "2026-09-05_1234_Synthetic-Aetna-Entity.json.gz", "fileType": "inNetworkRates", "size": 5},
        {"fileName": "2026-08-05_Aetna-Life-Insurance-Company_index.json.gz.sha256", "fileType": "checksum"},
        {"fileName": "latest_metadata.json", "fileType": "metadata", "size": 7_000_000},
        {"2026-10-05_Aetna-Life-Insurance-Company_index.json": "a key, not a listed file", "count": 12030},
    ]


def aetna_metadata(entries: list[dict[str, object]], wrapped: bool = True) -> bytes:
    """A SYNTHETIC latest_metadata.json (the real shape is unconfirmed: acquisition.md 7c)."""
    return json.dumps({"generated": "2026-08-06T03:00:00Z", "files": entries} if wrapped else entries).encode()


def aetna_mirror(server: MirrorServer, *, wrapped: bool = True) -> None:
    """Two ToCs listed: this month's by a path relative to the listing, last month's by an absolute URL (listed
    after it, to show that the date, not the order, picks); both served."""
    entries = [
        {"fileName": AETNA_TOC, "fileType": "tableOfContents", "path": f"2026-08-05/tableOfContents/{AETNA_TOC}"},
        *aetna_noise(),
        {"fileName": AETNA_OLD_TOC.rsplit("/", 1)[1], "fileType": "tableOfContents", "url": AETNA_OLD_TOC},
    ]
    server.put(AETNA_META, aetna_metadata(entries, wrapped))
    files = AETNA_BASE + "2026-08-05/inNetworkRates/"
    body = toc(
        "Synthetic Aetna Life Insurance Company",
        [
            {
                "reporting_plans": [plan("SYNTHETIC AETNA CHOICE POS II", "444444444")],
                "in_network_files": [
                    {"description": "Choice POS II", "location": files + "2026-08-05_1_Synthetic-Entity.json.gz"},
                    {"description": "Open Access", "location": files + "2026-08-05_2_Synthetic-Entity.json.gz"},
                ],
            },
            {
                "reporting_plans": [plan("SYNTHETIC AETNA OPEN ACCESS", "555555555")],
                "in_network_files": [
                    {"description": "Open Access", "location": files + "2026-08-05_2_Synthetic-Entity.json.gz"}
                ],
            },
        ],
    )
    server.put(AETNA_BASE + "2026-08-05/tableOfContents/" + AETNA_TOC, gzip.compress(body))
    server.put(AETNA_OLD_TOC, gzip.compress(toc("Synthetic Aetna (last month)", [])))


@pytest.mark.parametrize("wrapped", [True, False], ids=["object", "array"])
def test_aetna_metadata_reads_the_newest_listed_toc_and_lands_its_compact_toc_and_plan(
    tmp_path: Path, wrapped: bool
) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        aetna_mirror(server, wrapped=wrapped)
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [AETNA_ROW])
        assert server.seen(AETNA_OLD_TOC) == []  # last month's ToC, listed last, is never asked
    assert [(r.url.rsplit("/", 1)[1], r.outcome, r.http_status, r.release) for r in rows] == [
        ("latest_metadata.json", "downloaded", 200, "2026-08-05"),
        (AETNA_TOC, "downloaded", 200, "2026-08-05"),
    ]
    assert rows[1].url == AETNA_BASE + "2026-08-05/tableOfContents/" + AETNA_TOC  # the relative path, resolved
    assert rows[0].message.startswith("3 file listings in 2 index(es), 2 distinct after dedupe, 2 chosen")
    assert landed(settings, "aetna_alicsi") == ["2026-08-05_aetna_alicsi_index.json", "2026-08-05_plan.csv"]
    folder = settings.raw_dir / "tic" / "fetched" / "aetna_alicsi"
    frame = toc_rows(folder / "2026-08-05_aetna_alicsi_index.json", settings)
    by_file = frame.groupby("file_location")["plan_name"].apply(sorted).to_dict()
    files = AETNA_BASE + "2026-08-05/inNetworkRates/"
    assert by_file == {
        files + "2026-08-05_1_Synthetic-Entity.json.gz": ["SYNTHETIC AETNA CHOICE POS II"],
        files + "2026-08-05_2_Synthetic-Entity.json.gz": ["SYNTHETIC AETNA CHOICE POS II", "SYNTHETIC AETNA OPEN ACCESS"],
    }  # fmt: skip
    assert set(frame["reporting_entity_name"]) == {"Synthetic Aetna Life Insurance Company"}
    plan_rows = tic_index.read_plan(folder / "2026-08-05_plan.csv")
    assert [(r["url"].rsplit("/", 1)[1], r["plan_count"]) for r in plan_rows] == [
        ("2026-08-05_1_Synthetic-Entity.json.gz", "1"),
        ("2026-08-05_2_Synthetic-Entity.json.gz", "2"),
    ]


def test_aetna_metadata_listing_no_toc_is_a_failed_row_that_says_what_to_paste(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(AETNA_META, aetna_metadata(aetna_noise()))
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [AETNA_ROW])
    assert [(r.logical_key, r.outcome, r.http_status) for r in rows] == [
        ("tic_index:aetna_alicsi:latest_metadata.json", "failed", 200)
    ]
    assert "no table of contents found" in rows[0].message and "nothing landed" in rows[0].message
    assert "PAYERBENCH_TIC_SIGNED_URLS as aetna_alicsi=<url>" in rows[0].message
    assert landed(settings, "aetna_alicsi") == []


# --- BCBS Texas: the Azure container listing -------------------------------------------------------------------------
BCBSTX_CONTAINER = "https://app0004702110a5prdnc868.blob.core.windows.net/toc"
BCBSTX_LISTING = BCBSTX_CONTAINER + "?restype=container&comp=list"
BCBSTX_MARKER = "2!96!MDAwMDQ2ITIwMjYtMDYtMjBfQmx1ZS1DcmVzcy1hbmQtQmx1ZS1TaGllbGQtb2YtVGV4YXMhMDAwMDI4IQ--"
BCBSTX_PAGE_2 = f"{BCBSTX_LISTING}&marker={BCBSTX_MARKER}"
TEXAS = "_Blue-Cross-and-Blue-Shield-of-Texas"
BCBSTX_ROW = PayerIndex(
    "bcbs", "bcbs_texas", "azure_container_listing", BCBSTX_LISTING, None, rf"{TEXAS}_index\.json$", 1,
    max_files=10, source="synthetic",
)  # fmt: skip


def azure_page(names: list[str], marker: str | None = None, next_marker: str | None = None) -> bytes:
    """A SYNTHETIC Azure List Blobs page (Microsoft's documented XML, with the UTF-8 BOM Azure sends)."""
    blobs = "".join(
        f"<Blob><Name>{name}</Name><Properties><Last-Modified>Thu, 20 Aug 2026 06:00:00 GMT</Last-Modified>"
        f"<Etag>0x8DC{i:04X}</Etag><Content-Length>{1000 + i}</Content-Length><Content-Type>application/json"
        "</Content-Type><BlobType>BlockBlob</BlobType></Properties><OrMetadata /></Blob>"
        for i, name in enumerate(names)
    )
    return (
        '\ufeff<?xml version="1.0" encoding="utf-8"?>'
        f'<EnumerationResults ServiceEndpoint="https://app0004702110a5prdnc868.blob.core.windows.net/" '
        f'ContainerName="toc">{f"<Marker>{marker}</Marker>" if marker else ""}<MaxResults>5000</MaxResults>'
        f"<Blobs>{blobs}</Blobs>{f'<NextMarker>{next_marker}</NextMarker>' if next_marker else '<NextMarker />'}"
        "</EnumerationResults>"
    ).encode()


def bcbstx_mirror(server: MirrorServer) -> None:
    """Two listing pages. Page 1: two older dated ToCs, an EIN-specific ToC and an in-network file both dated after
    every ToC, a readme. Page 2 (after the NextMarker): the newest ToC (the 20th, not the 1st) and last month's."""
    server.put(
        BCBSTX_LISTING,
        azure_page(
            [
                f"2025-05-20{TEXAS}_index.json",
                f"2026-09-01{TEXAS}_161531026_index.json",
                f"2026-09-01{TEXAS}_in-network-rates.json.gz",
                f"2026-04-21{TEXAS}_index.json",
                "README.txt",
            ],
            next_marker=BCBSTX_MARKER,
        ),
    )
    server.put(
        BCBSTX_PAGE_2,
        azure_page([f"2026-07-21{TEXAS}_index.json", f"2026-08-20{TEXAS}_index.json"], marker=BCBSTX_MARKER),
    )
    body = toc(
        "Synthetic Blue Cross and Blue Shield of Texas",
        [
            {
                "reporting_plans": [plan("SYNTHETIC BLUE CHOICE PPO", "666666666"), plan("SYNTHETIC BLUE ESSENTIALS", "777777777", "individual")],
                "in_network_files": [
                    {"description": "BlueChoice PPO", "location": "https://synthetic-bcbstx.example/2026-08-20_BlueChoice_in-network-rates.json.gz?sv=1&sig=A"},
                ],
                "allowed_amount_file": {"description": "allowed amounts", "location": "https://synthetic-bcbstx.example/2026-08-20_allowed-amounts.json"},
            }
        ],
    )  # fmt: skip
    server.put(f"{BCBSTX_CONTAINER}/2026-08-20{TEXAS}_index.json", body)
    server.put(f"{BCBSTX_CONTAINER}/2026-07-21{TEXAS}_index.json", toc("Synthetic BCBSTX (last month)", []))


def test_azure_listing_follows_the_next_marker_and_reads_the_newest_dated_toc(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        bcbstx_mirror(server)
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [BCBSTX_ROW], today=dt.date(2026, 8, 25))
        assert len(server.seen(BCBSTX_PAGE_2)) == 1
        assert server.seen(f"{BCBSTX_CONTAINER}/2026-07-21{TEXAS}_index.json") == []
    assert [(r.url, r.outcome, r.http_status, r.release) for r in rows] == [
        (BCBSTX_LISTING, "downloaded", 200, "2026-08-20"),
        (BCBSTX_PAGE_2, "downloaded", 200, "2026-08-20"),
        (f"{BCBSTX_CONTAINER}/2026-08-20{TEXAS}_index.json", "downloaded", 200, "2026-08-20"),
    ]
    assert rows[0].message.startswith("2 file listings in 3 index(es), 2 distinct after dedupe, 2 chosen")
    assert landed(settings, "bcbs_texas") == ["2026-08-20_bcbs_texas_index.json", "2026-08-20_plan.csv"]
    folder = settings.raw_dir / "tic" / "fetched" / "bcbs_texas"
    frame = toc_rows(folder / "2026-08-20_bcbs_texas_index.json", settings)
    assert sorted(set(zip(frame["file_type"], frame["file_location"].str.rsplit("/", n=1).str[1], strict=True))) == [
        ("allowed_amount", "2026-08-20_allowed-amounts.json"),
        ("in_network", "2026-08-20_BlueChoice_in-network-rates.json.gz?sv=1&sig=A"),
    ]
    assert sorted(set(frame["plan_name"])) == ["SYNTHETIC BLUE CHOICE PPO", "SYNTHETIC BLUE ESSENTIALS"]
    plan_rows = tic_index.read_plan(folder / "2026-08-20_plan.csv")
    assert [(r["file_type"], r["plan_count"]) for r in plan_rows] == [("in_network", "2"), ("allowed_amount", "2")]


def test_azure_listing_refused_is_a_failed_row_that_says_to_paste_the_toc_url(tmp_path: Path) -> None:
    refusal = (
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><Error><Code>NoAuthenticationInformation</Code></Error>'
    )
    with MirrorServer(tmp_path / "mirror") as server:
        bcbstx_mirror(server)
        server.script(BCBSTX_LISTING, Status(403, {"Content-Type": "application/xml"}, refusal))
        settings = mirror_settings(tmp_path, server)
        rows = crawl(settings, [BCBSTX_ROW], today=dt.date(2026, 8, 25))
        assert server.seen(BCBSTX_PAGE_2) == []
    assert [(r.url, r.outcome, r.http_status) for r in rows] == [(BCBSTX_LISTING, "failed", 403)]
    assert "HTTP 403" in rows[0].message and "nothing landed" in rows[0].message
    assert f"{tic_index.SIGNED_URLS_ENV}" in rows[0].message and "bcbs_texas=<url>" in rows[0].message
    assert landed(settings, "bcbs_texas") == []


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
