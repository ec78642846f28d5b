"""Hospital price-transparency files (45 CFR 180.50): standard charges for the codes of interest.

Two datasets come from one hospital file:

- `hospital__standard_charge`: the charges, with each charge type in its own column. A percentage
  (`negotiated_percent`) is never in a dollar column, and the allowed-amount statistics (v3 median
  and percentiles, v2 estimated amount) are never mixed with negotiated charges.
- `hospital__file`: the hospital and template facts the file states once (name, licence, NPIs,
  last-updated date, template version, attestation).

Enumerations below are documented once and used by the adapter, the checks and the SQL views.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import ALL_PAYER_GROUPS, BILLING_CODE_PATTERN, PLAN_TYPES, IsoDate, UsdAmount

DATASET = "hospital__standard_charge"
FILE_DATASET = "hospital__file"

PLACEHOLDER_AMOUNT = Decimal("999999999")
"""Nine 9s: CMS's placeholder for 'no amount'. Never a price (see `placeholder_amount`)."""

CHARGE_SCOPES = ("payer_specific", "payer_independent")
"""`payer_independent`: the item's gross charge, discounted cash price, minimum and maximum (one row
per item and setting). `payer_specific`: one payer and plan's negotiated charge for the item."""

SETTINGS = ("inpatient", "outpatient", "both")
"""Care setting a charge applies to, as the CMS template names it."""

NEGOTIATED_TYPES = ("dollar", "percentage", "algorithm")
"""Form of a payer-specific negotiated charge: a dollar amount when one is given, else a percentage,
else only an algorithm (text). A row may also carry the other forms (e.g. dollar plus algorithm)."""

NEGOTIATED_DOLLAR_REASONS = ("expressed_as_percentage", "expressed_as_algorithm", "not_published", "not_payer_specific")
"""Why `negotiated_dollar_usd` is NULL (it is NULL exactly when this is set)."""

ALLOWED_AMOUNTS_REASONS = ("placeholder_999999999", "no_claims", "not_published", "not_payer_specific")
"""Why allowed-amount statistics (median, percentiles, count, estimated amount) are missing:
`placeholder_999999999` the file wrote nine 9s (CMS's placeholder, read as 'no amount'; the
other statistics of the row are kept); `no_claims` count is 0; `not_published` none given."""

METHODOLOGIES = ("case_rate", "fee_schedule", "percent_of_total_billed_charges", "per_diem", "other")
"""The CMS contracting methods (`standard_charge|methodology`), lower-case with underscores."""

CODE_TYPES = ("CPT", "HCPCS")
"""The code systems of the codes of interest. A code of interest typed otherwise is quarantined."""

TEMPLATE_GENERATIONS = ("v2", "v3")
"""CMS template generation told by the file's structure: v2 = 2.0-2.2 (hospital_location,
estimated_amount, affirmation), v3 = 3.0 (location_name, type_2_npi, attestation with attester,
median / 10th / 90th percentile / count)."""

FILE_LAYOUTS = ("csv_tall", "csv_wide", "json")

MONEY_COLUMNS = ("negotiated_dollar_usd", "gross_charge_usd", "discounted_cash_usd", "minimum_usd", "maximum_usd")


def _not_placeholder(series: pd.Series) -> pd.Series:
    return series != PLACEHOLDER_AMOUNT


class HospitalStandardCharge(pa.DataFrameModel):
    """One row per hospital file x billing code x item (description, other codes, drug unit) x setting
    x modifiers x payer x plan x contract terms (methodology, notes), plus one payer_independent row
    per item and setting holding its gross charge, discounted cash price, minimum and maximum.

    The issue's grain (file x code x setting x modifiers x payer x plan) is widened by the item
    description and notes because hospitals list tiers of one code for one plan as separate items
    ("per diem, days 1-3" / "days 4-5"), and CMS's own examples do so. Hospital facts (name, licence,
    NPIs, last-updated date, template version) are in `hospital__file` (same load_id); the staging
    view joins them. Unique key: see Config.unique (within one file).
    """

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    billing_code_type: Series[str] = pa.Field(isin=CODE_TYPES)
    other_codes: Series[str] | None = pa.Field(nullable=True)  # "RC:0360|NDC:..." as written
    description: Series[str] = pa.Field(nullable=True)
    setting: Series[str] = pa.Field(isin=SETTINGS)
    modifiers: Series[str] = pa.Field(nullable=True)  # "50|62"
    drug_unit_of_measurement: Series[str] = pa.Field(nullable=True)
    drug_type_of_measurement: Series[str] = pa.Field(nullable=True)
    charge_scope: Series[str] = pa.Field(isin=CHARGE_SCOPES)
    payer_name: Series[str] = pa.Field(nullable=True)  # as written; NULL on payer_independent rows
    # Set by the loader from the payer reference table: unknown names are `other` (and listed by
    # the unmapped_payer_name view), payer_independent rows have none.
    payer_group: Series[str] = pa.Field(isin=ALL_PAYER_GROUPS, nullable=True)
    plan_name: Series[str] = pa.Field(nullable=True)  # as written
    plan_type: Series[str] = pa.Field(isin=PLAN_TYPES, nullable=True)  # only when payer/plan text says so
    negotiated_dollar_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)
    negotiated_percent: Series[UsdAmount] = pa.Field(nullable=True, gt=0)  # percent: 150 = 150 %
    negotiated_algorithm: Series[str] = pa.Field(nullable=True)
    negotiated_type: Series[str] = pa.Field(isin=NEGOTIATED_TYPES, nullable=True)
    negotiated_dollar_reason: Series[str] = pa.Field(isin=NEGOTIATED_DOLLAR_REASONS, nullable=True)
    estimated_amount_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)  # v2 only
    median_amount_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)  # v3 allowed amounts
    percentile_10th_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)
    percentile_90th_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)
    allowed_amount_count: Series[str] = pa.Field(nullable=True)  # text: "1 through 10" is valid
    allowed_amounts_reason: Series[str] = pa.Field(isin=ALLOWED_AMOUNTS_REASONS, nullable=True)
    methodology: Series[str] = pa.Field(nullable=True)
    gross_charge_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)
    discounted_cash_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)
    minimum_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)
    maximum_usd: Series[UsdAmount] = pa.Field(nullable=True, gt=0)
    # payer_independent rows: which of gross_charge, discounted_cash, minimum, maximum the file does
    # not publish for the item (NULL when it publishes all four); NULL on payer_specific rows.
    charges_missing: Series[str] = pa.Field(nullable=True)
    additional_notes: Series[str] = pa.Field(nullable=True)

    class Config:
        name = DATASET
        coerce = True
        unique = [
            "billing_code",
            "other_codes",
            "description",
            "setting",
            "modifiers",
            "drug_unit_of_measurement",
            "drug_type_of_measurement",
            "charge_scope",
            "payer_name",
            "plan_name",
            "methodology",
            "additional_notes",
        ]

    # --- blocking ---------------------------------------------------------------------------------
    @pa.check(
        *MONEY_COLUMNS,
        "negotiated_percent",
        name="placeholder_amount",
        error="999999999 is CMS's placeholder for 'no amount', not a price",
    )
    def placeholder_amount(cls, series: Series) -> Series[bool]:
        return _not_placeholder(series)

    @pa.dataframe_check(name="payer_row_names_payer", error="a payer-specific charge without payer_name")
    def payer_row_names_payer(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["charge_scope"] != "payer_specific") | df["payer_name"].notna()

    @pa.dataframe_check(
        name="payer_row_has_negotiated_charge",
        error="a payer and plan listed with no negotiated charge (no dollar amount, percentage or algorithm)",
    )
    def payer_row_has_negotiated_charge(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["charge_scope"] != "payer_specific") | df["negotiated_type"].notna()

    # --- advisory: reported, the row loads -----------------------------------------------------------
    @pa.check(
        "methodology",
        name="methodology_in_cms_list",
        raise_warning=True,
        error="methodology is not one of case rate, fee schedule, percent of total billed charges, per diem, other",
    )
    def methodology_in_cms_list(cls, series: Series[str]) -> Series[bool]:
        return series.isin(METHODOLOGIES)

    @pa.check(
        "negotiated_percent",
        name="percent_looks_like_dollars",
        raise_warning=True,
        error="negotiated_percent above 1000 %: is it a dollar amount in the percentage column?",
    )
    def percent_looks_like_dollars(cls, series: Series) -> Series[bool]:
        return series <= 1000

    @pa.check(
        "allowed_amount_count",
        name="allowed_amount_count_format",
        raise_warning=True,
        error="count of allowed amounts is neither a number nor '1 through 10'",
    )
    def allowed_amount_count_format(cls, series: Series[str]) -> Series[bool]:
        return series.str.fullmatch(r"\d+|1 through 10")

    @pa.check(
        "allowed_amounts_reason",
        name="allowed_amount_placeholder",
        raise_warning=True,
        error="an allowed-amount statistic was 999999999 (CMS's placeholder for 'no amount'): loaded as NULL",
    )
    def allowed_amount_placeholder(cls, series: Series[str]) -> Series[bool]:
        return series != "placeholder_999999999"

    @pa.dataframe_check(
        name="payer_row_names_plan", raise_warning=True, error="a payer-specific charge without plan_name"
    )
    def payer_row_names_plan(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["charge_scope"] != "payer_specific") | df["plan_name"].notna()

    @pa.dataframe_check(
        name="payer_row_has_methodology", raise_warning=True, error="a payer-specific charge without methodology"
    )
    def payer_row_has_methodology(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["charge_scope"] != "payer_specific") | df["methodology"].notna()

    @pa.dataframe_check(
        name="other_methodology_explained", raise_warning=True, error="methodology 'other' without notes explaining it"
    )
    def other_methodology_explained(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["methodology"] != "other") | df["additional_notes"].notna()

    @pa.dataframe_check(name="minimum_not_above_maximum", raise_warning=True, error="minimum_usd is above maximum_usd")
    def minimum_not_above_maximum(cls, df: pd.DataFrame) -> Series[bool]:
        low, high = df["minimum_usd"], df["maximum_usd"]
        return low.isna() | high.isna() | (low <= high)

    @pa.dataframe_check(name="description_present", raise_warning=True, error="the item has no description")
    def description_present(cls, df: pd.DataFrame) -> Series[bool]:
        return df["description"].notna()


KNOWN_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "2.2.1", "3.0.0")
"""Template versions CMS has published (the declared `version` is compared with these)."""


class HospitalFile(pa.DataFrameModel):
    """One row per loaded hospital file: the hospital and template facts the file states once.

    Join to `hospital__standard_charge` on load_id. `template_generation` is told by the file's
    structure, `template_version` is what the file declares; they are compared (advisory). The row
    describes the file (`Batch.describes_file`): it is not counted in rows read / loaded, and a
    blocking failure rejects the file; advisory findings flag it (stg_hospital_file.flags).
    """

    hospital_name: Series[str] = pa.Field(str_length={"min_value": 1})
    location_name: Series[str] = pa.Field(nullable=True)  # several locations joined with "|"
    hospital_address: Series[str] = pa.Field(nullable=True)  # "|"-joined, in location order
    license_number: Series[str] = pa.Field(nullable=True)
    license_state: Series[str] = pa.Field(nullable=True)
    type_2_npi: Series[str] = pa.Field(nullable=True)  # "|"-joined (v3)
    last_updated_on: Series[IsoDate] = pa.Field(nullable=True)
    last_updated_on_as_written: Series[str] = pa.Field(nullable=True)
    template_version: Series[str] = pa.Field(nullable=True)  # as declared
    template_generation: Series[str] = pa.Field(isin=TEMPLATE_GENERATIONS)
    file_layout: Series[str] = pa.Field(isin=FILE_LAYOUTS)
    attestation_confirmed: Series[bool] = pa.Field(nullable=True)
    attester_name: Series[str] = pa.Field(nullable=True)
    general_contract_provisions: Series[str] = pa.Field(nullable=True)
    ignored_columns: Series[str] = pa.Field(nullable=True)  # columns the adapter does not read, as written

    class Config:
        name = FILE_DATASET
        coerce = True

    # --- advisory: the file loads, flagged -----------------------------------------------------------
    @pa.check(
        "attestation_confirmed",
        name="attestation_confirmed",
        raise_warning=True,
        ignore_na=False,
        error="the hospital did not confirm the attestation (false or missing): charges loaded, file flagged",
    )
    def attestation_confirmed_true(cls, series: Series) -> Series[bool]:
        return series.fillna(False).astype(bool)

    @pa.dataframe_check(
        name="last_updated_on_readable",
        raise_warning=True,
        error="last_updated_on is missing or not a date we can read for certain",
    )
    def last_updated_on_readable(cls, df: pd.DataFrame) -> Series[bool]:
        return df["last_updated_on"].notna()

    @pa.check(
        "template_version",
        name="template_version_known",
        raise_warning=True,
        ignore_na=False,
        error="declared version is not a CMS template version (2.0.0, 2.1.0, 2.2.0, 2.2.1, 3.0.0)",
    )
    def template_version_known(cls, series: Series[str]) -> Series[bool]:
        return series.isin(KNOWN_VERSIONS)

    @pa.dataframe_check(
        name="template_version_matches_structure",
        raise_warning=True,
        error="declared version and the file's structure disagree (read by its structure)",
    )
    def template_version_matches_structure(cls, df: pd.DataFrame) -> Series[bool]:
        declared = df["template_version"].astype("str").str.extract(r"^\s*v?(\d)", expand=False)
        told = df["template_generation"].astype("str").str[1:]
        return declared.isna() | (declared == told)
