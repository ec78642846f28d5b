"""Payer policy pages as fetched: one snapshot per page version, and one change row per new version of a page.

`payerbench fetch payer_policy` (flows/fetch/policy_pages.py) fetches every policy URL of the reviewed extract
(`payer__policy`), hashes the page's normalised text, and lands a snapshot file when the text is new; the
adapter flows/sources/payer_policy_snapshot.py reads those files into the two datasets below. The extract
stays the reviewed truth: a change only drafts a row for it (raw/payer_policy_drafts/).

Codes are recorded per snapshot as two comma-joined lists (`codes_checked`, `codes_listed`) rather than one
row per code: a snapshot is one page version with one hash, one set of dates and one set of stance
sentences, and a row per code would repeat all of them (and make "the page changed" a question over several
rows). stg_payer_policy_snapshot splits the lists for joins to the extract by billing code.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import COVERAGE_STATUSES, IsoDate

SNAPSHOT_DATASET = "payer__policy_snapshot"
CHANGE_DATASET = "payer__policy_change"

SHA256_PATTERN = r"^[0-9a-f]{64}$"
CODE_LIST_PATTERN = r"^(?:\d{4}[0-9AFTUM]|[A-V]\d{4})(?:,(?:\d{4}[0-9AFTUM]|[A-V]\d{4}))*$"
URL_PATTERN = r"^https?://\S+$"
CONTENT_TYPES = ("html", "pdf", "text")
STANCES = tuple(s for s in COVERAGE_STATUSES if s != "no_policy_found")
"""What a stance sentence says, in the extract's coverage_status terms (a page's stance: the distinct ones,
sorted and joined by ';', e.g. `covered;experimental_investigational` for a policy covering some uses)."""


def _codes(column: pd.Series) -> pd.Series:
    return column.fillna("").map(lambda text: {c for c in str(text).split(",") if c})


def _stance_ok(column: pd.Series) -> pd.Series:
    return column.isna() | column.map(lambda text: all(p in STANCES for p in str(text).split(";")))


class PolicySnapshot(pa.DataFrameModel):
    """One row per policy page version: a URL's first fetch, and each fetch whose normalised text is new.

    An unchanged page (HTTP 304, or the same text sha256) adds no row: the fetch manifest records the check.
    Unique key: url, fetched_at.
    """

    url: Series[str] = pa.Field(str_matches=URL_PATTERN)
    final_url: Series[str] = pa.Field(nullable=True, str_matches=URL_PATTERN)
    payer_name: Series[str] = pa.Field(str_length={"min_value": 2})
    policy_id: Series[str] = pa.Field(nullable=True)
    policy_title: Series[str] = pa.Field(nullable=True)
    fetch_id: Series[str] = pa.Field(str_matches=r"^\S+$")
    fetched_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"})
    http_status: Series[pd.Int64Dtype] = pa.Field(ge=200, le=299)
    content_type: Series[str] = pa.Field(isin=CONTENT_TYPES)
    text_sha256: Series[str] = pa.Field(str_matches=SHA256_PATTERN)  # of the normalised text (UTF-8)
    text_chars: Series[pd.Int64Dtype] = pa.Field(ge=0)
    last_reviewed_date: Series[IsoDate] = pa.Field(nullable=True)
    effective_date: Series[IsoDate] = pa.Field(nullable=True)
    published_date: Series[IsoDate] = pa.Field(nullable=True)
    codes_checked: Series[str] = pa.Field(str_matches=CODE_LIST_PATTERN)  # the codes looked for, comma-joined
    codes_listed: Series[str] = pa.Field(nullable=True, str_matches=CODE_LIST_PATTERN)  # those found on the page
    stance: Series[str] = pa.Field(nullable=True)
    stance_sentences: Series[str] = pa.Field(nullable=True)  # one per line, as the page words them
    previous_sha256: Series[str] = pa.Field(nullable=True, str_matches=SHA256_PATTERN)  # the version before
    landed_path: Series[str] = pa.Field(str_matches=r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$)).+$")  # relative to raw/

    class Config:
        name = SNAPSHOT_DATASET
        coerce = True
        unique = ["url", "fetched_at"]

    @pa.dataframe_check(name="codes_listed_were_checked", error="codes_listed names a code not in codes_checked")
    def codes_listed_were_checked(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series([a <= b for a, b in zip(_codes(df["codes_listed"]), _codes(df["codes_checked"]))], df.index)

    @pa.dataframe_check(name="stance_known", error=f"stance: ';'-joined values of {', '.join(STANCES)}")
    def stance_known(cls, df: pd.DataFrame) -> Series[bool]:
        return _stance_ok(df["stance"])

    @pa.dataframe_check(name="stance_needs_sentences", error="a stance without the sentences it was read from")
    def stance_needs_sentences(cls, df: pd.DataFrame) -> Series[bool]:
        return df["stance"].isna() | df["stance_sentences"].notna()

    @pa.dataframe_check(name="new_version_differs", error="previous_sha256 equals text_sha256: not a new version")
    def new_version_differs(cls, df: pd.DataFrame) -> Series[bool]:
        return df["previous_sha256"].isna() | (df["previous_sha256"] != df["text_sha256"])

    # --- advisory: reported in the load log, the row still loads --------------------------------
    @pa.dataframe_check(
        name="reviewed_after_fetch",
        raise_warning=True,
        error="the page's last review date is after the day it was fetched (a misread date?)",
    )
    def reviewed_after_fetch(cls, df: pd.DataFrame) -> Series[bool]:
        reviewed = pd.to_datetime(df["last_reviewed_date"], errors="coerce")
        fetched = pd.to_datetime(df["fetched_at"], errors="coerce", utc=True).dt.tz_localize(None).dt.normalize()
        return reviewed.isna() | fetched.isna() | (reviewed <= fetched)


class PolicyChange(pa.DataFrameModel):
    """One row per new version of a page seen before: what changed in the passages that matter.

    `diff` is a unified diff of the relevant passages only (dates, codes found, stance sentences); null when
    only other text changed (`relevant_changed` false). Unique key: url, fetched_at.
    """

    url: Series[str] = pa.Field(str_matches=URL_PATTERN)
    payer_name: Series[str] = pa.Field(str_length={"min_value": 2})
    policy_id: Series[str] = pa.Field(nullable=True)
    previous_fetched_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"})
    fetched_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"})
    previous_sha256: Series[str] = pa.Field(str_matches=SHA256_PATTERN)
    new_sha256: Series[str] = pa.Field(str_matches=SHA256_PATTERN)
    previous_stance: Series[str] = pa.Field(nullable=True)
    new_stance: Series[str] = pa.Field(nullable=True)
    stance_changed: Series[bool]
    relevant_changed: Series[bool]
    diff: Series[str] = pa.Field(nullable=True)
    draft_path: Series[str] = pa.Field(nullable=True, str_matches=r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$)).+$")

    class Config:
        name = CHANGE_DATASET
        coerce = True
        unique = ["url", "fetched_at"]

    @pa.dataframe_check(name="sha256_differs", error="new_sha256 equals previous_sha256: nothing changed")
    def sha256_differs(cls, df: pd.DataFrame) -> Series[bool]:
        return df["previous_sha256"] != df["new_sha256"]

    @pa.dataframe_check(name="previous_before_new", error="previous_fetched_at is not before fetched_at")
    def previous_before_new(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.to_datetime(df["previous_fetched_at"], utc=True) < pd.to_datetime(df["fetched_at"], utc=True)

    @pa.dataframe_check(name="stances_known", error=f"stances: ';'-joined values of {', '.join(STANCES)}")
    def stances_known(cls, df: pd.DataFrame) -> Series[bool]:
        return _stance_ok(df["previous_stance"]) & _stance_ok(df["new_stance"])

    @pa.dataframe_check(
        name="stance_changed_agrees", error="stance_changed disagrees with previous_stance and new_stance"
    )
    def stance_changed_agrees(cls, df: pd.DataFrame) -> Series[bool]:
        before, after = df["previous_stance"].fillna(""), df["new_stance"].fillna("")
        said = df["stance_changed"].astype("boolean")  # a missing value fails not_nullable, not this
        return (said == (before != after)).fillna(True).astype(bool)

    @pa.dataframe_check(name="relevant_change_has_diff", error="relevant_changed without a diff")
    def relevant_change_has_diff(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["relevant_changed"].astype("boolean").fillna(False).astype(bool) | df["diff"].notna()
