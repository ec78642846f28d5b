"""Rules of hospital__hpt_entry (schemas/hospital_hpt.py): each passes on a good row and fails on a bad one,
naming its column and check. Rows are SYNTHETIC (reserved .example domains)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.hospital_hpt import HptEntry

GOOD = {
    "hospital_name": "Alpha Health (SYNTHETIC)",
    "state_abbrev": "TX",
    "web_root": "alpha.example",
    "txt_url": "https://alpha.example/cms-hpt.txt",
    "entry": "1",
    "txt_line": "1",
    "location_name": "Alpha Main Campus",
    "source_page_url": "https://alpha.example/price-transparency",
    "mrf_url": "https://alpha.example/prices/alpha.csv",
    "contact_name": "Pat Doe",
    "contact_email": "pat@alpha.example",
    "mrf_file": "hospital_mrf/fetched/alpha.example/alpha.csv",
    "finding": None,
    "finding_detail": None,
    "fetched_at": "2026-05-15T06:00:00+00:00",
    "source_record": "line 2",
}
FILE_ROW = dict(GOOD, entry="0", txt_line=None, txt_url=None, location_name=None, source_page_url=None, mrf_url=None,
                contact_name=None, contact_email=None, mrf_file=None, finding="cms_hpt_is_html",
                finding_detail="an HTML page came back")  # fmt: skip


def check(*rows: dict[str, object]):  # type: ignore[no-untyped-def]
    return DatasetValidator(HptEntry).check(pd.DataFrame(list(rows), dtype=object), Path("cms-hpt.csv"))


@pytest.mark.parametrize(
    "row",
    [
        GOOD,
        FILE_ROW,
        dict(GOOD, mrf_url="/prices/x.csv", mrf_file=None, finding="relative_url", finding_detail="not absolute"),
        dict(GOOD, contact_email=None, finding="missing_field", finding_detail="no contact-email"),
    ],
)
def test_good_rows_load(row: dict[str, object]) -> None:
    result = check(row)
    assert len(result.valid) == 1 and result.failures.empty, result.failures


@pytest.mark.parametrize(
    ("changes", "column", "check_name"),
    [
        ({"web_root": "https://alpha.example/"}, "web_root", "str_matches"),
        ({"state_abbrev": "Texas"}, "state_abbrev", "str_matches"),
        ({"hospital_name": ""}, "hospital_name", "str_length"),
        ({"txt_url": "http://alpha.example/cms-hpt.txt"}, "txt_url", "str_matches"),
        ({"entry": "-1"}, "entry", "greater_than_or_equal_to"),
        ({"txt_line": "0"}, "txt_line", "greater_than_or_equal_to"),
        ({"mrf_file": "/etc/passwd"}, "mrf_file", "str_matches"),
        ({"finding": "looks_odd", "finding_detail": "?"}, "finding", "isin"),
        ({"fetched_at": "yesterday"}, "fetched_at", "coerce_dtype"),
        ({"mrf_url": None}, None, "clean_entry_is_complete"),  # no finding, yet incomplete
        ({"mrf_url": "http://alpha.example/x.csv"}, None, "clean_entry_is_complete"),
        ({"mrf_file": None}, None, "clean_entry_is_complete"),  # clean means the file was fetched
        ({"finding": "missing_field", "finding_detail": None}, None, "finding_has_detail"),
    ],
)
def test_rules_fail_on_the_named_column(changes: dict[str, object], column: str | None, check_name: str) -> None:
    result = check(dict(GOOD, **changes))
    assert result.valid.empty
    found = [(r.column, str(r.check)) for r in result.failures.itertuples()]
    assert any((column is None or c == column) and check_name in k for c, k in found), found


def test_web_root_and_entry_are_the_key() -> None:
    result = check(GOOD, dict(GOOD, location_name="Alpha Again", source_record="line 3"))
    assert result.failures["check"].tolist() == ["unique_key (first seen at line 2)"]
    assert len(check(GOOD, dict(GOOD, entry="2", source_record="line 3")).valid) == 2
