"""Medicare Coverage Database tables: local coverage articles, LCDs, their code lists and MACs.

Column names are CMS's (the Coverage API's, which the MCD download shares; the download's
`contractor_bus_name` / `contractor_number` are read as `contractor_name` / `contract_number`, and
`range` as `code_range`). Keys are CMS's: a document is (id, version). That a code row's article,
code group and contractor exist in its release is checked by the adapter, which quarantines the
rows that point nowhere (see flows/sources/cms_mcd.py).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import BILLING_CODE_PATTERN, LISTING_CLASSES, IsoDate

SCOPE_DATASET = "cms__mcd_code_scope"
DOCUMENT_TYPES = ("LCD", "Article")
NullableInt = pd.Int64Dtype


class McdContractor(pa.DataFrameModel):
    """One row per Medicare contractor (MAC) version: its contract number and business name.

    Unique key: contractor_id, contractor_type_id, contractor_version.
    """

    contractor_id: Series[int] = pa.Field(ge=1)
    contractor_type_id: Series[NullableInt] = pa.Field(nullable=True)
    contractor_version: Series[int] = pa.Field(ge=1)
    contract_number: Series[str] = pa.Field(nullable=True)
    contractor_name: Series[str] = pa.Field(str_length={"min_value": 2})
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_contractor"
        coerce = True
        unique = ["contractor_id", "contractor_type_id", "contractor_version"]


class McdArticle(pa.DataFrameModel):
    """One row per local coverage article (billing and coding article) version.

    Unique key: article_id, article_version. `article_end_date` or `date_retired` set means the
    version no longer applies.
    """

    article_id: Series[int] = pa.Field(ge=1)
    article_version: Series[int] = pa.Field(ge=1)
    article_type: Series[NullableInt] = pa.Field(nullable=True)
    title: Series[str] = pa.Field(str_length={"min_value": 1})
    display_id: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(nullable=True)
    article_pub_date: Series[IsoDate] = pa.Field(nullable=True)
    article_eff_date: Series[IsoDate] = pa.Field(nullable=True)
    article_end_date: Series[IsoDate] = pa.Field(nullable=True)
    date_retired: Series[IsoDate] = pa.Field(nullable=True)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_article"
        coerce = True
        unique = ["article_id", "article_version"]

    @pa.dataframe_check(name="ends_after_it_starts", error="article_end_date is before article_eff_date")
    def ends_after_it_starts(cls, df: pd.DataFrame) -> Series[bool]:
        start, end = df["article_eff_date"], df["article_end_date"]
        return start.isna() | end.isna() | (end >= start)


class McdLcd(pa.DataFrameModel):
    """One row per local coverage determination (LCD) version.

    Unique key: lcd_id, lcd_version. `rev_end_date`, `ent_det_end_date` or `date_retired` set means
    the version no longer applies.
    """

    lcd_id: Series[int] = pa.Field(ge=1)
    lcd_version: Series[int] = pa.Field(ge=1)
    title: Series[str] = pa.Field(str_length={"min_value": 1})
    display_id: Series[str] = pa.Field(nullable=True)
    determination_number: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(nullable=True)
    orig_det_eff_date: Series[IsoDate] = pa.Field(nullable=True)
    rev_eff_date: Series[IsoDate] = pa.Field(nullable=True)
    rev_end_date: Series[IsoDate] = pa.Field(nullable=True)
    ent_det_end_date: Series[IsoDate] = pa.Field(nullable=True)
    date_retired: Series[IsoDate] = pa.Field(nullable=True)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_lcd"
        coerce = True
        unique = ["lcd_id", "lcd_version"]

    @pa.dataframe_check(name="ends_after_it_starts", error="rev_end_date is before rev_eff_date")
    def ends_after_it_starts(cls, df: pd.DataFrame) -> Series[bool]:
        start, end = df["rev_eff_date"], df["rev_end_date"]
        return start.isna() | end.isna() | (end >= start)


class McdArticleCodeGroup(pa.DataFrameModel):
    """One row per article version and CPT/HCPCS code group: the paragraph that says what the group means.

    Unique key: article_id, article_version, hcpc_code_group. The paragraph is kept as written
    (HTML) and as plain text; `listing_class` (covered / non_covered / other) is read from the plain
    text and `listing_class_phrase` is the words that decided it.
    """

    article_id: Series[int] = pa.Field(ge=1)
    article_version: Series[int] = pa.Field(ge=1)
    hcpc_code_group: Series[int] = pa.Field(ge=0)
    paragraph: Series[str] = pa.Field(nullable=True)
    paragraph_text: Series[str] = pa.Field(nullable=True)
    listing_class: Series[str] = pa.Field(isin=LISTING_CLASSES)
    listing_class_phrase: Series[str] = pa.Field(nullable=True)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_article_hcpc_code_group"
        coerce = True
        unique = ["article_id", "article_version", "hcpc_code_group"]


class McdLcdCodeGroup(pa.DataFrameModel):
    """One row per LCD version and CPT/HCPCS code group: the paragraph that says what the group means.

    Unique key: lcd_id, lcd_version, hcpc_code_group. Columns as for article code groups.
    """

    lcd_id: Series[int] = pa.Field(ge=1)
    lcd_version: Series[int] = pa.Field(ge=1)
    hcpc_code_group: Series[int] = pa.Field(ge=0)
    paragraph: Series[str] = pa.Field(nullable=True)
    paragraph_text: Series[str] = pa.Field(nullable=True)
    listing_class: Series[str] = pa.Field(isin=LISTING_CLASSES)
    listing_class_phrase: Series[str] = pa.Field(nullable=True)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_lcd_hcpc_code_group"
        coerce = True
        unique = ["lcd_id", "lcd_version", "hcpc_code_group"]


class McdArticleCode(pa.DataFrameModel):
    """One row per article version, code group and CPT/HCPCS code of interest that the group lists.

    Unique key: article_id, article_version, hcpc_code_group, hcpc_code_id. Only the codes of
    interest are kept, without CMS's (AMA) descriptors.
    """

    article_id: Series[int] = pa.Field(ge=1)
    article_version: Series[int] = pa.Field(ge=1)
    hcpc_code_id: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    hcpc_code_version: Series[NullableInt] = pa.Field(nullable=True)
    hcpc_code_group: Series[int] = pa.Field(ge=0)
    code_range: Series[str] = pa.Field(nullable=True)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_article_hcpc_code"
        coerce = True
        unique = ["article_id", "article_version", "hcpc_code_group", "hcpc_code_id"]


class McdLcdCode(pa.DataFrameModel):
    """One row per LCD version, code group and CPT/HCPCS code of interest that the group lists.

    Unique key: lcd_id, lcd_version, hcpc_code_group, hcpc_code_id.
    """

    lcd_id: Series[int] = pa.Field(ge=1)
    lcd_version: Series[int] = pa.Field(ge=1)
    hcpc_code_id: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    hcpc_code_version: Series[NullableInt] = pa.Field(nullable=True)
    hcpc_code_group: Series[int] = pa.Field(ge=0)
    code_range: Series[str] = pa.Field(nullable=True)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_lcd_hcpc_code"
        coerce = True
        unique = ["lcd_id", "lcd_version", "hcpc_code_group", "hcpc_code_id"]


class McdArticleContractor(pa.DataFrameModel):
    """One row per article version and contractor (MAC) that issued it.

    Unique key: article_id, article_version, contractor_id, contractor_type_id, contractor_version.
    """

    article_id: Series[int] = pa.Field(ge=1)
    article_version: Series[int] = pa.Field(ge=1)
    article_type: Series[NullableInt] = pa.Field(nullable=True)
    contractor_id: Series[int] = pa.Field(ge=1)
    contractor_type_id: Series[NullableInt] = pa.Field(nullable=True)
    contractor_version: Series[int] = pa.Field(ge=1)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_article_contractor"
        coerce = True
        unique = ["article_id", "article_version", "contractor_id", "contractor_type_id", "contractor_version"]


class McdLcdContractor(pa.DataFrameModel):
    """One row per LCD version and contractor (MAC) that issued it.

    Unique key: lcd_id, lcd_version, contractor_id, contractor_type_id, contractor_version.
    """

    lcd_id: Series[int] = pa.Field(ge=1)
    lcd_version: Series[int] = pa.Field(ge=1)
    contractor_id: Series[int] = pa.Field(ge=1)
    contractor_type_id: Series[NullableInt] = pa.Field(nullable=True)
    contractor_version: Series[int] = pa.Field(ge=1)
    last_updated: Series[IsoDate] = pa.Field(nullable=True)

    class Config:
        name = "cms__mcd_lcd_contractor"
        coerce = True
        unique = ["lcd_id", "lcd_version", "contractor_id", "contractor_type_id", "contractor_version"]


class McdDocument(pa.DataFrameModel):
    """One row per local coverage document (LCD or article) version in the Coverage API's report listing.

    Unique key: document_type, document_id, document_version. `contractor_name_type` is as CMS
    writes it: each contractor's name and, on the next line, its contract types in parentheses;
    several contractors are separated by a blank line.
    """

    document_id: Series[int] = pa.Field(ge=1)
    document_display_id: Series[str] = pa.Field(str_matches=r"^[LA]\d+$")
    document_type: Series[str] = pa.Field(isin=DOCUMENT_TYPES)
    document_version: Series[int] = pa.Field(ge=1)
    title: Series[str] = pa.Field(str_length={"min_value": 1})
    contractor_name_type: Series[str] = pa.Field(str_length={"min_value": 2})
    effective_date: Series[IsoDate] = pa.Field(nullable=True)
    retirement_date: Series[IsoDate] = pa.Field(nullable=True)
    updated_on: Series[IsoDate] = pa.Field(nullable=True)
    updated_on_sort: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{14}$")
    note: Series[str] = pa.Field(nullable=True)
    url: Series[str] = pa.Field(nullable=True, str_matches=r"^https?://\S+$")

    class Config:
        name = "cms__mcd_document"
        coerce = True
        unique = ["document_type", "document_id", "document_version"]

    @pa.dataframe_check(
        name="display_id_matches_type", error="document_display_id must start with L for an LCD, A for an article"
    )
    def display_id_matches_type(cls, df: pd.DataFrame) -> Series[bool]:
        first = df["document_display_id"].str[:1]
        return ((df["document_type"] == "LCD") & (first == "L")) | ((df["document_type"] == "Article") & (first == "A"))


class McdCodeScope(pa.DataFrameModel):
    """One row per MCD code table read from a file (article or LCD code list) and billing code of interest.

    Describes the read, not rows of the file: how many rows the table held and how many listed the
    code (0 = no document of that release lists it). It is what lets `coverage_matrix` say
    `no_lcd_or_article` rather than `not_loaded`. Unique key: code_table, billing_code (per file).
    """

    code_table: Series[str] = pa.Field(isin=["article_x_hcpc_code", "lcd_x_hcpc_code"])
    billing_code: Series[str] = pa.Field(str_matches=BILLING_CODE_PATTERN)
    rows_in_table: Series[int] = pa.Field(ge=0)
    rows_listing_code: Series[int] = pa.Field(ge=0)

    class Config:
        name = SCOPE_DATASET
        coerce = True
        unique = ["code_table", "billing_code"]
