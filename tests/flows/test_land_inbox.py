"""The inbox: files are placed by their content (never their name), with a manifest, never overwriting."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from flows import cli
from flows.ingest_payer_policies import ingest_payer_policies
from flows.ingest_tic import ingest_tic
from flows.land_inbox import land_inbox
from flows.settings import Settings
from flows.sources import registry
from flows.steps import land
from tests.conftest import BUNDLED_RAW, fixture

TIC = BUNDLED_RAW / "tic" / "healthscope_examplefile2_excerpt.json.gz"


@pytest.fixture
def inbox(settings: Settings) -> Path:
    settings.inbox_dir.mkdir()
    return settings.inbox_dir


def manifest(settings: Settings, source: str) -> list[dict[str, str]]:
    with (settings.source_dir(source) / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_files_are_placed_by_content_not_name(settings: Settings, inbox: Path) -> None:
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "aetna policies.txt")  # a CSV named .txt
    shutil.copy(TIC, inbox / "download(3)")  # a gzipped TiC file that lost its name
    landings = {item.inbox_path: item for item in land_inbox(settings, settle_seconds=0)}

    policy, tic = landings["aetna policies.txt"], landings["download(3)"]
    assert (policy.status, policy.source, policy.target_path) == ("landed", "payer_policy", "payer_policy/aetna policies.txt")
    assert (tic.status, tic.source, tic.target_path) == ("landed", "tic", "tic/download(3)")
    assert not list(inbox.iterdir())  # both moved
    row = manifest(settings, "tic")[0]
    assert row["original_name"] == "download(3)" and row["source"] == "tic" and row["target_path"] == "tic/download(3)"
    assert row["sha256"] == hashlib.sha256(TIC.read_bytes()).hexdigest() and row["bytes"] == str(TIC.stat().st_size)
    assert row["landed_at"].startswith("20")

    # and the landed files load: ingest discovers them in their source folders, told again by content
    assert [r.status for r in ingest_payer_policies(None, settings)] == ["loaded"]
    assert [r.status for r in ingest_tic(None, None, settings)] == ["loaded"]


def test_unrecognised_ambiguous_and_reference_files_stay_with_the_reason(settings: Settings, inbox: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (inbox / "notes.csv").write_text("what,ever\n1,2\n", encoding="utf-8")
    shutil.copy(settings.payer_alias_file, inbox / "payer_aliases.csv")
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "policies.csv")
    hospital = registry.SOURCES["hospital_mrf"]  # a detector that also claims policy extracts
    greedy = dataclasses.replace(hospital, detect=lambda path: path.name == "policies.csv" or hospital.detect(path))
    monkeypatch.setitem(registry.SOURCES, "hospital_mrf", greedy)
    found = {item.inbox_path: item for item in land.land(settings, inbox, settle_seconds=0)}
    assert found["notes.csv"].status == "left" and "no source recognises its content" in found["notes.csv"].message
    assert found["payer_aliases.csv"].status == "left" and "reference table" in found["payer_aliases.csv"].message
    assert found["policies.csv"].status == "left"
    assert "more than one source (payer_policy, hospital_mrf)" in found["policies.csv"].message
    assert sorted(p.name for p in inbox.iterdir()) == ["notes.csv", "payer_aliases.csv", "policies.csv"]
    assert all(item.needs_attention for item in found.values())


def test_a_taken_name_is_never_overwritten_and_a_drop_folder_stays_together(settings: Settings, inbox: Path) -> None:
    existing = settings.source_dir("payer_policy") / "extract" / "policies.csv"
    existing.parent.mkdir(parents=True)
    shutil.copy(fixture("payer__policy", "us_dates.csv"), existing)
    (inbox / "extract").mkdir()
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "extract" / "policies.csv")  # same name, new bytes
    shutil.copy(fixture("payer__policy", "bom_header.csv"), inbox / "extract" / "more.csv")
    found = {item.inbox_path: item for item in land.land(settings, inbox, settle_seconds=0)}
    assert existing.read_bytes() == fixture("payer__policy", "us_dates.csv").read_bytes()  # untouched
    target = Path(found["extract/policies.csv"].target_path)
    assert target.parts[1].startswith("landed-") and target.parts[2:] == ("extract", "policies.csv")
    assert Path(found["extract/more.csv"].target_path).parent == target.parent  # its sibling came along
    assert (settings.raw_dir / target).read_bytes() == fixture("payer__policy", "valid_minimal.csv").read_bytes()
    assert "beside an earlier file of the same name" in found["extract/policies.csv"].message


def test_a_fresh_file_waits_and_an_identical_one_is_a_duplicate(settings: Settings, inbox: Path) -> None:
    settings.source_dir("payer_policy").mkdir(parents=True)
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), settings.source_dir("payer_policy") / "policies.csv")
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "policies.csv")
    (inbox / "big.json.part").write_text("{", encoding="utf-8")  # a download in progress is not even looked at
    waiting = land.land(settings, inbox, settle_seconds=3600)  # just copied: maybe still being written
    assert [(w.inbox_path, w.status) for w in waiting] == [("policies.csv", "waiting")]
    assert not waiting[0].needs_attention and (inbox / "policies.csv").exists()
    [found] = land.land(settings, inbox, settle_seconds=0)
    assert found.status == "duplicate" and not (inbox / "policies.csv").exists()
    assert manifest(settings, "payer_policy")[0]["note"].startswith("identical to the file already there")
    assert [p.name for p in inbox.iterdir()] == ["big.json.part"]


def test_cli_land_exits_1_when_a_file_needs_a_person(settings: Settings, inbox: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir), "--inbox", str(inbox),
            "--settle", "0"]
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "policies.csv")
    assert cli.main(["land", *args]) == cli.EXIT_OK
    assert "payer_policy/policies.csv" in capsys.readouterr().out
    (inbox / "mystery.bin").write_bytes(b"\x00\x01binary")
    assert cli.main(["land", *args]) == cli.EXIT_DATA
    assert "no source recognises its content" in capsys.readouterr().out
