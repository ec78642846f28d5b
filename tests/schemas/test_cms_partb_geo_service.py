"""Each rule of the Part B geography-and-service schemas: a row that passes it and a row that fails it."""

from __future__ import annotations

import decimal
from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.cms_partb_geo_service import PartbGeoService, PartbGeoServiceScope

GOOD = {
    "data_year": "2022",
    "geo_level": "national",
    "geo_code": None,
    "geo_name": "National",
    "billing_code": "64450",
    "hcpcs_description": "nerve block",
    "drug_indicator": "N",
    "place_of_service": "O",
    "rendering_provider_count": "100",
    "beneficiary_count": "500",
    "service_count": "900",
    "beneficiary_day_service_count": "700",
    "avg_submitted_charge_usd": "441.73",
    "avg_medicare_allowed_usd": "133.40",
    "avg_medicare_payment_usd": "105.39",
    "avg_medicare_standardized_usd": "142.26",
    "source_record": "line 2",
}
SCOPE = {
    "data_year": "2022",
    "year_source": "file name",
    "billing_code": "0440T",
    "rows_in_file": "5",
    "rows_kept": "4",
    "code_rows": "0",
    "source_record": "whole file",
}


def check(model=PartbGeoService, base=GOOD, **changes):  # type: ignore[no-untyped-def]
    return DatasetValidator(model).check(pd.DataFrame([dict(base, **changes)], dtype=object), Path("t.csv"))


def test_good_row_loads_with_exact_money() -> None:
    result = check()
    assert len(result.valid) == 1 and result.failures.empty and result.advisories.empty
    row = result.valid.iloc[0]
    assert row["avg_medicare_allowed_usd"] == decimal.Decimal("133.40") and row["data_year"] == 2022


@pytest.mark.parametrize(
    ("changes", "column", "check_prefix"),
    [
        ({"data_year": "1999"}, "data_year", "greater_than_or_equal_to"),
        ({"geo_level": "county"}, "geo_level", "isin"),
        ({"geo_name": None}, "geo_name", "not_nullable"),
        ({"geo_code": "4 8"}, "geo_code", "str_matches"),
        ({"billing_code": "440T"}, "billing_code", "str_matches"),
        ({"drug_indicator": "X"}, "drug_indicator", "isin"),
        ({"place_of_service": "H"}, "place_of_service", "isin"),
        ({"rendering_provider_count": "-1"}, "rendering_provider_count", "greater_than_or_equal_to"),
        ({"beneficiary_count": "-5"}, "beneficiary_count", "greater_than_or_equal_to"),
        ({"service_count": "-900"}, "service_count", "greater_than_or_equal_to"),
        ({"beneficiary_day_service_count": "-1"}, "beneficiary_day_service_count", "greater_than_or_equal_to"),
        ({"avg_medicare_payment_usd": "-1.00"}, "avg_medicare_payment_usd", "greater_than_or_equal_to"),
        ({"avg_submitted_charge_usd": "$441"}, "avg_submitted_charge_usd", "coerce_dtype"),
        ({"beneficiary_count": "12.5"}, "beneficiary_count", "coerce_dtype"),
        ({"avg_medicare_standardized_usd": None}, "avg_medicare_standardized_usd", "not_nullable"),
        ({"service_count": "400"}, None, "services_at_least_beneficiaries"),
        ({"geo_level": "state", "geo_code": None, "geo_name": "National"}, None, "state_row_names_its_state"),
    ],
)
def test_blocking_rule_quarantines(changes: dict, column: str | None, check_prefix: str) -> None:
    result = check(**changes)
    assert result.valid.empty
    found = [(None if pd.isna(c) else c, str(k)) for c, k in zip(result.failures["column"], result.failures["check"])]
    assert any(c == column and k.startswith(check_prefix) for c, k in found), found


@pytest.mark.parametrize(
    "changes",
    [
        {"geo_level": "state", "geo_code": "48", "geo_name": "Texas"},
        {"geo_level": "state", "geo_code": None, "geo_name": "Foreign Country"},
        {
            "drug_indicator": "Y",
            "billing_code": "J1100",
            "service_count": "12.5",
            "beneficiary_day_service_count": "12",
        },
        {"service_count": "500"},  # as many services as beneficiaries
        {
            "billing_code": "0440T",
            "beneficiary_count": "11",
            "service_count": "16",
            "beneficiary_day_service_count": "12",
        },
    ],
)
def test_rule_passes(changes: dict) -> None:
    result = check(**changes)
    assert len(result.valid) == 1, result.failures


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        (
            {"beneficiary_count": "10", "service_count": "12", "beneficiary_day_service_count": "11"},
            "published_cell_below_threshold",
        ),
        ({"beneficiary_day_service_count": "950"}, "beneficiary_days_between_beneficiaries_and_services"),
        ({"avg_medicare_payment_usd": "140.00"}, "payment_within_allowed"),
    ],
)
def test_advisory_rule_reports_but_loads(changes: dict, rule: str) -> None:
    result = check(**changes)
    assert len(result.valid) == 1 and result.failures.empty
    assert rule in set(result.advisories["check"]), result.advisories


@pytest.mark.parametrize(
    ("changes", "column", "check_prefix"),
    [
        ({"year_source": "guess"}, "year_source", "isin"),
        ({"billing_code": "0440"}, "billing_code", "str_matches"),
        ({"code_rows": "-1"}, "code_rows", "greater_than_or_equal_to"),
    ],
)
def test_scope_rules(changes: dict, column: str, check_prefix: str) -> None:
    assert len(check(PartbGeoServiceScope, SCOPE).valid) == 1
    result = check(PartbGeoServiceScope, SCOPE, **changes)
    assert result.valid.empty and str(result.failures.iloc[0]["check"]).startswith(check_prefix)
    assert result.failures.iloc[0]["column"] == column


def test_unique_key_is_year_geography_code_and_place() -> None:
    validator = DatasetValidator(PartbGeoService)
    first = validator.check(pd.DataFrame([GOOD], dtype=object), Path("t.csv"))
    again = validator.check(pd.DataFrame([dict(GOOD, source_record="line 9")], dtype=object), Path("t.csv"))
    other = validator.check(
        pd.DataFrame([dict(GOOD, source_record="line 10", place_of_service="F")], dtype=object), Path("t.csv")
    )
    assert len(first.valid) == 1 and len(other.valid) == 1 and again.valid.empty
    assert again.failures.iloc[0]["check"] == "unique_key (first seen at line 2)"
