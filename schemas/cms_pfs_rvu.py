"""CMS Physician Fee Schedule national relative value file (PPRRVU): RVUs, status, indicators."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.cms_common import (
    CONVERSION_FACTOR,
    PFS_GLOBAL_DAYS,
    PFS_STATUS_CODES,
    RVU,
    QuarterlyRelease,
)
from schemas.fields import BILLING_CODE_PATTERN, IsoDate, decimal_type

DATASET = "cms__pfs_rvu"
SHARE = decimal_type(4, 2)

PAYMENT_TRACKS = ("non_qpp", "qpp", "single")
"""Which conversion factor a PPRRVU file prices with. From CY 2026 CMS publishes two national files per
release: `non_qpp` (PPRRVU2026_Jan_nonQPP: every practitioner who is not a qualifying APM participant;
Medicare's standard amounts) and `qpp` (PPRRVU2026_Jan_QPP: qualifying APM participants, a higher
conversion factor). `single`: the one file of a release before CY 2026, which applies to everyone."""


class PfsRvu(QuarterlyRelease):
    """One row per HCPCS code and modifier (blank = the global service) per quarterly PFS release and payment track.

    As CMS publishes it in PPRRVU<YYYY>_<Mon>.csv / .txt (from CY 2026 one file per payment track,
    PPRRVU2026_Jan_QPP / _nonQPP): status code, work / practice-expense / malpractice RVUs for the
    non-facility and facility settings, the conversion factor, global days and payment-policy
    indicators, and the RVUs CMS uses for the OPPS payment cap.
    Unique key: release_year, release_quarter, payment_track, billing_code, modifier.
    """

    published_date: Series[IsoDate] = pa.Field(nullable=True)
    payment_track: Series[str] = pa.Field(isin=PAYMENT_TRACKS)
    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    modifier: Series[str] = pa.Field(nullable=True, str_matches=r"^[0-9A-Z]{2}$")
    description: Series[str] = pa.Field(nullable=True)
    status_code: Series[str] = pa.Field(isin=PFS_STATUS_CODES)
    not_used_for_medicare_payment: Series[bool] = pa.Field(nullable=True)
    work_rvu: Series[RVU] = pa.Field(ge=0)
    nonfacility_pe_rvu: Series[RVU] = pa.Field(ge=0)
    nonfacility_na_indicator: Series[bool] = pa.Field(nullable=True)
    facility_pe_rvu: Series[RVU] = pa.Field(ge=0)
    facility_na_indicator: Series[bool] = pa.Field(nullable=True)
    mp_rvu: Series[RVU] = pa.Field(ge=0)
    nonfacility_total_rvu: Series[RVU] = pa.Field(ge=0)
    facility_total_rvu: Series[RVU] = pa.Field(ge=0)
    pctc_indicator: Series[str] = pa.Field(nullable=True, str_matches=r"^\d$")
    global_days: Series[str] = pa.Field(nullable=True, isin=PFS_GLOBAL_DAYS)
    preop_share: Series[SHARE] = pa.Field(ge=0, le=1)
    intraop_share: Series[SHARE] = pa.Field(ge=0, le=1)
    postop_share: Series[SHARE] = pa.Field(ge=0, le=1)
    mult_proc_indicator: Series[str] = pa.Field(nullable=True, str_matches=r"^\d$")
    bilat_surg_indicator: Series[str] = pa.Field(nullable=True, str_matches=r"^\d$")
    asst_surg_indicator: Series[str] = pa.Field(nullable=True, str_matches=r"^\d$")
    co_surg_indicator: Series[str] = pa.Field(nullable=True, str_matches=r"^\d$")
    team_surg_indicator: Series[str] = pa.Field(nullable=True, str_matches=r"^\d$")
    endo_base_code: Series[str] = pa.Field(nullable=True, str_matches=BILLING_CODE_PATTERN)
    conversion_factor_usd: Series[CONVERSION_FACTOR] = pa.Field(gt=0)
    physician_supervision_code: Series[str] = pa.Field(nullable=True, str_matches=r"^[0-9A-Z]{2}$")
    calculation_flag: Series[str] = pa.Field(nullable=True)
    diagnostic_imaging_family: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{2}$")
    opps_nonfacility_pe_rvu: Series[RVU] = pa.Field(ge=0)
    opps_facility_pe_rvu: Series[RVU] = pa.Field(ge=0)
    opps_mp_rvu: Series[RVU] = pa.Field(ge=0)
    source_layout: Series[str] = pa.Field(isin=["csv", "fixed_width"])

    class Config:
        name = DATASET
        coerce = True
        unique = ["release_year", "release_quarter", "payment_track", "billing_code", "modifier"]

    # Totals are the sum of their parts in every row of CMS's file; a row where they are not was
    # read from the wrong columns (a shifted layout), so it is not trusted.
    @pa.dataframe_check(
        name="nonfacility_total_is_sum",
        error="nonfacility_total_rvu is not work_rvu + nonfacility_pe_rvu + mp_rvu (misread columns?)",
    )
    def nonfacility_total_is_sum(cls, df: pd.DataFrame) -> Series[bool]:
        return df["nonfacility_total_rvu"] == df["work_rvu"] + df["nonfacility_pe_rvu"] + df["mp_rvu"]

    @pa.dataframe_check(
        name="facility_total_is_sum",
        error="facility_total_rvu is not work_rvu + facility_pe_rvu + mp_rvu (misread columns?)",
    )
    def facility_total_is_sum(cls, df: pd.DataFrame) -> Series[bool]:
        return df["facility_total_rvu"] == df["work_rvu"] + df["facility_pe_rvu"] + df["mp_rvu"]

    # --- advisory -----------------------------------------------------------------------------
    @pa.dataframe_check(
        name="payable_status_without_rvus",
        raise_warning=True,
        error="status A/T (paid under the PFS) but no RVUs: no national amount can be computed",
    )
    def payable_status_without_rvus(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["status_code"].isin(["A", "T"]) | (df["nonfacility_total_rvu"] > 0) | (df["facility_total_rvu"] > 0)
