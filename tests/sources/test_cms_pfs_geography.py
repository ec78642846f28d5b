"""GPCI, locality-county crosswalk and OPPS cap adapters: the PFS files that price by locality."""

from __future__ import annotations

import decimal
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR, Settings
from flows.sources import cms_opps_cap, cms_pfs_gpci, cms_pfs_locality
from tests.cms_loading import copy_as, findings, load, rows
from tests.conftest import fixture

RAW = PROJECT_DIR / "raw"
GPCI = RAW / "cms_pfs_gpci" / "GPCI2025.csv"
LOCCO = RAW / "cms_pfs_locality" / "25LOCCO.csv"
CAP = RAW / "cms_opps_cap" / "RVU25D" / "OPPSCAP_Oct_excerpt.csv"


def test_gpci_file_loads_every_locality_with_its_year(settings: Settings) -> None:
    record = load(settings, "cms_pfs_gpci", GPCI)
    assert (record.status, record.rows_read, record.rows_loaded) == (
        "loaded",
        109,
        109,
    )  # notes below the data are not rows
    gpci = rows(settings, "cms__pfs_gpci").set_index(["mac", "locality_number"])
    manhattan = gpci.loc[("13202", "01")]  # line 78: 13202,NY,01,MANHATTAN,1.065,1.166,1.656
    assert (manhattan["state"], manhattan["locality_name"]) == ("NY", "MANHATTAN")
    assert manhattan[["work_gpci", "pe_gpci", "mp_gpci"]].tolist() == [
        decimal.Decimal(v) for v in ("1.065", "1.166", "1.656")
    ]
    assert gpci.loc[("02102", "01"), "work_gpci"] == decimal.Decimal("1.500")  # Alaska's 1.5 work floor
    assert set(gpci["release_year"]) == {2025} and set(gpci["effective_date"].astype(str)) == {"2025-01-01"}


def test_unknown_locality_in_gpci_is_quarantined_or_flagged(settings: Settings) -> None:
    record = load(settings, "cms_pfs_gpci", fixture("cms__pfs_gpci", "unknown_locality.csv"))
    assert (record.rows_read, record.rows_loaded, record.rows_quarantined) == (5, 3, 2)
    assert findings(settings) == [("line 6", "state", "isin", "ZZ"), ("line 7", "locality_number", "str_matches", "7A")]
    # 10112-77 is well formed: it loads, and stg_pfs_gpci flags it against CMS's crosswalk (tests/e2e/test_medicare_rate.py).
    assert ("10112", "77") in set(
        zip(rows(settings, "cms__pfs_gpci")["mac"], rows(settings, "cms__pfs_gpci")["locality_number"])
    )


def test_gpci_title_and_columns_must_agree_on_the_year(settings: Settings, tmp_path: Path) -> None:
    text = GPCI.read_text(encoding="utf-8").replace("FINAL CY 2025", "FINAL CY 2024", 1)
    path = tmp_path / "GPCI2025.csv"
    path.write_text(text, encoding="utf-8", newline="")
    record = load(settings, "cms_pfs_gpci", path)
    assert record.status == "rejected" and "the title says CY 2024 but the GPCI columns say 2025" in record.error


def test_locality_crosswalk_restores_numbers_and_carries_states(settings: Settings) -> None:
    record = load(settings, "cms_pfs_locality", LOCCO)
    # CMS lists Missouri's rest-of-state locality twice (lines 96 and 97): the second is a duplicate.
    assert (record.status, record.rows_read, record.rows_loaded, record.rows_quarantined) == (
        "loaded_with_quarantine",
        110,
        109,
        1,
    )
    assert findings(settings) == [
        ("line 97", "release_year,mac,locality_number", "unique_key (first seen at line 96)", '["2025", "05302", "99"]')
    ]
    loc = rows(settings, "cms__pfs_locality").set_index(["mac", "locality_number"])
    assert loc.loc[("02102", "01"), "state_name"] == "ALASKA"  # written "2102,1,ALASKA ,STATEWIDE"
    assert loc.loc[("01112", "05"), "state_name"] == "CALIFORNIA"  # "1112,5,," inherits CALIFORNIA from line 13
    assert loc.loc[("13292", "04"), "counties"] == "QUEENS"
    localities = set(loc.index)
    load(settings, "cms_pfs_gpci", GPCI, run_id="20260101T000000Z-cms002")
    gpci = rows(settings, "cms__pfs_gpci")
    assert (
        set(zip(gpci["mac"], gpci["locality_number"])) == localities
    )  # the two CMS files name the same 109 localities


def test_opps_cap_takes_its_year_from_the_bundle_folder(settings: Settings, tmp_path: Path) -> None:
    record = load(settings, "cms_opps_cap", CAP)
    assert (record.status, record.rows_loaded) == ("loaded", 115)
    cap = rows(settings, "cms__opps_cap").set_index(["mac", "locality_number"])
    alabama = cap.loc[("10112", "00")]  # line 2: 93990,,A,10112,00,112.76,112.76
    assert (alabama["billing_code"], alabama["nonfacility_price_usd"]) == ("93990", decimal.Decimal("112.76"))
    assert (alabama["release_year"], alabama["release_quarter"]) == (2025, 4)
    outside = copy_as(CAP, tmp_path, "OPPSCAP_Oct.csv")  # same bytes, no RVU25D folder: no year anywhere
    rejected = load(settings, "cms_opps_cap", outside, run_id="20260101T000000Z-cms002", force=True)
    assert rejected.status == "rejected" and "cannot tell which CMS release this file is" in rejected.error
    renamed = copy_as(CAP, tmp_path / "landed", "OPPSCAP2025_Oct.csv")
    assert load(settings, "cms_opps_cap", renamed, run_id="20260101T000000Z-cms003", force=True).status == "loaded"


def test_detectors_tell_the_three_files_apart() -> None:
    assert cms_pfs_gpci.detect(GPCI) and not cms_pfs_gpci.detect(LOCCO) and not cms_pfs_gpci.detect(CAP)
    assert cms_pfs_locality.detect(LOCCO) and not cms_pfs_locality.detect(GPCI)
    assert cms_opps_cap.detect(CAP) and not cms_opps_cap.detect(GPCI)


@pytest.mark.parametrize(
    ("source", "name", "count"),
    [
        ("cms_pfs_gpci", "GPCI2025.csv", 109),
        ("cms_pfs_locality", "25LOCCO.csv", 109),
        ("cms_opps_cap", "OPPSCAP_Oct.csv", 16100),
    ],
)
def test_full_files_load(
    settings: Settings, real_samples: Path, tmp_path: Path, source: str, name: str, count: int
) -> None:
    path = copy_as(real_samples / "cms-pfs-rvu" / "RVU25D" / name, tmp_path / "RVU25D", name)
    record = load(settings, source, path)
    assert record.rows_loaded == count and record.rows_read == record.rows_loaded + record.rows_quarantined
