"""`payerbench status`: per dataset counts and freshness, and exit codes a monitor can alert on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from flows import cli
from flows.ingest import ingest
from flows.ops import status
from flows.settings import Settings
from tests.conftest import fixture


def run_cli(settings: Settings, *args: str) -> int:
    return cli.main(["status", *args, "--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)])


@pytest.fixture
def loaded(settings: Settings) -> Settings:
    """Reference tables and one policy extract (one row quarantined), loaded now."""
    records = ingest("payer_policies", [fixture("payer__policy", "invalid_code.csv")], settings, build=True)
    assert [r.status for r in records] == ["loaded_with_quarantine"]
    return settings


def test_per_dataset_counts_period_and_freshness(loaded: Settings) -> None:
    report = status.collect(loaded)
    policy = next(d for d in report.datasets if d.dataset == "payer__policy")
    assert (policy.files, policy.rows, policy.rows_quarantined) == (1, 1, 2)
    assert policy.newest_file == "invalid_code.csv" and policy.newest_period == "2026-11-26 (retrieved)"
    assert policy.freshness.verdict == "fresh" and policy.freshness.cadence == "weekly"
    tic = next(d for d in report.datasets if d.dataset == "tic__in_network_rate")
    assert (tic.files, tic.rows, tic.freshness.verdict) == (0, 0, "no data")  # never loaded: shown, not alerted
    assert report.problems == [] and report.exit_code == 0


def test_exit_code_1_when_a_source_is_older_than_its_cadence_allows(
    loaded: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    in_nine_days = (dt.datetime.now(dt.UTC) + dt.timedelta(days=9)).isoformat()
    assert run_cli(loaded, "--now", in_nine_days) == 0  # weekly: 10 days allowed
    in_eleven_days = (dt.datetime.now(dt.UTC) + dt.timedelta(days=11)).isoformat()
    assert run_cli(loaded, "--now", in_eleven_days) == 1
    out = capsys.readouterr().out
    assert "stale: payer_policy: no new file loaded since" in out and "weekly allows 10 d" in out
    assert "reference" not in out.split("problem")[-1]  # edited by hand: never stale


def test_exit_code_1_when_the_last_run_failed_until_a_run_succeeds(
    loaded: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = loaded.raw_dir / "payer_policy" / "broken.csv"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(fixture("payer__policy", "missing_required_column.csv").read_bytes())
    ingest("payer_policies", None, loaded)
    capsys.readouterr()
    assert run_cli(loaded, "--format", "json") == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any(
        p.startswith("last ingest_payer_policies run") and "had problems" in p and "broken.csv" in p for p in problems
    )
    assert any(p.startswith("rejected: payer_policy/broken.csv") for p in problems)
    broken.unlink()  # fixed: the file is removed and the next run is clean
    ingest("payer_policies", None, loaded)
    assert run_cli(loaded) == 0


def test_status_all_keeps_every_attempt(loaded: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    ingest("payer_policies", [fixture("payer__policy", "invalid_code.csv")], loaded)  # unchanged the second time
    capsys.readouterr()
    assert run_cli(loaded, "--all") == 0
    out = capsys.readouterr().out
    assert "every attempt" in out and out.count("invalid_code.csv") >= 3  # two attempts + the dataset's newest file


def test_a_run_killed_before_it_ended_is_a_problem_naming_it_and_when_it_started(
    loaded: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess
    import sys

    from flows.steps.lock import warehouse_lock

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that is gone: the run was killed
    started = dt.datetime.now(dt.UTC).isoformat()  # after the fixture's run: the latest of its flow
    killed = {
        "run_id": "20261102T120000Z-dead01",
        "flow": "ingest_payer_policies",
        "status": "started",
        "started_at": started,
        "ended_at": None,
        "pid": proc.pid,
        "host": __import__("socket").gethostname(),
        "command": "payerbench ingest payer_policy",
    }
    (loaded.runs_dir / f"{killed['run_id']}.json").write_text(json.dumps(killed), encoding="utf-8")
    capsys.readouterr()
    assert run_cli(loaded) == 1  # before any other run noticed it
    out = capsys.readouterr().out
    assert f"last ingest_payer_policies run 20261102T120000Z-dead01 (started {started[:16]}) crashed" in out
    assert f"pid {proc.pid}" in out
    with warehouse_lock(loaded.warehouse_dir, timeout=1):  # the next writer marks it
        pass
    assert run_cli(loaded, "--format", "json") == 1
    shown = json.loads(capsys.readouterr().out)
    assert any(
        f"20261102T120000Z-dead01 (started {started[:16]}) crashed: the run stopped without finishing" in p
        for p in shown["problems"]
    )
    assert [r["run_id"] for r in shown["crashed_runs"]] == ["20261102T120000Z-dead01"]
    ingest("payer_policies", None, loaded)  # a later run of the same flow succeeds: listed, no longer alerting
    assert run_cli(loaded, "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in shown["crashed_runs"]] == ["20261102T120000Z-dead01"] and shown["problems"] == []


def test_a_newer_release_listed_than_loaded_is_told(tmp_path: Path) -> None:
    import pandas as pd

    from flows.fetch import manifest
    from flows.fetch.manifest import ManifestRow
    from flows.ops.status import fetch_status

    raw = tmp_path / "raw"
    zip_a, zip_b = "https://www.cms.gov/files/zip/rvu26a.zip", "https://www.cms.gov/files/zip/rvu26b.zip"
    manifest.append(raw, [
        ManifestRow("f1", "cms_pfs_rvu", "cms_pfs_rvu_zip:RVU26A:P.csv", "RVU26A", zip_a, "downloaded",
                    sha256="a" * 64, fetched_at="2026-01-05T06:00:00+00:00"),
        ManifestRow("f2", "cms_pfs_rvu", "cms_pfs_rvu_zip:RVU26A", "RVU26A", zip_a, "not_modified", http_status=304,
                    fetched_at="2026-04-01T06:00:00+00:00"),
        ManifestRow("f2", "cms_pfs_rvu", "cms_pfs_rvu_zip:RVU26B", "RVU26B", zip_b, "licence_required",
                    license_acknowledged=False, fetched_at="2026-04-01T06:00:01+00:00"),
    ])  # fmt: skip
    done = pd.DataFrame({"source": ["cms_pfs_rvu"], "source_sha256": ["a" * 64]})
    found = fetch_status(Settings(raw_dir=raw, warehouse_dir=tmp_path / "w"), done)
    rvu = found["cms_pfs_rvu"]
    assert (rvu.published, rvu.loaded, rvu.newer_published) == ("RVU26B", "RVU26A", True)
    assert rvu.describe() == "checked 2026-04-01; changed 2026-01-05; publisher lists RVU26B; loaded: RVU26A"
    assert found["cms_mcd"].describe() == "never fetched" and not found["cms_mcd"].newer_published
    # GPCI comes in the same zip: its last check is the zip's, though the 304 row is filed under cms_pfs_rvu
    assert found["cms_pfs_gpci"].last_checked_at == "2026-04-01T06:00:01+00:00"
    nothing_loaded = fetch_status(Settings(raw_dir=raw), done.iloc[0:0])["cms_pfs_rvu"]
    assert (nothing_loaded.loaded, nothing_loaded.newer_published) == (None, True)


def test_policy_pages_changed_in_the_last_month_are_listed(tmp_path: Path) -> None:
    from flows.ops.status import POLICY_DAYS

    settings = Settings(raw_dir=tmp_path / "raw", warehouse_dir=tmp_path / "w")
    folder = settings.source_dir("payer_policy_snapshot") / "fetched" / "anthem" / "SURG.00155"
    folder.mkdir(parents=True)
    now = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    for days, stance in ((3, "covered_with_criteria"), (POLICY_DAYS + 5, "not_covered")):
        when = (now - dt.timedelta(days=days)).isoformat(timespec="seconds")
        change = {"fetched_at": when, "previous_stance": "experimental_investigational", "new_stance": stance,
                  "stance_changed": True, "relevant_changed": True, "draft_path": "payer_policy_drafts/x.csv",
                  "payer_name": "Anthem", "policy_id": "SURG.00155", "url": "https://example.org/p.html"}  # fmt: skip
        (folder / f"{when[:10]}.json").write_text(json.dumps({"change": change}), encoding="utf-8")
    (line,) = status.collect(settings, now).policy_changes  # the older change is past the window
    assert line.startswith(f"policy change {(now - dt.timedelta(days=3)):%Y-%m-%d}: Anthem SURG.00155 ")
    assert "experimental_investigational -> covered_with_criteria" in line and "payer_policy_drafts/x.csv" in line
