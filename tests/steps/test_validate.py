"""Validation mechanics shared by every schema: money as decimal, booleans from text, Parquet types."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pytest
from pandera.api.function_dispatch import Dispatcher
from pandera.errors import ParserError, SchemaErrors
from pandera.typing import Series

from flows.sources.base import FileRejected
from flows.steps import validate
from flows.steps.load import LINEAGE_FIELDS
from flows.steps.store import frame_to_table
from flows.steps.validate import DatasetValidator
from schemas.fields import IsoDate, UsdAmount


class Priced(pa.DataFrameModel):
    """One row per code: a test model with money and a flag."""

    billing_code: Series[str]
    payment_usd: Series[UsdAmount] = pa.Field(ge=0, nullable=True)
    is_device_intensive: Series[bool] = pa.Field(nullable=True)

    class Config:
        name = "test__priced"
        coerce = True


def test_money_is_exact_decimal_through_to_parquet() -> None:
    frame = pd.DataFrame(
        {
            "billing_code": ["0440T", "0441T", "0442T", "64640"],
            "payment_usd": ["1475.61", "-1", "1,4x5.61", None],
            "is_device_intensive": ["Y", "no", "maybe", None],
            "source_record": ["line 2", "line 3", "line 4", "line 5"],
        },
        dtype="str",
    )
    validator = DatasetValidator(Priced)
    result = validator.check(frame, Path("x.csv"))
    assert list(result.valid["billing_code"]) == ["0440T", "64640"]
    assert result.valid.iloc[0]["payment_usd"] == decimal.Decimal("1475.6100")
    failures = {(r.column, r.check.split("(")[0]) for r in result.failures.itertuples()}
    assert failures == {
        ("payment_usd", "greater_than_or_equal_to"),
        ("payment_usd", "coerce_dtype"),
        ("is_device_intensive", "coerce_dtype"),
    }
    schema = pa_arrow.schema(validator.arrow_fields + LINEAGE_FIELDS)
    assert schema.field("payment_usd").type == pa_arrow.decimal128(18, 4)
    table = frame_to_table(result.valid, schema)
    assert table.column("payment_usd").to_pylist() == [decimal.Decimal("1475.6100"), None]
    assert table.column("is_device_intensive").to_pylist() == [True, None]


# --- the fast path (rules run once to find failing rows; Pandera then validates only those) ---------------
# Each test below compares the fast path with the path it replaced: `_failing_rows` returning None makes
# Pandera validate the whole batch (the old path), `_decimals` returning None makes `_try_coerce` coerce
# the column (the old path). Data here is synthetic.


def _old_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "_failing_rows", lambda schema, frame: None)
    monkeypatch.setattr(validate, "_decimals", lambda dtype, values: None)


def _outcome(validator_of: type[pa.DataFrameModel], frame: pd.DataFrame) -> tuple[list, list, list]:
    """(valid rows, failures, advisories) of one batch as plain lists (reprs keep True apart from 1)."""
    result = DatasetValidator(validator_of).check(frame, Path("synthetic.csv"))
    valid = [[repr(v) for v in row] for row in result.valid.reset_index().itertuples(index=False)]
    failures = [[repr(v) for v in row] for row in result.failures.itertuples(index=False)]
    advisories = [[repr(v) for v in row] for row in result.advisories.itertuples(index=False)]
    return valid, failures, advisories


class OneBool(pa.DataFrameModel):
    """A rule whose outcome is one bool for the whole column, not one per row."""

    code: Series[str]

    class Config:
        name = "test__one_bool"

    @pa.check("code", name="codes_are_short", error="every code is under 6 characters")
    def codes_are_short(cls, values: Series[str]) -> bool:
        return bool(values.str.len().max() < 6)


class Raises(pa.DataFrameModel):
    """A rule that raises on one value."""

    code: Series[str]

    class Config:
        name = "test__raises"

    @pa.check("code", name="code_is_known", error="a code is known")
    def code_is_known(cls, values: Series[str]) -> Series[bool]:
        return values.map(lambda v: {"0440T": True, "0441T": True}[v])  # KeyError on any other code


def _reject_message(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> str:
    with pytest.raises(FileRejected) as caught:
        DatasetValidator(model).check(frame, Path("synthetic.csv"))
    return str(caught.value)


def test_a_rule_returning_one_false_rejects_the_file_as_the_whole_batch_path_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = pd.DataFrame({"code": ["0440T", "0441T-too-long", "0442T"]})
    fast = _reject_message(OneBool, frame)
    assert fast == (
        "synthetic.csv: schema rule every code is under 6 characters failed for column 'code': False; "
        "expected the test__one_bool layout"
    )
    _old_path(monkeypatch)
    assert _reject_message(OneBool, frame) == fast


def test_a_rule_returning_one_true_passes_every_row() -> None:
    valid, failures, _ = _outcome(OneBool, pd.DataFrame({"code": ["0440T", "0441T"]}))
    assert [row[1] for row in valid] == ["'0440T'", "'0441T'"] and failures == []


def test_a_rule_that_raises_rejects_the_file_as_the_whole_batch_path_did(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"code": ["0440T", "99213", "0441T"]})
    fast = _reject_message(Raises, frame)
    assert fast == (
        "synthetic.csv: schema rule a code is known failed for column 'code': KeyError(\"99213\"); "
        "expected the test__raises layout"
    )
    _old_path(monkeypatch)
    assert _reject_message(Raises, frame) == fast


def test_a_batch_whose_index_repeats_is_validated_whole() -> None:
    schema = pa.DataFrameSchema({"n": pa.Column(checks=pa.Check.ge(0))})
    frame = pd.DataFrame({"n": [1, -1, 2, -3]}, index=[0, 0, 1, 1])
    assert validate._failing_rows(schema, frame) is None
    with pytest.raises(SchemaErrors) as caught:
        schema.validate(frame, lazy=True)
    pd.testing.assert_frame_equal(validate._failure_cases(schema, frame), caught.value.failure_cases)


def test_a_files_first_batch_takes_the_fast_path_with_built_in_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # In a new process the validator's deep copy of a built-in rule holds a dispatcher copied before
    # Pandera registered its pandas functions (an empty one, as here); Pandera's own call refreshes it,
    # so only a file's first batch showed it: that batch fell back to validating the whole batch.
    validator = DatasetValidator(Money)
    ge = validator.blocking.columns["payment_usd"].checks[0]
    stale = Dispatcher()
    stale._name = ge._check_fn.__name__
    ge._check_fn = stale
    masks = []
    real = validate._failing_rows
    monkeypatch.setattr(validate, "_failing_rows", lambda s, f: masks.append(real(s, f)) or masks[-1])
    frame = pd.DataFrame({"payment_usd": ["1", "-1", None]})
    result = validator.check(frame, Path("synthetic.csv"))
    assert list(result.failures["row"]) == [1]
    assert len(masks) == 1 and masks[0].tolist() == [False, True, False]


class Money(pa.DataFrameModel):
    """One money column (coerced to Decimal(18, 4)), rule ge 0."""

    payment_usd: Series[UsdAmount] = pa.Field(ge=0, nullable=True)

    class Config:
        name = "test__money"
        coerce = True


# True == 1 == Decimal(1) == 1.0 and -0.0 == 0.0, yet True does not coerce and -0.0 keeps its sign:
# a cache keyed on `==` would hand True the 1's Decimal, or 0.0's sign to -0.0.
MIXED = [1, True, Decimal("1"), 1.0, 0.0, -0.0, "1.50", "abc", None, -0.0, True, 1]


@pytest.mark.parametrize(
    "values",
    [MIXED, [v for v in MIXED if v != "abc"], [v for v in MIXED if v is not True and v != "abc"]],
    ids=["with_abc", "true_after_1", "all_coerce"],
)
def test_decimals_coerced_once_per_value_match_coercing_the_column(
    values: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.DataFrame({"payment_usd": pd.Series(values, dtype=object)})
    fast = _outcome(Money, frame)
    _old_path(monkeypatch)
    assert fast == _outcome(Money, frame)
    expected_bad = [i for i, v in enumerate(values) if v is True or v == "abc"]
    valid, failures, _ = fast
    assert [row[0] for row in failures] == [repr(i) for i in expected_bad]
    assert {row[4] for row in failures} <= {
        "'payment_usd: cannot read True as Decimal(18, 4)'",
        "\"payment_usd: cannot read 'abc' as Decimal(18, 4)\"",
    }
    coerced = {
        (int, "1"): "Decimal('1.0000')",
        (Decimal, "Decimal('1')"): "Decimal('1.0000')",
        (float, "1.0"): "Decimal('1.0000')",
        (float, "0.0"): "Decimal('0.0000')",
        (float, "-0.0"): "Decimal('-0.0000')",
        (str, "'1.50'"): "Decimal('1.5000')",
        (type(None), "None"): "<NA>",
    }
    assert [row[1] for row in valid] == [
        coerced[(type(v), repr(v))] for i, v in enumerate(values) if i not in expected_bad
    ]


def test_decimals_fast_values_are_those_of_try_coerce() -> None:
    dtype = DatasetValidator(Money).columns["payment_usd"].dtype
    values = pd.Series([0.0, -0.0, Decimal("-0"), 1, 1.0, Decimal("1.00005"), "1e3", 2.5, None, -0.0], dtype=object)
    fast = validate._decimals(dtype, values)
    coerced, bad = validate._try_coerce(dtype, values)
    assert bad == [] and [repr(v) for v in fast] == [repr(v) for v in coerced]
    assert validate._decimals(dtype, pd.Series([1, True], dtype=object)) is None  # True: Pandera decides
    # a Decimal too large for its precision does not coerce: Pandera decides (and words the failure)
    assert validate._decimals(dtype, pd.Series([Decimal("2.5"), Decimal("1E+20")], dtype=object)) is None
    with pytest.raises(ParserError):
        dtype.try_coerce(pd.Series([Decimal("1E+20")], dtype=object))


class Dated(pa.DataFrameModel):
    """One date column, ISO text."""

    effective_date: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "test__dated"
        coerce = True


def test_dates_repeated_values_are_each_parsed() -> None:
    values = ["2024-01-02", "9999-12-31", None, "2024-01-02", " 2024-01-02 ", "9999-12-31"]
    valid, failures, _ = _outcome(Dated, pd.DataFrame({"effective_date": pd.Series(values, dtype=object)}))
    assert failures == []
    assert [row[1] for row in valid] == [
        "datetime.date(2024, 1, 2)",
        "datetime.date(9999, 12, 31)",
        "None",
        "datetime.date(2024, 1, 2)",
        "datetime.date(2024, 1, 2)",
        "datetime.date(9999, 12, 31)",
    ]


def test_a_bad_date_among_repeats_fails_its_row_alone() -> None:
    values = ["2024-01-02", "2024-13-01", "2024-01-02", None, "2024-13-01"]
    valid, failures, _ = _outcome(Dated, pd.DataFrame({"effective_date": pd.Series(values, dtype=object)}))
    assert [row[0] for row in valid] == ["0", "2", "3"]
    assert [row[1] for row in valid] == ["datetime.date(2024, 1, 2)", "datetime.date(2024, 1, 2)", "None"]
    assert [(row[0], row[4]) for row in failures] == [
        ("1", "\"effective_date: cannot read '2024-13-01' as date\""),
        ("4", "\"effective_date: cannot read '2024-13-01' as date\""),
    ]


@pytest.mark.parametrize("bad", [None, "2024-02-30"])
def test_dates_under_a_repeating_index_are_placed_by_position(bad: str | None) -> None:
    texts = ["2024-01-02", bad, None, "2024-03-04"]
    repeated, _ = validate._text_to_date(pd.Series(texts, index=[5, 5, 6, 6], dtype=object), "%Y-%m-%d")
    unique, _ = validate._text_to_date(pd.Series(texts, index=[0, 1, 2, 3], dtype=object), "%Y-%m-%d")
    assert list(repeated) == list(unique) == [dt.date(2024, 1, 2), None, None, dt.date(2024, 3, 4)]
    _, bad_labels = validate._text_to_date(pd.Series(texts, index=[5, 5, 6, 6], dtype=object), "%Y-%m-%d")
    assert bad_labels == ([] if bad is None else [5])


class Leveled(pa.DataFrameModel):
    """One row per code and price: a test model whose rules read one level each, or two (`priced_code`)."""

    billing_code: Series[str] = pa.Field(str_matches=r"^[0-9]{4}[0-9A-Z]$")
    code_count: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    payment_usd: Series[UsdAmount] = pa.Field(ge=0, nullable=True)
    paid_on: Series[IsoDate] = pa.Field(nullable=True)
    note: Series[str] = pa.Field(nullable=True, isin=["ok"], raise_warning=True)

    class Config:
        name = "test__leveled"
        coerce = True

    @pa.dataframe_check(name="free_only_for_0440T", error="a free price is for 0440T only")
    def free(cls, df: pd.DataFrame) -> Series[bool]:
        return df["payment_usd"].isna() | (df["payment_usd"].astype(object) != 0)


def _leveled():  # type: ignore[no-untyped-def]
    from flows.sources.base import Level, Levels

    codes = pa_arrow.table(
        {"billing_code": pa_arrow.array(["0440T", "BAD", None]), "code_count": pa_arrow.array([1, None, -2])}
    )
    prices = pd.DataFrame(
        {
            "payment_usd": [Decimal("1.5"), Decimal("-1"), "x", 0, None],
            "paid_on": ["2025-01-01", "2025-13-01", None, "2025-02-02", "2025-02-03"],
            "note": ["ok", "hmm", None, "ok", "no"],
        },
        dtype=object,
    )
    at_code = np.array([0, 0, 1, 2, 0, 0, 1, 0, 2, 0], dtype=np.intp)
    at_price = np.array([0, 1, 2, 3, 4, 3, 0, 0, 4, 2], dtype=np.intp)
    records = np.array([f"$[{i}]" for i in range(10)], dtype=object)
    return Levels([Level(codes, at_code, key="codes"), Level(prices, at_price)], records)


def test_check_levels_finds_what_check_finds_on_the_rows() -> None:
    """The level path (each entry coerced and checked once, the flagged rows validated as `check` does)
    gives `check`'s failures, advisories and valid rows, and the valid rows' typed values."""
    model = Leveled
    rows = _leveled()
    whole = DatasetValidator(model).check(rows.frame(), Path("f.json"))
    by_levels = DatasetValidator(model).check_levels(rows, Path("f.json"))
    assert {"str_matches", "not_nullable", "greater_than_or_equal_to", "free_only_for_0440T"} <= set(
        whole.failures["check"]
    )
    assert any(c.startswith("coerce_dtype") for c in whole.failures["check"]) and len(whole.advisories)
    pd.testing.assert_frame_equal(by_levels.failures, whole.failures, check_dtype=False)
    pd.testing.assert_frame_equal(by_levels.advisories, whole.advisories, check_dtype=False)
    assert by_levels.valid.tolist() == whole.valid.index.tolist() and len(by_levels.valid)
    fields = pa_arrow.schema(DatasetValidator(model).arrow_fields)
    expected = frame_to_table(whole.valid, fields)
    for name in fields.names:
        values, at = by_levels.typed[name]
        assert values.take(pa_arrow.array(at[by_levels.valid])).to_pylist() == expected.column(name).to_pylist()


def test_check_levels_takes_the_whole_batch_when_a_rule_reads_two_levels() -> None:
    class Across(Leveled):
        @pa.dataframe_check(name="code_priced", error="0440T needs a price")
        def code_priced(cls, df: pd.DataFrame) -> Series[bool]:
            return (df["billing_code"] != "0440T") | df["payment_usd"].notna()

    rows = _leveled()
    whole = DatasetValidator(Across).check(rows.frame(), Path("f.json"))
    by_levels = DatasetValidator(Across).check_levels(rows, Path("f.json"))
    pd.testing.assert_frame_equal(by_levels.failures, whole.failures, check_dtype=False)
    assert "code_priced" in set(whole.failures["check"])
    assert by_levels.valid.tolist() == whole.valid.index.tolist()
