"""CMS OPPS Addendum B: hospital outpatient payment status, APC, weight and national rate per code."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.cms_common import OPPS_STATUS_INDICATORS, WEIGHT, QuarterlyRelease
from schemas.fields import BILLING_CODE_PATTERN, UsdAmount

DATASET = "cms__opps_addendum_b"
PAID_STATUS_INDICATORS = ["G", "J1", "J2", "K", "Q1", "Q2", "Q3", "R", "S", "T", "U", "V"]
"""Status indicators under which Addendum B prints the national rate Medicare pays."""


class OppsAddendumB(QuarterlyRelease):
    """One row per HCPCS code per quarterly OPPS release (Addendum B).

    The OPPS status indicator, the APC the code is assigned to, its relative weight, the national
    unadjusted payment rate (before wage adjustment) and copayments. Unique key: release_year,
    release_quarter, billing_code.
    """

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    short_descriptor: Series[str] = pa.Field(nullable=True)
    status_indicator: Series[str] = pa.Field(isin=OPPS_STATUS_INDICATORS)
    apc: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{4}$")
    relative_weight: Series[WEIGHT] = pa.Field(nullable=True, ge=0)
    payment_rate_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)
    national_unadjusted_copayment_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)
    minimum_unadjusted_copayment_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)
    copayment_capped_at_inpatient_deductible: Series[bool] = pa.Field(nullable=True)
    pass_through_expires_this_year: Series[bool] = pa.Field(nullable=True)
    changed_this_release: Series[bool] = pa.Field(nullable=True)

    class Config:
        name = DATASET
        coerce = True
        unique = ["release_year", "release_quarter", "billing_code"]

    @pa.dataframe_check(
        name="paid_status_needs_rate",
        error="a status indicator paid under the OPPS (J1, T, S, ...) but no payment rate",
    )
    def paid_status_needs_rate(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["status_indicator"].isin(PAID_STATUS_INDICATORS) | df["payment_rate_usd"].notna()

    @pa.dataframe_check(name="weight_needs_apc", error="a relative weight without the APC it belongs to")
    def weight_needs_apc(cls, df: pd.DataFrame) -> Series[bool]:
        return df["relative_weight"].isna() | df["apc"].notna()

    # --- advisory -----------------------------------------------------------------------------
    @pa.dataframe_check(
        name="copayment_above_rate",
        raise_warning=True,
        error="the minimum unadjusted copayment exceeds the payment rate",
    )
    def copayment_above_rate(cls, df: pd.DataFrame) -> Series[bool]:
        rate, copay = df["payment_rate_usd"], df["minimum_unadjusted_copayment_usd"]
        return rate.isna() | copay.isna() | (copay <= rate)
