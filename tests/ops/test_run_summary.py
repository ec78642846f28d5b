"""The run summary each flow run publishes: its Markdown content, and the numbers behind it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flows.ingest import ingest
from flows.ops import run_summary
from flows.ops.run_summary import DatasetRows, QuarantineReason, RunSummary, to_markdown
from flows.settings import Settings
from flows.steps.land import Landing
from flows.steps.load_log import LoadRecord
from tests.conftest import fixture

STARTED = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def record(
    name: str,
    status: str,
    read: int = 0,
    loaded: int = 0,
    quarantined: int = 0,
    error: str | None = None,
    source: str = "payer_policy",
) -> LoadRecord:
    return LoadRecord(
        load_id=f"l-{name}",
        run_id="r1",
        source=source,
        source_file=name,
        source_path=f"/raw/{name}",
        source_sha256="ab",
        file_bytes=10,
        started_at=STARTED,
        rows_read=read,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        status=status,
        error=error,
    )


@pytest.fixture
def report() -> RunSummary:
    return RunSummary(
        flow="run_pipeline",
        run_id="20261102T120000Z-abc123",
        started_at=STARTED,
        elapsed_s=12.345,
        records=[
            record("new|policies.csv", "loaded_with_quarantine", 10, 8, 2),
            record("old.csv", "unchanged"),
            record("gpci.csv", "unchanged", source="cms_pfs_gpci"),
            record("broken.csv", "rejected", error="broken.csv (line 3): missing required column 'coverage_status'"),
        ],
        datasets=[DatasetRows("payer__policy", 8, 2)],
        top_reasons=[
            QuarantineReason("payer__policy", "billing_code", "str_matches", "not a CPT/HCPCS code (5 characters)", 2)
        ],
        warehouse_rebuilt=True,
        warehouse_reason="new loads of payer__policy",
        marts_rebuilt=["stg_payer_policy", "coverage_matrix"],
        reports_rendered=["0440T"],
        reports_unchanged=["0441T", "0442T"],
        landings=[Landing("mystery.bin", "left", message="no source recognises its content")],
    )


def test_markdown_states_files_rows_reasons_marts_reports_and_time(report: RunSummary) -> None:
    text = to_markdown(report)
    assert text.startswith("# payerbench run_pipeline: problems\n")
    assert "elapsed 12.3 s" in text and "20261102T120000Z-abc123" in text
    assert "| seen | loaded | unchanged | rejected | failed |" in text
    assert "| 4 | 1 | 2 | 1 | 0 |" in text  # files seen / loaded / unchanged / rejected / failed
    assert "| payer_policy | new\\|policies.csv | loaded_with_quarantine | 10 | 8 | 2 |" in text  # pipe escaped
    assert "old.csv" not in text  # unchanged files are counted, not listed
    assert "| payer__policy | 8 | 2 |" in text  # rows loaded and quarantined per dataset
    assert "| payer__policy | billing_code | str_matches | not a CPT/HCPCS code (5 characters) | 2 |" in text
    assert "Rebuilt (new loads of payer__policy)." in text
    assert "Marts rebuilt (their inputs changed): `stg_payer_policy`, `coverage_matrix`." in text
    assert "Rendered: 0440T." in text and "Unchanged, not re-rendered: 0441T, 0442T." in text
    attention = text.split("## Needs attention")[1].split("##")[0]
    assert "rejected payer_policy/broken.csv: broken.csv (line 3): missing required column" in attention
    assert "mystery.bin left in the inbox: no source recognises its content" in attention


def test_a_quiet_run_says_nothing_was_rebuilt() -> None:
    quiet = RunSummary(
        flow="ingest_tic",
        run_id="r2",
        started_at=STARTED,
        elapsed_s=0.5,
        records=[record("a.json.gz", "unchanged", source="tic")],
        warehouse_rebuilt=False,
        warehouse_reason="up to date: no new loads, SQL or schema changes",
    )
    text = to_markdown(quiet)
    assert text.startswith("# payerbench ingest_tic: ok\n") and "Needs attention" not in text
    assert "| 1 | 0 | 1 | 0 | 0 |" in text
    assert "No rows loaded: no new files." in text
    assert "Not rebuilt: up to date: no new loads, SQL or schema changes. Marts rebuilt: none." in text


def test_a_flow_run_records_what_its_loads_wrote(settings: Settings) -> None:
    records = ingest("payer_policies", [fixture("payer__policy", "invalid_code.csv")], settings, build=True)
    assert [r.status for r in records] == ["loaded_with_quarantine"]
    [saved] = list(settings.runs_dir.glob("*.json"))
    run = json.loads(saved.read_text(encoding="utf-8"))
    assert run["flow"] == "ingest_payer_policies" and run["status"] == "ok"
    assert run["files"] == {"seen": 1, "loaded": 1, "unchanged": 0, "rejected": 0, "failed": 0}
    assert run["datasets"] == [
        {
            "dataset": "payer__policy",
            "rows_loaded": records[0].rows_loaded,
            "rows_quarantined": records[0].rows_quarantined,
        }
    ]
    assert run["warehouse"]["rebuilt"] is True and "coverage_matrix" in run["warehouse"]["marts_rebuilt"]
    markdown = saved.with_suffix(".md").read_text(encoding="utf-8")
    assert "## Top quarantine reasons" in markdown and "| payer__policy | billing_code |" in markdown


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")  # Prefect itself is under test here
def test_the_artifact_is_published_under_the_flows_key(settings: Settings) -> None:
    from prefect.artifacts import Artifact

    ingest("payer_policies", [fixture("payer__policy", "valid_minimal.csv")], settings)
    artifact = Artifact.get(run_summary.artifact_key("ingest_payer_policies"))
    assert artifact is not None and artifact.type == "markdown"
    assert "# payerbench ingest_payer_policies: ok" in artifact.data and "valid_minimal.csv" in artifact.data


def test_a_run_says_it_started_before_it_ends(settings: Settings) -> None:
    """So a run killed on the way is not silent: its record stays `started` with a pid to judge."""
    import os

    with run_summary.tracking("ingest_source", settings, run_id="20261102T120000Z-abc123"):
        started = json.loads((settings.runs_dir / "20261102T120000Z-abc123.json").read_text(encoding="utf-8"))
        assert started["status"] == "started" and started["ended_at"] is None
        assert started["pid"] == os.getpid() and started["host"] and started["command"]
        assert run_summary.effective_status(started) == "running"
    ended = json.loads((settings.runs_dir / "20261102T120000Z-abc123.json").read_text(encoding="utf-8"))
    assert ended["status"] == "ok" and ended["pid"] == os.getpid() and ended["started_at"] == started["started_at"]
