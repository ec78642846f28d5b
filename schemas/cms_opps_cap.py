"""CMS PFS OPPS payment cap by locality (OPPSCAP_<Mon>.csv): the most the PFS pays for an imaging service."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from schemas.cms_common import LOCALITY_PATTERN, MAC_PATTERN, PFS_STATUS_CODES, QuarterlyRelease
from schemas.fields import BILLING_CODE_PATTERN, UsdAmount

DATASET = "cms__opps_cap"


class OppsCap(QuarterlyRelease):
    """One row per HCPCS code, modifier and payment locality (MAC, locality) per quarterly PFS release.

    Section 5102(b) of the Deficit Reduction Act caps the PFS payment for the technical component
    of imaging services at the OPPS amount: these are CMS's capped facility and non-facility
    prices, listed only where the cap applies. Unique key: release_year, release_quarter,
    billing_code, modifier, mac, locality_number.
    """

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    modifier: Series[str] = pa.Field(nullable=True, str_matches=r"^[0-9A-Z]{2}$")
    status_code: Series[str] = pa.Field(isin=PFS_STATUS_CODES)
    mac: Series[str] = pa.Field(str_matches=MAC_PATTERN)
    locality_number: Series[str] = pa.Field(str_matches=LOCALITY_PATTERN)
    facility_price_usd: Series[UsdAmount] = pa.Field(ge=0)
    nonfacility_price_usd: Series[UsdAmount] = pa.Field(ge=0)

    class Config:
        name = DATASET
        coerce = True
        unique = ["release_year", "release_quarter", "billing_code", "modifier", "mac", "locality_number"]
