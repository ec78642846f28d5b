"""Payer-name resolution and the codes-of-interest configuration."""

from __future__ import annotations

import pandas as pd
import pytest

from flows.settings import Settings
from flows.steps.payer_directory import PayerDirectory, codes_of_interest, normalize_payer_name


@pytest.fixture
def payers(settings: Settings) -> PayerDirectory:
    return PayerDirectory.from_file(settings.payer_alias_file)


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


def test_codes_of_interest_come_from_the_reference_file(settings: Settings) -> None:
    codes = codes_of_interest(settings)
    assert {"0440T", "0441T", "0442T", "64640", "64624", "64450"} <= codes
    settings.billing_code_file.write_text(
        settings.billing_code_file.read_text(encoding="utf-8")
        + "J1234,HCPCS,hcpcs_level_ii,comparator,test,test code,\n",
        encoding="utf-8",
    )
    assert "J1234" in codes_of_interest(settings)  # configuration, not code


def test_geography_reference_lists_each_state_dc_and_territories(settings: Settings) -> None:
    from flows.steps.payer_directory import read_reference

    geos = read_reference(settings.reference_dir / "us_geographies.csv", "ref__geography")
    assert len(geos) == 56 and geos["geo_fips"].is_unique
    assert (geos["geo_type"] == "state").sum() == 50
    assert geos.set_index("state_abbrev").loc["PR", "geo_fips"] == "72"
