"""The inbox: files are placed by their content (never their name), with a manifest, never overwriting."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from flows import catalog, cli
from flows.ingest import ingest
from flows.land_inbox import land_inbox
from flows.settings import Settings
from flows.sources.base import Source
from flows.steps import land, names
from tests.conftest import BUNDLED_RAW, fixture


def sources() -> list[Source]:
    """The catalog's sources as `land` takes them (read at call time: a test may patch one)."""
    return list(catalog.SOURCES.values())


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
    assert (policy.status, policy.source, policy.target_path) == (
        "landed",
        "payer_policy",
        "payer_policy/aetna policies.txt",
    )
    assert (tic.status, tic.source, tic.target_path) == ("landed", "tic", "tic/download(3)")
    assert not list(inbox.iterdir())  # both moved
    row = manifest(settings, "tic")[0]
    assert row["original_name"] == "download(3)" and row["source"] == "tic" and row["target_path"] == "tic/download(3)"
    assert row["sha256"] == hashlib.sha256(TIC.read_bytes()).hexdigest() and row["bytes"] == str(TIC.stat().st_size)
    assert row["landed_at"].startswith("20")

    # and the landed files load: ingest discovers them in their source folders, told again by content
    assert [r.status for r in ingest("payer_policies", None, settings)] == ["loaded"]
    assert [r.status for r in ingest("tic", None, settings)] == ["loaded"]


def test_unrecognised_ambiguous_and_reference_files_stay_with_the_reason(
    settings: Settings, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (inbox / "notes.csv").write_text("what,ever\n1,2\n", encoding="utf-8")
    shutil.copy(settings.payer_alias_file, inbox / "payer_aliases.csv")
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "policies.csv")
    hospital = catalog.SOURCES["hospital_mrf"]  # a detector that also claims policy extracts
    greedy = dataclasses.replace(hospital, detect=lambda path: path.name == "policies.csv" or hospital.detect(path))
    monkeypatch.setitem(catalog.SOURCES, "hospital_mrf", greedy)
    found = {item.inbox_path: item for item in land.land(settings, inbox, sources(), settle_seconds=0)}
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
    shutil.copy(
        fixture("payer__policy", "valid_minimal.csv"), inbox / "extract" / "policies.csv"
    )  # same name, new bytes
    shutil.copy(fixture("payer__policy", "bom_header.csv"), inbox / "extract" / "more.csv")
    found = {item.inbox_path: item for item in land.land(settings, inbox, sources(), settle_seconds=0)}
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
    waiting = land.land(settings, inbox, sources(), settle_seconds=3600)  # just copied: maybe still being written
    assert [(w.inbox_path, w.status) for w in waiting] == [("policies.csv", "waiting")]
    assert not waiting[0].needs_attention and (inbox / "policies.csv").exists()
    [found] = land.land(settings, inbox, sources(), settle_seconds=0)
    assert found.status == "duplicate" and not (inbox / "policies.csv").exists()
    assert manifest(settings, "payer_policy")[0]["note"].startswith("identical to the file already there")
    assert [p.name for p in inbox.iterdir()] == ["big.json.part"]


def test_cli_land_exits_1_when_a_file_needs_a_person(
    settings: Settings, inbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--warehouse",
        str(settings.warehouse_dir),
        "--raw-dir",
        str(settings.raw_dir),
        "--inbox",
        str(inbox),
        "--settle",
        "0",
    ]
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "policies.csv")
    assert cli.main(["land", *args]) == cli.EXIT_OK
    assert "payer_policy/policies.csv" in capsys.readouterr().out
    (inbox / "mystery.bin").write_bytes(b"\x00\x01binary")
    assert cli.main(["land", *args]) == cli.EXIT_DATA
    assert "no source recognises its content" in capsys.readouterr().out


# --- links, special files and names (issue 12.6) ------------------------------------------------------
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the inbox and raw/ holding a valid policy extract (what a link points to)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), folder / "else.csv")
    return folder


def test_a_symbolic_link_is_refused_whatever_it_points_to(settings: Settings, inbox: Path, outside: Path) -> None:
    (inbox / "outside_link.csv").symlink_to(outside / "else.csv")  # absolute
    (inbox / "relative_link.csv").symlink_to(Path("..") / "elsewhere" / "else.csv")  # relative
    (inbox / "broken_link.csv").symlink_to("no_such_file.csv")
    (inbox / "linked_folder").symlink_to(outside, target_is_directory=True)
    found = {item.inbox_path: item for item in land.land(settings, inbox, sources(), settle_seconds=0)}

    assert sorted(found) == ["broken_link.csv", "linked_folder", "outside_link.csv", "relative_link.csv"]
    assert {item.status for item in found.values()} == {"refused"}
    assert all(item.needs_attention and item.message.startswith("symbolic link") for item in found.values())
    for name in ("outside_link.csv", "relative_link.csv", "broken_link.csv"):
        assert "; copy the file itself into the inbox" in found[name].message
    assert "does not exist (a broken link)" in found["broken_link.csv"].message
    assert "copy the folder itself into the inbox" in found["linked_folder"].message
    assert not settings.source_dir("payer_policy").exists()  # nothing landed, no manifest saying so
    assert sorted(p.name for p in inbox.iterdir()) == sorted(found)  # the links stay, with the reason
    assert (outside / "else.csv").is_file()


def test_a_link_into_an_allowed_folder_lands_a_copy_of_the_file_never_the_link(
    settings: Settings, inbox: Path, outside: Path
) -> None:
    settings = settings.replace(inbox_allow_links_from=(outside,))
    (inbox / "outside_link.csv").symlink_to(outside / "else.csv")
    [found] = land.land(settings, inbox, sources(), settle_seconds=0)
    landed = settings.raw_dir / "payer_policy" / "outside_link.csv"
    assert (found.status, found.target_path) == ("landed", "payer_policy/outside_link.csv")
    assert not landed.is_symlink() and landed.read_bytes() == (outside / "else.csv").read_bytes()
    assert (outside / "else.csv").is_file() and not list(inbox.iterdir())  # the target stays; the link is gone
    assert manifest(settings, "payer_policy")[0]["sha256"] == hashlib.sha256(landed.read_bytes()).hexdigest()
    # a link to anywhere else is still refused
    (inbox / "other.csv").symlink_to(fixture("payer__policy", "valid_minimal.csv"))
    assert [item.status for item in land.land(settings, inbox, sources(), settle_seconds=0)] == ["refused"]


def test_allowed_link_folders_come_from_the_environment(tmp_path: Path) -> None:
    from flows.settings import from_env

    settings = from_env({"PAYERBENCH_INBOX_ALLOW_LINKS_FROM": f"{tmp_path / 'a'}:{tmp_path / 'b'}"})
    assert settings.inbox_allow_links_from == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())
    assert from_env({}).inbox_allow_links_from == ()


def test_a_file_swapped_for_a_link_after_it_was_inspected_does_not_land(
    settings: Settings, inbox: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / "policies.csv")
    detect = land.claims

    def swap_then_detect(path: Path, sources: list[Source]) -> list[str]:  # the race: the name now leads outside
        claimed = detect(path, sources)
        path.unlink()
        path.symlink_to(outside / "else.csv")
        return claimed

    monkeypatch.setattr(land, "claims", swap_then_detect)
    [found] = land.land(settings, inbox, sources(), settle_seconds=0)
    assert found.status == "refused" and "replaced while it was landed" in found.message
    folder = settings.source_dir("payer_policy")
    assert not folder.exists() or not [p for p in folder.rglob("*") if p.name != "manifest.csv"]  # nothing landed
    assert not (folder / "manifest.csv").exists()  # and no manifest row says it did


def test_dot_dot_hidden_names_and_pipes_are_listed_as_refused(settings: Settings, inbox: Path) -> None:
    for name in ("..policies.csv", ".hidden.csv"):
        shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / name)
    (inbox / ".stash").mkdir()
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / ".stash" / "policies.csv")
    os.mkfifo(inbox / "pipe.csv")  # opening it to read would block the landing forever
    fresh = land.land(
        settings, inbox, sources(), settle_seconds=3600
    )  # hidden names just written (rsync's temp files) wait
    assert [(item.inbox_path, item.status) for item in fresh] == [("pipe.csv", "refused")]

    found = {item.inbox_path: item for item in land.land(settings, inbox, sources(), settle_seconds=0)}
    assert sorted(found) == ["..policies.csv", ".hidden.csv", ".stash/", "pipe.csv"]
    assert {item.status for item in found.values()} == {"refused"}
    assert "starts with '..'" in found["..policies.csv"].message
    assert "hidden name" in found[".hidden.csv"].message and "not looked at" in found[".stash/"].message
    assert "not a regular file" in found["pipe.csv"].message
    assert not settings.source_dir("payer_policy").exists()


@pytest.mark.parametrize("name", ["", ".", "..", "a/b.csv", "a\\b.csv", "a\0b.csv", "..x.csv", ".x.csv"])
def test_names_the_inbox_refuses_have_a_reason(name: str) -> None:
    assert names.refusal(name)


def test_names_that_land_as_they_are() -> None:
    assert names.refusal("Zürich policies (2).csv") is None and names.refusal("a..b.csv") is None


EVIL = "evil\x1b[2J\r\n\u202e\x9b[bold red]x.csv"  # clears the screen, forges a line, flips text, markup


def test_control_characters_in_names_are_escaped_in_land_output(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "[bold red]drop"
    inbox.mkdir()
    (inbox / EVIL).write_text("what,ever\n1,2\n", encoding="utf-8")  # no source claims it: it stays
    args = [
        "land",
        "--warehouse",
        str(settings.warehouse_dir),
        "--raw-dir",
        str(settings.raw_dir),
        "--inbox",
        str(inbox),
        "--settle",
        "0",
    ]
    assert cli.main(args) == cli.EXIT_DATA
    out = capsys.readouterr().out
    assert not any(char in out for char in "\x1b\r\u202e\x9b")
    assert "evil\\x1b[2J\\r\\n\\u202e\\x9b[bold red]x.csv" in out  # shown escaped, markup printed literally
    assert "[bold red]drop" in out  # the inbox folder in the title too
    assert (inbox / EVIL).exists()  # the real name is kept


def test_a_landed_name_keeps_its_real_bytes_in_raw_and_the_manifest(settings: Settings, inbox: Path) -> None:
    shutil.copy(fixture("payer__policy", "valid_minimal.csv"), inbox / EVIL)
    [found] = land.land(settings, inbox, sources(), settle_seconds=0)
    assert found.status == "landed" and (settings.source_dir("payer_policy") / EVIL).is_file()
    assert manifest(settings, "payer_policy")[0]["original_name"] == EVIL
