"""Each rule of the payer__policy schema: a row that passes it and a row that fails it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.payer_policy import PayerPolicy

GOOD = {
    "payer_name": "Aetna",
    "payer_group": "aetna",
    "plan_type": "commercial",
    "policy_id": "CPB 0297",
    "policy_title": "Cryoanalgesia and Therapeutic Cold",
    "policy_url": "http://es.aetna.com/cpb/medical/data/200_299/0297.html",
    "billing_code": "0440T",
    "code_type": "CPT",
    "coverage_status": "experimental_investigational",
    "prior_authorization": "unknown",
    "effective_date": "2024-01-01",
    "last_reviewed_date": "2024-05-09",
    "retrieved_date": "2026-11-26",
    "evidence": "Cryoneurolysis ... is experimental and investigational",
    "source_confidence": "verified",
    "notes": None,
    "source_record": "line 2",
}
PATH = Path("test.csv")


def check(**changes: object):
    row = dict(GOOD, **changes)
    return DatasetValidator(PayerPolicy).check(pd.DataFrame([row], dtype=object), PATH)


def test_good_row_loads_typed() -> None:
    result = check()
    assert len(result.valid) == 1 and result.failures.empty and result.advisories.empty
    assert str(result.valid.iloc[0]["retrieved_date"]) == "2026-11-26"


@pytest.mark.parametrize(
    ("changes", "column", "check_prefix"),
    [
        ({"billing_code": "440T"}, "billing_code", "str_matches"),
        ({"billing_code": "0440"}, "billing_code", "str_matches"),
        ({"billing_code": "04400T"}, "billing_code", "str_matches"),
        ({"payer_name": None}, "payer_name", "not_nullable"),
        ({"payer_name": "A"}, "payer_name", "str_length"),
        ({"payer_group": "kaiser"}, "payer_group", "isin"),
        ({"plan_type": "ppo"}, "plan_type", "isin"),
        ({"code_type": "ICD10"}, "code_type", "isin"),
        ({"coverage_status": "maybe_covered"}, "coverage_status", "isin"),
        ({"prior_authorization": "sometimes"}, "prior_authorization", "isin"),
        ({"source_confidence": "likely"}, "source_confidence", "isin"),
        ({"policy_url": "www.aetna.com/cpb"}, "policy_url", "str_matches"),
        ({"effective_date": "2024-13-45"}, "effective_date", "coerce_dtype"),
        ({"effective_date": "2024-02-30"}, "effective_date", "coerce_dtype"),
        ({"last_reviewed_date": "May 2024"}, "last_reviewed_date", "coerce_dtype"),
        ({"retrieved_date": None}, "retrieved_date", "not_nullable"),
        ({"policy_id": None}, None, "stance_needs_policy_id"),
        ({"policy_url": None}, None, "stance_needs_policy_url"),
        ({"last_reviewed_date": "2026-12-01"}, None, "reviewed_before_retrieved"),
    ],
)
def test_blocking_rule_quarantines(changes: dict, column: str | None, check_prefix: str) -> None:
    result = check(**changes)
    assert result.valid.empty
    failure = result.failures.iloc[0]
    assert str(failure["check"]).startswith(check_prefix), result.failures
    if column is not None:
        assert failure["column"] == column


@pytest.mark.parametrize(
    "changes",
    [
        {"billing_code": "64640"},
        {"billing_code": "J1234"},
        {
            "policy_id": None,
            "policy_title": None,
            "policy_url": None,
            "coverage_status": "no_policy_found",
            "source_confidence": "not_found",
        },
        {"effective_date": None, "last_reviewed_date": None},
        {"last_reviewed_date": "2026-11-26"},
        {"effective_date": "9999-12-31"},  # 'no end' sentinel: beyond pandas' nanosecond range, still a date
        {"plan_type": "medicare_advantage"},
    ],
)
def test_rule_passes(changes: dict) -> None:
    result = check(**changes)
    assert len(result.valid) == 1, result.failures


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"effective_date": "2027-01-01"}, "effective_after_retrieved"),
        ({"source_confidence": "not_found"}, "stance_without_evidence"),
    ],
)
def test_advisory_rule_reports_but_loads(changes: dict, rule: str) -> None:
    result = check(**changes)
    assert len(result.valid) == 1 and result.failures.empty
    assert rule in set(result.advisories["check"]), result.advisories
    assert result.advisories["reason"].str.len().min() > 10  # the human message travels with it


def test_unique_key_enforced_across_batches() -> None:
    validator = DatasetValidator(PayerPolicy)
    first = validator.check(pd.DataFrame([GOOD], dtype=object), PATH)
    again = validator.check(pd.DataFrame([dict(GOOD, source_record="line 9", evidence="other")], dtype=object), PATH)
    other = validator.check(
        pd.DataFrame([dict(GOOD, source_record="line 10", billing_code="0441T")], dtype=object), PATH
    )
    assert len(first.valid) == 1 and len(other.valid) == 1
    assert again.valid.empty
    assert again.failures.iloc[0]["check"] == "unique_key (first seen at line 2)"
    assert again.failures.iloc[0]["reason"].startswith("duplicate of the row at line 2")


def test_one_bad_value_does_not_condemn_the_column() -> None:
    rows = [
        dict(GOOD, source_record=f"line {i}", billing_code=code)
        for i, code in enumerate(["0440T", "0441T", "0442T"], 2)
    ]
    rows[1]["effective_date"] = "not a date"
    result = DatasetValidator(PayerPolicy).check(pd.DataFrame(rows, dtype=object), PATH)
    assert list(result.valid["billing_code"]) == ["0440T", "0442T"]
    assert list(result.failures["row"]) == [1]


def test_every_failing_column_of_a_row_is_reported() -> None:
    result = check(payer_name=None, billing_code=None, retrieved_date=None)
    assert result.valid.empty
    assert set(result.failures["column"]) == {"payer_name", "billing_code", "retrieved_date"}
