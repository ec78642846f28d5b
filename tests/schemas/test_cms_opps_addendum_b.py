"""Each rule of the cms__opps_addendum_b schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.cms_opps_addendum_b import OppsAddendumB

GOOD = {
    "release_year": 2023,
    "release_quarter": 1,
    "effective_date": "2023-01-01",
    "billing_code": "0440T",
    "short_descriptor": "Abltj perc uxtr/perph nrv",
    "status_indicator": "J1",
    "apc": "5431",
    "relative_weight": "21.0028",
    "payment_rate_usd": "1797.52",
    "national_unadjusted_copayment_usd": None,
    "minimum_unadjusted_copayment_usd": "359.51",
    "copayment_capped_at_inpatient_deductible": "false",
    "pass_through_expires_this_year": "false",
    "changed_this_release": "false",
    "source_record": "sheet 'x' row 812",
}


def check(*changes: dict[str, object]):  # type: ignore[no-untyped-def]
    frame = pd.DataFrame([dict(GOOD, **c) for c in changes] or [GOOD], dtype=object)
    return DatasetValidator(OppsAddendumB).check(frame, Path("addendum_b.xlsx"))


def test_good_row_loads() -> None:
    result = check()
    assert len(result.valid) == 1 and result.failures.empty and result.advisories.empty


@pytest.mark.parametrize(
    ("changes", "column", "check_name"),
    [
        ({"status_indicator": "J9"}, "status_indicator", "isin"),
        ({"apc": "543"}, "apc", "str_matches"),
        ({"billing_code": "0440"}, "billing_code", "str_matches"),
        ({"payment_rate_usd": "-1797.52"}, "payment_rate_usd", "greater_than_or_equal_to"),
        ({"payment_rate_usd": None}, None, "paid_status_needs_rate"),  # J1 is paid: a rate must be printed
        ({"apc": None}, None, "weight_needs_apc"),
    ],
)
def test_rules(changes: dict[str, object], column: str | None, check_name: str) -> None:
    result = check(changes)
    assert result.valid.empty
    found = [
        (None if pd.isna(r.column) else r.column, str(r.check).split("(")[0]) for r in result.failures.itertuples()
    ]
    assert (column, check_name) in found


def test_packaged_code_without_rate_passes_and_high_copay_is_advisory() -> None:
    assert check(
        {
            "status_indicator": "N",
            "apc": None,
            "relative_weight": None,
            "payment_rate_usd": None,
            "minimum_unadjusted_copayment_usd": None,
        }
    ).failures.empty
    result = check({"minimum_unadjusted_copayment_usd": "1800.00"})
    assert len(result.valid) == 1 and result.advisories["check"].tolist() == ["copayment_above_rate"]
