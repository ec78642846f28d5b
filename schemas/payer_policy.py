"""Payer medical-policy extracts: what each payer's published policy says about a code."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import (
    BILLING_CODE_PATTERN,
    CODE_TYPES,
    COVERAGE_STATUSES,
    PAYER_GROUPS,
    PLAN_TYPES,
    PRIOR_AUTHORIZATION,
    SOURCE_CONFIDENCE,
    IsoDate,
)

DATASET = "payer__policy"


class PayerPolicy(pa.DataFrameModel):
    """One row per payer, plan type, policy and billing code, as an analyst extracted it.

    A row with `coverage_status = no_policy_found` records a search that found no policy for the
    code; it is kept so that reports can say "no policy found" rather than stay silent.
    Unique key: payer_name, plan_type, policy_id, billing_code (within one extract file).
    """

    payer_name: Series[str] = pa.Field(str_length={"min_value": 2})
    # Set by the loader from the payer reference table; an unknown payer_name is quarantined.
    payer_group: Series[str] = pa.Field(isin=PAYER_GROUPS, nullable=True)
    plan_type: Series[str] = pa.Field(isin=PLAN_TYPES)
    policy_id: Series[str] = pa.Field(nullable=True)
    policy_title: Series[str] = pa.Field(nullable=True)
    policy_url: Series[str] = pa.Field(nullable=True, str_matches=r"^https?://\S+$")
    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    code_type: Series[str] = pa.Field(isin=CODE_TYPES)
    coverage_status: Series[str] = pa.Field(isin=COVERAGE_STATUSES)
    prior_authorization: Series[str] = pa.Field(isin=PRIOR_AUTHORIZATION)
    effective_date: Series[IsoDate] = pa.Field(nullable=True)
    last_reviewed_date: Series[IsoDate] = pa.Field(nullable=True)
    retrieved_date: Series[IsoDate]
    evidence: Series[str] | None = pa.Field(nullable=True)
    source_confidence: Series[str] = pa.Field(isin=SOURCE_CONFIDENCE)
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = DATASET
        coerce = True
        unique = ["payer_name", "plan_type", "policy_id", "billing_code"]

    @pa.dataframe_check(name="stance_needs_policy_id", error="a coverage stance needs the policy_id it comes from")
    def stance_needs_policy_id(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["coverage_status"] == "no_policy_found") | df["policy_id"].notna()

    @pa.dataframe_check(name="stance_needs_policy_url", error="a coverage stance needs the policy_url it was read at")
    def stance_needs_policy_url(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["coverage_status"] == "no_policy_found") | df["policy_url"].notna()

    @pa.dataframe_check(name="reviewed_before_retrieved", error="last_reviewed_date is after retrieved_date")
    def reviewed_before_retrieved(cls, df: pd.DataFrame) -> Series[bool]:
        reviewed, retrieved = df["last_reviewed_date"], df["retrieved_date"]
        return reviewed.isna() | retrieved.isna() | (reviewed <= retrieved)

    # --- advisory: reported in the load log, the row still loads --------------------------------
    @pa.dataframe_check(
        name="effective_after_retrieved",
        raise_warning=True,
        error="effective_date is after retrieved_date (a policy announced ahead of its start)",
    )
    def effective_after_retrieved(cls, df: pd.DataFrame) -> Series[bool]:
        effective, retrieved = df["effective_date"], df["retrieved_date"]
        return effective.isna() | retrieved.isna() | (effective <= retrieved)

    @pa.dataframe_check(
        name="stance_without_evidence",
        raise_warning=True,
        error="a stance marked not_found: the source could not establish it",
    )
    def stance_without_evidence(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["coverage_status"] == "no_policy_found") | (df["source_confidence"] != "not_found")
