"""Each rule of the hospital__standard_charge and hospital__file schemas: a passing and a failing row."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.hospital_mrf import HospitalFile, HospitalStandardCharge

PATH = Path("hospital.csv")
PAYER_ROW = {
    "billing_code": "0440T",
    "billing_code_type": "CPT",
    "other_codes": "RC:0360",
    "description": "Cryoablation",
    "setting": "outpatient",
    "modifiers": None,
    "drug_unit_of_measurement": None,
    "drug_type_of_measurement": None,
    "charge_scope": "payer_specific",
    "payer_name": "Aetna",
    "payer_group": "aetna",
    "plan_name": "Choice POS II",
    "plan_type": None,
    "negotiated_dollar_usd": "4200.50",
    "negotiated_percent": None,
    "negotiated_algorithm": None,
    "negotiated_type": "dollar",
    "negotiated_dollar_reason": None,
    "estimated_amount_usd": None,
    "median_amount_usd": None,
    "percentile_10th_usd": None,
    "percentile_90th_usd": None,
    "allowed_amount_count": None,
    "allowed_amounts_reason": "not_published",
    "methodology": "fee_schedule",
    "gross_charge_usd": None,
    "discounted_cash_usd": None,
    "minimum_usd": None,
    "maximum_usd": None,
    "charges_missing": None,
    "additional_notes": None,
    "source_record": "line 5",
}
ITEM_ROW = dict(
    PAYER_ROW,
    charge_scope="payer_independent",
    payer_name=None,
    payer_group=None,
    plan_name=None,
    negotiated_dollar_usd=None,
    negotiated_type=None,
    negotiated_dollar_reason="not_payer_specific",
    allowed_amounts_reason="not_payer_specific",
    methodology=None,
    gross_charge_usd="16000",
    discounted_cash_usd="3000",
    minimum_usd="1800",
    maximum_usd="6500",
)
FILE_ROW = {
    "hospital_name": "Fixture Hospital",
    "location_name": "Fixture Hospital",
    "hospital_address": "1 Test Way",
    "license_number": "T-1",
    "license_state": "TX",
    "type_2_npi": "0000000009",
    "last_updated_on": "2026-06-30",
    "last_updated_on_as_written": "6/30/2026",
    "template_version": "3.0.0",
    "template_generation": "v3",
    "file_layout": "csv_tall",
    "attestation_confirmed": "true",
    "attester_name": "Test Attester",
    "general_contract_provisions": None,
    "ignored_columns": None,
    "source_record": "line 2",
}


def check(model, base: dict[str, object], **changes: object):  # type: ignore[no-untyped-def]
    return DatasetValidator(model).check(pd.DataFrame([dict(base, **changes)], dtype=object), PATH)


def failed(result) -> list[tuple[object, str]]:  # type: ignore[no-untyped-def]
    return sorted(
        ((None if pd.isna(c) else c, str(k)) for c, k in zip(result.failures["column"], result.failures["check"])),
        key=str,
    )


def advised(result) -> list[tuple[object, str]]:  # type: ignore[no-untyped-def]
    return sorted(
        ((None if pd.isna(c) else c, str(k)) for c, k in zip(result.advisories["column"], result.advisories["check"])),
        key=str,
    )


@pytest.mark.parametrize("base", [PAYER_ROW, ITEM_ROW], ids=["payer_specific", "payer_independent"])
def test_good_rows_load_typed(base: dict[str, object]) -> None:
    result = check(HospitalStandardCharge, base)
    assert len(result.valid) == 1 and result.failures.empty and result.advisories.empty
    row = result.valid.iloc[0]
    money = row["negotiated_dollar_usd"] if base is PAYER_ROW else row["gross_charge_usd"]
    assert isinstance(money, Decimal)


@pytest.mark.parametrize(
    ("base", "changes", "expected"),
    [
        (PAYER_ROW, {"billing_code": "440T"}, [("billing_code", "str_matches")]),
        (PAYER_ROW, {"billing_code_type": "CTP"}, [("billing_code_type", "isin")]),
        (PAYER_ROW, {"setting": "clinic"}, [("setting", "isin")]),
        (PAYER_ROW, {"setting": None}, [("setting", "not_nullable")]),
        (PAYER_ROW, {"charge_scope": "both"}, [("charge_scope", "isin")]),
        (PAYER_ROW, {"payer_group": "kaiser"}, [("payer_group", "isin")]),
        (PAYER_ROW, {"plan_type": "ppo"}, [("plan_type", "isin")]),
        (PAYER_ROW, {"negotiated_dollar_usd": "-1250.00"}, [("negotiated_dollar_usd", "greater_than")]),
        (PAYER_ROW, {"negotiated_dollar_usd": "0"}, [("negotiated_dollar_usd", "greater_than")]),
        (PAYER_ROW, {"negotiated_dollar_usd": "call for price"}, [("negotiated_dollar_usd", "coerce_dtype")]),
        (PAYER_ROW, {"negotiated_dollar_usd": "999999999"}, [("negotiated_dollar_usd", "placeholder_amount")]),
        (PAYER_ROW, {"negotiated_percent": "999999999.00"}, [("negotiated_percent", "placeholder_amount")]),
        (PAYER_ROW, {"negotiated_percent": "-5"}, [("negotiated_percent", "greater_than")]),
        (ITEM_ROW, {"gross_charge_usd": "999999999"}, [("gross_charge_usd", "placeholder_amount")]),
        (ITEM_ROW, {"discounted_cash_usd": "0"}, [("discounted_cash_usd", "greater_than")]),
        (ITEM_ROW, {"minimum_usd": "999999999"}, [("minimum_usd", "placeholder_amount")]),
        (PAYER_ROW, {"median_amount_usd": "-1"}, [("median_amount_usd", "greater_than")]),
        (PAYER_ROW, {"negotiated_type": "bundle"}, [("negotiated_type", "isin")]),
        (PAYER_ROW, {"negotiated_dollar_reason": "unknown"}, [("negotiated_dollar_reason", "isin")]),
        (PAYER_ROW, {"allowed_amounts_reason": "zero"}, [("allowed_amounts_reason", "isin")]),
        (PAYER_ROW, {"payer_name": None}, [(None, "payer_row_names_payer")]),
        (
            PAYER_ROW,
            {"negotiated_dollar_usd": None, "negotiated_type": None, "negotiated_dollar_reason": "not_published"},
            [(None, "payer_row_has_negotiated_charge")],
        ),
    ],
)
def test_blocking_rules(
    base: dict[str, object], changes: dict[str, object], expected: list[tuple[object, str]]
) -> None:
    result = check(HospitalStandardCharge, base, **changes)
    assert result.valid.empty
    assert [
        (c, k.split("(")[0] if k.startswith(("greater_than", "coerce_dtype")) else k) for c, k in failed(result)
    ] == expected


@pytest.mark.parametrize(
    ("base", "changes", "expected"),
    [
        (PAYER_ROW, {"methodology": "capitation"}, [("methodology", "methodology_in_cms_list")]),
        (
            PAYER_ROW,
            {
                "negotiated_percent": "1475.61",
                "negotiated_dollar_usd": None,
                "negotiated_type": "percentage",
                "negotiated_dollar_reason": "expressed_as_percentage",
            },
            [("negotiated_percent", "percent_looks_like_dollars")],
        ),
        (PAYER_ROW, {"allowed_amount_count": "about 20"}, [("allowed_amount_count", "allowed_amount_count_format")]),
        (
            PAYER_ROW,
            {"allowed_amounts_reason": "placeholder_999999999"},
            [("allowed_amounts_reason", "allowed_amount_placeholder")],
        ),
        (PAYER_ROW, {"plan_name": None}, [(None, "payer_row_names_plan")]),
        (PAYER_ROW, {"methodology": None}, [(None, "payer_row_has_methodology")]),
        (PAYER_ROW, {"methodology": "other"}, [(None, "other_methodology_explained")]),
        (ITEM_ROW, {"minimum_usd": "7000"}, [(None, "minimum_not_above_maximum")]),
        (ITEM_ROW, {"description": None}, [(None, "description_present")]),
    ],
)
def test_advisory_rules_load_the_row(
    base: dict[str, object], changes: dict[str, object], expected: list[tuple[object, str]]
) -> None:
    result = check(HospitalStandardCharge, base, **changes)
    assert len(result.valid) == 1 and result.failures.empty
    assert advised(result) == expected


def test_passing_values_for_the_advisories() -> None:
    for changes in (
        {"allowed_amount_count": "1 through 10"},
        {"allowed_amount_count": "0"},
        {"methodology": "other", "additional_notes": "see algorithm"},
        {"negotiated_percent": "150"},
    ):
        assert check(HospitalStandardCharge, PAYER_ROW, **changes).advisories.empty, changes


def test_file_row_loads_typed() -> None:
    result = check(HospitalFile, FILE_ROW)
    assert len(result.valid) == 1 and result.failures.empty and result.advisories.empty
    assert bool(result.valid.iloc[0]["attestation_confirmed"]) is True
    assert str(result.valid.iloc[0]["last_updated_on"]) == "2026-06-30"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"hospital_name": ""}, [("hospital_name", "str_length")]),
        ({"hospital_name": None}, [("hospital_name", "not_nullable")]),
        ({"template_generation": "v4"}, [("template_generation", "isin")]),
        ({"file_layout": "xlsx"}, [("file_layout", "isin")]),
        ({"last_updated_on": "2026-02-30"}, [("last_updated_on", "coerce_dtype")]),
        ({"attestation_confirmed": "attested"}, [("attestation_confirmed", "coerce_dtype")]),
    ],
)
def test_file_blocking_rules(changes: dict[str, object], expected: list[tuple[object, str]]) -> None:
    result = check(HospitalFile, FILE_ROW, **changes)
    assert [(c, k.split("(")[0]) for c, k in failed(result)] == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"attestation_confirmed": "false"}, [("attestation_confirmed", "attestation_confirmed")]),
        ({"attestation_confirmed": None}, [("attestation_confirmed", "attestation_confirmed")]),
        ({"last_updated_on": None}, [(None, "last_updated_on_readable")]),
        ({"template_version": "2.0", "template_generation": "v2"}, [("template_version", "template_version_known")]),
        ({"template_version": None}, [("template_version", "template_version_known")]),
        ({"template_version": "2.0.0"}, [(None, "template_version_matches_structure")]),
    ],
)
def test_file_advisories_flag_but_load(changes: dict[str, object], expected: list[tuple[object, str]]) -> None:
    result = check(HospitalFile, FILE_ROW, **changes)
    assert len(result.valid) == 1 and result.failures.empty
    assert advised(result) == expected
