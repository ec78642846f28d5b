"""Rules of the locality schemas: cms__pfs_gpci, cms__pfs_locality and cms__opps_cap."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.cms_opps_cap import OppsCap
from schemas.cms_pfs_gpci import PfsGpci
from schemas.cms_pfs_locality import PfsLocality

GPCI = {
    "release_year": 2025,
    "effective_date": "2025-01-01",
    "mac": "13202",
    "state": "NY",
    "locality_number": "01",
    "locality_name": "MANHATTAN",
    "work_gpci": "1.065",
    "pe_gpci": "1.166",
    "mp_gpci": "1.656",
    "source_record": "line 78",
}
LOCALITY = {
    "release_year": 2025,
    "effective_date": "2025-01-01",
    "mac": "13202",
    "locality_number": "01",
    "state_name": "NEW YORK",
    "fee_schedule_area": "MANHATTAN",
    "counties": "NEW YORK",
    "source_record": "line 112",
}
CAP = {
    "release_year": 2025,
    "release_quarter": 4,
    "effective_date": "2025-10-01",
    "billing_code": "93990",
    "modifier": None,
    "status_code": "A",
    "mac": "10112",
    "locality_number": "00",
    "facility_price_usd": "112.76",
    "nonfacility_price_usd": "112.76",
    "source_record": "line 2",
}


def check(model, good: dict[str, object], *changes: dict[str, object]):  # type: ignore[no-untyped-def]
    frame = pd.DataFrame([dict(good, **c) for c in changes] or [good], dtype=object)
    return DatasetValidator(model).check(frame, Path("file.csv"))


@pytest.mark.parametrize(("model", "good"), [(PfsGpci, GPCI), (PfsLocality, LOCALITY), (OppsCap, CAP)])
def test_good_rows_load(model, good) -> None:  # type: ignore[no-untyped-def]
    result = check(model, good)
    assert len(result.valid) == 1 and result.failures.empty and result.advisories.empty


@pytest.mark.parametrize(
    ("model", "good", "changes", "column", "check_name"),
    [
        (PfsGpci, GPCI, {"state": "ZZ"}, "state", "isin"),
        (PfsGpci, GPCI, {"locality_number": "1"}, "locality_number", "str_matches"),
        (PfsGpci, GPCI, {"mac": "2102"}, "mac", "str_matches"),
        (PfsGpci, GPCI, {"pe_gpci": "0"}, "pe_gpci", "greater_than"),
        (PfsLocality, LOCALITY, {"locality_number": "5"}, "locality_number", "str_matches"),
        (PfsLocality, LOCALITY, {"state_name": None}, "state_name", "not_nullable"),
        (OppsCap, CAP, {"status_code": "Z"}, "status_code", "isin"),
        (OppsCap, CAP, {"nonfacility_price_usd": "-1"}, "nonfacility_price_usd", "greater_than_or_equal_to"),
    ],
)
def test_rules_fail_on_the_named_column(model, good, changes, column, check_name) -> None:  # type: ignore[no-untyped-def]
    result = check(model, good, changes)
    assert result.valid.empty
    assert (column, check_name) in [(r.column, str(r.check).split("(")[0]) for r in result.failures.itertuples()]


def test_a_locality_twice_in_a_year_is_a_duplicate() -> None:
    result = check(PfsGpci, GPCI, {}, {"source_record": "line 79"})
    assert result.failures["check"].tolist() == ["unique_key (first seen at line 78)"]


def test_implausible_gpci_is_advisory() -> None:
    result = check(PfsGpci, GPCI, {"mp_gpci": "16.56"})  # a slipped decimal point
    assert len(result.valid) == 1 and result.advisories["check"].tolist() == ["gpci_plausible"]
