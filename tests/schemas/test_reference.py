"""Rules of the reference tables (payer aliases, codes of interest, geographies): passing and failing rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.reference import BillingCode, Geography, Hospital, PayerAlias

ALIAS = {"alias": "Aetna", "match_type": "prefix", "payer_group": "aetna", "notes": None, "source_record": "line 2"}
CODE = {
    "billing_code": "0440T",
    "code_type": "CPT",
    "code_category": "category_iii",
    "role": "target",
    "code_family": "peripheral nerve cryoablation",
    "label": "upper extremity",
    "notes": None,
    "source_record": "line 2",
}
HOSPITAL = {
    "hospital_name": "Example General Hospital (SYNTHETIC)",
    "state_abbrev": "TX",
    "web_root": "general-hospital.example",
    "source": "synthetic example row",
    "source_confidence": "not_found",
    "notes": None,
    "source_record": "line 2",
}
GEO = {
    "geo_fips": "01",
    "state_abbrev": "AL",
    "geo_name": "Alabama",
    "geo_type": "state",
    "notes": None,
    "source_record": "line 2",
}


def run(model, row):  # type: ignore[no-untyped-def]
    return DatasetValidator(model).check(pd.DataFrame([row], dtype=object), Path("ref.csv"))


@pytest.mark.parametrize(
    ("model", "base", "changes", "column", "check_prefix"),
    [
        (PayerAlias, ALIAS, {"match_type": "fuzzy"}, "match_type", "isin"),
        (PayerAlias, ALIAS, {"payer_group": "kaiser"}, "payer_group", "isin"),
        (PayerAlias, ALIAS, {"alias": "A"}, "alias", "str_length"),
        (BillingCode, CODE, {"billing_code": "440T"}, "billing_code", "str_matches"),
        (BillingCode, CODE, {"role": "sibling"}, "role", "isin"),
        (BillingCode, CODE, {"code_category": "category_iv"}, "code_category", "isin"),
        (BillingCode, CODE, {"label": None}, "label", "not_nullable"),
        (Geography, GEO, {"geo_fips": "1"}, "geo_fips", "str_matches"),
        (Geography, GEO, {"state_abbrev": "Ala"}, "state_abbrev", "str_matches"),
        (Geography, GEO, {"geo_type": "county"}, "geo_type", "isin"),
        (Hospital, HOSPITAL, {"web_root": "https://general-hospital.example/"}, "web_root", "str_matches"),
        (Hospital, HOSPITAL, {"web_root": "localhost"}, "web_root", "str_matches"),
        (Hospital, HOSPITAL, {"state_abbrev": "tx"}, "state_abbrev", "str_matches"),
        (Hospital, HOSPITAL, {"hospital_name": "A"}, "hospital_name", "str_length"),
        (Hospital, HOSPITAL, {"source": None}, "source", "not_nullable"),
        (Hospital, HOSPITAL, {"source_confidence": "sure"}, "source_confidence", "isin"),
    ],
)
def test_reference_rule_fails(model, base, changes, column, check_prefix) -> None:  # type: ignore[no-untyped-def]
    result = run(model, dict(base, **changes))
    assert result.valid.empty
    assert result.failures.iloc[0]["column"] == column
    assert str(result.failures.iloc[0]["check"]).startswith(check_prefix)


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (PayerAlias, ALIAS),
        (PayerAlias, dict(ALIAS, match_type="exact")),
        (BillingCode, CODE),
        (BillingCode, dict(CODE, billing_code="64640", role="comparator")),
        (Geography, GEO),
        (Geography, dict(GEO, geo_fips="72", state_abbrev="PR", geo_name="Puerto Rico", geo_type="territory")),
        (Hospital, HOSPITAL),
        (Hospital, dict(HOSPITAL, web_root="www.regional-medical.example", source_confidence="verified")),
    ],
)
def test_reference_rule_passes(model, row) -> None:  # type: ignore[no-untyped-def]
    assert len(run(model, row).valid) == 1
