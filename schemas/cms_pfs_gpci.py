"""CMS PFS geographic practice cost indices (GPCIs) by Medicare locality (Addendum E, GPCI<YYYY>.csv)."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from schemas.cms_common import GPCI, LOCALITY_PATTERN, MAC_PATTERN, US_STATES, AnnualRelease

DATASET = "cms__pfs_gpci"


class PfsGpci(AnnualRelease):
    """One row per Medicare payment locality (MAC and locality number) per calendar year.

    The work, practice-expense and malpractice GPCIs CMS applies to a code's RVUs in that
    locality (work GPCI with its 1.0 floor, 1.5 in Alaska; frontier states' PE floor of 1.0).
    Unique key: release_year, mac, locality_number.
    """

    mac: Series[str] = pa.Field(str_matches=MAC_PATTERN)
    state: Series[str] = pa.Field(isin=US_STATES)
    locality_number: Series[str] = pa.Field(str_matches=LOCALITY_PATTERN)
    locality_name: Series[str]
    work_gpci: Series[GPCI] = pa.Field(gt=0)
    pe_gpci: Series[GPCI] = pa.Field(gt=0)
    mp_gpci: Series[GPCI] = pa.Field(gt=0)

    class Config:
        name = DATASET
        coerce = True
        unique = ["release_year", "mac", "locality_number"]

    # --- advisory: every CY 2025 GPCI lies in 0.3-2.5; far outside is more likely a typo -------
    @pa.check(
        "work_gpci",
        "pe_gpci",
        "mp_gpci",
        name="gpci_plausible",
        raise_warning=True,
        error="GPCI outside 0.2-3.0: check the value against CMS's Addendum E",
    )
    def gpci_plausible(cls, values: Series) -> Series[bool]:  # type: ignore[type-arg]
        return values.map(lambda v: 0.2 <= float(v) <= 3.0)
