"""Rules of fetch__manifest: each with a row that passes and one that fails."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.fetch_manifest import FetchManifest

GOOD = {
    "fetch_id": "20261205T060000Z-abc123",
    "source": "cms_pfs_rvu",
    "logical_key": "cms_pfs_rvu_zip:RVU26A",
    "release": "RVU26A",
    "url": "https://www.cms.gov/files/zip/rvu26a.zip",
    "outcome": "downloaded",
    "final_url": "https://www.cms.gov/files/zip/rvu26a.zip",
    "http_status": "200",
    "etag": '"5f-abc"',
    "last_modified": "Mon, 29 Dec 2025 15:00:00 GMT",
    "content_length": "10240",
    "bytes_received": "10240",
    "sha256": "a" * 64,
    "fetched_at": "2026-12-05T06:00:03+00:00",
    "landed_path": "cms_pfs_rvu/fetched/RVU26A/PPRRVU2026_Jan_nonQPP.csv",
    "license_acknowledged": True,
    "message": "",
    "source_record": "line 2",
}


def check(*changes: dict[str, object]):  # type: ignore[no-untyped-def]
    frame = pd.DataFrame([dict(GOOD, **c) for c in changes] or [GOOD], dtype=object)
    return DatasetValidator(FetchManifest).check(frame, Path("fetch_manifest.csv"))


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"outcome": "not_modified", "http_status": "304", "sha256": None, "landed_path": None, "bytes_received": "0"},
        {"outcome": "failed", "http_status": None, "license_acknowledged": None, "release": None},
        {"outcome": "offline", "final_url": None, "etag": None, "last_modified": None, "content_length": None},
    ],
)
def test_good_rows_load(changes: dict[str, object]) -> None:
    result = check(changes)
    assert len(result.valid) == 1 and result.failures.empty, result.failures


@pytest.mark.parametrize(
    ("changes", "column", "check_name"),
    [
        ({"outcome": "maybe"}, "outcome", "isin"),
        ({"url": "ftp://example.org/x.zip"}, "url", "str_matches"),
        ({"final_url": "not a url"}, "final_url", "str_matches"),
        ({"http_status": "42"}, "http_status", "greater_than_or_equal_to"),
        ({"http_status": "600"}, "http_status", "less_than_or_equal_to"),
        ({"content_length": "-1"}, "content_length", "greater_than_or_equal_to"),
        ({"bytes_received": "-5"}, "bytes_received", "greater_than_or_equal_to"),
        ({"sha256": "ABC"}, "sha256", "str_matches"),
        ({"landed_path": "/etc/passwd"}, "landed_path", "str_matches"),
        ({"landed_path": "cms_mcd/../../secret"}, "landed_path", "str_matches"),
        ({"source": "CMS PFS"}, "source", "str_matches"),
        ({"fetch_id": None}, "fetch_id", "not_nullable"),
        ({"logical_key": ""}, "logical_key", "str_length"),
        ({"fetched_at": "yesterday"}, "fetched_at", "coerce_dtype"),
    ],
)
def test_rules_fail_on_the_named_column(changes: dict[str, object], column: str, check_name: str) -> None:
    result = check(changes)
    assert result.valid.empty
    found = [(r.column, str(r.check).split("(")[0]) for r in result.failures.itertuples()]
    assert any(c == column and check_name in k for c, k in found), found


def test_the_same_url_and_landed_file_twice_in_one_run_is_a_duplicate() -> None:
    result = check({}, {"source_record": "line 3"})
    assert result.failures["check"].tolist() == ["unique_key (first seen at line 2)"]
