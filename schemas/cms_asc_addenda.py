"""CMS ASC payment addenda: Addendum AA (covered surgical procedures) and FF (device offsets)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.cms_common import ASC_PAYMENT_INDICATORS, PERCENT, WEIGHT, QuarterlyRelease
from schemas.fields import BILLING_CODE_PATTERN, UsdAmount

AA_DATASET = "cms__asc_addendum_aa"
FF_DATASET = "cms__asc_addendum_ff"
NOTE_MARKERS = ["*", "**", "***"]
"""Asterisks CMS prints beside a code: * office-based designation temporary (too few claims);
** preventive service, coinsurance and deductible waived; *** non-opioid alternative."""
UNPAID_INDICATORS = ["N1", "D5", "B5", "C5", "K5", "L1", "J7", "K7", "F4", "L6"]
"""Indicators under which the addendum prints no national rate (packaged, not paid, contractor- or cost-priced)."""


class AscAddendumAA(QuarterlyRelease):
    """One row per HCPCS code on the ASC covered surgical procedures list per quarterly release.

    The ASC payment indicator, whether multiple-procedure discounting applies, the payment weight
    and the national unadjusted ASC payment rate. A code absent from a release's Addendum AA is not
    a covered ASC surgical procedure in that quarter. Unique key: release_year, release_quarter, billing_code.
    """

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    note_marker: Series[str] = pa.Field(nullable=True, isin=NOTE_MARKERS)
    short_descriptor: Series[str] = pa.Field(nullable=True)
    multiple_procedure_discounting: Series[bool] = pa.Field(nullable=True)
    payment_indicator: Series[str] = pa.Field(isin=ASC_PAYMENT_INDICATORS)
    payment_weight: Series[WEIGHT] = pa.Field(nullable=True, ge=0)
    payment_rate_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)

    class Config:
        name = AA_DATASET
        coerce = True
        unique = ["release_year", "release_quarter", "billing_code"]

    @pa.dataframe_check(
        name="paid_indicator_needs_rate",
        error="a payment indicator that is paid (A2, G2, J8, P2, P3, R2, ...) but no payment rate",
    )
    def paid_indicator_needs_rate(cls, df: pd.DataFrame) -> Series[bool]:
        return df["payment_indicator"].isin(UNPAID_INDICATORS) | df["payment_rate_usd"].notna()


class AscAddendumFF(QuarterlyRelease):
    """One row per HCPCS code in ASC Addendum FF (device offsets) per quarterly release.

    For each ASC-covered procedure: its ASC payment indicator, the OPPS APC and that APC's OPPS
    national payment rate, and the device-offset percentages and the device portion (dollars) that
    ASC payment for device-intensive procedures (indicator J8) is built from.
    Unique key: release_year, release_quarter, billing_code.
    """

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    note_marker: Series[str] = pa.Field(nullable=True, isin=NOTE_MARKERS)
    short_descriptor: Series[str] = pa.Field(nullable=True)
    payment_indicator: Series[str] = pa.Field(isin=ASC_PAYMENT_INDICATORS)
    apc: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{4}$")
    apc_device_offset_pct: Series[PERCENT] = pa.Field(nullable=True, ge=0, le=100)
    opps_payment_rate_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)
    device_offset_pct: Series[PERCENT] = pa.Field(nullable=True, ge=0, le=100)
    device_portion_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)

    class Config:
        name = FF_DATASET
        coerce = True
        unique = ["release_year", "release_quarter", "billing_code"]

    @pa.dataframe_check(name="rate_needs_apc", error="an OPPS payment rate without the APC it is the rate of")
    def rate_needs_apc(cls, df: pd.DataFrame) -> Series[bool]:
        return df["opps_payment_rate_usd"].isna() | df["apc"].notna()
