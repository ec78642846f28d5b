"""Field types and CMS code lists shared by the Medicare payment schemas (PFS, OPPS, ASC).

The lists are CMS's own, as its files' documentation defines them (the PFS RVU file's
record layout, OPPS Addendum D1, ASC Addendum DD1). A value outside a list is quarantined:
a new CMS code is then added here, on purpose, with its meaning in warehouse/sql/marts/medicare_indicator.sql.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import IsoDate, decimal_type

RVU = decimal_type(9, 2)
"""Relative value units, as CMS publishes them: two decimals (e.g. work RVU 1.98)."""
GPCI = decimal_type(6, 3)
"""Geographic practice cost index: three decimals (e.g. 1.065)."""
CONVERSION_FACTOR = decimal_type(9, 4)
"""Dollars per RVU, four decimals (CY 2025 PFS: 32.3465)."""
WEIGHT = decimal_type(12, 4)
"""OPPS relative weight / ASC payment weight: four decimals (e.g. 21.0028)."""
PERCENT = decimal_type(7, 2)
"""A percentage as CMS prints it, without the % sign (64.49 means 64.49 %)."""

PFS_STATUS_CODES = ("A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "M", "N", "P", "R", "T", "X")
"""PFS status codes (RVU file layout): A active, B bundled, C contractor-priced, D deleted,
E excluded by regulation, F deleted/discontinued, G/I not valid for Medicare, H deleted modifier,
J anesthesia, M measurement, N non-covered, P bundled/excluded, R restricted, T injections,
X statutory exclusion. Their payment meaning is in the medicare_indicator view."""

PFS_GLOBAL_DAYS = ("000", "010", "090", "MMM", "XXX", "YYY", "ZZZ")
"""Global surgery periods: days, MMM maternity, XXX not applicable, YYY contractor-set, ZZZ add-on."""

OPPS_STATUS_INDICATORS = (
    "A",
    "B",
    "C",
    "D",
    "E1",
    "E2",
    "F",
    "G",
    "H",
    "J1",
    "J2",
    "K",
    "L",
    "M",
    "N",
    "P",
    "Q1",
    "Q2",
    "Q3",
    "Q4",
    "R",
    "S",
    "T",
    "U",
    "V",
    "Y",
)
"""OPPS payment status indicators (Addendum D1)."""

ASC_PAYMENT_INDICATORS = (
    "A2",
    "B5",
    "C5",
    "D2",
    "D5",
    "F4",
    "G2",
    "H2",
    "J7",
    "J8",
    "K2",
    "K5",
    "K7",
    "L1",
    "L6",
    "N1",
    "P2",
    "P3",
    "R2",
    "Z2",
    "Z3",
)
"""ASC payment indicators (Addendum DD1; D2 = dental procedure, seen in the 2025-2026 addenda)."""

US_STATES = (
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "PR",
    "VI",
    "GU",
    "AS",
    "MP",
)
"""USPS codes of the states and territories Medicare localities cover."""

MAC_PATTERN = r"^\d{5}$"
"""Medicare Administrative Contractor number as the GPCI file writes it (01112; 25LOCCO drops the 0)."""
LOCALITY_PATTERN = r"^\d{2}$"
"""PFS locality number, two digits (05; 25LOCCO writes 5)."""


class QuarterlyRelease(pa.DataFrameModel):
    """Release columns of a quarterly CMS file (read from the file by its adapter)."""

    release_year: Series[int] = pa.Field(ge=2000, le=2100)
    release_quarter: Series[int] = pa.Field(isin=[1, 2, 3, 4])
    effective_date: Series[IsoDate]


class AnnualRelease(pa.DataFrameModel):
    """Release columns of a yearly CMS file (GPCIs, localities)."""

    release_year: Series[int] = pa.Field(ge=2000, le=2100)
    effective_date: Series[IsoDate]
