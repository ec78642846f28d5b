"""Zips from the internet: zip-slip and bombs refused, nested zips walked, members extracted whole."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from flows.fetch.archive import UnsafeArchive, check_zip, extract_member


def make_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def nested(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_nested_zip_is_walked(tmp_path: Path) -> None:
    outer = make_zip(tmp_path / "current_article.zip", {
        "readme_first.txt": b"synthetic",
        "current_article_csv.zip": nested({"article.csv": b"article_id\n1\n"}),
    })  # fmt: skip
    chains = [e.chain for e in check_zip(outer, max_bytes=10**6)]
    assert chains == ["readme_first.txt", "current_article_csv.zip", "current_article_csv.zip > article.csv"]  # fmt: skip


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/path.csv", "a/../../b.csv", "..\\win.csv", "C:evil.csv"])
def test_zip_slip_entries_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeArchive, match="outside its folder"):
        check_zip(make_zip(tmp_path / "slip.zip", {"ok.csv": b"x", name: b"y"}), max_bytes=10**6)


def test_a_zip_slip_inside_a_nested_zip_is_refused(tmp_path: Path) -> None:
    outer = make_zip(tmp_path / "outer.zip", {"inner.zip": nested({"../evil.csv": b"x"})})
    with pytest.raises(UnsafeArchive, match="'../evil.csv'"):
        check_zip(outer, max_bytes=10**6)


def test_a_zip_bomb_is_refused_by_ratio_and_by_total(tmp_path: Path) -> None:
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros.csv": b"0" * 5_000_000})
    with pytest.raises(UnsafeArchive, match="zip bomb"):
        check_zip(bomb, max_bytes=10**9)
    with pytest.raises(UnsafeArchive, match="more than 1,000,000 bytes"):
        check_zip(bomb, max_bytes=1_000_000, max_ratio=10**6)


def test_a_member_is_extracted_whole_with_its_sha256(tmp_path: Path) -> None:
    data = b"HCPCS,MOD\n0440T,\n" * 50
    archive = make_zip(tmp_path / "rvu.zip", {"PPRRVU2026_Jan_nonQPP.csv": data})
    sha, size = extract_member(
        archive, "PPRRVU2026_Jan_nonQPP.csv", tmp_path / "out" / "RVU26A" / "P.csv", max_bytes=10**6
    )
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert sorted(p.name for p in (tmp_path / "out" / "RVU26A").iterdir()) == ["P.csv"]  # no .part left


def test_a_member_past_the_limit_leaves_nothing(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "rvu.zip", {"big.csv": b"1,2,3\n" * 10_000})
    with pytest.raises(UnsafeArchive):
        extract_member(archive, "big.csv", tmp_path / "out" / "big.csv", max_bytes=1000)
    assert list((tmp_path / "out").iterdir()) == []
