"""End to end on the bundled raw/ data: raw -> Parquet -> DuckDB -> coverage_matrix."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from flows import catalog
from flows.ingest import ingest
from flows.report import render as report
from flows.report.flow import render_benchmark_reports
from flows.run_pipeline import run_pipeline
from flows.settings import Settings
from flows.steps import load_log, warehouse
from schemas.fields import PAYER_GROUPS
from tests.conftest import fixture, query


@pytest.fixture
def loaded(bundled_run: Settings) -> Settings:
    """The session's run over the bundled raw/ (a copy of it for a test marked writes_warehouse)."""
    return bundled_run


def test_every_bundled_file_loads_and_reconciles(loaded: Settings) -> None:
    log = load_log.read(loaded.lake_dir)
    # CMS's own locality file lists one Missouri locality twice: that duplicate row is quarantined.
    statuses = dict(zip(log["source_file"], log["status"]))
    assert statuses.pop("25LOCCO.csv") == "loaded_with_quarantine"
    assert set(statuses.values()) == {"loaded"}
    assert log.loc[log["source_file"] == "25LOCCO.csv", "rows_quarantined"].tolist() == [1]
    assert (log["rows_read"] == log["rows_loaded"] + log["rows_quarantined"]).all()
    policies = query(loaded, "select count(*) from payer__policy")[0][0]
    bundled = (loaded.raw_dir / "payer_policy" / "payer_policies_0440T-0442T.csv").read_text(encoding="utf-8")
    assert policies == len(bundled.strip().splitlines()) - 1  # every data row of the extract


@pytest.mark.parametrize("code", ["0440T", "0441T", "0442T", "64640"])
def test_coverage_matrix_has_one_row_per_payer_group(loaded: Settings, code: str) -> None:
    rows = query(loaded, f"select payer_group from coverage_matrix where billing_code = '{code}'")
    assert sorted(r[0] for r in rows) == sorted(PAYER_GROUPS)


def test_coverage_matrix_values_match_the_extract(loaded: Settings) -> None:
    rows = {
        r[0]: r[1:]
        for r in query(
            loaded,
            """
        select payer_group, coverage_status, availability_reason, policy_id, source_confidence, source_url
        from coverage_matrix where billing_code = '0440T'""",
        )
    }
    assert rows["aetna"][:3] == ("experimental_investigational", "reported", "CPB 0297")
    assert rows["aetna"][4] == "http://es.aetna.com/cpb/medical/data/200_299/0297.html"
    assert rows["medicare"][:4] == ("case_by_case", "reported", "cope24853", "verified")
    # UHC's only stance is MPG043, a Medicare Advantage guideline: never UHC's commercial stance
    assert rows["unitedhealthcare"][:3] == (None, "no_policy_found", None)
    ma = query(
        loaded,
        """select medicare_advantage_coverage_status, medicare_advantage_source_confidence,
                                  medicare_advantage_policy_ids, medicare_advantage_availability_reason
                           from coverage_matrix where billing_code = '0440T' and payer_group = 'unitedhealthcare'""",
    )
    assert ma == [("not_medically_necessary", "inferred", ["MPG043"], "reported")]
    assert rows["bcbs"][0] == "experimental_investigational"
    assert rows["cigna"][2] in ("0525", "0558")
    detail = query(
        loaded,
        "select coverage_detail from coverage_matrix where billing_code='0440T' and payer_group='unitedhealthcare'",
    )
    assert "commercial: no_policy_found" in detail[0][0]
    comparators = query(
        loaded, "select distinct availability_reason, coverage_status from coverage_matrix where billing_code = '64640'"
    )
    assert comparators == [("not_loaded", None)]


@pytest.mark.writes_warehouse
def test_second_run_changes_nothing(loaded: Settings) -> None:
    before = query(loaded, "select count(*) from payer__policy")[0][0]
    summary = run_pipeline(loaded)
    assert {r.status for r in summary.records} == {"unchanged"}
    assert query(loaded, "select count(*) from payer__policy")[0][0] == before
    assert query(loaded, "select count(*) from coverage_matrix where billing_code = '0440T'")[0][0] == 5


@pytest.mark.writes_warehouse
def test_newer_snapshot_of_one_payer_replaces_only_that_payer(loaded: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    newer = tmp_path / "aetna_update.csv"
    lines = fixture("payer__policy", "valid_minimal.csv").read_text(encoding="utf-8").splitlines()
    header, aetna = lines[0], lines[1]
    newer.write_text(
        "\n".join(
            [
                header,
                aetna.replace("experimental_investigational", "covered_with_criteria").replace(
                    ",2026-11-26,", ",2026-12-15,"
                ),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    records = ingest("payer_policies", [newer], loaded)
    assert records[0].status == "loaded"
    warehouse.build(loaded, catalog.SCHEMAS)
    rows = dict(query(loaded, "select payer_group, coverage_status from coverage_matrix where billing_code = '0440T'"))
    assert rows["aetna"] == "covered_with_criteria"  # the newer Aetna snapshot wins
    assert rows["cigna"] == "experimental_investigational"  # other payers keep the bundled extract


def test_no_policy_found_and_not_loaded_are_told_apart(settings: Settings) -> None:
    only_uhc = settings.raw_dir / "payer_policy" / "uhc_only.csv"
    only_uhc.parent.mkdir(parents=True)
    header = fixture("payer__policy", "valid_minimal.csv").read_text(encoding="utf-8").splitlines()[0]
    only_uhc.write_text(
        header
        + "\nUnitedHealthcare,commercial,,,,0440T,CPT,no_policy_found,unknown,,,2026-11-26,,not_found,searched\n",
        encoding="utf-8",
    )
    assert run_pipeline(settings).ok
    rows = {
        r[0]: r[1:]
        for r in query(
            settings,
            "select payer_group, coverage_status, availability_reason from coverage_matrix where billing_code = '0440T'",
        )
    }
    assert rows["unitedhealthcare"] == (None, "no_policy_found")
    assert rows["aetna"] == (None, "not_loaded")
    assert len(rows) == 5


@pytest.mark.slow  # a whole pipeline run from scratch: every bundled file must load beside the broken one
def test_a_rejected_file_does_not_stop_the_run(bundled_settings: Settings) -> None:
    shutil.copy(
        fixture("payer__policy", "truncated_quote.csv"), bundled_settings.raw_dir / "payer_policy" / "broken.csv"
    )
    summary = run_pipeline(bundled_settings)
    assert not summary.ok
    statuses = {r.source_file: r.status for r in summary.records}
    assert statuses["broken.csv"] == "rejected"
    assert statuses["payer_policies_0440T-0442T.csv"] == "loaded"
    assert (
        query(bundled_settings, "select count(*) from coverage_matrix where availability_reason = 'reported'")[0][0] > 0
    )


def test_snapshot_date_is_per_payer_group_not_per_file(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    header, aetna, _ = fixture("payer__policy", "valid_minimal.csv").read_text(encoding="utf-8").splitlines()
    cms = "Centers for Medicare & Medicaid Services,medicare_ffs,,,,0440T,CPT,no_policy_found,unknown,,,2024-06-01,,not_found,"
    all_payers = tmp_path / "all_payers.csv"  # Aetna read in January, CMS re-checked in June
    all_payers.write_text(
        "\n".join([header, aetna.replace(",2026-11-26,", ",2024-01-10,"), cms]) + "\n", encoding="utf-8"
    )
    aetna_only = tmp_path / "aetna_march.csv"  # a newer look at Aetna than the January row
    aetna_only.write_text(
        "\n".join(
            [header, aetna.replace(",2026-11-26,", ",2024-03-01,").replace("experimental_investigational", "covered")]
        )
        + "\n",
        encoding="utf-8",
    )
    ingest("payer_policies", [aetna_only], settings)
    ingest("payer_policies", [all_payers], settings)  # loaded last, but its Aetna rows are older
    warehouse.build(settings, catalog.SCHEMAS)
    rows = dict(
        query(
            settings,
            "select payer_group, coalesce(coverage_status, availability_reason) from coverage_matrix "
            "where billing_code = '0440T'",
        )
    )
    assert rows["aetna"] == "covered"
    assert rows["medicare"] == "no_policy_found"


@pytest.mark.writes_warehouse
def test_incremental_run_loads_one_new_file_and_rebuilds_only_what_it_feeds(
    loaded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []

    def fake_render(settings: Settings, code: str, *, as_of=None, payers=None, out_dir=None, include_synthetic=False):  # type: ignore[no-untyped-def]
        """Stands in for the notebook (slow): which reports get rendered is the point here."""
        folder = Path(out_dir or settings.reports_dir)
        folder.mkdir(parents=True, exist_ok=True)
        html, md = folder / f"{code}_benchmark.html", folder / f"{code}_benchmark.md"
        html.write_text(code, encoding="utf-8")
        md.write_text(code, encoding="utf-8")
        rendered.append(code)
        return report.ReportResult(code, html, md, 0.0)

    monkeypatch.setattr(report, "render_report", fake_render)
    settings = loaded.replace(render_reports=True)
    render_benchmark_reports(settings, only_changed=True)  # no report exists yet: all render
    assert sorted(rendered) == ["0440T", "0441T", "0442T"]
    files = len(load_log.read(loaded.lake_dir))  # `loaded` attempted each bundled file once

    rendered.clear()
    header, aetna = fixture("payer__policy", "valid_minimal.csv").read_text(encoding="utf-8").splitlines()[:2]
    (loaded.raw_dir / "payer_policy" / "aetna_update.csv").write_text(
        "\n".join(
            [
                header,
                aetna.replace("experimental_investigational", "covered_with_criteria").replace(
                    ",2026-11-26,", ",2026-12-15,"
                ),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    started = time.perf_counter()
    second = run_pipeline(settings)
    elapsed = time.perf_counter() - started
    statuses = [(r.source_file, r.status) for r in second.records if r.status != "unchanged"]
    assert statuses == [("aetna_update.csv", "loaded")]
    assert len(second.records) == files + 1  # every other file seen again, and left alone
    assert second.build is not None and second.build.rebuilt
    assert {"stg_payer_policy", "coverage_matrix"} <= set(second.build.marts_rebuilt)
    # the rate marts do not read policies (their synthetic flag comes from a per-file lookup, stg_source_file)
    assert not {
        "medicare_rate",
        "stg_pfs_rvu",
        "tic_rate_summary",
        "medicare_utilization",
        "benchmark_rate",
        "reimbursement_benchmark",
    } & set(second.build.marts_rebuilt)
    # every report lists the files behind it (its Sources section names every loaded file): all change
    assert sorted(rendered) == ["0440T", "0441T", "0442T"]
    assert query(
        loaded, "select coverage_status from coverage_matrix where billing_code = '0440T' and payer_group = 'aetna'"
    ) == [("covered_with_criteria",)]
    [run] = [json.loads(p.read_text(encoding="utf-8")) for p in loaded.runs_dir.glob(f"{second.run_id}.json")]
    assert run["files"]["loaded"] == 1 and run["files"]["unchanged"] == files
    print(f"incremental run with one new file: {elapsed:.1f} s")

    rendered.clear()  # nothing changed since: no report renders, except one whose file went missing
    (settings.reports_dir / "0441T_benchmark.md").unlink()
    results = render_benchmark_reports(settings, only_changed=True)
    assert rendered == ["0441T"]
    assert [r.billing_code for r in results if not r.rendered] == ["0440T", "0442T"]
