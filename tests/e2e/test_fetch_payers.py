"""End to end, issue 15's "Done when": `payerbench fetch tic / hospital_mrf / payer_policy` against a loopback
mirror of the payers' and hospitals' hosts, then `payerbench run`, all through the CLI in-process.

One story (module-scoped) over a raw folder holding a copy of the bundled reference tables, whose
payer_indexes.csv and hospitals.csv are replaced by test copies pointing at the mirror, and a test copy of the
policy extract whose policy_url points at mirrored pages:
- two payers: a UHC-style blob listing whose two employer ToCs share an in-network file (listed three times,
  under two signatures and on another host) and an Anthem-style gzip index of this month; their filters choose
  2 + 3 in-network files; `fetch tic` lands only a compact ToC and a plan per payer, then `run --no-report`
  streams the five files (never written to raw/ or the temp folder) and loads exactly the rows
  `payerbench ingest tic <the same files, local>` loads;
- the same with one file cut mid-body on a host with Range support and another cut without: same rows;
- the same run with PAYERBENCH_LAKE_URL on a loopback S3 server (moto): every part and the load log land in
  the bucket (none in the local lake folder) and `payerbench query` answers the count. Not over Dask: the URLs
  a fetch planned are streamed one after another by the coordinating process (flows/ingest.py `load_urls`);
  tests/e2e/test_lake_on_s3.py covers Dask workers writing local files into the S3 lake;
- two hospitals: one good cms-hpt.txt, one answering with HTML (a finding, not a crash);
- two policy pages (HTML and PDF) whose stance changes between two fetches: a change with its diff and a
  draft extract row; `run` loads the snapshots and changes.

Everything served is SYNTHETIC (tests/fetch/test_tic_index.py, test_stream.py, test_hospital_hpt.py and
test_policy_pages.py build it).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import main
from flows.engines.remote import url_name
from flows.fetch import manifest, policy_pages, tic_index
from flows.settings import Settings
from flows.steps import load_log
from flows.steps.lake import lake_root
from tests.conftest import BUNDLED_RAW, query
from tests.fetch import test_hospital_hpt as hpt
from tests.fetch import test_policy_pages as pol
from tests.fetch import test_tic_index as toc
from tests.fetch.server import Cut, MirrorServer
from tests.fetch.test_stream import LINEAGE, synthetic_in_network
from tests.s3_lake import s3_server

pytestmark = pytest.mark.slow

TODAY = dt.datetime.now(dt.UTC).date()
MONTH = TODAY.replace(day=1).isoformat()
ANTHEM_NOW = toc.ANTHEM.replace("{YYYY-MM-01}", MONTH)
UHC_FILES = [toc.EDGE_HOST + toc.SHARED + "?sig=AAA", toc.EDGE_HOST + toc.ACME_ONLY]  # the UHC plan, in order
NOT_ASKED = [toc.EDGE_HOST + toc.SHARED + "?sig=BBB", toc.BLOB_HOST + toc.SHARED, toc.EDGE_HOST + toc.ACME_ALLOWED]
PAYER_INDEXES = f"""payer_group,payer,index_kind,index_url,publication_day,index_name_pattern,max_indexes,plan_name_pattern,market_type,network_pattern,file_name_pattern,max_files,source,source_confidence,notes
unitedhealthcare,unitedhealthcare,uhc_blob_listing,{toc.LISTING},1,_index\\.json$,25,,,,in-network-rates,10,synthetic test row,confirmed,SYNTHETIC
bcbs,anthem,toc_json,{toc.ANTHEM},1,,,,,,_in-network-rates_,3,synthetic test row,confirmed,SYNTHETIC
"""  # fmt: skip
HOSPITALS = """hospital_name,state_abbrev,web_root,source,source_confidence,notes
Alpha Health (SYNTHETIC),TX,alpha.example,synthetic test hospital,not_found,SYNTHETIC
Beta Hospital (SYNTHETIC),OH,beta.example,synthetic test hospital,not_found,SYNTHETIC: serves its home page
"""
ROWS = "tic__in_network_rate"


@dataclass
class Call:
    code: int
    out: str


def cli(*argv: str) -> Call:
    """`payerbench ARGV` in-process: exit code and everything it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(argv))
    return Call(code, out.getvalue())


def where(settings: Settings) -> list[str]:
    return ["--raw-dir", str(settings.raw_dir), "--warehouse", str(settings.warehouse_dir)]


def lake_rows(settings: Settings, dataset: str = ROWS) -> pd.DataFrame:
    """Every committed row of a dataset, lineage dropped, as sorted strings."""
    log = load_log.read(settings.lake_dir)
    committed = set(log[log["status"].isin(load_log.COMMITTED)]["load_id"])
    parts = sorted((settings.lake_dir / dataset).glob("*/*.parquet"))
    frames = [pd.read_parquet(p) for p in parts if p.parent.name in committed]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True).drop(columns=LINEAGE)
    return out.astype(str).sort_values(list(out.columns)).reset_index(drop=True)


@dataclass
class Story:
    root: Path
    server: MirrorServer
    settings: Settings
    bodies: dict[str, bytes]  # in-network URL (as planned) -> body
    calls: dict[str, Call] = field(default_factory=dict)
    scratch: Path | None = None


def publish(server: MirrorServer) -> dict[str, bytes]:
    """The two payers' indexes and every in-network file they list (distinct bodies, 40 rows of interest each)."""
    toc.uhc_mirror(server)
    server.put(ANTHEM_NOW, gzip.compress(toc.anthem_index(60), mtime=0))
    anthem = [  # each file as first listed (the listing the plan keeps): under the signature of structure n
        f"https://anthembcbsxx.mrf.bcbs.com/2026-08_890_58B0_in-network-rates_{n + 1}_of_6.json.gz"
        f"?&Expires={n}&Signature=S{n}"
        for n in range(6)
    ]
    bodies = {}
    for seed, url in enumerate([*UHC_FILES, *anthem]):
        body = synthetic_in_network(items=400, seed=seed)
        server.put(url, body)
        bodies[url] = body
    for url in NOT_ASKED:
        server.put(url, bodies[UHC_FILES[0]] if toc.SHARED in url else b"{}")
    return bodies


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("payers")
    with MirrorServer(root / "mirror") as server, pytest.MonkeyPatch.context() as mp:
        bodies = publish(server)
        server.put("https://alpha.example/cms-hpt.txt", hpt.ALPHA_TXT)
        server.put(hpt.SHARED, hpt.V3_TALL)
        server.put(hpt.JSON_URL, hpt.V3_JSON)
        server.put("https://beta.example/cms-hpt.txt", hpt.HTML)
        server.put("https://www.beta.example/cms-hpt.txt", hpt.HTML)
        server.put(pol.HTML_URL, pol.anthem_html(pol.OLD_STANCE, "05/09/2024"))
        server.put(pol.PDF_URL, pol.cigna_pdf("is considered experimental, investigational or unproven.", "2/15/2020"))

        raw = root / "raw"
        shutil.copytree(BUNDLED_RAW / "reference", raw / "reference")
        (raw / "reference" / "payer_indexes.csv").write_text(PAYER_INDEXES, encoding="utf-8")
        (raw / "reference" / "hospitals.csv").write_text(HOSPITALS, encoding="utf-8")
        (raw / "payer_policy").mkdir()
        (raw / "payer_policy" / "synthetic_policy_extract.csv").write_text(pol.EXTRACT, encoding="utf-8")
        settings = Settings(raw_dir=raw, warehouse_dir=root / "warehouse", render_reports=False)

        mp.setenv("PAYERBENCH_MIRROR", server.url)
        mp.setenv("PAYERBENCH_FETCH_INTERVAL", "0")
        mp.setenv("PAYERBENCH_POLICY_FETCH_INTERVAL", "0")
        mp.delenv(tic_index.SIGNED_URLS_ENV, raising=False)
        mp.delenv("PAYERBENCH_LAKE_URL", raising=False)
        s = Story(root, server, settings, bodies)

        s.calls["fetch tic"] = cli("fetch", "tic", *where(settings))
        s.calls["fetch hospital_mrf"] = cli("fetch", "hospital_mrf", *where(settings))
        mp.setattr(policy_pages, "now", lambda: pol.DAY1)
        s.calls["fetch payer_policy 1"] = cli("fetch", "payer_policy", *where(settings))
        server.put(pol.HTML_URL, pol.anthem_html(pol.NEW_STANCE, "01/08/2026"))  # a new size: a new ETag
        server.put(pol.PDF_URL, pol.cigna_pdf("is considered medically necessary when criteria are met.", "1/1/2026"))
        mp.setattr(policy_pages, "now", lambda: pol.DAY3)
        s.calls["fetch payer_policy 2"] = cli("fetch", "payer_policy", *where(settings))
        mp.undo()  # policy_pages.now back; the environment set again below
        mp.setenv("PAYERBENCH_MIRROR", server.url)
        mp.setenv("PAYERBENCH_FETCH_INTERVAL", "0")

        s.scratch = root / "scratch"
        s.scratch.mkdir()
        mp.setattr(tempfile, "tempdir", str(s.scratch))
        s.calls["run"] = cli("run", "--no-report", *where(settings))
        mp.setattr(tempfile, "tempdir", None)
        yield s


def planned(story: Story) -> list[str]:
    return tic_index.planned_urls(story.settings)


def local_copy(story: Story, name: str) -> list[Path]:
    """The planned files as local paths (named as their URLs), in a folder of their own."""
    folder = story.root / name
    folder.mkdir()
    paths = []
    for url in planned(story):
        path = folder / url_name(url)
        path.write_bytes(story.bodies[url])
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def local_rows(story: Story) -> pd.DataFrame:
    """`payerbench ingest tic <the planned files as local paths>` into a warehouse of its own."""
    local = story.settings.replace(raw_dir=story.root / "raw-local", warehouse_dir=story.root / "warehouse-local")
    shutil.copytree(story.settings.raw_dir / "reference", local.raw_dir / "reference")
    paths = local_copy(story, "local-files")
    call = cli("ingest", "tic", *map(str, paths), "--no-build", *where(local))
    assert call.code == 0, call.out
    got = lake_rows(local)
    assert len(got) == 40 * len(paths)
    return got


# --- 1. the TiC crawl, then the planned files streamed ----------------------------------------------------------
def test_fetch_tic_reads_both_indexes_dedupes_and_lands_only_a_toc_and_a_plan(story: Story) -> None:
    call = story.calls["fetch tic"]
    assert call.code == 0, call.out
    assert call.out.startswith("fetch: tic: 4 downloaded")
    messages = [r.message for r in manifest.read(story.settings.raw_dir) if r.logical_key.startswith("tic_index:")]
    assert any(m.startswith("5 file listings in 3 index(es), 3 distinct after dedupe, 2 chosen") for m in messages)
    assert any(m.startswith("60 file listings in 1 index(es), 6 distinct after dedupe, 3 chosen") for m in messages)
    fetched = story.settings.raw_dir / "tic" / "fetched"
    assert sorted(p.relative_to(fetched).as_posix() for p in fetched.rglob("*") if p.is_file()) == [
        f"anthem/{MONTH}_anthem_index.json",
        f"anthem/{MONTH}_plan.csv",
        "unitedhealthcare/2026-08-01_plan.csv",
        "unitedhealthcare/2026-08-01_unitedhealthcare_index.json",
    ]
    urls = planned(story)
    assert len(urls) == 5 and set(UHC_FILES) <= set(urls)  # the shared file once, under its first listing
    assert sum("_in-network-rates_" in u for u in urls) == 3


def test_run_streams_the_planned_files_once_each_and_never_to_disk(story: Story) -> None:
    call = story.calls["run"]
    assert call.code == 0, call.out
    for url in planned(story):
        assert len(story.server.seen(url)) == 1, url  # one GET each, no second pass
    for url in NOT_ASKED:  # the shared file's other listings (dedupe) and the file the filter left out
        assert story.server.seen(url) == [], url
    names = {url_name(u) for u in planned(story)}
    on_disk = [p for p in story.root.rglob("*") if p.name in names or "in-network-rates" in p.name]
    on_disk = [p for p in on_disk if not p.is_relative_to(story.server.root) and "local-files" not in p.parts]
    assert on_disk == []
    assert story.scratch is not None and not list(story.scratch.rglob("*"))
    log = load_log.read(story.settings.lake_dir)
    urls = log[log["source_path"].str.startswith("https://")]
    assert sorted(urls["source_file"]) == sorted(names) and set(urls["status"]) == {"loaded"}
    assert not urls["source_path"].str.contains("sig=").any()  # signatures never reach the log


def test_the_streamed_rows_are_exactly_those_of_a_local_ingest(story: Story, local_rows: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(lake_rows(story.settings), local_rows)
    (count,) = query(story.settings, f"select count(*) from {ROWS}")[0]
    assert count == len(local_rows)
    # the compact ToCs were loaded too: every plan of every listing, the shared file under its one URL
    (files,) = query(story.settings, "select count(distinct file_location) from tic__toc_file")[0]
    assert files == 3 + 6


# --- 2. cut connections ----------------------------------------------------------------------------------------
def test_cut_connections_with_and_without_range_end_with_the_same_rows(
    story: Story, local_rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYERBENCH_MIRROR", story.server.url)
    monkeypatch.setenv("PAYERBENCH_FETCH_INTERVAL", "0")
    resumed, restarted = UHC_FILES[0], next(u for u in planned(story) if "anthem" in u)
    before = {u: len(story.server.seen(u)) for u in (resumed, restarted)}
    story.server.script(resumed, Cut(at=len(story.bodies[resumed]) // 3))
    story.server.script(restarted, Cut(at=len(story.bodies[restarted]) // 2, ranges=False))
    cut = story.settings.replace(warehouse_dir=story.root / "warehouse-cut")
    call = cli("run", "--no-report", *where(cut))  # the raw folder, then the planned URLs
    assert call.code == 0, call.out
    asked = {u: story.server.seen(u)[before[u] :] for u in (resumed, restarted)}
    assert [r.headers.get("range") for r in asked[resumed]] == [None, f"bytes={len(story.bodies[resumed]) // 3}-"]
    assert [r.headers.get("range") for r in asked[restarted]] == [None, None]  # from byte 0 again
    got = lake_rows(cut)
    assert len(got) == len(local_rows) == 40 * 5
    pd.testing.assert_frame_equal(got, local_rows)


# --- 4. hospitals by cms-hpt.txt ---------------------------------------------------------------------------------
def test_fetch_hospital_mrf_lands_the_listed_files_and_records_the_bad_txt(story: Story) -> None:
    call = story.calls["fetch hospital_mrf"]
    assert call.code == 1, call.out  # a problem to see (Beta's HTML, Alpha's missing file), not a crash
    assert "beta.example" in call.out
    folder = story.settings.raw_dir / "hospital_mrf" / "fetched"
    assert (folder / "alpha.example" / "alpha_standardcharges.csv").read_bytes() == hpt.V3_TALL
    assert (folder / "alpha.example" / "alpha-east.json").read_bytes() == hpt.V3_JSON
    with (folder / "beta.example" / "cms-hpt.csv").open(encoding="utf-8") as handle:
        (beta,) = list(csv.DictReader(handle))
    assert beta["finding"] == "cms_hpt_is_html"


def test_run_loads_the_hospital_files_and_their_entries_with_findings(story: Story) -> None:
    (charges,) = query(story.settings, "select count(*) from hospital__standard_charge")[0]
    assert charges > 0
    findings = dict(
        query(story.settings, "select finding, count(*) from hospital__hpt_entry where finding <> '' group by 1")
    )
    assert "cms_hpt_is_html" in findings and len(findings) >= 2


# --- 5. policy pages watched for change -------------------------------------------------------------------------
def test_a_changed_policy_page_gives_a_change_with_its_diff_and_a_draft_row(story: Story) -> None:
    first, second = story.calls["fetch payer_policy 1"], story.calls["fetch payer_policy 2"]
    assert first.code == 0 and second.code == 0, first.out + second.out
    assert "CHANGED: stance experimental_investigational -> covered_with_criteria" in second.out
    assert "CHANGED" not in first.out
    changes = [json.loads(p.read_text())["change"] for p in
               (story.settings.raw_dir / "payer_policy_snapshot" / "fetched").rglob("*.json")]  # fmt: skip
    (anthem,) = [c for c in changes if c and c["new_stance"] == "covered_with_criteria" and "SURG" in json.dumps(c)]
    assert anthem["previous_stance"] == "experimental_investigational"
    diff = anthem["diff"].splitlines()
    assert f"-sentence: {pol.OLD_STANCE}" in diff and f"+sentence: {pol.NEW_STANCE}" in diff
    draft = story.settings.raw_dir / policy_pages.DRAFTS / "2026-02-02_draft.csv"
    with draft.open(encoding="utf-8") as handle:
        drafted = [(r["payer_name"], r["billing_code"], r["coverage_status"]) for r in csv.DictReader(handle)]
    assert ("Anthem", "0440T", "covered_with_criteria") in drafted
    extract = story.settings.raw_dir / "payer_policy" / "synthetic_policy_extract.csv"
    assert extract.read_text(encoding="utf-8") == pol.EXTRACT  # the reviewed truth is untouched


def test_run_loads_the_policy_snapshots_and_changes(story: Story) -> None:
    (snapshots,) = query(story.settings, "select count(*) from payer__policy_snapshot")[0]
    assert snapshots == 4  # two pages, two versions each
    changes = query(story.settings, "select previous_stance, new_stance from payer__policy_change order by all")
    assert ("experimental_investigational", "covered_with_criteria") in changes


# --- 3. the lake on the loopback S3 server (the streamed loads run in this process: see the module's note) --------
def test_the_streamed_load_into_an_s3_lake_and_query_answers_from_it(
    story: Story, local_rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYERBENCH_MIRROR", story.server.url)
    monkeypatch.setenv("PAYERBENCH_FETCH_INTERVAL", "0")
    s3 = story.settings.replace(warehouse_dir=story.root / "warehouse-s3")
    with s3_server(monkeypatch) as bucket:
        lake = bucket()
        monkeypatch.setenv("PAYERBENCH_LAKE_URL", lake)
        call = cli("run", "--no-report", *where(s3))
        assert call.code == 0, call.out
        local_lake = [p.relative_to(s3.lake_dir).as_posix() for p in s3.lake_dir.rglob("*") if p.is_file()]
        assert local_lake == [], local_lake  # parts and log are in the bucket
        log = load_log.read(lake_root(s3.replace(lake_url=lake)))
        streamed = log[log["source_path"].str.startswith("https://")]
        assert len(streamed) == 5 and set(streamed["status"]) == {"loaded"}
        answer = cli("query", "--format", "json", f"select count(*) as n from {ROWS}", *where(s3))
        assert answer.code == 0, answer.out
    assert json.loads(answer.out) == [{"n": len(local_rows)}]
