"""schemas/tic.py: the NPI and place-of-service list rules (`_each_matches`), and the quarantine of
tic__in_network_rate rows when the validator's fast path (rules run once to find the failing rows,
Pandera validating only those) is used. All data here is synthetic."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.steps import validate
from flows.steps.validate import DatasetValidator
from schemas.tic import NPI_PATTERN, POS_PATTERN, InNetworkRate, _each_matches


def _as_before(values: list, pattern: str) -> list[bool]:
    """The rule element by element in Python: `re.fullmatch` on each element's text."""
    compiled = re.compile(pattern)
    return [not isinstance(v, list) or all(compiled.fullmatch(str(x)) for x in v) for v in values]


def _matches(values: list, pattern: str) -> list[bool]:
    return _each_matches(pd.Series(values, dtype=object), pattern).tolist()


GOOD = "1234567893"
TRICKY_NPIS = [
    [GOOD],
    [GOOD + "\n"],  # Python's `$` matches before a final newline, RE2's does not: neither is an NPI
    ["12345\n67890"],
    ["\n" + GOOD],
    [1234567893],  # an integer element: matched as its text
    [123],
    [1234567893.0],  # a float element: its text has ".0"
    [None],  # a null element: its text is "None"
    [GOOD, None],
    [Decimal("1234567893")],
    ["0"],
    ["00"],
    ["0123456789"],
    [" " + GOOD],
    ["١٢٣٤٥٦٧٨٩٣"],  # Arabic-Indic digits: [0-9] is ASCII only in both engines
    [],
    None,
    np.nan,
    "1234567893",  # a bare string, not a list: not this rule's concern
]


@pytest.mark.parametrize("pattern", [NPI_PATTERN, POS_PATTERN], ids=["npi", "place_of_service"])
def test_lists_are_matched_as_before(pattern: str) -> None:
    pos = [["11"], ["CSTM-00"], ["11\n"], ["1"], [11], ["11", "CSTM-01"], [None], [], None]
    values = TRICKY_NPIS + pos
    assert _matches(values, pattern) == _as_before(values, pattern)


def test_an_npi_ending_in_a_newline_fails() -> None:
    # The pattern ends in `$`, which re.match lets match before a final "\n": the rule once let "1234567893\n"
    # through. The whole text must be ten digits.
    assert re.match(NPI_PATTERN, GOOD + "\n") is not None
    assert _matches([[GOOD + "\n"], [GOOD + "\n", "12"], ["12345\n67890"], [GOOD]], NPI_PATTERN) == [
        False,
        False,
        False,
        True,
    ]


def test_integer_and_null_elements() -> None:
    assert _matches([[1234567893], [123], [GOOD, 1234567893], [None], [GOOD, None]], NPI_PATTERN) == [
        True,
        False,
        True,
        False,
        False,
    ]


def test_a_null_element_among_text_fails_its_list() -> None:
    # all text but one null: Arrow reads the null as null (no match result), the rule read its text "None"
    assert _matches([[GOOD], [None], [GOOD, None], ["0"]], NPI_PATTERN) == [True, False, False, True]
    assert _matches([["11"], ["11", None]], POS_PATTERN) == [True, False]


def test_rows_sharing_one_list_object_each_get_its_outcome() -> None:
    good, bad, empty = [GOOD, "0"], [GOOD, "12"], []
    values = [good, bad, good, empty, bad, [GOOD, "12"], None, good, [GOOD, "0"]]
    assert _matches(values, NPI_PATTERN) == [True, False, True, True, False, False, True, True, True]
    assert _matches(values, NPI_PATTERN) == _as_before(values, NPI_PATTERN)


def test_an_empty_list_passes_and_an_empty_batch_is_empty() -> None:
    assert _matches([[], [[]][0]], NPI_PATTERN) == [True, True]
    assert _matches([], NPI_PATTERN) == []
    out = _each_matches(pd.Series([[GOOD], ["x"]], index=[10, 20], dtype=object, name="npis"), NPI_PATTERN)
    assert out.index.tolist() == [10, 20] and out.name == "npis" and out.tolist() == [True, False]


# --- quarantine wording on tic__in_network_rate ---------------------------------------------------------


def _rate(**changes: object) -> dict:
    row = dict.fromkeys(InNetworkRate.to_schema().columns)
    row.update(
        reporting_entity_name="Synthetic Health Plan",
        payer_name="Synthetic Health Plan",
        payer_group="other",
        billing_code="0440T",
        negotiated_type="negotiated",
        negotiated_rate_usd="596.75",
        negotiated_rate_json_type="number",
        billing_class="professional",
        provider_group_status="inline",
        npis=[GOOD],
        npi_count=1,
        service_codes=["11"],
        expiration_date="9999-12-31",
    )
    row.update(changes)
    return row


def _rates() -> pd.DataFrame:
    """Good rows with one defect each, several rules failing on different rows (and two on one row)."""
    shared_bad = [GOOD, "123"]
    rows = [
        _rate(),
        _rate(payer_group="acme"),  # isin
        _rate(npis=shared_bad),  # custom rule, shared list object
        _rate(),
        _rate(billing_code="0440"),  # str_matches
        _rate(negotiated_percentage="50", negotiated_type="percentage"),  # frame rule: both kinds of rate
        _rate(negotiated_rate_json_type="string", npis=shared_bad),  # two rules on one row
        _rate(payer_name=None),  # not nullable
        _rate(negotiated_rate_usd="-1"),  # ge 0
        _rate(negotiated_rate_usd="abc"),  # does not coerce
        _rate(expiration_date="2024-02-30"),  # not a date
        _rate(negotiated_rate_usd="0"),  # advisory: zero rate
        _rate(service_codes=["1"]),  # advisory: place of service
        _rate(provider_group_status="unknown_reference", npis=None, npi_count=None),  # advisory: unresolved
        _rate(npis=[GOOD + "\n"]),  # not ten digits: a trailing newline
    ]
    frame = pd.DataFrame(rows)
    frame["source_record"] = [f"synthetic item {i}" for i in range(len(frame))]
    return frame


def _check(frame: pd.DataFrame) -> validate.Checked:
    return DatasetValidator(InNetworkRate).check(frame, Path("synthetic-in-network.json"))


def test_quarantine_and_advisories_are_those_of_validating_the_whole_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _rates()
    masks = []
    real = validate._failing_rows
    monkeypatch.setattr(validate, "_failing_rows", lambda s, f: masks.append(real(s, f)) or masks[-1])
    fast = _check(frame)
    assert masks and all(m is not None for m in masks)  # the fast path was taken, not the fallback
    monkeypatch.setattr(validate, "_failing_rows", lambda s, f: None)
    monkeypatch.setattr(validate, "_decimals", lambda dtype, values: None)
    whole = _check(frame)
    pd.testing.assert_frame_equal(fast.failures, whole.failures)
    pd.testing.assert_frame_equal(fast.advisories, whole.advisories)
    pd.testing.assert_frame_equal(fast.valid, whole.valid)


def test_quarantine_reasons_name_each_rule() -> None:
    result = _check(_rates())
    assert sorted(result.valid.index) == [0, 3, 11, 12, 13]
    found = sorted((row, check, reason) for row, _, check, _, reason in result.failures.itertuples(index=False))
    groups = "('aetna', 'bcbs', 'cigna', 'unitedhealthcare', 'medicare', 'other')"
    npi = "an NPI is not 10 digits (or the [0] placeholder)"
    assert found == [
        (1, "isin", f"payer_group must be one of {groups}"),
        (2, "npis_are_10_digit", npi),
        (4, "str_matches", "billing_code must be text matching '^(?:\\d{4}[0-9AFTUM]|[A-V]\\d{4})$'"),
        (5, "dollars_or_percentage_not_both", "a rate is either dollars or a percentage, never both"),
        (
            6,
            "negotiated_rate_is_a_number",
            "negotiated_rate is not a JSON number (e.g. written as a string); CMS requires a number",
        ),
        (6, "npis_are_10_digit", npi),
        (7, "not_nullable", "payer_name is required but blank"),
        (8, "greater_than_or_equal_to", "negotiated_rate_usd must be >= 0"),
        (9, "coerce_dtype('Decimal(18, 4)')", "negotiated_rate_usd: cannot read 'abc' as Decimal(18, 4)"),
        (10, "coerce_dtype('date')", "expiration_date: cannot read '2024-02-30' as date"),
        (14, "npis_are_10_digit", npi),
    ]
    values = {(row, column): value for row, column, _, value, _ in result.failures.itertuples(index=False)}
    assert values[(2, "npis")] == [GOOD, "123"] and values[(8, "negotiated_rate_usd")] == Decimal("-1.0000")
    advisories = sorted((row, check) for row, _, check, _, _ in result.advisories.itertuples(index=False))
    assert advisories == [(11, "zero_rate"), (12, "place_of_service_codes"), (13, "provider_unresolved")]


@pytest.mark.parametrize("pattern", [NPI_PATTERN, POS_PATTERN])
def test_list_rules_read_arrow_lists_as_they_read_python_lists(pattern: str) -> None:
    """The loader hands provider-group lists to `_each_matches` Arrow-backed: same outcome per cell, the
    newline case included (which the Arrow path leaves to Python's `fullmatch`)."""
    import pyarrow

    cells = [["1234567893"], None, [], ["12", "1234567893"], ["0"], ["01"], ["1234567893\n"], ["1", "CSTM-00"]]
    for cut in (len(cells), 6):  # with and without the newline
        part = cells[:cut]
        as_lists = pd.Series(np.fromiter(part, dtype=object, count=len(part)))
        as_arrow = pd.Series(pd.arrays.ArrowExtensionArray(pyarrow.array(part, pyarrow.list_(pyarrow.string()))))
        expected = _each_matches(as_lists, pattern).tolist()
        assert _each_matches(as_arrow, pattern).tolist() == expected
        assert not all(expected) and any(expected)
