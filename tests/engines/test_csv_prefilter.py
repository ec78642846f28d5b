"""The byte-level CSV prefilter: the same records and line numbers as a full csv parse, or a fallback."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from flows.engines import csv_prefilter
from flows.sources.base import FileRejected

CODES = ["0440T", "0441T", "64450"]
MATCH = re.compile(csv_prefilter.code_pattern(CODES))


def random_csv(seed: int, rows: int = 300) -> bytes:
    """A messy but valid CSV: quoted fields with commas, doubled quotes and LF/CRLF line breaks
    inside, codes in code-like cells and inside notes, CRLF and LF record ends, blank lines."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "0440T", "0441t", "64450", "99213", "12345", "1,475.61", "x"]
    out = ["code,description,notes,amount\n"]
    for _ in range(rows):
        cells = []
        for _ in range(4):
            pick = rng.random()
            if pick < 0.25:
                parts = [rng.choice(words) for _ in range(rng.randint(1, 4))]
                glue = rng.choice([" ", "\n", "\r\n", ", ", '""'])
                cells.append('"' + glue.join(parts) + '"')
            else:
                cells.append(rng.choice(words[:7] + ["", "120.00"]))
        out.append(",".join(cells) + rng.choice(["\n", "\r\n"]))
        if rng.random() < 0.05:
            out.append("\n")
    return "".join(out).encode()


def expected(path: Path) -> list[tuple[int, list[str]]]:
    records = csv_prefilter.iter_records(path)
    header = next(records)
    assert header.line == 1
    return [(r.line, r.fields) for r in records if any(MATCH.search(f) for f in r.fields)]


def scanned(path: Path, block: int) -> list[tuple[int, list[str]]] | None:
    header = next(csv_prefilter.iter_records(path))
    found = csv_prefilter.scan(path, header.end, header.next_line, CODES, block_bytes=block)
    if found is None:
        return None
    return [(r.line, r.fields) for r in csv_prefilter.read_at(path, found)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("block", [23, 64, 257, 4096, csv_prefilter.BLOCK_BYTES])
@pytest.mark.parametrize("slack", [4, csv_prefilter._Windows.SLACK])
def test_scan_finds_exactly_the_records_a_full_parse_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, block: int, slack: int
) -> None:
    monkeypatch.setattr(csv_prefilter, "SLICE_BYTES", 97)  # many RE2 slices per block
    monkeypatch.setattr(csv_prefilter._Windows, "SLACK", slack)  # 4: carries outgrow it, buffers grow
    path = tmp_path / "messy.csv"
    path.write_bytes(random_csv(seed))
    want = expected(path)
    assert len(want) > 50
    assert any(len(fields) and "\n" in "".join(fields) for _, fields in want)  # multi-line records are among them
    assert scanned(path, block) == want


def test_line_numbers_count_lines_inside_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_bytes(b'h1,h2\n"a\nb",0440T\r\n\nx,"y\r\n\r\nz"\n0441T,last')
    records = list(csv_prefilter.iter_records(path))
    assert [(r.line, r.next_line) for r in records] == [(1, 2), (2, 4), (4, 5), (5, 8), (8, 9)]
    assert records[1].fields == ["a\nb", "0440T"] and records[3].fields == ["x", "y\r\n\r\nz"]
    assert scanned(path, 8) == [(2, ["a\nb", "0440T"]), (8, ["0441T", "last"])]


def test_matches_before_the_offset_are_not_candidates(tmp_path: Path) -> None:
    path = tmp_path / "preamble.csv"
    path.write_bytes(b"title mentioning 0440T\nh1,h2\n0440T,1\n")
    records = csv_prefilter.iter_records(path)
    next(records)
    header = next(records)
    found = csv_prefilter.scan(path, header.end, header.next_line, CODES)
    assert [(r.line, r.fields) for r in csv_prefilter.read_at(path, found)] == [(3, ["0440T", "1"])]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("one stray quote", b'cath 12" long,1\n0440T,2\n'),
        ("two stray quotes around a match", b'cath 12" long,1\n0440T,2\ncath 14" long,3\n0441T,4\n'),
        ("NUL byte", b"a,\x00\n0440T,2\n"),
        ("bare CR", b"a,b\rc\n0440T,2\n"),
        ("unclosed quote", b'0440T,"never closed\n'),
    ],
)
def test_scan_declines_files_it_cannot_vouch_for(tmp_path: Path, name: str, body: bytes) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"h1,h2\n" + body)
    for block in (8, 4096):
        assert scanned(path, block) is None, name


def test_a_stray_quote_is_read_like_the_csv_module_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "inch.csv"
    path.write_bytes(b'h1,h2\ncath 12" long,1\n0440T,2\n')
    assert scanned(path, 4096) is None
    assert expected(path) == [(3, ["0440T", "2"])]  # the full parse the caller falls back to


def test_a_record_longer_than_the_limit_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_prefilter, "MAX_RECORD_BYTES", 64)
    path = tmp_path / "long.csv"
    path.write_bytes(b'h1,h2\n0440T,"' + b"x" * 200 + b'"\n')
    assert scanned(path, 16) is None


def test_full_parse_rejects_what_the_scan_declined(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.csv"
    path.write_bytes(b'h1,h2\n0440T,"never closed\n')
    with pytest.raises(
        FileRejected, match=r"unclosed.csv \(record starting on line 2\): the file ends inside a quoted field"
    ):
        list(csv_prefilter.iter_records(path))


def test_code_pattern_matches_either_case() -> None:
    assert csv_prefilter.code_pattern(["0440T", "64450"]) == "0440[Tt]|64450"
