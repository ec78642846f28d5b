"""Reference tables every source resolves against: payer aliases and codes of interest.

They live as small CSVs in `raw/reference/` (curated by analysts, loaded and validated like any
other source) so that changing a mapping or adding a code is a data change, not a code change.
"""

from __future__ import annotations

from typing import Optional

import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import ALL_PAYER_GROUPS, BILLING_CODE_PATTERN, CODE_TYPES


class PayerAlias(pa.DataFrameModel):
    """One row per payer name (or name prefix) as sources write it, mapped to a payer group.

    `match_type` `exact` matches the whole normalised name; `prefix` matches names that start with
    the alias as whole words ("aetna" matches "AETNA HMO" but not "Aetnacare"). Names are compared
    case-insensitively with punctuation folded and '&' read as 'and'.
    """

    alias: Series[str] = pa.Field(str_length={"min_value": 2})
    match_type: Series[str] = pa.Field(isin=["exact", "prefix"])
    payer_group: Series[str] = pa.Field(isin=ALL_PAYER_GROUPS)
    notes: Optional[Series[str]] = pa.Field(nullable=True)

    class Config:
        name = "ref__payer_alias"
        coerce = True
        unique = ["alias", "match_type"]


class BillingCode(pa.DataFrameModel):
    """One row per billing code of interest: the targets (0440T-0442T) and their comparators.

    This table is the pipeline's code configuration: adapters that filter large files keep the
    codes listed here, and every mart's grid is built over them.
    """

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    code_type: Series[str] = pa.Field(isin=CODE_TYPES)
    code_category: Series[str] = pa.Field(isin=["category_i", "category_ii", "category_iii", "hcpcs_level_ii"])
    role: Series[str] = pa.Field(isin=["target", "comparator"])
    code_family: Series[str]
    label: Series[str]
    notes: Optional[Series[str]] = pa.Field(nullable=True)

    class Config:
        name = "ref__billing_code"
        coerce = True
        unique = ["billing_code"]


GEO_TYPES = ("state", "district", "territory")


class Geography(pa.DataFrameModel):
    """One row per US state, the District of Columbia and each territory, by FIPS code.

    The geographies every state-level grid is built over (e.g. `medicare_utilization`: national
    plus each of these), so a state with no published data still has its row.
    """

    geo_fips: Series[str] = pa.Field(str_matches=r"^\d{2}$")
    state_abbrev: Series[str] = pa.Field(str_matches=r"^[A-Z]{2}$")
    geo_name: Series[str] = pa.Field(str_length={"min_value": 2})
    geo_type: Series[str] = pa.Field(isin=GEO_TYPES)
    notes: Optional[Series[str]] = pa.Field(nullable=True)

    class Config:
        name = "ref__geography"
        coerce = True
        unique = ["geo_fips"]
