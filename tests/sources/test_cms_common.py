"""What the CMS adapters share: release periods from text and names, CMS number formats, note rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.sources.base import FileRejected
from flows.sources.cms_common import (
    Number,
    Release,
    agree,
    check_numbers,
    is_note_row,
    month_year_in,
    release_from_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025 National Physician Fee Schedule Relative Value File October Release", (2025, 10)),
        ("January 2026  Payment Weight", (2026, 1)),
        ("2023_January_Web_Addendum_B.12212022", (2023, 1)),
        ("AA_October_2025_excerpt", (2025, 10)),
        ("Addendum B.- OPPS Payment by HCPCS Code for CY 2023", None),
    ],
)
def test_month_and_year_are_read_from_titles_and_names(text: str, expected: tuple[int, int] | None) -> None:
    assert month_year_in(text) == expected


def test_release_from_cms_names_and_bundle_folders(tmp_path: Path) -> None:
    pattern = r"pprrvu[_-]?(?P<year>\d{4}|\d{2})(?:[_-]?(?P<month>[a-z]{3,9}))?"
    assert release_from_name(tmp_path / "PPRRVU2025_Oct.txt", pattern).label == "2025-Q4"
    assert release_from_name(tmp_path / "PPRRVU24_JAN.csv", pattern).label == "2024-Q1"
    assert release_from_name(tmp_path / "RVU25C" / "PPRRVU2025_sample.txt", pattern).label == "2025-Q3"
    assert release_from_name(tmp_path / "20260101" / "AA.csv", r"^$").label == "2026-Q1"
    assert release_from_name(tmp_path / "PPRRVU2025_sample.txt", pattern).quarter is None
    with pytest.raises(FileRejected, match="the file name says 2025-01 but its folder 'RVU25D' says 2025-10"):
        release_from_name(tmp_path / "RVU25D" / "PPRRVU2025_Jan.txt", pattern)


def test_content_wins_but_must_agree_with_the_name(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    october = Release(2025, 10, basis="title")
    assert agree(path, october, None, "a name") == october
    combined = agree(path, Release(2023, basis="title"), Release(2023, 1, basis="name"), "a name")
    assert (combined.year, combined.quarter, combined.effective_date) == (2023, 1, "2023-01-01")
    with pytest.raises(FileRejected, match="cannot tell which CMS release"):
        agree(path, None, None, "CMS's name")
    with pytest.raises(FileRejected, match="says release 2025-Q4 .* but its name says 2025-Q1"):
        agree(path, october, Release(2025, 1, basis="name"), "a name")


def test_cms_number_formats_are_normalised_and_anything_else_is_rejected() -> None:
    values = ["$1,475.61 ", "$54.38", "1797.52", ".10", None, "$1,4x5.61", "NaN", "1e3", "1.234", "$1,47,5.61"]
    frame = pd.DataFrame({"rate": values, "source_record": [f"line {i}" for i in range(len(values))]}, dtype="str")
    out, raw, rejects = check_numbers(frame, frame.copy(), {"rate": Number(kind="money", places=2)})
    assert out["rate"].tolist()[:4] == ["1475.61", "54.38", "1797.52", "0.10"] and pd.isna(out["rate"].iloc[4])
    assert len(out) == len(raw) == 5
    assert rejects["failure_value"].tolist() == ["$1,4x5.61", "NaN", "1e3", "1.234", "$1,47,5.61"]
    assert set(rejects["check"]) == {"number_format"} and rejects["source_record"].tolist()[0] == "line 5"
    percent, _, none = check_numbers(frame.iloc[:0], frame.iloc[:0], {"rate": Number(kind="percent")})
    assert none is None and percent.empty


@pytest.mark.parametrize(
    ("cells", "is_note"),
    [
        (["NOTE 1: Payment indicators for office-based procedures", "", ""], True),
        (["*Work GPCI reflects a 1.5 floor in Alaska established by the MIPPA.", "", ""], True),
        (["MAC Assignments as of November 22, 2023", None, ""], True),
        (["0440T", "", ""], False),  # a bare code is a (broken) record: validated, not skipped
        (["10112", "AL", "00"], False),
        (["", "", ""], False),
    ],
)
def test_trailing_notes_are_told_from_records(cells: list[object], is_note: bool) -> None:
    assert is_note_row(cells) is is_note
