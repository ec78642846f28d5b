"""Transparency-in-Coverage datasets: negotiated rates, allowed amounts, files, tables of contents."""

from __future__ import annotations

import re
from itertools import chain

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.typing import Series

from schemas.fields import ALL_PAYER_GROUPS, BILLING_CODE_PATTERN, IsoDate, UsdAmount, decimal_type

TEXT_LIST = {"arrow_type": pyarrow.list_(pyarrow.string())}
NEGOTIATED_TYPES = ["negotiated", "derived", "fee schedule", "percentage", "per diem"]
"""CMS's negotiated_type values. `percentage` rates are a percent of billed charges and live in
`negotiated_percentage`, never in `negotiated_rate_usd`; every other type is dollars."""
BILLING_CLASSES = ["professional", "institutional", "both"]
SETTINGS = ["inpatient", "outpatient", "both"]
ARRANGEMENTS = ["ffs", "bundle", "capitation"]
PROVIDER_GROUP_STATUSES = [
    "inline",  # provider_groups written inside the rate
    "resolved",  # a provider_references id found in the file's provider_references
    "remote_resolved",  # a v1 remote reference read from a local copy of the referenced file
    "remote_unresolved",  # a v1 remote reference whose file is not available locally: NPIs NULL
    "unknown_reference",  # an id the file's provider_references does not define: NPIs NULL
    "duplicate_reference_id",  # an id defined more than once: which group is meant is unknown, NPIs NULL
    "empty_reference",  # the reference exists but lists no provider groups
    "no_provider_group",  # the rate names no provider at all
]
NPI_PATTERN = r"^(?:[1-9][0-9]{9}|0)$"  # 10 digits; CMS allows [0] for "no NPI"
POS_PATTERN = r"^(?:[0-9]{2}|CSTM-00)$"
PercentValue = decimal_type(12, 4)


def _each_matches(values: pd.Series, pattern: str) -> pd.Series:
    """True where every element of a list cell matches `pattern` (null cells pass)."""
    if isinstance(values.dtype, pd.ArrowDtype):  # lists held as Arrow (the loader's TiC provider groups)
        lists = pyarrow.array(values.array)
        outcome = _all_match_arrow(lists, pattern)
        if outcome is not None:
            return pd.Series(outcome, index=values.index, name=values.name)
        cells = lists.to_pylist()
        values = pd.Series(np.fromiter(cells, dtype=object, count=len(cells)), index=values.index, name=values.name)
    # rows of one provider group or one price share their list object: each distinct object is read
    # once (rows grouped by object id, in C; the series holds every list while this runs, so no id is
    # reused), and its outcome spread back to its rows
    cells = values.to_numpy(dtype=object)
    codes, _ = pd.factorize(np.fromiter(map(id, cells), dtype=np.uint64, count=len(cells)))
    _, first = np.unique(codes, return_index=True)
    outcome = _all_match(cells[first], pattern)
    return pd.Series(outcome[codes] if len(cells) else outcome, index=values.index, name=values.name)


def _all_match_arrow(lists: pyarrow.Array, pattern: str) -> np.ndarray | None:
    """`_all_match` for an Arrow list array, without a Python object per element (RE2, `^(?:p)`); None where
    `_all_match` would read elements as Python does (a newline in one, or a null element)."""
    if not pyarrow.types.is_list(lists.type) or not pyarrow.types.is_string(lists.type.value_type):
        return None
    flat = pc.list_flatten(lists)
    if flat.null_count or pc.any(pc.match_substring(flat, "\n")).as_py():
        return None
    bad = pc.invert(pc.match_substring_regex(flat, f"^(?:{pattern})")).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    return np.bincount(parents[bad], minlength=len(lists)) == 0


def _all_match(cells: np.ndarray, pattern: str) -> np.ndarray:
    """For each cell: not a list, or a list whose every element's whole text matches `pattern` (`re.fullmatch`:
    "1234567893\n" is not an NPI, though `re.match` with a pattern ending in `$` would let it through)."""
    lists = [v for v in cells if isinstance(v, list)]
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = list(chain.from_iterable(lists))
    try:  # every element text without a newline: RE2 over Arrow, where `^(?:p)` means what re.fullmatch(p) does
        texts = pyarrow.array(flat, type=pyarrow.string())
        if pc.any(pc.match_substring(texts, "\n")).as_py():
            raise ValueError("a newline: RE2's `$` and Python's differ around a final newline")
        if texts.null_count:
            raise ValueError("a null element: read as its text ('None'), as before")
        ok = pc.match_substring_regex(texts, f"^(?:{pattern})").to_numpy(zero_copy_only=False)
    except (pyarrow.ArrowException, ValueError, TypeError):
        compiled = re.compile(pattern)
        ok = np.fromiter((compiled.fullmatch(str(x)) is not None for x in flat), dtype=bool, count=len(flat))
    bad_so_far = np.concatenate([[0], np.cumsum(~ok)])
    ends = np.cumsum(lengths)
    list_ok = bad_so_far[ends] == bad_so_far[ends - lengths]
    out = np.ones(len(cells), dtype=bool)
    out[np.fromiter((isinstance(v, list) for v in cells), dtype=bool, count=len(cells))] = list_ok
    return out


class InNetworkRate(pa.DataFrameModel):
    """One row per file x billing code x negotiated price x provider group (NPI list and TIN).

    Dollar types (negotiated, derived, fee schedule, per diem) fill `negotiated_rate_usd`;
    `percentage` fills `negotiated_percentage` (percent of billed charges). Provider columns are
    NULL with `provider_group_status` saying why when a reference cannot be resolved.
    """

    reporting_entity_name: Series[str]
    reporting_entity_type: Series[str] = pa.Field(nullable=True)
    payer_name: Series[str]
    payer_group: Series[str] = pa.Field(isin=ALL_PAYER_GROUPS)
    plan_name: Series[str] = pa.Field(nullable=True)
    plan_id_type: Series[str] = pa.Field(nullable=True)
    plan_id: Series[str] = pa.Field(nullable=True)
    plan_market_type: Series[str] = pa.Field(nullable=True)
    issuer_name: Series[str] = pa.Field(nullable=True)
    plan_sponsor_name: Series[str] = pa.Field(nullable=True)
    last_updated_on: Series[IsoDate] = pa.Field(nullable=True)
    schema_version: Series[str] = pa.Field(nullable=True)
    negotiation_arrangement: Series[str] = pa.Field(isin=ARRANGEMENTS, nullable=True)
    billing_code_type: Series[str] = pa.Field(nullable=True)
    billing_code_type_version: Series[str] = pa.Field(nullable=True)
    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    item_name: Series[str] = pa.Field(nullable=True)
    bundled_codes: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    covered_services: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    negotiated_type: Series[str] = pa.Field(isin=NEGOTIATED_TYPES)
    negotiated_rate_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)
    negotiated_percentage: Series[PercentValue] = pa.Field(nullable=True, ge=0)
    negotiated_rate_text: Series[str] = pa.Field(nullable=True)
    negotiated_rate_json_type: Series[str]
    billing_class: Series[str] = pa.Field(isin=BILLING_CLASSES)
    setting: Series[str] = pa.Field(isin=SETTINGS, nullable=True)
    service_codes: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    billing_code_modifiers: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    expiration_date: Series[IsoDate] = pa.Field(nullable=True)
    additional_information: Series[str] = pa.Field(nullable=True)
    provider_group_status: Series[str] = pa.Field(isin=PROVIDER_GROUP_STATUSES)
    provider_group_id: Series[str] = pa.Field(nullable=True)
    provider_reference_location: Series[str] = pa.Field(nullable=True)
    network_names: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    npis: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    npi_count: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    tin_type: Series[str] = pa.Field(nullable=True)
    tin_value: Series[str] = pa.Field(nullable=True)
    tin_business_name: Series[str] = pa.Field(nullable=True)

    class Config:
        name = "tic__in_network_rate"
        coerce = True

    @pa.check("npis", name="npis_are_10_digit", error="an NPI is not 10 digits (or the [0] placeholder)")
    def npis_are_10_digit(cls, values: Series[object]) -> Series[bool]:
        return _each_matches(values, NPI_PATTERN)

    @pa.check(
        "negotiated_rate_json_type",
        name="negotiated_rate_is_a_number",
        error="negotiated_rate is not a JSON number (e.g. written as a string); CMS requires a number",
    )
    def negotiated_rate_is_a_number(cls, values: Series[str]) -> Series[bool]:
        return values == "number"

    @pa.dataframe_check(
        name="dollars_or_percentage_not_both", error="a rate is either dollars or a percentage, never both"
    )
    def one_kind_of_rate(cls, df: pd.DataFrame) -> Series[bool]:
        return df["negotiated_rate_usd"].isna() | df["negotiated_percentage"].isna()

    # --- advisory ------------------------------------------------------------------------------
    @pa.check(
        "service_codes",
        name="place_of_service_codes",
        raise_warning=True,
        error="a service_code is not a 2-digit CMS place of service (or CSTM-00)",
    )
    def place_of_service_codes(cls, values: Series[object]) -> Series[bool]:
        return _each_matches(values, POS_PATTERN)

    @pa.dataframe_check(
        name="zero_rate",
        raise_warning=True,
        error="a negotiated rate of 0 (CMS requires a rate above 0; often a placeholder)",
    )
    def zero_rate(cls, df: pd.DataFrame) -> Series[bool]:
        usd, pct = df["negotiated_rate_usd"], df["negotiated_percentage"]
        return ~((usd.notna() & (usd.astype(object) == 0)) | (pct.notna() & (pct.astype(object) == 0)))

    @pa.dataframe_check(
        name="provider_unresolved",
        raise_warning=True,
        error="the rate's provider group could not be resolved (see provider_group_status)",
    )
    def provider_unresolved(cls, df: pd.DataFrame) -> Series[bool]:
        return df["provider_group_status"].isin(["inline", "resolved", "remote_resolved"])


class AllowedAmount(pa.DataFrameModel):
    """One row per file x billing code x allowed amount (TIN, setting) x payment x provider."""

    reporting_entity_name: Series[str]
    reporting_entity_type: Series[str] = pa.Field(nullable=True)
    payer_name: Series[str]
    payer_group: Series[str] = pa.Field(isin=ALL_PAYER_GROUPS)
    plan_name: Series[str] = pa.Field(nullable=True)
    plan_id_type: Series[str] = pa.Field(nullable=True)
    plan_id: Series[str] = pa.Field(nullable=True)
    plan_market_type: Series[str] = pa.Field(nullable=True)
    issuer_name: Series[str] = pa.Field(nullable=True)
    plan_sponsor_name: Series[str] = pa.Field(nullable=True)
    last_updated_on: Series[IsoDate] = pa.Field(nullable=True)
    schema_version: Series[str] = pa.Field(nullable=True)
    billing_code_type: Series[str] = pa.Field(nullable=True)
    billing_code_type_version: Series[str] = pa.Field(nullable=True)
    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    item_name: Series[str] = pa.Field(nullable=True)
    tin_type: Series[str] = pa.Field(nullable=True)
    tin_value: Series[str] = pa.Field(nullable=True)
    service_codes: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    billing_class: Series[str] = pa.Field(isin=BILLING_CLASSES, nullable=True)
    setting: Series[str] = pa.Field(isin=SETTINGS, nullable=True)
    allowed_amount_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)
    allowed_amount_json_type: Series[str] = pa.Field(
        isin=["number"], description="JSON type of allowed_amount as written; anything but a number is quarantined"
    )
    billing_code_modifiers: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    billed_charge_usd: Series[UsdAmount] = pa.Field(nullable=True, ge=0)
    billed_charge_json_type: Series[str] = pa.Field(isin=["number", "null"])
    npis: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    npi_count: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)

    class Config:
        name = "tic__allowed_amount"
        coerce = True

    @pa.check("npis", name="npis_are_10_digit", error="an NPI is not 10 digits")
    def npis_are_10_digit(cls, values: Series[object]) -> Series[bool]:
        return _each_matches(values, NPI_PATTERN)


class TicFile(pa.DataFrameModel):
    """One row per TiC file read: its kind, plan, version, what was found and how it was read.

    A file with no item for the codes of interest still has its row (`target_items = 0`), so
    "this payer's file was searched and holds no 0440T rate" is data, not silence.
    """

    reporting_entity_name: Series[str] = pa.Field(nullable=True)
    reporting_entity_type: Series[str] = pa.Field(nullable=True)
    payer_name: Series[str] = pa.Field(nullable=True)
    payer_group: Series[str] = pa.Field(isin=ALL_PAYER_GROUPS, nullable=True)
    plan_name: Series[str] = pa.Field(nullable=True)
    plan_id: Series[str] = pa.Field(nullable=True)
    issuer_name: Series[str] = pa.Field(nullable=True)
    last_updated_on: Series[IsoDate] = pa.Field(nullable=True)
    schema_version: Series[str] = pa.Field(nullable=True)
    file_kind: Series[str] = pa.Field(isin=["in_network", "allowed_amount", "table_of_contents", "provider_reference"])
    uncompressed_bytes: Series[pd.Int64Dtype] = pa.Field(ge=0)
    items_scanned: Series[pd.Int64Dtype] = pa.Field(ge=0)
    target_items: Series[pd.Int64Dtype] = pa.Field(ge=0)
    target_codes_found: Series[object] = pa.Field(nullable=True, metadata=TEXT_LIST)
    provider_references_resolved: Series[pd.Int64Dtype] = pa.Field(ge=0)
    extraction_path: Series[str] = pa.Field(isin=["fast", "ijson_fallback", "ijson"])
    fallback_reason: Series[str] = pa.Field(nullable=True)
    extraction_seconds: Series[float] = pa.Field(ge=0)

    class Config:
        name = "tic__file"
        coerce = True


class TocFile(pa.DataFrameModel):
    """One row per table of contents x reporting plan x listed file (in-network or allowed-amount)."""

    reporting_entity_name: Series[str]
    reporting_entity_type: Series[str] = pa.Field(nullable=True)
    schema_version: Series[str] = pa.Field(nullable=True)
    plan_name: Series[str] = pa.Field(nullable=True)
    plan_id_type: Series[str] = pa.Field(nullable=True)
    plan_id: Series[str] = pa.Field(nullable=True)
    plan_market_type: Series[str] = pa.Field(nullable=True)
    file_type: Series[str] = pa.Field(isin=["in_network", "allowed_amount"])
    file_description: Series[str] = pa.Field(nullable=True)
    file_location: Series[str]

    class Config:
        name = "tic__toc_file"
        coerce = True
