"""Payer-name resolution, and the strict check of the reference table the directory is built from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.lookups import payer_directory
from flows.settings import Settings
from flows.sources.base import Batch, FileRejected
from flows.steps.payer_directory import PayerDirectory, normalize_payer_name, validated_table
from schemas.reference import PayerAlias


@pytest.fixture
def payers(settings: Settings) -> PayerDirectory:
    return payer_directory(settings.payer_alias_file)


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("Anthem Blue Cross", "bcbs"),
        ("CareFirst BlueCross BlueShield", "bcbs"),
        ("Blue Cross & Blue Shield of Mississippi", "bcbs"),
        ("BCBS of Texas", "bcbs"),
        ("UnitedHealthcare Insurance Company of New York", "unitedhealthcare"),
        ("UHC Medicare Advantage", "unitedhealthcare"),
        ("Cigna Health and Life Insurance Company", "cigna"),
        ("Cigna-HealthSpring", "cigna"),
        ("Aetna Life Insurance Company", "aetna"),
        ("AETNA HMO", "aetna"),
        ("CGS Administrators, LLC", "medicare"),
        ("Centers for Medicare & Medicaid Services", "medicare"),
        ("Medicare", "medicare"),
    ],
)
def test_names_as_sources_write_them_resolve(payers: PayerDirectory, name: str, group: str) -> None:
    assert payers.lookup(name) == group


@pytest.mark.parametrize(
    "name", ["Aetnacare Plus", "Medicare Advantage", "Acme Health Plan", "Kaiser Permanente", "", None]
)
def test_unknown_names_are_not_guessed(payers: PayerDirectory, name: object) -> None:
    assert payers.lookup(name) is None


def test_normalisation_folds_case_punctuation_and_ampersand() -> None:
    assert normalize_payer_name("  Blue Cross & Blue-Shield, Inc. ") == "blue cross and blue shield inc"


def test_resolve_is_vectorised_and_keeps_nulls(payers: PayerDirectory) -> None:
    names = pd.Series(["Aetna", None, "Unknown Co", "Aetna"], dtype=object)
    assert payers.resolve(names).tolist() == ["aetna", None, None, "aetna"]


def _aliases(*rows: tuple[str, str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["alias", "match_type", "payer_group"], dtype=object)
    frame["source_record"] = [f"line {i + 2}" for i in range(len(frame))]
    return frame


def test_a_validated_table_is_the_valid_rows_of_every_batch(tmp_path: Path) -> None:
    path = tmp_path / "payer_aliases.csv"
    batches = [Batch("ref__payer_alias", _aliases(("Aetna", "prefix", "aetna"))), Batch("ref__payer_alias", _aliases())]
    table = validated_table(batches, path, "ref__payer_alias", PayerAlias)
    assert table[["alias", "match_type", "payer_group"]].values.tolist() == [["Aetna", "prefix", "aetna"]]
    assert PayerDirectory.from_frame(table, source_file=path.name).lookup("AETNA HMO") == "aetna"


def test_a_reference_table_with_one_bad_row_or_another_table_stops_the_run(tmp_path: Path) -> None:
    path = tmp_path / "payer_aliases.csv"
    bad = [Batch("ref__payer_alias", _aliases(("Aetna", "prefix", "aetna"), ("Cigna", "fuzzy", "cigna")))]
    with pytest.raises(FileRejected, match=r"payer_aliases.csv \(line 3\): invalid row: match_type fails isin"):
        validated_table(bad, path, "ref__payer_alias", PayerAlias)
    other = [Batch("ref__billing_code", _aliases())]
    with pytest.raises(FileRejected, match="holds ref__billing_code, not ref__payer_alias"):
        validated_table(other, path, "ref__payer_alias", PayerAlias)
