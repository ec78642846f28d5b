"""The fetch_sources flow: which sources a target fetches, one line per step, what needs a person."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from flows import catalog
from flows.errors import ConfigurationError
from flows.fetch import manifest
from flows.fetch.manifest import ManifestRow
from flows.fetch.run import FetchContext
from flows.fetch_sources import LICENCE_LINE, fetch_sources, fetchable
from flows.settings import Settings
from flows.sources.base import FetchStep


def test_targets_are_sources_or_groups_and_default_to_every_fetched_source() -> None:
    everything = [s.name for s in fetchable(None)]
    assert everything == catalog.with_hook("fetch") and {"cms_mcd", "cms_partb_geo_service"} <= set(everything)
    assert [s.name for s in fetchable(["medicare_coverage"])] == ["cms_mcd"]  # a group: its fetched members
    assert [s.name for s in fetchable(["cms_partb_geo_service", "cms_mcd"])] == ["cms_mcd", "cms_partb_geo_service"]
    assert [s.name for s in fetchable(["payer_policies"])] == [
        "payer_policy"
    ]  # its step feeds payer_policy_snapshot too
    with pytest.raises(ConfigurationError, match="'reference' has no fetch step; sources that are fetched: "):
        fetchable(["reference"])
    with pytest.raises(ConfigurationError, match="unknown source or group 'nope'"):
        fetchable(["nope"])


def test_offline_asks_nothing_and_says_what_it_would_ask(settings: Settings) -> None:
    report = fetch_sources(["cms_mcd", "cms_partb_geo_service"], settings, offline=True)
    rows = manifest.read(settings.raw_dir)
    assert rows and {r.outcome for r in rows} == {"offline"}
    assert any("current_article.zip" in r.url for r in rows) and any(r.url.endswith("data.json") for r in rows)
    assert not report.problems and not report.landed_any
    assert not any(settings.raw_dir.glob("*/fetched/*"))


def test_the_licence_is_one_line_saying_what_to_read_and_how_to_accept(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gated(context: FetchContext) -> list[ManifestRow]:
        assert not context.settings.accept_cms_license
        return [
            ManifestRow(context.fetch_id, "cms_mcd", f"zip:R{i}", f"R{i}", f"https://www.cms.gov/files/zip/r{i}.zip",
                        "licence_required", license_acknowledged=False)
            for i in (1, 2)
        ]  # fmt: skip

    step = FetchStep("gated", gated, "", "https://www.cms.gov/", "", licence="cms_ama")
    entries = tuple(dataclasses.replace(s, fetch=step) if s.name == "cms_mcd" else s for s in catalog.ENTRIES)
    monkeypatch.setattr(catalog, "ENTRIES", entries)
    monkeypatch.setattr(catalog, "SOURCES", {s.name: s for s in entries})
    report = fetch_sources(["cms_mcd"], settings)
    assert report.problems == [f"not downloaded (cms_mcd): {LICENCE_LINE}"]
    assert "https://www.cms.gov/license/ama" in LICENCE_LINE and "PAYERBENCH_ACCEPT_CMS_LICENSE=yes" in LICENCE_LINE
    assert [r.license_acknowledged for r in manifest.read(settings.raw_dir)] == [False, False]


def test_the_run_record_carries_the_lines_and_the_problems(settings: Settings) -> None:
    import json

    fetch_sources(["cms_mcd"], settings, offline=True)
    (record,) = [json.loads(p.read_text()) for p in Path(settings.runs_dir).glob("*.json")]
    assert record["flow"] == "fetch_sources" and record["fetched"] and record["fetched"][0].startswith("cms_mcd: ")


def test_a_changed_policy_page_is_a_line_for_a_person_in_the_report_and_the_run_record(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from flows.fetch import policy_pages

    def changed(context: FetchContext) -> list[ManifestRow]:
        folder = context.settings.source_dir("payer_policy_snapshot") / "fetched" / "anthem" / "SURG.00155"
        folder.mkdir(parents=True)
        when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        change = {"fetched_at": when, "previous_stance": "experimental_investigational",
                  "new_stance": "covered_with_criteria", "stance_changed": True, "relevant_changed": True,
                  "draft_path": None, "payer_name": "Anthem", "policy_id": "SURG.00155", "url": "https://e.org/p"}  # fmt: skip
        (folder / "v2.json").write_text(json.dumps({"change": change}), encoding="utf-8")
        return [ManifestRow(context.fetch_id, "payer_policy", "payer_policy_pages:p", None, "https://e.org/p",
                            "downloaded", message="CHANGED: ...")]  # fmt: skip

    step = FetchStep(policy_pages.STEP, changed, "", "https://e.org/", "")
    entries = tuple(dataclasses.replace(s, fetch=step) if s.name == "payer_policy" else s for s in catalog.ENTRIES)
    monkeypatch.setattr(catalog, "ENTRIES", entries)
    monkeypatch.setattr(catalog, "SOURCES", {s.name: s for s in entries})
    report = fetch_sources(["payer_policy"], settings)
    assert report.changes == ["CHANGED: ...: https://e.org/p"]
    assert not report.problems  # a change is not a failure: the run record flags it for review
    (record,) = [json.loads(p.read_text()) for p in settings.runs_dir.glob("*.json")]
    assert record["status"] == "problems" and "fetch: CHANGED: ...: https://e.org/p" in record["problems"]
