"""schemas/fields.py `column_names` and schemas/__init__.py's Dask guard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandera.pandas as pa
import pytest
from pandera.typing import Series

from flows.catalog import SCHEMAS
from schemas.fields import column_names

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("dataset", sorted(SCHEMAS))
def test_column_names_match_the_built_schema(dataset: str) -> None:
    model = SCHEMAS[dataset]
    assert column_names(model) == list(model.to_schema().columns)


class _Base(pa.DataFrameModel):
    first: Series[str]
    second: Series[int] = pa.Field(alias="second column")


class _Child(_Base):
    third: Series[str]
    first: Series[str] = pa.Field(nullable=True)  # redeclared: keeps its place


def test_column_names_follow_aliases_and_bases() -> None:
    assert column_names(_Child) == ["first", "second column", "third"] == list(_Child.to_schema().columns)


def test_column_names_differ_from_an_unrelated_model() -> None:
    assert column_names(_Base) != column_names(_Child)


def test_building_a_schema_does_not_import_dask() -> None:
    code = (
        "import sys; import schemas.tic as t; import flows.sources.fetch_manifest\n"
        "[m.to_schema() for m in vars(t).values() if isinstance(m, type) and hasattr(m, 'to_schema')]\n"
        "assert 'dask' not in sys.modules, 'dask imported'\n"
        "import dask.dataframe  # still importable for the TiC Dask runner\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
