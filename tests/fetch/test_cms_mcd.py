"""MCD exports: conditional GET, same bytes land nothing, a new export lands as downloaded in its own
folder and loads with the real adapter; a zip-slip entry or an HTML page where the zip was expected
is refused with nothing landed.

The export zips are built here from the project's SYNTHETIC MCD release (raw/cms_mcd/synthetic_mcd_release/:
invented documents and contractors, not facts about any MAC), zipped as CMS ships them (an outer zip
holding `current_article_csv.zip` of CSV tables and a readme)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd

from flows.fetch import cms_mcd, manifest
from flows.fetch.run import run_fetch
from flows.settings import Settings
from flows.sources.base import FetchStep, Source
from tests import cms_loading
from tests.conftest import BUNDLED_RAW
from tests.fetch.mirror_tree import synthetic_export

SYNTHETIC = BUNDLED_RAW / "cms_mcd" / "synthetic_mcd_release"
ARTICLE_URL = cms_mcd.export_url("current_article.zip")
LCD_URL = cms_mcd.export_url("current_lcd.zip")
WEEK1 = "Thu, 08 Jan 2026 14:00:00 GMT"
WEEK2 = "Thu, 15 Jan 2026 14:00:00 GMT"


class Server:
    """downloads.cms.gov as the tests need it: one body per URL, ETag = a version label, 304 on a match."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}  # url -> (body, etag, last_modified)
        self.asked: list[tuple[str, str | None]] = []
        self.conditional = True

    def put(self, url: str, body: bytes, etag: str, last_modified: str) -> None:
        self.files[url] = (body, etag, last_modified)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.asked.append((url, request.headers.get("if-none-match")))
        body, etag, modified = self.files[url]
        headers = {"ETag": etag, "Last-Modified": modified}
        if self.conditional and request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers=headers)
        content_type = "text/html" if body.lstrip().startswith(b"<") else "application/zip"
        return httpx.Response(200, stream=httpx.ByteStream(body), headers={**headers, "Content-Type": content_type})


def settings(tmp_path: Path) -> Settings:
    return Settings(raw_dir=tmp_path / "raw", warehouse_dir=tmp_path / "warehouse", fetch_interval=0)


def fetch(tmp_path: Path, server: Server, fetch_id: str) -> dict[str, manifest.ManifestRow]:
    step = FetchStep(cms_mcd.STEP, cms_mcd.fetch_mcd_exports, cms_mcd.DISCOVERY, cms_mcd.BASE, cms_mcd.EVERY)
    source = Source("cms_mcd", "cms_mcd", lambda path, context: iter(()), {}, fetch=step)
    (result,) = run_fetch(settings(tmp_path), [source], fetch_id, transport=httpx.MockTransport(server))
    assert result.error is None, result.error
    return {row.url.rsplit("/", 1)[1]: row for row in result.rows}


def landed(tmp_path: Path) -> list[str]:
    """Every file under raw/cms_mcd/fetched/ (hidden scratch files included: none may be left)."""
    folder = tmp_path / "raw" / "cms_mcd" / "fetched"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def week1(server: Server) -> None:
    server.put(ARTICLE_URL, synthetic_export("article"), '"a1"', WEEK1)
    server.put(LCD_URL, synthetic_export("lcd"), '"l1"', WEEK1)


def test_a_new_export_lands_as_downloaded_and_the_real_adapter_reads_both_zips_of_one_folder(tmp_path: Path) -> None:
    server = Server()
    week1(server)
    rows = fetch(tmp_path, server, "f1")
    assert {name: (r.outcome, r.release, r.http_status) for name, r in rows.items()} == {
        "current_article.zip": ("downloaded", "2026-01-08", 200),
        "current_lcd.zip": ("downloaded", "2026-01-08", 200),
    }
    assert landed(tmp_path) == ["2026-01-08/current_article.zip", "2026-01-08/current_lcd.zip"]
    article = rows["current_article.zip"]
    assert article.landed_path == "cms_mcd/fetched/2026-01-08/current_article.zip"
    assert (article.etag, article.last_modified, article.bytes_received) == ('"a1"', WEEK1, len(server.files[ARTICLE_URL][0]))  # fmt: skip
    assert (tmp_path / "raw" / article.landed_path).read_bytes() == server.files[ARTICLE_URL][0]  # as downloaded

    # The real loader reads each landed zip as a release of its own: every synthetic table of its kind loads.
    config = settings(tmp_path)
    folder = tmp_path / "raw" / "cms_mcd" / "fetched" / "2026-01-08"
    for name in ("current_article.zip", "current_lcd.zip"):
        record = cms_loading.load(config, "cms_mcd", folder / name)
        assert record.rows_quarantined == 0, record
    for kind, id_column in (("article", "article_id"), ("lcd", "lcd_id")):
        expected = pd.read_csv(SYNTHETIC / f"synthetic_{kind}.csv", dtype=str)[id_column]
        loaded = cms_loading.rows(config, f"cms__mcd_{kind}")
        assert sorted(loaded[id_column].astype(str)) == sorted(expected), kind
    loaded_groups = cms_loading.rows(config, "cms__mcd_lcd_hcpc_code_group")
    assert len(loaded_groups) == len(pd.read_csv(SYNTHETIC / "synthetic_lcd_x_hcpc_code_group.csv", dtype=str))
    contractors = cms_loading.rows(config, "cms__mcd_contractor")
    assert set(contractors["source_file"]) == {"current_article.zip", "current_lcd.zip"}  # each zip its own release


def test_the_second_run_asks_conditionally_and_a_304_downloads_nothing(tmp_path: Path) -> None:
    server = Server()
    week1(server)
    fetch(tmp_path, server, "f1")
    server.asked.clear()
    rows = fetch(tmp_path, server, "f2")
    assert server.asked == [(ARTICLE_URL, '"a1"'), (LCD_URL, '"l1"')]
    assert {r.outcome for r in rows.values()} == {"not_modified"}
    assert all(r.landed_path is None and r.http_status == 304 for r in rows.values())
    assert landed(tmp_path) == ["2026-01-08/current_article.zip", "2026-01-08/current_lcd.zip"]


def test_the_same_bytes_served_again_are_unchanged_and_land_nothing(tmp_path: Path) -> None:
    server = Server()
    week1(server)
    fetch(tmp_path, server, "f1")
    server.conditional = False  # a server that ignores If-None-Match: the sha256 tells
    server.files[ARTICLE_URL] = (server.files[ARTICLE_URL][0], '"a1"', WEEK2)
    rows = fetch(tmp_path, server, "f2")
    assert {name: r.outcome for name, r in rows.items()} == {"current_article.zip": "unchanged", "current_lcd.zip": "unchanged"}  # fmt: skip
    assert rows["current_article.zip"].landed_path == "cms_mcd/fetched/2026-01-08/current_article.zip"
    assert "same sha256" in rows["current_article.zip"].message
    assert landed(tmp_path) == ["2026-01-08/current_article.zip", "2026-01-08/current_lcd.zip"]


def test_a_new_weekly_export_lands_in_a_new_folder_and_the_old_one_stays(tmp_path: Path) -> None:
    server = Server()
    week1(server)
    fetch(tmp_path, server, "f1")
    server.put(ARTICLE_URL, synthetic_export("article", readme="synthetic week 2"), '"a2"', WEEK2)
    rows = fetch(tmp_path, server, "f2")
    assert (rows["current_article.zip"].outcome, rows["current_article.zip"].release) == ("downloaded", "2026-01-15")
    assert rows["current_lcd.zip"].outcome == "not_modified"
    assert landed(tmp_path) == [
        "2026-01-08/current_article.zip",
        "2026-01-08/current_lcd.zip",
        "2026-01-15/current_article.zip",
    ]
    assert [r.outcome for r in manifest.read(tmp_path / "raw")] == ["downloaded", "downloaded", "downloaded", "not_modified"]  # fmt: skip


def test_a_recut_export_of_the_same_day_is_reissued_beside_the_first_never_over_it(tmp_path: Path) -> None:
    server = Server()
    week1(server)
    fetch(tmp_path, server, "f1")
    first = (tmp_path / "raw" / "cms_mcd" / "fetched" / "2026-01-08" / "current_article.zip").read_bytes()
    server.put(ARTICLE_URL, synthetic_export("article", readme="synthetic re-cut"), '"a1r"', WEEK1)
    row = fetch(tmp_path, server, "f2")["current_article.zip"]
    assert row.outcome == "reissued" and "re-cut" in row.message
    assert row.landed_path == f"cms_mcd/fetched/2026-01-08/current_article-{row.sha256[:12]}.zip"  # type: ignore[index]
    assert (tmp_path / "raw" / "cms_mcd" / "fetched" / "2026-01-08" / "current_article.zip").read_bytes() == first


def test_a_zip_slip_entry_in_the_nested_zip_is_refused_and_nothing_lands(tmp_path: Path) -> None:
    server = Server()
    week1(server)
    server.put(ARTICLE_URL, synthetic_export("article", extra={"../../evil.csv": b"article_id\n1\n"}), '"bad"', WEEK1)
    rows = fetch(tmp_path, server, "f1")
    article = rows["current_article.zip"]
    assert (article.outcome, article.landed_path, article.http_status) == ("refused", None, 200)
    assert "'../../evil.csv'" in article.message and "zip-slip" in article.message
    assert rows["current_lcd.zip"].outcome == "downloaded"  # the other export is not held up
    assert landed(tmp_path) == ["2026-01-08/current_lcd.zip"]  # no scratch file, no .part


def test_the_licence_html_where_the_zip_was_expected_is_refused_and_nothing_lands(tmp_path: Path) -> None:
    server = Server()
    week1(server)
    page = b"<!DOCTYPE html><html><body>License for Use of Current Procedural Terminology ... Accept</body></html>"
    server.put(ARTICLE_URL, page, '"html"', WEEK1)
    article = fetch(tmp_path, server, "f1")["current_article.zip"]
    assert (article.outcome, article.landed_path) == ("refused", None)
    assert ARTICLE_URL in article.message and "HTML" in article.message
    assert landed(tmp_path) == ["2026-01-08/current_lcd.zip"]
    # Refused bytes are never "the last landed export": the next good answer lands.
    week1(server)
    assert fetch(tmp_path, server, "f2")["current_article.zip"].outcome == "downloaded"


def test_offline_asks_nothing_and_says_what_it_would_ask(tmp_path: Path) -> None:
    server = Server()
    step = FetchStep(cms_mcd.STEP, cms_mcd.fetch_mcd_exports, cms_mcd.DISCOVERY, cms_mcd.BASE, cms_mcd.EVERY)
    source = Source("cms_mcd", "cms_mcd", lambda path, context: iter(()), {}, fetch=step)
    (result,) = run_fetch(settings(tmp_path), [source], "f1", offline=True, transport=httpx.MockTransport(server))
    assert server.asked == []
    assert [(r.outcome, r.message) for r in result.rows] == [
        ("offline", f"would GET {ARTICLE_URL}"),
        ("offline", f"would GET {LCD_URL}"),
    ]


def test_the_export_date_is_its_last_modified_else_the_fetch_day() -> None:
    import datetime as dt

    fetched = dt.datetime(2026, 2, 3, 23, 30, tzinfo=dt.UTC)
    assert cms_mcd.export_date("Thu, 08 Jan 2026 23:59:59 GMT", fetched) == "2026-01-08"
    assert cms_mcd.export_date(None, fetched) == "2026-02-03"
    assert cms_mcd.export_date("not a date", fetched) == "2026-02-03"
