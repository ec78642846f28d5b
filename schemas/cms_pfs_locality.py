"""CMS PFS locality-to-county crosswalk (<YY>LOCCO.csv): which counties each payment locality covers."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from schemas.cms_common import LOCALITY_PATTERN, MAC_PATTERN, AnnualRelease

DATASET = "cms__pfs_locality"


class PfsLocality(AnnualRelease):
    """One row per Medicare payment locality (MAC and locality number) per calendar year.

    The state, the fee schedule area as CMS names it ("REST OF STATE*", "MANHATTAN") and the
    counties it covers, as written ("BUTTE", "ALL OTHER COUNTIES"). CMS's "*" marks a locality
    served by two contractors. Unique key: release_year, mac, locality_number (CMS's 2025 file
    lists Missouri's rest-of-state locality twice; the second listing is quarantined as a duplicate).
    """

    mac: Series[str] = pa.Field(str_matches=MAC_PATTERN)
    locality_number: Series[str] = pa.Field(str_matches=LOCALITY_PATTERN)
    state_name: Series[str]
    fee_schedule_area: Series[str]
    counties: Series[str] = pa.Field(nullable=True)

    class Config:
        name = DATASET
        coerce = True
        unique = ["release_year", "mac", "locality_number"]
