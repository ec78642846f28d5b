"""Reference tables: payer aliases, codes of interest, geographies, and the code facts the report prints.

They live as small CSVs in `raw/reference/` (curated by analysts, loaded and validated like any
other source) so that changing a mapping or adding a code is a data change, not a code change.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import ALL_PAYER_GROUPS, BILLING_CODE_PATTERN, CODE_TYPES, SOURCE_CONFIDENCE

CODE_FACT_TOPICS = {
    "descriptor": "the official (AMA CPT) long descriptor",
    "short_descriptor": "CMS's short descriptor",
    "code_category": "CPT category and what it means",
    "code_history": "release, effective date, sunset, still active",
    "imaging": "imaging guidance included or separately reportable",
    "service_type": "what the procedure is and what it treats",
    "sites_of_service": "where it is typically performed",
    "billing_guidance": "payer or contractor billing instructions",
    "device_maker_guidance": "the device maker's coding advice",
    "ncci": "NCCI edits and MUE values",
}
"""Topics of `ref__code_fact`, in the order the report's code overview uses them."""


class PayerAlias(pa.DataFrameModel):
    """One row per payer name (or name prefix) as sources write it, mapped to a payer group.

    `match_type` `exact` matches the whole normalised name; `prefix` matches names that start with
    the alias as whole words ("aetna" matches "AETNA HMO" but not "Aetnacare"). Names are compared
    case-insensitively with punctuation folded and '&' read as 'and'.
    """

    alias: Series[str] = pa.Field(str_length={"min_value": 2})
    match_type: Series[str] = pa.Field(isin=["exact", "prefix"])
    payer_group: Series[str] = pa.Field(isin=ALL_PAYER_GROUPS)
    notes: Series[str] | None = pa.Field(nullable=True)

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
    notes: Series[str] | None = pa.Field(nullable=True)

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
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__geography"
        coerce = True
        unique = ["geo_fips"]


class CodeFact(pa.DataFrameModel):
    """One row per billing code, topic and fact the report states about the code (descriptor,
    category, history, imaging, sites of service, billing guidance), each with its source and how
    sure we are. The report prints these; it never types them in."""

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    topic: Series[str] = pa.Field(isin=list(CODE_FACT_TOPICS))
    fact: Series[str] = pa.Field(str_length={"min_value": 3})
    source_url: Series[str] = pa.Field(nullable=True, str_matches=r"^https?://\S+$")
    source_confidence: Series[str] = pa.Field(isin=SOURCE_CONFIDENCE)
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__code_fact"
        coerce = True
        unique = ["billing_code", "topic", "fact"]

    @pa.dataframe_check(name="fact_needs_a_source", error="a fact other than not_found needs its source_url")
    def fact_needs_a_source(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["source_confidence"] == "not_found") | df["source_url"].notna()


class CodeModifier(pa.DataFrameModel):
    """One row per modifier the report explains: what it means and when to use it with these codes."""

    modifier: Series[str] = pa.Field(str_matches=r"^[0-9A-Z]{2}$")
    description: Series[str]
    when_to_use: Series[str]
    applies_to: Series[str] = pa.Field(
        str_matches=r"^(?:\d{4}[0-9FTUM]|[A-V]\d{4})(?: (?:\d{4}[0-9FTUM]|[A-V]\d{4}))*$"
    )
    source: Series[str]
    source_confidence: Series[str] = pa.Field(isin=SOURCE_CONFIDENCE)  # the modifier's definition
    # its use with the code (blank: not stated); a definition read in CMS's file does not make its use verified
    use_confidence: Series[str] | None = pa.Field(nullable=True, isin=SOURCE_CONFIDENCE)
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__code_modifier"
        coerce = True
        unique = ["modifier"]


class CodeDiagnosis(pa.DataFrameModel):
    """One row per billing code and ICD-10-CM diagnosis the report lists as clinical context."""

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    icd10_code: Series[str] = pa.Field(str_matches=r"^[A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
    description: Series[str]
    diagnosis_group: Series[str]
    source: Series[str]
    source_confidence: Series[str] = pa.Field(isin=SOURCE_CONFIDENCE)
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__code_diagnosis"
        coerce = True
        unique = ["billing_code", "icd10_code"]


CLINICAL_PARTS = {
    "vignette": "a patient story showing what the code is for (illustrative unless a source tells it)",
    "indications": "what the code treats and how payers read those indications",
    "coding": "code-specific coding instructions (contractor, device maker)",
    "documentation": "what a payer will ask for: the documentation workflow",
}
"""Parts of `ref__code_clinical_context`, in the order the report prints them."""


class CodeClinicalContext(pa.DataFrameModel):
    """One row per billing code, part and item of the clinical context the report prints (vignette, indications,
    coding, documentation workflow), each with its source URL and confidence; `illustrative` marks a row that
    illustrates (a made-up patient, a checklist item no source states) rather than states a fact."""

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    part: Series[str] = pa.Field(isin=list(CLINICAL_PARTS))
    item_order: Series[int] = pa.Field(ge=1)
    text: Series[str] = pa.Field(str_length={"min_value": 10})
    source_url: Series[str] = pa.Field(str_matches=r"^https?://\S+$")
    source_confidence: Series[str] = pa.Field(isin=SOURCE_CONFIDENCE)
    illustrative: Series[str] = pa.Field(isin=["yes", "no"])
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__code_clinical_context"
        coerce = True
        unique = ["billing_code", "part", "item_order"]

    @pa.dataframe_check(name="illustration_is_not_verified", error="an illustrative row cannot be verified")
    def illustration_is_not_verified(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["illustrative"] == "no") | ~df["source_confidence"].isin(["verified", "verified_third_party"])


MCD_DOCUMENT_ID = r"^(?:L|A)\d{5}$"
"""A Coverage-database document id as CMS displays it: L (LCD) or A (article) and five digits."""


class MedicareDocument(pa.DataFrameModel):
    """One row per billing code and Medicare contractor document (LCD or article) that bears on it: how it bears
    on the code (its title names the service, or it is a Category III codes document and the code is Category III),
    the contractor's jurisdictions where the document's own text gives them, and how sure we are. The report joins
    it with the loaded Coverage-database listing for title, version, effective date and link; it never says the
    document lists the code (the code lists are not loaded)."""

    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    document_id: Series[str] = pa.Field(str_matches=MCD_DOCUMENT_ID)
    contractor: Series[str] = pa.Field(str_length={"min_value": 3})
    jurisdictions: Series[str] = pa.Field(nullable=True, str_matches=r"^J(?:\d{1,2}|[A-Z])(?: J(?:\d{1,2}|[A-Z]))*$")
    bears_on: Series[str] = pa.Field(str_length={"min_value": 10})
    source_url: Series[str] = pa.Field(str_matches=r"^https?://\S+$")
    source_confidence: Series[str] = pa.Field(isin=SOURCE_CONFIDENCE)
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__medicare_document"
        coerce = True
        unique = ["billing_code", "document_id"]


WEB_ROOT_PATTERN = r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
"""A bare lower-case host name: no scheme, no path, no port (`examplehealth.org`, not `https://examplehealth.org/`)."""


class Hospital(pa.DataFrameModel):
    """One row per hospital web root watched for `cms-hpt.txt` (`payerbench fetch hospital_mrf`).

    `web_root` is the domain whose root serves cms-hpt.txt (CMS: the host of the hospital's MRF page);
    the fetch asks https://<web_root>/cms-hpt.txt, then https://www.<web_root>/cms-hpt.txt. `source` says
    where the web root comes from; example rows use the reserved `.example` domain and say so.
    """

    hospital_name: Series[str] = pa.Field(str_length={"min_value": 2})
    state_abbrev: Series[str] = pa.Field(str_matches=r"^[A-Z]{2}$")
    web_root: Series[str] = pa.Field(str_matches=WEB_ROOT_PATTERN)
    source: Series[str] = pa.Field(str_length={"min_value": 3})
    source_confidence: Series[str] = pa.Field(isin=SOURCE_CONFIDENCE)
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__hospital"
        coerce = True
        unique = ["web_root"]


INDEX_KINDS = ("uhc_blob_listing", "toc_json", "aetna_metadata", "azure_container_listing", "signed_url_required")
"""How a payer's TiC index is found (flows/fetch/tic_index.py reads each)."""
INDEX_CONFIDENCE = ("confirmed", "reported", "unconfirmed")
"""acquisition.md's marks for a published location: confirmed in a cited source, reported in public code or
notes, not confirmed at all (probe it)."""
MONTH_PLACEHOLDER = r"\{YYYY-MM(?:-(?:DD|\d\d))?\}"
"""`{YYYY-MM}`, `{YYYY-MM-DD}` (DD: the row's publication_day) or `{YYYY-MM-01}` in an index_url."""


class PayerIndex(pa.DataFrameModel):
    """One row per payer index the TiC crawl reads (flows/fetch/tic_index.py), with the filter that keeps the
    crawl small: the files chosen are those whose name matches `file_name_pattern`, whose description matches
    `network_pattern`, listed by a plan whose name matches `plan_name_pattern` and market is `market_type`
    (each blank: no condition), at most `max_files` of them (blank: all)."""

    payer_group: Series[str] = pa.Field(isin=ALL_PAYER_GROUPS)
    payer: Series[str] = pa.Field(str_matches=r"^[a-z][a-z0-9_]*$")  # folder name under raw/tic/fetched/
    index_kind: Series[str] = pa.Field(isin=INDEX_KINDS)
    index_url: Series[str] = pa.Field(nullable=True, str_matches=r"^https://\S+$")
    publication_day: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, le=31)
    index_name_pattern: Series[str] | None = pa.Field(nullable=True)
    max_indexes: Series[pd.Int64Dtype] | None = pa.Field(nullable=True, ge=1)
    plan_name_pattern: Series[str] | None = pa.Field(nullable=True)
    market_type: Series[str] | None = pa.Field(nullable=True, isin=["group", "individual"])
    network_pattern: Series[str] | None = pa.Field(nullable=True)
    file_name_pattern: Series[str] | None = pa.Field(nullable=True)
    max_files: Series[pd.Int64Dtype] | None = pa.Field(nullable=True, ge=1)
    source: Series[str] = pa.Field(str_length={"min_value": 3})
    source_confidence: Series[str] = pa.Field(isin=INDEX_CONFIDENCE)
    notes: Series[str] | None = pa.Field(nullable=True)

    class Config:
        name = "ref__payer_index"
        coerce = True
        unique = ["payer"]

    @pa.dataframe_check(
        name="url_unless_signed", error="an index_url is needed unless index_kind is signed_url_required"
    )
    def url_unless_signed(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["index_kind"] == "signed_url_required") | df["index_url"].notna()


TABLES: dict[str, type[pa.DataFrameModel]] = {
    model.Config.name: model
    for model in (
        PayerAlias,
        BillingCode,
        Geography,
        CodeFact,
        CodeModifier,
        CodeDiagnosis,
        CodeClinicalContext,
        MedicareDocument,
        Hospital,
        PayerIndex,
    )
}
"""Dataset -> schema of every reference table (the catalog's reference entry; read strictly by steps)."""
