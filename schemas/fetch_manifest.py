"""The fetch manifest (raw/fetch_manifest/fetch_manifest.csv): one row per URL asked or file landed by `payerbench fetch`."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

DATASET = "fetch__manifest"

OUTCOMES = (
    "downloaded",
    "reissued",
    "unchanged",
    "not_modified",
    "discovered",
    "licence_required",
    "refused",
    "failed",
    "offline",
)
"""What one request or landed file came to (flows/fetch/manifest.py says what each means)."""

SHA256_PATTERN = r"^[0-9a-f]{64}$"


class FetchManifest(pa.DataFrameModel):
    """One row per URL asked (a page, a download, an API page) or file landed, per fetch run.

    Unique key: fetch_id, logical_key, url, landed_path (a download and each member landed from it are rows
    of their own). `license_acknowledged` is null where the file is not licence-gated.
    """

    fetch_id: Series[str] = pa.Field(str_matches=r"^\S+$")
    source: Series[str] = pa.Field(str_matches=r"^[a-z][a-z0-9_]*$")
    logical_key: Series[str] = pa.Field(str_length={"min_value": 1})
    release: Series[str] = pa.Field(nullable=True)
    url: Series[str] = pa.Field(str_matches=r"^https?://\S+$")
    outcome: Series[str] = pa.Field(isin=OUTCOMES)
    final_url: Series[str] = pa.Field(nullable=True, str_matches=r"^https?://\S+$")
    http_status: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=100, le=599)
    etag: Series[str] = pa.Field(nullable=True)
    last_modified: Series[str] = pa.Field(nullable=True)
    content_length: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    bytes_received: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    sha256: Series[str] = pa.Field(nullable=True, str_matches=SHA256_PATTERN)
    fetched_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"})
    # relative to raw/, inside it: never absolute, never `..`
    landed_path: Series[str] = pa.Field(nullable=True, str_matches=r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$)).+$")
    license_acknowledged: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    message: Series[str] = pa.Field(nullable=True)

    class Config:
        name = DATASET
        coerce = True
        unique = ["fetch_id", "logical_key", "url", "landed_path"]
