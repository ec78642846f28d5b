"""Medicare Part B utilization by geography and service (CMS "Physician & Other Practitioners")."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import (
    BILLING_CODE_PATTERN,
    GEO_LEVELS,
    MIN_PUBLISHED_BENEFICIARIES,
    PLACES_OF_SERVICE,
    UsdAmount,
    decimal_type,
)

DATASET = "cms__partb_geo_service"
SCOPE_DATASET = "cms__partb_geo_service_scope"
YEAR_SOURCES = ("option", "column", "file name", "folder name")
ServiceCount = decimal_type(18, 3)  # CMS counts drug services in (fractional) units


class PartbGeoService(pa.DataFrameModel):
    """One row per data year, geography (national, or one state), HCPCS code and place of service, as CMS published it.

    Counts and average amounts of Original Medicare Part B claims (non-institutional line items)
    rendered in that geography. CMS publishes no row for a cell with fewer than 11 beneficiaries.
    Unique key: data_year, geo_level, geo_name, billing_code, place_of_service (within one file).
    """

    data_year: Series[int] = pa.Field(ge=2000, le=2099)
    geo_level: Series[str] = pa.Field(isin=GEO_LEVELS)
    geo_code: Series[str] = pa.Field(nullable=True, str_matches=r"^[0-9A-Z]{1,5}$")
    geo_name: Series[str] = pa.Field(str_length={"min_value": 2})
    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    hcpcs_description: Series[str] = pa.Field(nullable=True)
    drug_indicator: Series[str] = pa.Field(isin=["Y", "N"])
    place_of_service: Series[str] = pa.Field(isin=list(PLACES_OF_SERVICE))
    rendering_provider_count: Series[int] = pa.Field(ge=0)
    beneficiary_count: Series[int] = pa.Field(ge=0)
    service_count: Series[ServiceCount] = pa.Field(ge=0)
    beneficiary_day_service_count: Series[int] = pa.Field(ge=0)
    avg_submitted_charge_usd: Series[UsdAmount] = pa.Field(ge=0)
    avg_medicare_allowed_usd: Series[UsdAmount] = pa.Field(ge=0)
    avg_medicare_payment_usd: Series[UsdAmount] = pa.Field(ge=0)
    avg_medicare_standardized_usd: Series[UsdAmount] = pa.Field(ge=0)

    class Config:
        name = DATASET
        coerce = True
        unique = ["data_year", "geo_level", "geo_name", "billing_code", "place_of_service"]

    @pa.dataframe_check(
        name="services_at_least_beneficiaries",
        error="fewer services than beneficiaries: each beneficiary counted had at least one service (not checked for drugs, counted in units)",
    )
    def services_at_least_beneficiaries(cls, df: pd.DataFrame) -> Series[bool]:
        services = df["service_count"].astype(float)
        return (
            (df["drug_indicator"] == "Y")
            | df["beneficiary_count"].isna()
            | services.isna()
            | (services >= df["beneficiary_count"])
        )

    @pa.dataframe_check(
        name="state_row_names_its_state",
        error="a State row needs Rndrng_Prvdr_Geo_Cd or a state name other than 'National'",
    )
    def state_row_names_its_state(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["geo_level"] != "state") | df["geo_code"].notna() | (df["geo_name"].str.lower() != "national")

    # --- advisory: reported in the load log, the row still loads ----------------------------------
    @pa.dataframe_check(
        name="published_cell_below_threshold",
        raise_warning=True,
        error=f"fewer than {MIN_PUBLISHED_BENEFICIARIES} beneficiaries: CMS does not publish such cells (an altered or non-CMS file?)",
    )
    def published_cell_below_threshold(cls, df: pd.DataFrame) -> Series[bool]:
        return df["beneficiary_count"] >= MIN_PUBLISHED_BENEFICIARIES

    @pa.dataframe_check(
        name="beneficiary_days_between_beneficiaries_and_services",
        raise_warning=True,
        error="beneficiary-day services outside [beneficiaries, services]: each beneficiary has at least one day, a day at least one service",
    )
    def beneficiary_days_between(cls, df: pd.DataFrame) -> Series[bool]:
        days = df["beneficiary_day_service_count"]
        services = df["service_count"].astype(float)
        return (df["drug_indicator"] == "Y") | ((days >= df["beneficiary_count"]) & (days <= services))

    @pa.dataframe_check(
        name="payment_within_allowed",
        raise_warning=True,
        error="average Medicare payment above the average allowed amount (payment is the allowed amount less cost sharing)",
    )
    def payment_within_allowed(cls, df: pd.DataFrame) -> Series[bool]:
        return df["avg_medicare_payment_usd"].astype(float) <= df["avg_medicare_allowed_usd"].astype(float) + 0.01


class PartbGeoServiceScope(pa.DataFrameModel):
    """One row per utilization file, data year and billing code of interest the file was scanned for.

    Describes the read, not rows of the file: the data year and where it was read from, the rows
    in the file, and how many rows it held for the code (0 = CMS published no cell for it that
    year). It is what lets `medicare_utilization` tell `not_published_small_cell` from `not_loaded`.
    Unique key: data_year, billing_code (per file).
    """

    data_year: Series[int] = pa.Field(ge=2000, le=2099)
    year_source: Series[str] = pa.Field(isin=YEAR_SOURCES)
    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    rows_in_file: Series[int] = pa.Field(ge=0)
    rows_kept: Series[int] = pa.Field(ge=0)
    code_rows: Series[int] = pa.Field(ge=0)

    class Config:
        name = SCOPE_DATASET
        coerce = True
        unique = ["data_year", "billing_code"]
