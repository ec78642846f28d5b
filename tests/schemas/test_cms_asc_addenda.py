"""Each rule of the ASC Addendum AA and FF schemas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.cms_asc_addenda import AscAddendumAA, AscAddendumFF

AA = {
    "release_year": 2026,
    "release_quarter": 1,
    "effective_date": "2026-01-01",
    "billing_code": "0440T",
    "note_marker": None,
    "short_descriptor": "Abltj perc uxtr/perph nrv",
    "multiple_procedure_discounting": "Y",
    "payment_indicator": "J8",
    "payment_weight": "26.1995",
    "payment_rate_usd": "1475.61",
    "source_record": "line 62",
}
FF = {
    "release_year": 2026,
    "release_quarter": 1,
    "effective_date": "2026-01-01",
    "billing_code": "0440T",
    "note_marker": None,
    "short_descriptor": "Abltj perc uxtr/perph nrv",
    "payment_indicator": "J8",
    "apc": "5431",
    "apc_device_offset_pct": "0.92",
    "opps_payment_rate_usd": "1765.76",
    "device_offset_pct": "64.49",
    "device_portion_usd": "1138.74",
    "source_record": "line 62",
}


def check(model, good, *changes):  # type: ignore[no-untyped-def]
    frame = pd.DataFrame([dict(good, **c) for c in changes] or [good], dtype=object)
    return DatasetValidator(model).check(frame, Path("AA.csv"))


@pytest.mark.parametrize(("model", "good"), [(AscAddendumAA, AA), (AscAddendumFF, FF)])
def test_good_rows_load(model, good) -> None:  # type: ignore[no-untyped-def]
    result = check(model, good)
    assert len(result.valid) == 1 and result.failures.empty


@pytest.mark.parametrize(
    ("model", "good", "changes", "column", "check_name"),
    [
        (AscAddendumAA, AA, {"payment_indicator": "J9"}, "payment_indicator", "isin"),
        (AscAddendumAA, AA, {"note_marker": "+"}, "note_marker", "isin"),
        (AscAddendumAA, AA, {"payment_rate_usd": None}, None, "paid_indicator_needs_rate"),
        (
            AscAddendumAA,
            AA,
            {"multiple_procedure_discounting": "maybe"},
            "multiple_procedure_discounting",
            "coerce_dtype",
        ),
        (AscAddendumFF, FF, {"device_offset_pct": "164.49"}, "device_offset_pct", "less_than_or_equal_to"),
        (AscAddendumFF, FF, {"apc": None}, None, "rate_needs_apc"),
    ],
)
def test_rules(model, good, changes, column, check_name) -> None:  # type: ignore[no-untyped-def]
    result = check(model, good, changes)
    assert result.valid.empty
    found = [
        (None if pd.isna(r.column) else r.column, str(r.check).split("(")[0]) for r in result.failures.itertuples()
    ]
    assert (column, check_name) in found


def test_packaged_indicator_needs_no_rate() -> None:
    assert check(
        AscAddendumAA, AA, {"payment_indicator": "N1", "payment_weight": None, "payment_rate_usd": None}
    ).failures.empty
