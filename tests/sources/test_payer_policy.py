"""The policy-extract adapter: formats (CSV, XLSX, JSON) and every file-level defect."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from flows.settings import Settings
from flows.sources import payer_policy
from flows.sources.base import FileRejected, ReadContext
from tests.conftest import fixture

DATASET = "payer__policy"


def read_all(path: Path, settings: Settings) -> pd.DataFrame:
    batches = list(payer_policy.read(path, ReadContext(settings=settings)))
    assert all(b.dataset == DATASET for b in batches)
    return pd.concat([b.frame for b in batches], ignore_index=True)


def test_csv_rows_and_line_locators(settings: Settings) -> None:
    frame = read_all(fixture(DATASET, "valid_minimal.csv"), settings)
    assert list(frame["billing_code"]) == ["0440T", "0441T"]
    assert list(frame["source_record"]) == ["line 2", "line 3"]
    assert pd.isna(frame.loc[0, "notes"])  # blank cell -> null, not ""


def test_bom_header_reads_like_plain_csv(settings: Settings) -> None:
    plain = read_all(fixture(DATASET, "valid_minimal.csv"), settings)
    bom = read_all(fixture(DATASET, "bom_header.csv"), settings)
    assert "payer_name" in bom.columns
    pd.testing.assert_frame_equal(plain, bom)


def test_us_dates_are_rewritten_to_iso(settings: Settings) -> None:
    frame = read_all(fixture(DATASET, "us_dates.csv"), settings)
    assert frame.loc[0, ["effective_date", "last_reviewed_date", "retrieved_date"]].tolist() == [
        "2024-06-28", "2024-05-09", "2026-11-26"]


def test_json_array_and_wrapped_forms_match_csv(settings: Settings) -> None:
    csv_frame = read_all(fixture(DATASET, "valid_minimal.csv"), settings)
    for name in ("valid_array.json", "valid_wrapped.json"):
        frame = read_all(fixture(DATASET, name), settings)
        assert frame["billing_code"].tolist() == csv_frame["billing_code"].tolist()
        assert frame["payer_name"].tolist() == csv_frame["payer_name"].tolist()
    assert read_all(fixture(DATASET, "valid_wrapped.json"), settings)["source_record"].tolist() == [
        "$.policies[0]", "$.policies[1]"]


def test_xlsx_with_same_columns_matches_csv(settings: Settings, tmp_path: Path) -> None:
    source = pd.read_csv(fixture(DATASET, "valid_minimal.csv"), dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Payer extract, exported 2026-11-26"])  # a title row above the header, as analysts do
    sheet.append([])
    sheet.append([c.replace("_", " ").title() for c in source.columns])  # "Payer Name" headers
    for row in source.itertuples(index=False):
        sheet.append([None if v == "" else v for v in row])
    sheet["L4"].value = pd.Timestamp("2026-11-26").to_pydatetime()  # a real date cell
    path = tmp_path / "policies.xlsx"
    book.save(path)
    # The title row is taken for the header -> the required columns are missing: a clear rejection.
    with pytest.raises(FileRejected, match="missing required column"):
        read_all(path, settings)
    sheet.delete_rows(1, 2)
    book.save(path)
    frame = read_all(path, settings)
    assert frame["billing_code"].tolist() == ["0440T", "0441T"]
    assert frame.loc[0, "retrieved_date"] == "2026-11-26"
    assert frame.loc[0, "source_record"] == "sheet 'Sheet' row 2"


def test_format_is_told_by_content_not_name(settings: Settings, tmp_path: Path) -> None:
    renamed = tmp_path / "policies.txt"
    shutil.copy(fixture(DATASET, "valid_array.json"), renamed)
    assert read_all(renamed, settings)["billing_code"].tolist() == ["0440T", "0441T"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", r"empty.csv: file is empty \(0 bytes\)"),
        ("header_only.csv", r"header_only.csv \(header on line 1\): header only, no data rows"),
        ("missing_required_column.csv", r"missing required column 'coverage_status'"),
        ("cp1252_bytes.csv", r"cp1252_bytes.csv \(line 3\): not valid UTF-8 \(byte 0x92 at byte offset \d+\).*CSV UTF-8"),
        ("binary_named.csv", r"binary_named.csv: binary content \(NUL byte at byte offset 8\)"),
        ("truncated_quote.csv", r"truncated_quote.csv \(record starting on line 3\): malformed CSV.*unclosed quote"),
        ("json_wrong_shape.json", r"no records found at \$.policies; expected a JSON array of policy objects"),
        ("json_array_of_arrays.json", r"\(\$\[0\]\): element is a list, not an object"),
        ("truncated.json", r"truncated.json \(after \$\[0\]\): invalid or truncated JSON"),
    ],
)
def test_bad_file_is_rejected_with_a_one_line_message(settings: Settings, name: str, message: str) -> None:
    with pytest.raises(FileRejected, match=message) as info:
        read_all(fixture(DATASET, name), settings)
    assert "\n" not in info.value.message


def test_detect_recognises_extracts_by_content(settings: Settings) -> None:
    assert payer_policy.detect(fixture(DATASET, "valid_minimal.csv"))
    assert payer_policy.detect(fixture(DATASET, "valid_array.json"))
    assert not payer_policy.detect(settings.payer_alias_file)
    assert not payer_policy.detect(fixture(DATASET, "binary_named.csv"))
