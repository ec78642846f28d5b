"""Each rule of the cms__pfs_rvu schema: a row that passes it and a row that fails it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.cms_pfs_rvu import PfsRvu

# 64640 as CMS's October 2025 PPRRVU prints it, after the adapter's normalisation.
GOOD = {
    "release_year": 2025,
    "release_quarter": 4,
    "effective_date": "2025-10-01",
    "published_date": "2025-09-11",
    "payment_track": "single",
    "billing_code": "64640",
    "modifier": None,
    "description": "Injection treatment of nerve",
    "status_code": "A",
    "not_used_for_medicare_payment": "false",
    "work_rvu": "1.98",
    "nonfacility_pe_rvu": "5.26",
    "nonfacility_na_indicator": "false",
    "facility_pe_rvu": "1.43",
    "facility_na_indicator": "false",
    "mp_rvu": "0.21",
    "nonfacility_total_rvu": "7.45",
    "facility_total_rvu": "3.62",
    "pctc_indicator": "0",
    "global_days": "010",
    "preop_share": "0.10",
    "intraop_share": "0.80",
    "postop_share": "0.10",
    "mult_proc_indicator": "2",
    "bilat_surg_indicator": "1",
    "asst_surg_indicator": "1",
    "co_surg_indicator": "0",
    "team_surg_indicator": "0",
    "endo_base_code": None,
    "conversion_factor_usd": "32.3465",
    "physician_supervision_code": "09",
    "calculation_flag": "0",
    "diagnostic_imaging_family": "99",
    "opps_nonfacility_pe_rvu": "0.00",
    "opps_facility_pe_rvu": "0.00",
    "opps_mp_rvu": "0.00",
    "source_layout": "csv",
    "source_record": "line 7011",
}
PATH = Path("PPRRVU2025_Oct.csv")


def check(*rows: dict[str, object]):
    frame = pd.DataFrame([dict(GOOD, **r) for r in rows] or [GOOD], dtype=object)
    return DatasetValidator(PfsRvu).check(frame, PATH)


def test_good_row_loads_typed() -> None:
    result = check({})
    assert len(result.valid) == 1 and result.failures.empty and result.advisories.empty
    assert str(result.valid.iloc[0]["conversion_factor_usd"]) == "32.3465"


@pytest.mark.parametrize(
    ("changes", "column", "check_name"),
    [
        ({"billing_code": "6464"}, "billing_code", "str_matches"),
        ({"status_code": "Z"}, "status_code", "isin"),
        (
            {"work_rvu": "-1.98", "nonfacility_total_rvu": "3.49", "facility_total_rvu": "-0.34"},
            "work_rvu",
            "greater_than_or_equal_to",
        ),
        ({"global_days": "045"}, "global_days", "isin"),
        ({"modifier": "TCX"}, "modifier", "str_matches"),
        ({"conversion_factor_usd": "0"}, "conversion_factor_usd", "greater_than"),
        ({"preop_share": "1.10"}, "preop_share", "less_than_or_equal_to"),
        ({"nonfacility_na_indicator": "maybe"}, "nonfacility_na_indicator", "coerce_dtype"),
        ({"release_quarter": 5}, "release_quarter", "isin"),
        (
            {"payment_track": "QPP"},
            "payment_track",
            "isin",
        ),  # the adapter writes the enumeration, never the file's spelling
        ({"payment_track": None}, "payment_track", "not_nullable"),
    ],
)
def test_column_rules_fail_on_the_named_column(changes: dict[str, object], column: str, check_name: str) -> None:
    result = check(changes)
    assert result.valid.empty
    assert (column, check_name) in [(r.column, str(r.check).split("(")[0]) for r in result.failures.itertuples()]


@pytest.mark.parametrize(
    ("changes", "check_name"),
    [
        ({"nonfacility_total_rvu": "7.46"}, "nonfacility_total_is_sum"),
        ({"facility_total_rvu": "3.26"}, "facility_total_is_sum"),  # a shifted layout reads MP where PE was
    ],
)
def test_totals_must_be_the_sum_of_their_parts(changes: dict[str, object], check_name: str) -> None:
    result = check(changes)
    assert result.valid.empty and result.failures["check"].tolist() == [check_name]


@pytest.mark.parametrize("track", ["non_qpp", "qpp", "single"])
def test_every_payment_track_loads(track: str) -> None:
    result = check({"payment_track": track})
    assert len(result.valid) == 1 and result.failures.empty


def test_same_code_and_modifier_twice_in_a_release_is_a_duplicate() -> None:
    result = check({}, {"source_record": "line 7012"}, {"modifier": "26", "source_record": "line 7013"})
    assert len(result.valid) == 2
    assert result.failures["check"].tolist() == ["unique_key (first seen at line 7011)"]


def test_payable_status_without_rvus_is_advisory() -> None:
    zero = {
        "work_rvu": "0.00",
        "nonfacility_pe_rvu": "0.00",
        "facility_pe_rvu": "0.00",
        "mp_rvu": "0.00",
        "nonfacility_total_rvu": "0.00",
        "facility_total_rvu": "0.00",
    }
    assert check(dict(zero, status_code="C")).advisories.empty  # contractor-priced codes carry no RVUs
    result = check(dict(zero, status_code="A"))
    assert len(result.valid) == 1 and result.advisories["check"].tolist() == ["payable_status_without_rvus"]
