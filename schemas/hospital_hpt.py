"""Hospital `cms-hpt.txt` entries: what each watched hospital's web root says about its machine-readable files.

Since 2024-01-01 (CY2024 OPPS/ASC final rule) a hospital's MRF host serves `https://<domain>/cms-hpt.txt`, one
block per location (`location-name:`, `source-page-url:`, `mrf-url:`, `contact-name:`, `contact-email:`, blocks
separated by a blank line; CMSgov/hpt-tool txt-generator/README.md). `payerbench fetch hospital_mrf` reads it
(flows/fetch/hospital_hpt.py) and records every entry here, good or bad, with a finding naming what is wrong.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.reference import WEB_ROOT_PATTERN

DATASET = "hospital__hpt_entry"

CMS_HPT_FIELDS = ("location-name", "source-page-url", "mrf-url", "contact-name", "contact-email")
"""The keys of one cms-hpt.txt block, in CMS's order (all required by CMS)."""

FINDINGS = {
    # the file as a whole (one row, entry 0)
    "cms_hpt_unreachable": "neither https://<root>/cms-hpt.txt nor https://www.<root>/cms-hpt.txt answered with it",
    "cms_hpt_is_html": "an HTML page came back where the cms-hpt.txt text file was expected",
    "cms_hpt_empty": "the text holds no location-name / mrf-url block",
    # one entry (block)
    "missing_field": "a required key (location-name, source-page-url, mrf-url, contact-name, contact-email) is "
    "missing or blank",
    "relative_url": "mrf-url or source-page-url is not an absolute URL",
    "not_https": "mrf-url or source-page-url is not https",
    "bad_contact_email": "contact-email is not an e-mail address",
    "unrecognised_line": "a line that is not `key: value` with one of CMS's keys",
    # the file the entry lists
    "mrf_unreachable": "the mrf-url did not answer with a file (404, refused, gave up after retries)",
    "mrf_not_data": "the mrf-url answered with an HTML page or a file that is not CSV or JSON",
    "mrf_too_large": "the mrf-url's file is larger than the fetch's size cap",
}
"""Why an entry (or a hospital's whole cms-hpt.txt) is not a clean one; the first that applies is `finding`,
all of them are in `finding_detail`."""

HTTPS_URL = r"^https://[^\s/]+(?:/\S*)?$"


class HptEntry(pa.DataFrameModel):
    """One row per watched hospital web root and cms-hpt.txt entry (block), as last fetched; entry 0 is a row
    about the whole file when it could not be read (unreachable, HTML, empty).

    Unique key: (web_root, entry). A row without `finding` is a complete entry whose mrf-url is https and was
    fetched (`mrf_file`: where it landed, relative to raw/). Values are kept as the hospital wrote them.
    """

    hospital_name: Series[str] = pa.Field(str_length={"min_value": 1})
    state_abbrev: Series[str] = pa.Field(str_matches=r"^[A-Z]{2}$")
    web_root: Series[str] = pa.Field(str_matches=WEB_ROOT_PATTERN)
    txt_url: Series[str] = pa.Field(nullable=True, str_matches=HTTPS_URL + r"|^$")  # the cms-hpt.txt that answered
    entry: Series[int] = pa.Field(ge=0)  # 1, 2, ... in file order; 0: the file as a whole
    txt_line: Series[int] = pa.Field(nullable=True, ge=1)  # the block's first line in cms-hpt.txt
    location_name: Series[str] = pa.Field(nullable=True)
    source_page_url: Series[str] = pa.Field(nullable=True)
    mrf_url: Series[str] = pa.Field(nullable=True)
    contact_name: Series[str] = pa.Field(nullable=True)
    contact_email: Series[str] = pa.Field(nullable=True)
    mrf_file: Series[str] = pa.Field(nullable=True, str_matches=r"^hospital_mrf/fetched/[^/]+/[^/]+$")
    finding: Series[str] = pa.Field(nullable=True, isin=list(FINDINGS))
    finding_detail: Series[str] = pa.Field(nullable=True)
    fetched_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"})

    class Config:
        name = DATASET
        coerce = True
        unique = ["web_root", "entry"]

    @pa.dataframe_check(
        name="clean_entry_is_complete",
        error="an entry without a finding needs every CMS key, an https mrf-url and its landed mrf_file",
    )
    def clean_entry_is_complete(cls, df: pd.DataFrame) -> Series[bool]:
        needed = ["location_name", "source_page_url", "mrf_url", "contact_name", "contact_email", "mrf_file"]
        complete = df[needed].notna().all(axis=1) & df["mrf_url"].astype("string").str.match(HTTPS_URL).fillna(False)
        return df["finding"].notna() | (complete & (df["entry"] > 0))

    @pa.dataframe_check(name="finding_has_detail", error="a finding needs its finding_detail (what to do about it)")
    def finding_has_detail(cls, df: pd.DataFrame) -> Series[bool]:
        return df["finding"].isna() | df["finding_detail"].notna()
