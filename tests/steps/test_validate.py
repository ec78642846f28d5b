"""Validation mechanics shared by every schema: money as decimal, booleans from text, Parquet types."""

from __future__ import annotations

import decimal
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from pandera.typing import Series

from flows.steps.load import LINEAGE_FIELDS
from flows.steps.store import frame_to_table
from flows.steps.validate import DatasetValidator
from schemas.fields import UsdAmount


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
