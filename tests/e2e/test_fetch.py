"""End to end: `payerbench fetch` against a loopback mirror of CMS's hosts, then `payerbench run`.

The mirror (tests/fetch/mirror_tree.py) serves www.cms.gov's landing and release pages and quarterly zips
(real rows: the bundled excerpts, under the member names CMS uses), downloads.cms.gov's MCD exports (nested
zips of the SYNTHETIC tables) and data.cms.gov's data.json and data API (SYNTHETIC Part B rows). The CLI runs
in-process with PAYERBENCH_MIRROR pointing at it, over a raw folder holding only the reference tables:
- the first fetch lands every source under raw/<source>/fetched/ and `run` loads them all;
- a second fetch downloads nothing (304s) and the run after it loads no data file again;
- the `medicare_rate` rows are those of a run over the same files placed by hand;
- without the licence acknowledgement no gated zip is asked for, the rest is fetched, the exit is 1;
- `--offline` asks nothing.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from flows.cli import main
from flows.fetch import cms_mcd, cms_partb, manifest
from flows.fetch.manifest import ManifestRow
from flows.settings import Settings
from flows.steps import load_log
from tests.conftest import BUNDLED_RAW, query
from tests.fetch.mirror_tree import GATED_ZIPS, MCD_FOLDER, OPPS_MEMBER, publish
from tests.fetch.server import MirrorServer, mirror_path

CMS_GROUPS = (
    "medicare_rates",
    "medicare_coverage",
    "partb_utilization",
)  # the CMS sources (hospitals: their own tests)

pytestmark = pytest.mark.slow

GATED = {"cms_pfs_rvu", "cms_pfs_gpci", "cms_pfs_locality", "cms_opps_cap", "cms_asc_addenda", "cms_opps_addendum_b"}
FETCHED = {
    "cms_pfs_rvu/fetched/RVU25D/PPRRVU2025_Oct.csv",
    "cms_pfs_gpci/fetched/RVU25D/GPCI2025.csv",
    "cms_pfs_locality/fetched/RVU25D/25LOCCO.csv",
    "cms_opps_cap/fetched/RVU25D/OPPSCAP_Oct.csv",
    "cms_asc_addenda/fetched/20251001/AA_October_2025.csv",
    "cms_asc_addenda/fetched/20251001/FF_October_2025.csv",
    "cms_asc_addenda/fetched/20260101/AA_January_2026.csv",
    "cms_asc_addenda/fetched/20260101/FF_January_2026.csv",
    f"cms_opps_addendum_b/fetched/20230101/{OPPS_MEMBER}",
    f"cms_mcd/fetched/{MCD_FOLDER}/current_article.zip",
    f"cms_mcd/fetched/{MCD_FOLDER}/current_lcd.zip",
    "cms_partb_geo_service/fetched/2021/MUP_PHY_API_D21_Geo.csv",
    "cms_partb_geo_service/fetched/2022/MUP_PHY_API_D22_Geo.csv",
    "cms_partb_geo_service/fetched/2023/MUP_PHY_API_D23_Geo.csv",
}
STEPS = 5  # PFS RVU zip (four sources), OPPS Addendum B, ASC addenda, MCD exports, Part B API
LOADED = ("loaded", "loaded_with_quarantine")
# Every row of the mart but its lineage: `load_id` names the load, which differs between any two runs.
RATES = "select * exclude (load_id) from medicare_rate order by all"
STAGED = (
    "stg_pfs_rvu", "stg_pfs_gpci", "stg_pfs_locality", "stg_opps_cap", "stg_asc_addendum_aa", "stg_asc_addendum_ff",
    "stg_opps_addendum_b", "stg_mcd_article", "stg_mcd_lcd", "stg_mcd_article_hcpc_code", "stg_mcd_lcd_hcpc_code",
    "stg_mcd_code_listing", "stg_partb_geo_service",
)  # fmt: skip


@dataclass
class Call:
    code: int
    out: str

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith(prefix)]


def cli(*argv: str) -> Call:
    """`payerbench ARGV` in-process: exit code and everything it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(argv))
    return Call(code, out.getvalue())


def fresh_raw(root: Path) -> Settings:
    """A raw folder holding only a copy of the bundled reference tables."""
    shutil.copytree(BUNDLED_RAW / "reference", root / "raw" / "reference")
    return Settings(raw_dir=root / "raw", warehouse_dir=root / "warehouse", render_reports=False)


def folders(settings: Settings) -> list[str]:
    return ["--raw-dir", str(settings.raw_dir), "--warehouse", str(settings.warehouse_dir)]


def landed(settings: Settings) -> dict[str, int]:
    """Every file under raw/<source>/fetched/ (hidden scratch files included: none may be left) -> mtime."""
    raw = settings.raw_dir
    return {p.relative_to(raw).as_posix(): p.stat().st_mtime_ns for p in raw.glob("*/fetched/**/*") if p.is_file()}


def run_statuses(settings: Settings, run: Call) -> dict[str, tuple[str, int]]:
    """file name -> (status, rows loaded) of the load log rows of the run whose table `run` printed."""
    run_id = re.search(r"payerbench run (\S+)", run.out)
    assert run_id, run.out
    log = load_log.read(settings.lake_dir)
    mine = log[log["run_id"] == run_id.group(1)]
    return {r.source_file: (r.status, int(r.rows_loaded)) for r in mine.itertuples()}


def mirror_env(monkeypatch: pytest.MonkeyPatch, server: MirrorServer) -> None:
    monkeypatch.setenv("PAYERBENCH_MIRROR", server.url)
    monkeypatch.setenv("PAYERBENCH_FETCH_INTERVAL", "0")
    monkeypatch.setenv("PAYERBENCH_FETCH_YEARS", "20")  # 2023's Addendum B is in the window whatever the year
    monkeypatch.delenv("PAYERBENCH_ACCEPT_CMS_LICENSE", raising=False)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MirrorServer, dict[str, bytes]]]:
    """The loopback mirror of CMS's three hosts, and the same files as a person would place them by hand."""
    with MirrorServer(tmp_path_factory.mktemp("mirror")) as server:
        yield server, publish(server)


@dataclass
class Story:
    settings: Settings
    fetch1: Call
    rows1: list[ManifestRow]
    files1: dict[str, int]
    run1: Call
    loaded1: dict[str, tuple[str, int]]
    counts1: dict[str, int]
    rates1: list[tuple]
    fetch2: Call
    rows2: list[ManifestRow]
    asked2: list[str]
    files2: dict[str, int]
    run2: Call
    loaded2: dict[str, tuple[str, int]]
    rates2: list[tuple]
    manifest_view: list[tuple]
    manifest_loads: int


@pytest.fixture(scope="module")
def story(mirror: tuple[MirrorServer, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory) -> Story:
    """fetch, run, fetch again, run again over one raw folder; what each step left, kept for the tests below."""
    server, _ = mirror
    settings = fresh_raw(tmp_path_factory.mktemp("fetched"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        mirror_env(monkeypatch, server)
        fetch1 = cli("fetch", *CMS_GROUPS, "--accept-cms-license", *folders(settings))
        rows1 = manifest.read(settings.raw_dir)
        files1 = landed(settings)
        run1 = cli("run", "--no-report", *folders(settings))
        counts1 = {view: query(settings, f"select count(*) from {view}")[0][0] for view in (*STAGED, "fetch__manifest")}
        rates1 = query(settings, RATES)

        before = len(server.requests)
        fetch2 = cli("fetch", *CMS_GROUPS, "--accept-cms-license", *folders(settings))
        asked2 = [r.path for r in server.requests[before:]]
        rows2 = manifest.read(settings.raw_dir)[len(rows1) :]
        files2 = landed(settings)
        run2 = cli("run", "--no-report", *folders(settings))
        view = query(settings, "select fetch_id, outcome, count(*) from stg_fetch_manifest group by all order by all")
        (loads,) = query(settings, "select count(*) from fetch__manifest")[0]
    return Story(settings, fetch1, rows1, files1, run1, run_statuses(settings, run1), counts1, rates1, fetch2, rows2,
                 asked2, files2, run2, run_statuses(settings, run2), query(settings, RATES), view, loads)  # fmt: skip


# --- the first fetch and run ------------------------------------------------------------------------------------
def test_fetch_lands_every_source_and_records_the_licence(story: Story, mirror: tuple[MirrorServer, dict]) -> None:
    _, by_hand = mirror
    assert story.fetch1.code == 0, story.fetch1.out
    assert set(story.files1) == FETCHED  # no zip, scratch or .part file left beside them
    raw = story.settings.raw_dir
    for path in FETCHED - {p for p in FETCHED if p.startswith("cms_partb")}:  # members and exports as CMS ships them
        assert (raw / path).read_bytes() == by_hand[path.replace("/fetched/", "/")], path

    rows = story.rows1
    assert len({r.fetch_id for r in rows}) == 1
    assert {r.outcome for r in rows} == {"downloaded", "discovered"}  # data.json: the years it lists
    assert {r.landed_path for r in rows if r.landed_path} == FETCHED
    assert all(r.outcome == "downloaded" for r in rows if r.landed_path)
    assert {r.url for r in rows if r.source in GATED and not r.landed_path} == set(GATED_ZIPS)  # one row per zip
    assert {r.license_acknowledged for r in rows if r.source in GATED} == {True}
    assert {r.license_acknowledged for r in rows if r.source not in GATED} == {None}  # not licence-gated
    lines = story.fetch1.lines("fetch: ")
    assert len(lines) == STEPS, lines
    assert not any("nothing new upstream" in line for line in lines), lines


def test_run_loads_pfs_asc_opps_mcd_part_b_and_the_manifest(story: Story) -> None:
    assert story.run1.code == 0, story.run1.out
    fetched_names = {Path(p).name for p in FETCHED}
    assert {name for name, (status, _) in story.loaded1.items() if status in LOADED} >= fetched_names
    assert story.loaded1["fetch_manifest.csv"] == ("loaded", len(story.rows1))
    assert all(count > 0 for count in story.counts1.values()), story.counts1
    assert story.counts1["fetch__manifest"] == len(story.rows1)

    rates = query(
        story.settings,
        "select setting, release_period, count(*) from medicare_rate where billing_code = '0440T' group by all",
    )
    periods = {(setting, period) for setting, period, _ in rates}
    assert {("asc", "2025-Q4"), ("asc", "2026-Q1"), ("hopd_opps", "2023-Q1"), ("physician_facility", "2025-Q4"),
            ("physician_nonfacility", "2025-Q4")} <= periods  # fmt: skip
    asc = query(
        story.settings,
        "select payment_usd, status_indicator, source_file from medicare_rate "
        "where billing_code = '0440T' and setting = 'asc' and release_period = '2025-Q4'",
    )
    assert asc == [(Decimal("1503.58"), "J8", "AA_October_2025.csv")]  # the value CMS's AA file prints


# --- nothing new upstream ---------------------------------------------------------------------------------------
def test_a_second_fetch_downloads_nothing_and_the_run_after_it_loads_no_data_again(story: Story) -> None:
    assert story.fetch2.code == 0, story.fetch2.out
    rows = story.rows2
    assert rows and len({r.fetch_id for r in rows}) == 1 and rows[0].fetch_id != story.rows1[0].fetch_id
    assert {r.outcome for r in rows} <= {"not_modified", "unchanged"}, [(r.logical_key, r.outcome) for r in rows]
    assert {r.url for r in rows if r.http_status == 304} >= set(GATED_ZIPS)  # asked conditionally, answered 304
    assert not [p for p in story.asked2 if "/data-api/" in p]  # data.json unchanged: the data API is not asked
    assert story.files2 == story.files1  # no new file, none rewritten
    lines = story.fetch2.lines("fetch: ")
    assert len(lines) == STEPS and all("nothing new upstream" in line for line in lines), lines

    assert story.run2.code == 0, story.run2.out
    data = {name: state for name, state in story.loaded2.items() if name != "fetch_manifest.csv"}
    assert data and {status for status, _ in data.values()} == {"unchanged"}, data
    assert story.loaded2["fetch_manifest.csv"] == ("loaded", len(story.rows1) + len(rows))  # the new check rows
    rebuilt = re.search(r"^marts rebuilt: (.*)$", story.run2.out, re.MULTILINE)
    assert rebuilt is None or set(rebuilt.group(1).split(", ")) <= {"stg_source_file", "stg_fetch_manifest"}
    assert story.rates2 == story.rates1


def test_the_manifest_view_holds_each_row_once_after_two_loads(story: Story) -> None:
    expected = Counter((r.fetch_id, r.outcome) for r in story.rows1 + story.rows2)
    assert story.manifest_loads > sum(expected.values())  # the dataset: every load's copy of the file
    assert story.manifest_view == sorted((*key, n) for key, n in expected.items())  # not twice the first fetch


# --- the same rows as by hand -------------------------------------------------------------------------------------
def test_fetch_then_run_gives_the_medicare_rate_rows_of_the_same_files_placed_by_hand(
    story: Story, mirror: tuple[MirrorServer, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, by_hand = mirror
    monkeypatch.delenv("PAYERBENCH_MIRROR", raising=False)
    settings = fresh_raw(tmp_path)
    for path, body in by_hand.items():
        (settings.raw_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (settings.raw_dir / path).write_bytes(body)
    run = cli("run", "--no-report", *folders(settings))
    assert run.code == 0, run.out
    rates = query(settings, RATES)
    assert len(rates) > 1000 and rates == story.rates1
    counts = {view: query(settings, f"select count(*) from {view}")[0][0] for view in STAGED}
    assert counts == {view: story.counts1[view] for view in STAGED}


# --- the licence, offline -----------------------------------------------------------------------------------------
def test_without_the_licence_no_gated_zip_is_asked_the_rest_is_fetched_and_one_line_says_what_to_do(
    mirror: tuple[MirrorServer, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = mirror
    mirror_env(monkeypatch, server)
    settings = fresh_raw(tmp_path)
    before = len(server.requests)
    fetch = cli("fetch", *CMS_GROUPS, *folders(settings))
    assert fetch.code == 1, fetch.out
    told = [line for line in fetch.out.splitlines() if "https://www.cms.gov/license/ama" in line]
    assert len(told) == 1 and "PAYERBENCH_ACCEPT_CMS_LICENSE=yes" in told[0] and "--accept-cms-license" in told[0]
    asked = [r.path for r in server.requests[before:]]
    assert not [p for p in asked if p.startswith("/www.cms.gov/") and ".zip" in p], asked
    assert {mirror_path(cms_mcd.export_url(f"current_{kind}.zip")) for kind in ("article", "lcd")} <= set(asked)
    assert mirror_path(cms_partb.DATA_JSON) in asked

    rows = manifest.read(settings.raw_dir)
    gated = [r for r in rows if r.source in GATED]
    assert {(r.url, r.outcome, r.license_acknowledged) for r in gated} == {
        (url, "licence_required", False) for url in GATED_ZIPS
    }
    assert set(landed(settings)) == {p for p in FETCHED if p.startswith(("cms_mcd/", "cms_partb_geo_service/"))}


def test_offline_asks_nothing_and_says_what_it_would_fetch(
    mirror: tuple[MirrorServer, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = mirror
    mirror_env(monkeypatch, server)
    settings = fresh_raw(tmp_path)
    before = len(server.requests)
    fetch = cli("fetch", *CMS_GROUPS, "--offline", "--accept-cms-license", *folders(settings))
    assert fetch.code == 0, fetch.out
    assert len(server.requests) == before
    rows = manifest.read(settings.raw_dir)
    assert rows and {r.outcome for r in rows} == {"offline"} and all(r.message for r in rows)
    assert landed(settings) == {}
    assert len(fetch.lines("fetch: ")) == STEPS
