"""Hospital files by cms-hpt.txt, against the loopback mirror: entries parsed and recorded with findings, the www
fallback, HTML instead of text, a shared mrf-url fetched once, the MRFs loaded by the real hospital_mrf adapter,
and a second run that asks conditionally and lands nothing.

Every hospital here is SYNTHETIC (reserved `.example` domains); the MRFs are the project's synthetic hospital files
(raw/hospital_mrf/synthetic_v3_tall_0440T-0442T.csv, tests/fixtures/hospital__standard_charge/valid_v3.json and
v2_tall_estimated_amount.csv: CMS template v3 tall CSV, v3 JSON, v2.2 tall CSV)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flows import catalog
from flows.fetch import hospital_hpt
from flows.fetch.run import run_fetch
from flows.ingest import discover
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.sources.base import FetchStep
from flows.steps.load import load_file
from tests import cms_loading
from tests.conftest import BUNDLED_RAW, FIXTURES
from tests.fetch.server import MirrorServer, Status

V3_TALL = (BUNDLED_RAW / "hospital_mrf" / "synthetic_v3_tall_0440T-0442T.csv").read_bytes()
V3_JSON = (FIXTURES / "hospital__standard_charge" / "valid_v3.json").read_bytes()
V2_TALL = (FIXTURES / "hospital__standard_charge" / "v2_tall_estimated_amount.csv").read_bytes()
SHARED = "https://alpha.example/prices/alpha_standardcharges.csv"
JSON_URL = "https://files.vendor.example/alpha/alpha-east.json"
GONE = "https://alpha.example/prices/gone.csv"
GAMMA_MRF = "https://www.gamma.example/hpt/gamma.csv"
CODES = frozenset({"0440T", "0441T", "0442T"})

ALPHA_TXT = f"""\ufefflocation-name: Alpha Main Campus
source-page-url: https://alpha.example/price-transparency
mrf-url: {SHARED}
contact-name: Pat Doe
contact-email: pat@alpha.example

location-name: Alpha North (same file)
source-page-url: https://alpha.example/price-transparency
mrf-url: {SHARED}
contact-name: Pat Doe
contact-email: pat@alpha.example

location-name: Alpha Clinic Without A File
source-page-url: https://alpha.example/price-transparency
contact-name: Pat Doe
contact-email: pat@alpha.example

location-name: Alpha Relative
source-page-url: https://alpha.example/price-transparency
mrf-url: /prices/relative.csv
contact-name: Pat Doe
contact-email: pat@alpha.example

location-name: Alpha East
source-page-url: https://alpha.example/price-transparency
mrf-url: {JSON_URL}
contact-name: Pat Doe
contact-email: pat@alpha.example

location-name: Alpha Gone
source-page-url: https://alpha.example/price-transparency
mrf-url: {GONE}
contact-name: Pat Doe
contact-email: pat@alpha.example
""".replace("\n", "\r\n")
GAMMA_TXT = f"""location-name: Gamma Hospital
source-page-url: https://www.gamma.example/pricing
mrf-url: {GAMMA_MRF}
contact-name: Lee Roe
contact-email: lee@gamma.example
"""
HTML = b"<!DOCTYPE html><html><body>Welcome to Beta Hospital</body></html>"
HOSPITALS = """hospital_name,state_abbrev,web_root,source,source_confidence,notes
Alpha Health (SYNTHETIC),TX,alpha.example,synthetic test hospital,not_found,SYNTHETIC
Beta Hospital (SYNTHETIC),OH,Beta.Example,synthetic test hospital,not_found,SYNTHETIC: serves its home page
Gamma Hospital (SYNTHETIC),NY,gamma.example,synthetic test hospital,not_found,SYNTHETIC: only on www
"""


@pytest.fixture
def mirror(tmp_path: Path):  # type: ignore[no-untyped-def]
    with MirrorServer(tmp_path / "mirror") as server:
        server.put("https://alpha.example/cms-hpt.txt", ALPHA_TXT)
        server.put(SHARED, V3_TALL)
        server.put(JSON_URL, V3_JSON)
        server.put("https://beta.example/cms-hpt.txt", HTML)
        server.put("https://www.beta.example/cms-hpt.txt", HTML)
        server.put("https://www.gamma.example/cms-hpt.txt", GAMMA_TXT)  # https://gamma.example/cms-hpt.txt: 404
        server.put(GAMMA_MRF, V2_TALL)
        yield server


@pytest.fixture
def config(settings: Settings, mirror: MirrorServer) -> Settings:
    (settings.raw_dir / "reference" / "hospitals.csv").write_text(HOSPITALS, encoding="utf-8")
    return settings.replace(mirror=mirror.url, fetch_interval=0)


def fetch(config: Settings, fetch_id: str):  # type: ignore[no-untyped-def]
    step = FetchStep(hospital_hpt.STEP, hospital_hpt.fetch_hospital_files, hospital_hpt.DISCOVERY,
                     hospital_hpt.HOME, hospital_hpt.EVERY)  # fmt: skip
    source = dataclasses.replace(catalog.get("hospital_mrf"), fetch=step)
    (result,) = run_fetch(config, [source], fetch_id)
    assert result.error is None, result.error
    return result


def landed(config: Settings) -> dict[str, int]:
    """Every file under raw/hospital_mrf/fetched/ and its mtime (hidden files included: no scratch may stay)."""
    folder = config.raw_dir / "hospital_mrf" / "fetched"
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def entries(config: Settings, root: str) -> list[dict[str, str]]:
    import csv

    with (config.raw_dir / "hospital_mrf" / "fetched" / root / "cms-hpt.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_entries_are_recorded_with_findings_and_the_listed_files_land_once(config: Settings, mirror) -> None:  # type: ignore[no-untyped-def]
    result = fetch(config, "f1")
    assert sorted(landed(config)) == [
        "alpha.example/.cms-hpt.txt", "alpha.example/alpha-east.json", "alpha.example/alpha_standardcharges.csv",
        "alpha.example/cms-hpt.csv", "beta.example/cms-hpt.csv",
        "gamma.example/.cms-hpt.txt", "gamma.example/cms-hpt.csv", "gamma.example/gamma.csv",
    ]  # fmt: skip
    assert len(mirror.seen(SHARED)) == 1  # listed by two locations, asked once
    assert (config.raw_dir / "hospital_mrf/fetched/alpha.example/alpha_standardcharges.csv").read_bytes() == V3_TALL

    alpha = {e["location_name"]: (e["finding"], e["mrf_file"]) for e in entries(config, "alpha.example")}
    assert alpha == {
        "Alpha Main Campus": ("", "hospital_mrf/fetched/alpha.example/alpha_standardcharges.csv"),
        "Alpha North (same file)": ("", "hospital_mrf/fetched/alpha.example/alpha_standardcharges.csv"),
        "Alpha Clinic Without A File": ("missing_field", ""),
        "Alpha Relative": ("relative_url", ""),
        "Alpha East": ("", "hospital_mrf/fetched/alpha.example/alpha-east.json"),
        "Alpha Gone": ("mrf_unreachable", ""),
    }
    (beta,) = entries(config, "beta.example")
    assert (beta["entry"], beta["finding"], beta["location_name"]) == ("0", "cms_hpt_is_html", "")
    assert "https://www.beta.example/cms-hpt.txt" in beta["finding_detail"]
    (gamma,) = entries(config, "gamma.example")  # the bare root 404s: found on www
    assert (gamma["txt_url"], gamma["finding"]) == ("https://www.gamma.example/cms-hpt.txt", "")

    outcomes = {(r.url, r.outcome) for r in result.rows}
    assert ("https://gamma.example/cms-hpt.txt", "failed") in outcomes
    assert ("https://www.gamma.example/cms-hpt.txt", "downloaded") in outcomes
    assert ("https://beta.example/cms-hpt.txt", "refused") in outcomes
    assert (GONE, "failed") in outcomes
    assert not any("relative.csv" in r.url for r in result.rows)  # a relative URL is never asked


def test_the_real_adapter_loads_the_landed_files_and_the_entries(config: Settings) -> None:
    fetch(config, "f1")
    source = catalog.get("hospital_mrf")
    payers = payer_directory(config.payer_alias_file)
    records = {p.name: load_file(source, p, config, "20260101T000000Z-hpt001", payers=payers, codes=CODES)
               for p in discover(config, source)}  # fmt: skip
    assert {name: r.status for name, r in records.items()} == {
        "alpha_standardcharges.csv": "loaded", "alpha-east.json": "loaded", "gamma.csv": "loaded",
        "cms-hpt.csv": "loaded",  # one name, three files (one per root)
    }  # fmt: skip
    assert len([p for p in discover(config, source) if p.name == "cms-hpt.csv"]) == 3
    files = cms_loading.rows(config, "hospital__file")
    assert set(files["template_generation"]) >= {"v3", "v2"}
    charges = cms_loading.rows(config, "hospital__standard_charge")
    assert set(charges["source_file"]) == {"alpha_standardcharges.csv", "alpha-east.json", "gamma.csv"}
    assert set(charges["billing_code"]) <= CODES and len(charges) > 0
    loaded = cms_loading.rows(config, "hospital__hpt_entry")
    assert len(loaded) == 6 + 1 + 1  # six alpha blocks, beta's file-level row, gamma's one block
    assert sorted(loaded["finding"].dropna()) == ["cms_hpt_is_html", "missing_field", "mrf_unreachable", "relative_url"]
    assert cms_loading.quarantine(config).empty


def test_a_second_run_asks_conditionally_and_lands_nothing(config: Settings, mirror) -> None:  # type: ignore[no-untyped-def]
    fetch(config, "f1")
    before = landed(config)
    mirror.requests.clear()
    result = fetch(config, "f2")
    assert landed(config) == before  # nothing written, not even the entries files (fetched_at aside, same)
    assert result.landed == []
    by_url = {r.url: r.outcome for r in result.rows}
    for url in ("https://alpha.example/cms-hpt.txt", "https://www.gamma.example/cms-hpt.txt", SHARED, JSON_URL,
                GAMMA_MRF):  # fmt: skip
        assert by_url[url] == "not_modified", url
    assert by_url[GONE] == "failed"
    asked = mirror.seen(SHARED)
    assert len(asked) == 1 and "if-none-match" in asked[0].headers
    assert result.line() == "hospital_mrf: 5 not modified, 2 failed, 2 refused"  # the bad ones stay said


def test_a_changed_file_lands_again_and_a_changed_listing_rewrites_the_entries(config: Settings, mirror) -> None:  # type: ignore[no-untyped-def]
    fetch(config, "f1")
    mirror.put(SHARED, V3_TALL.replace(b"\n", b"\r\n"))  # new bytes at the same URL
    mirror.put("https://www.gamma.example/cms-hpt.txt", GAMMA_TXT.replace("Lee Roe", "Kim Poe"))
    result = fetch(config, "f2")
    by_url = {r.url: (r.outcome, r.landed_path) for r in result.rows}
    assert by_url[SHARED] == ("downloaded", "hospital_mrf/fetched/alpha.example/alpha_standardcharges.csv")
    assert entries(config, "gamma.example")[0]["contact_name"] == "Kim Poe"
    assert {r.logical_key for r in result.rows if r.outcome == "downloaded"} >= {
        "hospital_cms_hpt:gamma.example:entries",
        f"hospital_cms_hpt:mrf:{SHARED}",
    }
    assert "hospital_cms_hpt:alpha.example:entries" not in {r.logical_key for r in result.rows}


def test_an_html_page_where_an_mrf_was_listed_is_refused_and_nothing_lands(config: Settings, mirror) -> None:  # type: ignore[no-untyped-def]
    mirror.script(JSON_URL, Status(200, {"Content-Type": "text/html"}, HTML))
    fetch(config, "f1")
    east = next(e for e in entries(config, "alpha.example") if e["location_name"] == "Alpha East")
    assert (east["finding"], east["mrf_file"]) == ("mrf_not_data", "")
    assert "alpha.example/alpha-east.json" not in landed(config)


def test_offline_asks_nothing_and_a_bad_hospitals_table_is_one_failed_step(config: Settings, mirror) -> None:  # type: ignore[no-untyped-def]
    step = FetchStep(hospital_hpt.STEP, hospital_hpt.fetch_hospital_files, "", hospital_hpt.HOME, "")
    source = dataclasses.replace(catalog.get("hospital_mrf"), fetch=step)
    (result,) = run_fetch(config, [source], "f0", offline=True)
    assert {r.outcome for r in result.rows} == {"offline"} and mirror.requests == []
    (config.raw_dir / "reference" / "hospitals.csv").write_text(
        HOSPITALS.replace("alpha.example", "https://alpha.example/"), encoding="utf-8"
    )
    (result,) = run_fetch(config, [source], "f1")
    assert result.error is not None and "web_root" in result.error
