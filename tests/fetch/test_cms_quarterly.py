"""CMS's quarterly files fetched from pages shaped like CMS's: discovery, the licence, nothing new, re-issues, faults.

The landing and release pages are small SYNTHETIC HTML shaped like cms.gov's (links only). The zips are
built here from REAL rows: the bundled excerpts of CMS's files in raw/ (header and preamble rows, and
only the rows of 0439T-0442T, or a few rows where the file holds no CPT codes). The landed files are then
read by the real adapters, which must see the release the page named.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest

from flows.fetch import cms_quarterly, manifest
from flows.fetch.archive import UnsafeArchive, ZipEntry
from flows.fetch.cms_quarterly import fetch_asc_addenda, fetch_opps_addendum_b, fetch_pfs_rvu_zip
from flows.fetch.http import HttpFetcher
from flows.fetch.manifest import Manifest, ManifestRow
from flows.fetch.run import FetchContext
from flows.settings import Settings
from flows.sources import (
    cms_asc_addenda,
    cms_opps_addendum_b,
    cms_opps_cap,
    cms_pfs_gpci,
    cms_pfs_locality,
    cms_pfs_rvu,
)
from flows.sources.base import ReadContext
from tests.fetch.mirror_tree import html, zipped

BUNDLED = Path(__file__).resolve().parents[2] / "raw"
CMS = "https://www.cms.gov"
PFS_PAGE = cms_quarterly.PFS_LANDING
ASC_PAGE = cms_quarterly.ASC_LANDING
OPPS_PAGE = cms_quarterly.OPPS_LANDING
CODES = (b"0439T", b"0440T", b"0441T", b"0442T")


# --- real rows, cut small -------------------------------------------------------------------------------
def cut(path: Path, header: bytes, codes: tuple[bytes, ...] = CODES, first: int = 0) -> bytes:
    """The lines of a bundled CMS excerpt up to its header, then only the rows of `codes` (or the `first` rows)."""
    lines = path.read_bytes().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = lines[end + 1 :]
    kept = rows[:first] if first else [r for r in rows if r.split(b",")[0] in codes]
    assert kept, f"{path.name}: no rows kept"
    return b"".join(lines[: end + 1] + kept)


def pfs_members(month: str = "Oct", year: str = "2025") -> dict[str, bytes]:
    """Members of an RVU25D zip as CMS ships it: PPRRVU as CSV, TXT and XLSX (only the CSV must land)."""
    return {
        f"PPRRVU{year}_{month}.csv": cut(BUNDLED / "cms_pfs_rvu/PPRRVU2025_Oct_excerpt.csv", b"HCPCS,MOD"),
        f"PPRRVU{year}_{month}.txt": b"HDR synthetic: the fixed-width edition, not landed when the CSV is there\n",
        f"PPRRVU{year}_{month}.xlsx": b"PK\x03\x04 synthetic, never landed",
        f"GPCI{year}.csv": cut(BUNDLED / "cms_pfs_gpci/GPCI2025.csv", b"Medicare Administrative Contractor", first=3),
        f"{year[2:]}LOCCO.csv": cut(BUNDLED / "cms_pfs_locality/25LOCCO.csv", b"Medicare Adminstrative", first=4),
        f"OPPSCAP_{month}.csv": cut(BUNDLED / "cms_opps_cap/RVU25D/OPPSCAP_Oct_excerpt.csv", b"HCPCS", first=3),
        f"ANES{year}.csv": b"synthetic anesthesia file, not read by payerbench\n",
        f"RVU{year[2:]}D.pdf": b"%PDF synthetic",
    }


def asc_members() -> dict[str, bytes]:
    folder = BUNDLED / "cms_asc_addenda/20260101"
    return {
        "AA.csv": cut(folder / "AA_January_2026_excerpt.csv", b"HCPCS Code"),
        "FF.csv": cut(folder / "FF_January_2026_excerpt.csv", b"HCPCS Code"),
        # SYNTHETIC: an addendum the source does not read (CMS's zip also holds BB, DD1, EE ...)
        "BB.csv": b'"Addendum BB -- synthetic",,\n,,\nHCPCS Code,Short Descriptor,January 2026 Payment Indicator\n'
        b"0001F,synthetic,N1\n",
        "ASC Addenda January 2026.xlsx": b"PK\x03\x04 synthetic workbook, not landed",
    }


def opps_members() -> dict[str, bytes]:
    xlsx = (BUNDLED / "cms_opps_addendum_b/2023_January_Web_Addendum_B.12212022_excerpt.xlsx").read_bytes()
    return {"Web Addendum B.12212022.xlsx": xlsx, "Addendum B readme.pdf": b"%PDF synthetic"}


def releases(read: Callable[..., object], path: Path, settings: Settings) -> set[tuple[int, object]]:
    """(release_year, release_quarter) of every row the real adapter reads from a landed file."""
    frame = pd.concat([batch.frame for batch in read(path, ReadContext(settings))])  # type: ignore[attr-defined]
    quarters = frame["release_quarter"] if "release_quarter" in frame else pd.Series(None, index=frame.index)
    return set(zip(frame["release_year"].astype(int), quarters, strict=True))


# --- a site shaped like cms.gov (SYNTHETIC pages) ---------------------------------------------------------
class Site:
    """url -> response; counts what was asked (a download answers 304 to its own ETag)."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[httpx.Request], httpx.Response]] = {}
        self.asked: list[httpx.Request] = []

    def page(self, url: str, *hrefs: str) -> None:
        body = html(*hrefs).encode()
        self.routes[url] = lambda request: httpx.Response(200, headers={"Content-Type": "text/html"}, content=body)

    def file(self, url: str, body: bytes, etag: str | None = None, content_type: str = "application/zip") -> None:
        def serve(request: httpx.Request) -> httpx.Response:
            if etag and request.headers.get("If-None-Match") == etag:
                return httpx.Response(304, headers={"ETag": etag})
            headers = {
                "Content-Type": content_type,
                "Content-Length": str(len(body)),
                **({"ETag": etag} if etag else {}),
            }
            return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

        self.routes[url] = serve

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        route = self.routes.get(str(request.url))
        return route(request) if route else httpx.Response(404, text="synthetic not found")

    def downloads(self) -> list[str]:
        return [str(r.url) for r in self.asked if str(r.url).endswith(".zip")]


def make_settings(tmp_path: Path, accept: bool = True) -> Settings:
    return Settings(
        raw_dir=tmp_path / "raw", warehouse_dir=tmp_path / "warehouse", accept_cms_license=accept, fetch_interval=0
    )


def run(step: Callable[..., list[ManifestRow]], settings: Settings, site: Site, fetch_id: str,
        today: dt.date, offline: bool = False) -> list[ManifestRow]:  # fmt: skip
    """One fetch step as run_fetch runs it: the manifest so far in, its rows appended after."""
    with HttpFetcher(settings, transport=httpx.MockTransport(site.handler)) as fetcher:
        context = FetchContext(settings, fetcher, Manifest(manifest.read(settings.raw_dir)), fetch_id, offline=offline)
        rows = step(context, today=today)
    manifest.append(settings.raw_dir, rows)
    return rows


def landed_files(settings: Settings) -> list[str]:
    raw = settings.raw_dir
    return sorted(
        p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file() and p.parent.name != "fetch_manifest"
    )


PFS_TODAY = dt.date(2025, 11, 20)  # window: 2024 and 2025
RVU25D_PAGE = f"{PFS_PAGE}/rvu25d"
RVU25D_ZIP = f"{CMS}/files/zip/rvu25d-updated-09/11/2025.zip"  # a literal "/" in CMS's slug


def pfs_site(body: bytes | None = None, etag: str | None = '"rvu25d-1"') -> Site:
    site = Site()
    site.page(PFS_PAGE, "/medicare/payment/fee-schedules/physician/pfs-relative-value-files/rvu25d", "/about-cms")
    site.page(RVU25D_PAGE, "/license/ama?file=/files/zip/rvu25d-updated-09/11/2025.zip", "/files/document/rvu25d.pdf")
    site.file(RVU25D_ZIP, body if body is not None else zipped(pfs_members()), etag)
    return site


# --- discovery and the licence ------------------------------------------------------------------------------
def test_discovery_follows_release_pages_strips_the_licence_prefix_and_stops_at_the_licence(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, accept=False)
    site = Site()
    site.page(PFS_PAGE,
              "/medicare/payment/fee-schedules/physician/pfs-relative-value-files/rvu25a",  # relative
              f"{PFS_PAGE}/rvu25d",  # absolute
              f"{PFS_PAGE}/rvu24d",
              f"{PFS_PAGE}/rvu23d")  # outside the window: its page is never read  # fmt: skip
    site.page(
        f"{PFS_PAGE}/rvu25a", "https://www.cms.gov/apps/ama/license.asp?file=/files/zip/rvu25a-updated-01/10/2025.zip"
    )
    site.page(f"{PFS_PAGE}/rvu25d", "/license/ama?file=/files/zip/rvu25d.zip",
              "/license/ama?file=%2Ffiles%2Fzip%2Frvu25d-updated-09%2F11%2F2025.zip")  # fmt: skip
    site.page(f"{PFS_PAGE}/rvu24d", "/files/zip/rvu24d.zip", "/files/zip/rvu24dr.zip")
    rows = run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    assert [(r.release, r.url, r.outcome, r.license_acknowledged) for r in rows] == [
        ("RVU25A", f"{CMS}/files/zip/rvu25a-updated-01/10/2025.zip", "licence_required", False),
        ("RVU25D", f"{CMS}/files/zip/rvu25d-updated-09/11/2025.zip", "licence_required", False),  # the dated re-post
        ("RVU24D", f"{CMS}/files/zip/rvu24dr.zip", "licence_required", False),  # the `r` re-cut
    ]
    assert rows[0].message == (
        "CMS's AMA CPT licence is not acknowledged: read https://www.cms.gov/license/ama, then accept it with "
        "PAYERBENCH_ACCEPT_CMS_LICENSE=yes or --accept-cms-license; nothing downloaded"
    )
    assert site.downloads() == [] and f"{PFS_PAGE}/rvu23d" not in [str(r.url) for r in site.asked]
    assert landed_files(settings) == []


def test_asc_quarters_with_inconsistent_slugs_are_discovered_by_month_and_year(tmp_path: Path) -> None:
    site = Site()
    site.page(ASC_PAGE,
              "/license/ama?file=/files/zip/january-2026-asc-approved-hcpcs-code-payment-rates.zip",
              "/files/zip/2026-nfrm-addendum-aa-bb-dd1-dd2-ee-ff.zip",  # the rule's addenda: no quarter
              "/files/zip/october-2025-asc-approved-hcpcs-code-payment-rates.zip",
              "/files/zip/july-2025-asc-addenda.zip",
              "/files/zip/january-2025-asc-approved-hcpcs-code-and-payment-rates.zip",
              "/files/zip/march-9-2025-asc-approved-hcpcs-code-and-payment-rates.zip",  # revises January 2025
              "/files/zip/october-2024-asc-approved-hcpcs-code-and-payment-rates-updated-09/24/2024.zip")  # fmt: skip
    rows = run(fetch_asc_addenda, make_settings(tmp_path, accept=False), site, "f1", dt.date(2026, 2, 1))
    assert [(r.release, cms_quarterly.zip_slug(r.url)) for r in rows] == [
        ("2026-01", "january-2026-asc-approved-hcpcs-code-payment-rates.zip"),
        ("2025-10", "october-2025-asc-approved-hcpcs-code-payment-rates.zip"),
        ("2025-07", "july-2025-asc-addenda.zip"),
        ("2025-01", "march-9-2025-asc-approved-hcpcs-code-and-payment-rates.zip"),
    ]


def test_opps_quarter_pages_and_their_slugs_are_discovered(tmp_path: Path) -> None:
    site = Site()
    site.page(OPPS_PAGE, f"{OPPS_PAGE}/january-2023-addendum-b", "/medicare/payment/prospective-payment-systems/"
              "hospital-outpatient-pps/quarterly-addenda-updates/april-2023-addendum-b", f"{OPPS_PAGE}/october-2021-addendum-b")  # fmt: skip
    site.page(f"{OPPS_PAGE}/january-2023-addendum-b", "/license/ama?file=/files/zip/january-2023-opps-addendum-a.zip",
              "/license/ama?file=/files/zip/january-2023-opps-addendum-b.zip")  # fmt: skip
    site.page(f"{OPPS_PAGE}/april-2023-addendum-b", "/license/ama?file=/files/zip/cy-2023-april-opps-addendum-b.zip")
    rows = run(fetch_opps_addendum_b, make_settings(tmp_path, accept=False), site, "f1", dt.date(2023, 5, 1))
    assert [(r.release, r.url) for r in rows] == [
        ("2023-01", f"{CMS}/files/zip/january-2023-opps-addendum-b.zip"),
        ("2023-04", f"{CMS}/files/zip/cy-2023-april-opps-addendum-b.zip"),
    ]


def test_offline_asks_nothing_and_says_which_page_it_would_read(tmp_path: Path) -> None:
    site = pfs_site()
    (row,) = run(fetch_pfs_rvu_zip, make_settings(tmp_path), site, "f1", PFS_TODAY, offline=True)
    assert (row.outcome, row.url, site.asked) == ("offline", PFS_PAGE, [])
    assert "would read the PFS relative value files page" in row.message


# --- PFS: land, re-ask, re-issue ---------------------------------------------------------------------------
def test_the_rvu_zip_lands_four_sources_read_as_the_release_and_a_second_run_gets_a_304(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = pfs_site()
    rows = run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    zip_row, *members = rows
    assert (zip_row.logical_key, zip_row.outcome, zip_row.url, zip_row.http_status, zip_row.etag) == (
        "cms_pfs_rvu_zip:RVU25D", "downloaded", RVU25D_ZIP, 200, '"rvu25d-1"'
    )  # fmt: skip
    assert zip_row.license_acknowledged is True and len(zip_row.sha256 or "") == 64
    assert sorted((m.source, m.landed_path, m.outcome) for m in members) == [
        ("cms_opps_cap", "cms_opps_cap/fetched/RVU25D/OPPSCAP_Oct.csv", "downloaded"),
        ("cms_pfs_gpci", "cms_pfs_gpci/fetched/RVU25D/GPCI2025.csv", "downloaded"),
        ("cms_pfs_locality", "cms_pfs_locality/fetched/RVU25D/25LOCCO.csv", "downloaded"),
        ("cms_pfs_rvu", "cms_pfs_rvu/fetched/RVU25D/PPRRVU2025_Oct.csv", "downloaded"),  # the CSV, not txt/xlsx
    ]
    assert landed_files(settings) == sorted(m.landed_path for m in members)  # the zip itself is gone
    raw = settings.raw_dir
    assert releases(cms_pfs_rvu.read, raw / "cms_pfs_rvu/fetched/RVU25D/PPRRVU2025_Oct.csv", settings) == {(2025, 4)}
    assert releases(cms_opps_cap.read, raw / "cms_opps_cap/fetched/RVU25D/OPPSCAP_Oct.csv", settings) == {(2025, 4)}
    assert {y for y, _ in releases(cms_pfs_gpci.read, raw / "cms_pfs_gpci/fetched/RVU25D/GPCI2025.csv", settings)} == {
        2025
    }
    assert {y for y, _ in releases(cms_pfs_locality.read, raw / "cms_pfs_locality/fetched/RVU25D/25LOCCO.csv", settings)} == {2025}  # fmt: skip
    cms_sha = {m.landed_path: m.sha256 for m in members}
    assert all(hashlib.sha256((raw / p).read_bytes()).hexdigest() == s for p, s in cms_sha.items())

    site.asked.clear()
    (again,) = run(fetch_pfs_rvu_zip, settings, site, "f2", PFS_TODAY)
    assert (again.outcome, again.http_status, again.logical_key) == ("not_modified", 304, "cms_pfs_rvu_zip:RVU25D")
    (asked,) = [r for r in site.asked if str(r.url) == RVU25D_ZIP]
    assert asked.headers["If-None-Match"] == '"rvu25d-1"'
    assert landed_files(settings) == sorted(cms_sha)


def test_a_200_with_the_same_sha256_is_unchanged_and_lands_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = pfs_site(etag=None)  # no validators: asked again unconditionally
    run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    before = {p: (settings.raw_dir / p).stat().st_mtime_ns for p in landed_files(settings)}
    (again,) = run(fetch_pfs_rvu_zip, settings, site, "f2", PFS_TODAY)
    assert (again.outcome, again.http_status) == ("unchanged", 200)
    assert "same sha256" in again.message
    assert {p: (settings.raw_dir / p).stat().st_mtime_ns for p in landed_files(settings)} == before


def test_a_renamed_slug_with_the_same_content_is_unchanged(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    body = zipped(pfs_members())
    site = pfs_site(body)
    run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    renamed = f"{CMS}/files/zip/rvu25d-0.zip"
    site.page(RVU25D_PAGE, "/license/ama?file=/files/zip/rvu25d-0.zip")
    site.file(renamed, body, etag='"other-etag"')
    site.asked.clear()
    (again,) = run(fetch_pfs_rvu_zip, settings, site, "f2", PFS_TODAY)
    assert (again.outcome, again.url) == ("unchanged", renamed)
    assert (
        "If-None-Match" not in next(r for r in site.asked if str(r.url) == renamed).headers
    )  # a new URL: no validators
    assert len(landed_files(settings)) == 4


def test_a_reissued_zip_lands_as_a_new_version_the_adapters_read_as_the_same_release(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    run(fetch_pfs_rvu_zip, settings, pfs_site(), "f1", PFS_TODAY)
    members = pfs_members()
    members["PPRRVU2025_Oct.csv"] = members["PPRRVU2025_Oct.csv"].replace(
        b"RELEASED 09/11/2025", b"RELEASED 10/02/2025"
    )
    site = pfs_site(zipped(members), etag='"rvu25d-2"')  # same release, same slug, new bytes
    site.page(RVU25D_PAGE, "/license/ama?file=/files/zip/rvu25d-updated-09/11/2025.zip")
    rows = run(fetch_pfs_rvu_zip, settings, site, "f2", dt.date(2025, 12, 1))
    zip_row, *member_rows = rows
    assert zip_row.outcome == "reissued" and zip_row.message.startswith("CMS re-cut RVU25D (new sha256 ")
    changed = [m for m in member_rows if m.outcome == "reissued"]
    assert [m.landed_path for m in changed] == ["cms_pfs_rvu/fetched/RVU25D-reissued-20251201/PPRRVU2025_Oct.csv"]
    assert sorted(m.source for m in member_rows if m.outcome == "unchanged") == [
        "cms_opps_cap", "cms_pfs_gpci", "cms_pfs_locality"
    ]  # fmt: skip
    new = settings.raw_dir / str(changed[0].landed_path)
    assert releases(cms_pfs_rvu.read, new, settings) == {(2025, 4)}  # still RVU25D for the adapter
    assert (settings.raw_dir / "cms_pfs_rvu/fetched/RVU25D/PPRRVU2025_Oct.csv").exists()  # the first version stays


def test_an_opps_cap_reissued_alone_is_still_read_as_its_release(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    run(fetch_pfs_rvu_zip, settings, pfs_site(), "f1", PFS_TODAY)
    members = pfs_members()
    members["OPPSCAP_Oct.csv"] = members["OPPSCAP_Oct.csv"].replace(b"\r\n", b"\n")
    rows = run(fetch_pfs_rvu_zip, settings, pfs_site(zipped(members), etag='"x2"'), "f2", dt.date(2025, 12, 1))
    (cap,) = [r for r in rows if r.outcome == "reissued" and r.source == "cms_opps_cap"]
    assert releases(cms_opps_cap.read, settings.raw_dir / str(cap.landed_path), settings) == {(2025, 4)}


# --- faults -----------------------------------------------------------------------------------------------
def test_the_licence_html_where_the_zip_was_expected_is_refused_and_nothing_lands(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = pfs_site()
    licence = b"<!DOCTYPE html><html><title>License Agreement (synthetic)</title><form>Accept</form></html>"
    site.file(RVU25D_ZIP, licence, content_type="text/html")
    (row,) = run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    assert (row.outcome, row.landed_path, row.sha256) == ("refused", None, None)
    assert "licence or error page" in row.message and "nothing landed" in row.message
    assert landed_files(settings) == []


def test_a_zip_slip_member_refuses_the_whole_zip(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    members = {**pfs_members(), "../../cms_pfs_rvu/PPRRVU2025_Oct.csv": b"synthetic escape"}
    (row,) = run(fetch_pfs_rvu_zip, settings, pfs_site(zipped(members)), "f1", PFS_TODAY)
    assert (
        row.outcome == "refused"
        and "zip-slip" in row.message
        and "'../../cms_pfs_rvu/PPRRVU2025_Oct.csv'" in row.message
    )
    assert landed_files(settings) == []


def test_a_failed_release_page_is_a_row_and_the_other_releases_go_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = pfs_site()
    site.page(PFS_PAGE, f"{PFS_PAGE}/rvu25c", f"{PFS_PAGE}/rvu25d")  # rvu25c: 404
    rows = run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    assert [(r.release, r.outcome) for r in rows[:2]] == [("RVU25C", "failed"), ("RVU25D", "downloaded")]
    assert rows[0].http_status == 404 and rows[0].url == f"{PFS_PAGE}/rvu25c"
    assert len(landed_files(settings)) == 4


def test_a_failed_download_leaves_no_scratch_behind(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = pfs_site()
    site.routes[RVU25D_ZIP] = lambda request: httpx.Response(503)
    (row,) = run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    assert (row.outcome, row.http_status) == ("failed", 503)
    assert landed_files(settings) == []


# --- ASC and OPPS ---------------------------------------------------------------------------------------------
def test_asc_lands_aa_and_ff_read_as_the_quarter_and_an_excel_only_zip_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = Site()
    site.page(ASC_PAGE, "/license/ama?file=/files/zip/january-2026-asc-approved-hcpcs-code-payment-rates.zip",
              "/license/ama?file=/files/zip/october-2025-asc-approved-hcpcs-code-payment-rates.zip")  # fmt: skip
    site.file(f"{CMS}/files/zip/january-2026-asc-approved-hcpcs-code-payment-rates.zip", zipped(asc_members()))
    site.file(f"{CMS}/files/zip/october-2025-asc-approved-hcpcs-code-payment-rates.zip",
              zipped({"October 2025 ASC Addenda.xlsx": b"PK\x03\x04 synthetic workbook"}))  # fmt: skip
    rows = run(fetch_asc_addenda, settings, site, "f1", dt.date(2026, 2, 1))
    january = [r for r in rows if r.release == "2026-01"]
    assert [(r.logical_key, r.outcome, r.landed_path) for r in january] == [
        ("cms_asc_addenda_zip:2026-01", "downloaded", None),
        ("cms_asc_addenda_zip:2026-01:AA.csv", "downloaded", "cms_asc_addenda/fetched/20260101/AA.csv"),
        ("cms_asc_addenda_zip:2026-01:FF.csv", "downloaded", "cms_asc_addenda/fetched/20260101/FF.csv"),
    ]  # BB.csv and the workbook are not landed
    for name in ("AA.csv", "FF.csv"):
        path = settings.raw_dir / "cms_asc_addenda/fetched/20260101" / name
        assert releases(cms_asc_addenda.read, path, settings) == {(2026, 1)}
    (october,) = [r for r in rows if r.release == "2025-10"]
    assert october.outcome == "refused" and "only Excel members (October 2025 ASC Addenda.xlsx)" in october.message
    assert landed_files(settings) == [f"cms_asc_addenda/fetched/20260101/{n}" for n in ("AA.csv", "FF.csv")]


def test_opps_addendum_b_lands_under_a_name_that_keeps_the_release(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = Site()
    site.page(OPPS_PAGE, f"{OPPS_PAGE}/january-2023-addendum-b")
    site.page(f"{OPPS_PAGE}/january-2023-addendum-b", "/license/ama?file=/files/zip/january-2023-opps-addendum-b.zip")
    site.file(f"{CMS}/files/zip/january-2023-opps-addendum-b.zip", zipped(opps_members()), etag='"b1"')
    zip_row, member = run(fetch_opps_addendum_b, settings, site, "f1", dt.date(2023, 3, 1))
    assert (zip_row.outcome, member.outcome) == ("downloaded", "downloaded")
    assert member.landed_path == "cms_opps_addendum_b/fetched/20230101/2023_January_Web Addendum B.12212022.xlsx"
    assert releases(cms_opps_addendum_b.read, settings.raw_dir / member.landed_path, settings) == {(2023, 1)}
    (again,) = run(fetch_opps_addendum_b, settings, site, "f2", dt.date(2023, 3, 1))
    assert again.outcome == "not_modified"


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("rvu25a-updated-01/10/2025.zip", dt.date(2025, 1, 10)),
        ("rvu26b-updated-03-10-2026.zip", dt.date(2026, 3, 10)),
        ("rvu20a-updated-01312020.zip", dt.date(2020, 1, 31)),
        ("march-9-2024-asc-approved-hcpcs-code-and-payment-rates.zip", dt.date(2024, 3, 9)),
        ("cy-2026-april-opps-addendum-b.zip", None),
    ],
)
def test_the_date_a_reposted_slug_carries(slug: str, expected: dt.date | None) -> None:
    assert cms_quarterly._slug_date(slug) == expected


def entries(*names: str) -> list[ZipEntry]:
    return [ZipEntry(name, name, 10, 5) for name in names]


def test_both_payment_tracks_of_a_2026_zip_land_as_csv() -> None:
    offer = cms_quarterly.Offer("RVU26A", "RVU26A", 2026, f"{CMS}/files/zip/rvu26a.zip", f"{PFS_PAGE}/rvu26a")
    picked = cms_quarterly._pick_pfs(offer, entries(
        "PPRRVU2026_Jan_nonQPP.csv", "PPRRVU2026_Jan_nonQPP.txt", "PPRRVU2026_Jan_nonQPP.xlsx",
        "PPRRVU2026_Jan_QPP.txt", "PPRRVU2026_Jan_QPP.csv", "GPCI2026.csv", "GPCI2026.xlsx", "26LOCCO.csv",
        "26LOCCO.txt", "OPPSCAP_Jan.csv", "ANES2026.csv", "RVU26A.pdf",
    ))  # fmt: skip
    assert sorted((c.source, c.name) for c in picked) == [
        ("cms_opps_cap", "OPPSCAP_Jan.csv"),
        ("cms_pfs_gpci", "GPCI2026.csv"),
        ("cms_pfs_locality", "26LOCCO.csv"),
        ("cms_pfs_rvu", "PPRRVU2026_Jan_QPP.csv"),
        ("cms_pfs_rvu", "PPRRVU2026_Jan_nonQPP.csv"),
    ]


def test_a_txt_only_pprrvu_lands_and_a_zip_without_known_members_is_refused() -> None:
    offer = cms_quarterly.Offer("RVU25D", "RVU25D", 2025, f"{CMS}/files/zip/rvu25d.zip", f"{PFS_PAGE}/rvu25d")
    (picked,) = cms_quarterly._pick_pfs(offer, entries("PPRRVU2025_Oct.txt", "PPRRVU2025_Oct.xlsx"))
    assert picked.name == "PPRRVU2025_Oct.txt"
    with pytest.raises(cms_quarterly.NothingToLand, match=r"members: readme\.pdf"):
        cms_quarterly._pick_pfs(offer, entries("readme.pdf"))


def test_an_addendum_b_member_in_a_folder_keeps_cms_name_when_it_names_the_release() -> None:
    offer = cms_quarterly.Offer("2026-04", "20260401", 2026, f"{CMS}/files/zip/x.zip", OPPS_PAGE)
    (picked,) = cms_quarterly._pick_opps(offer, entries(
        "508 Version April 2026 Web Addendum B/2026 April Web Addendum B.03.23.26.csv",
        "April 2026 Web Addendum B.03.23.26.xlsx",
    ))  # fmt: skip
    assert (picked.name, picked.member.startswith("508 Version")) == ("2026 April Web Addendum B.03.23.26.csv", True)


def test_a_quarter_page_prefers_its_own_zip_to_the_final_rule_addendum() -> None:
    site = Site()
    site.page(OPPS_PAGE, f"{OPPS_PAGE}/january-2026-addendum-b")
    site.page(f"{OPPS_PAGE}/january-2026-addendum-b", "/files/zip/cy2026-opps-final-addendum-b-updated-12-01-2025.zip",
              "/files/zip/january-2026-opps-addendum-b.zip")  # fmt: skip
    with HttpFetcher(Settings(fetch_interval=0), transport=httpx.MockTransport(site.handler)) as fetcher:
        context = FetchContext(Settings(fetch_interval=0), fetcher, Manifest([]), "f1")
        (offer,) = cms_quarterly._discover_opps(context, dt.date(2026, 2, 1))
    assert offer.url == f"{CMS}/files/zip/january-2026-opps-addendum-b.zip"


def test_a_release_whose_landed_files_were_deleted_is_fetched_again_unconditionally(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = pfs_site()
    run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    (settings.raw_dir / "cms_pfs_gpci/fetched/RVU25D/GPCI2025.csv").unlink()
    site.asked.clear()
    zip_row, *members = run(fetch_pfs_rvu_zip, settings, site, "f2", PFS_TODAY)
    assert "If-None-Match" not in next(r for r in site.asked if str(r.url) == RVU25D_ZIP).headers
    assert zip_row.outcome == "downloaded"
    assert [(m.source, m.outcome) for m in members if m.outcome == "downloaded"] == [("cms_pfs_gpci", "downloaded")]
    assert len(landed_files(settings)) == 4


def test_a_member_failing_mid_extraction_lands_nothing_of_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    real = cms_quarterly.extract_member

    def extract(path: Path, member: str, dest: Path, *, max_bytes: int) -> tuple[str, int]:
        if member.startswith("GPCI"):  # after PPRRVU was extracted: as a member whose header lies about its size
            raise UnsafeArchive(f"{member}: inflates past its declared 10 bytes; refused")
        return real(path, member, dest, max_bytes=max_bytes)

    monkeypatch.setattr(cms_quarterly, "extract_member", extract)
    (row,) = run(fetch_pfs_rvu_zip, settings, pfs_site(), "f1", PFS_TODAY)
    assert row.outcome == "refused" and "GPCI2025.csv: inflates past" in row.message
    assert landed_files(settings) == [] and not list(settings.raw_dir.rglob(".*staged*"))


def test_a_licence_page_is_answered_as_the_licence_form_does_when_the_licence_is_accepted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    site = pfs_site()
    licence = b"<!DOCTYPE html><html><title>License Agreement (synthetic)</title><form>Accept</form></html>"
    site.file(RVU25D_ZIP, licence, content_type="text/html")
    site.file(RVU25D_ZIP + "?agree=yes&next=Accept", zipped(pfs_members()))
    rows = run(fetch_pfs_rvu_zip, settings, site, "f1", PFS_TODAY)
    zip_row = next(r for r in rows if r.logical_key == "cms_pfs_rvu_zip:RVU25D")
    assert (zip_row.outcome, zip_row.url) == ("downloaded", RVU25D_ZIP)  # the release's link, as discovered
    assert zip_row.final_url == RVU25D_ZIP + "?agree=yes&next=Accept" and zip_row.license_acknowledged is True
    assert "cms_opps_cap/fetched/RVU25D/OPPSCAP_Oct.csv" in landed_files(settings)
