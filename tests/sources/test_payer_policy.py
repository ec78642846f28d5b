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
        "2024-06-28",
        "2024-05-09",
        "2026-11-26",
    ]


def test_json_array_and_wrapped_forms_match_csv(settings: Settings) -> None:
    csv_frame = read_all(fixture(DATASET, "valid_minimal.csv"), settings)
    for name in ("valid_array.json", "valid_wrapped.json"):
        frame = read_all(fixture(DATASET, name), settings)
        assert frame["billing_code"].tolist() == csv_frame["billing_code"].tolist()
        assert frame["payer_name"].tolist() == csv_frame["payer_name"].tolist()
    assert read_all(fixture(DATASET, "valid_wrapped.json"), settings)["source_record"].tolist() == [
        "$.policies[0]",
        "$.policies[1]",
    ]


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
        (
            "cp1252_bytes.csv",
            r"cp1252_bytes.csv \(line 3\): not valid UTF-8 \(byte 0x92 at byte offset \d+\).*CSV UTF-8",
        ),
        ("truncated_quote.csv", r"ends inside a quoted field: truncated, or a quote is never closed"),
        ("binary_named.csv", r"binary_named.csv \(line 3\): binary content \(NUL byte at byte offset 8\)"),
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


def test_encoding_error_location_is_exact_after_a_bom(settings: Settings, tmp_path: Path) -> None:
    body = fixture(DATASET, "cp1252_bytes.csv").read_bytes()
    path = tmp_path / "bom_then_cp1252.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body)
    with pytest.raises(FileRejected) as info:
        read_all(path, settings)
    offset = 3 + body.index(b"\x92")
    assert f"byte 0x92 at byte offset {offset}" in info.value.message
    assert "(line 3)" in info.value.message


def test_nul_byte_beyond_the_first_block_is_still_binary(settings: Settings, tmp_path: Path) -> None:
    lines = fixture(DATASET, "valid_minimal.csv").read_text(encoding="utf-8").splitlines()
    filler = [lines[1].replace("CPB 0297", f"CPB {i:05d}") for i in range(600)]  # > 64 KB of good rows
    path = tmp_path / "late_nul.csv"
    path.write_text("\n".join([lines[0], *filler, lines[2].replace("Cigna", "Cig\x00na")]) + "\n", encoding="utf-8")
    with pytest.raises(FileRejected, match=r"late_nul.csv: binary content \(NUL byte at line 602\)"):
        read_all(path, settings)


def test_xlsx_is_told_by_content_and_surplus_cells_are_rejected_rows(settings: Settings, tmp_path: Path) -> None:
    source = pd.read_csv(fixture(DATASET, "valid_minimal.csv"), dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(source.columns))
    for row in source.itertuples(index=False):
        sheet.append([None if v == "" else v for v in row])
    sheet.cell(row=3, column=len(source.columns) + 2, value="stray cell")
    path = tmp_path / "extract_saved_with_the_wrong_name.csv"
    book.save(path)
    batches = list(payer_policy.read(path, ReadContext(settings=settings)))
    assert sum(len(b.frame) for b in batches) == 1
    rejects = pd.concat([b.rejects for b in batches if b.rejects is not None])
    assert rejects.iloc[0]["check"] == "field_count" and rejects.iloc[0]["source_record"] == "sheet 'Sheet' row 3"


def test_json_verdict_does_not_depend_on_chunk_size(settings: Settings, tmp_path: Path) -> None:
    import json

    records = json.loads(fixture(DATASET, "valid_array.json").read_text(encoding="utf-8"))
    records.append(
        {
            "payer_name": "UnitedHealthcare",
            "plan_type": "commercial",
            "billing_code": "0440T",
            "code_type": "CPT",
            "coverage_status": "no_policy_found",
            "prior_authorization": "unknown",
            "retrieved_date": "2026-11-26",
            "source_confidence": "not_found",
        }
    )  # null keys omitted
    path = tmp_path / "sparse.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    for rows in (1, 2, 1000):
        frame = read_all(
            path, Settings(raw_dir=settings.raw_dir, warehouse_dir=settings.warehouse_dir, chunk_rows=rows)
        )
        assert len(frame) == 3 and pd.isna(frame.iloc[2]["policy_id"])
    del records[0]["policy_id"], records[1]["policy_id"]  # now no record carries the key
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(FileRejected, match="no record carries the required field 'policy_id'"):
        read_all(path, settings)
