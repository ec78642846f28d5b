"""Each rule of the Medicare Coverage Database schemas: a row that passes it and a row that fails it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows import catalog
from flows.settings import Settings
from flows.steps.load import load_file
from flows.steps.validate import DatasetValidator
from schemas import cms_mcd as m
from tests.conftest import fixture

ARTICLE = {
    "article_id": "990001",
    "article_version": "3",
    "article_type": "1",
    "title": "t",
    "display_id": "990001",
    "status": "A",
    "article_pub_date": "2023-12-14",
    "article_eff_date": "2024-01-01",
    "article_end_date": None,
    "date_retired": None,
    "last_updated": "2023-12-14",
    "source_record": "line 2",
}
LCD = {
    "lcd_id": "990101",
    "lcd_version": "5",
    "title": "t",
    "display_id": None,
    "determination_number": None,
    "status": None,
    "orig_det_eff_date": None,
    "rev_eff_date": "2025-07-01",
    "rev_end_date": None,
    "ent_det_end_date": None,
    "date_retired": None,
    "last_updated": None,
    "source_record": "line 2",
}
GROUP = {
    "article_id": "990001",
    "article_version": "3",
    "hcpc_code_group": "1",
    "paragraph": "<p>x</p>",
    "paragraph_text": "x",
    "listing_class": "covered",
    "listing_class_phrase": "covered",
    "last_updated": None,
    "source_record": "line 2",
}
CODE = {
    "article_id": "990001",
    "article_version": "3",
    "hcpc_code_id": "0440T",
    "hcpc_code_version": "1",
    "hcpc_code_group": "1",
    "code_range": None,
    "last_updated": None,
    "source_record": "line 2",
}
ISSUER = {
    "article_id": "990001",
    "article_version": "3",
    "article_type": "1",
    "contractor_id": "901",
    "contractor_type_id": None,
    "contractor_version": "1",
    "last_updated": None,
    "source_record": "line 2",
}
CONTRACTOR = {
    "contractor_id": "901",
    "contractor_type_id": "1",
    "contractor_version": "1",
    "contract_number": "05101",
    "contractor_name": "Synthetic Example Administrators, LLC",
    "last_updated": None,
    "source_record": "line 2",
}
DOCUMENT = {
    "document_id": "35490",
    "document_display_id": "L35490",
    "document_type": "LCD",
    "document_version": "81",
    "title": "Category III Codes",
    "contractor_name_type": "WPS Insurance Corporation\n(MAC - Part A, MAC - Part B)",
    "effective_date": "2025-06-26",
    "retirement_date": None,
    "updated_on": "2025-06-17",
    "updated_on_sort": "20250617114552",
    "note": None,
    "url": "https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=35490&ver=81",
    "source_record": "line 2",
}
SCOPE = {
    "code_table": "article_x_hcpc_code",
    "billing_code": "0440T",
    "rows_in_table": "7",
    "rows_listing_code": "0",
    "source_record": "t",
}


def check(model, base, **changes):  # type: ignore[no-untyped-def]
    return DatasetValidator(model).check(pd.DataFrame([dict(base, **changes)], dtype=object), Path("t.csv"))


@pytest.mark.parametrize(
    ("model", "base", "changes", "column", "check_prefix"),
    [
        (m.McdArticle, ARTICLE, {"article_id": "A990001"}, "article_id", "coerce_dtype"),
        (m.McdArticle, ARTICLE, {"article_version": "0"}, "article_version", "greater_than_or_equal_to"),
        (m.McdArticle, ARTICLE, {"title": None}, "title", "not_nullable"),
        (m.McdArticle, ARTICLE, {"article_eff_date": "13/45/2024"}, "article_eff_date", "coerce_dtype"),
        (m.McdArticle, ARTICLE, {"article_end_date": "2023-12-31"}, None, "ends_after_it_starts"),
        (m.McdLcd, LCD, {"rev_end_date": "2025-06-30"}, None, "ends_after_it_starts"),
        (m.McdLcd, LCD, {"lcd_id": None}, "lcd_id", "coerce_dtype"),  # a blank id cannot be read as an integer
        (m.McdArticleCodeGroup, GROUP, {"listing_class": "maybe"}, "listing_class", "isin"),
        (m.McdArticleCodeGroup, GROUP, {"hcpc_code_group": "one"}, "hcpc_code_group", "coerce_dtype"),
        (m.McdArticleCode, CODE, {"hcpc_code_id": "440T"}, "hcpc_code_id", "str_matches"),
        (m.McdArticleCode, CODE, {"hcpc_code_version": "v1"}, "hcpc_code_version", "coerce_dtype"),
        (m.McdArticleContractor, ISSUER, {"contractor_id": None}, "contractor_id", "coerce_dtype"),
        (m.McdContractor, CONTRACTOR, {"contractor_name": "X"}, "contractor_name", "str_length"),
        (m.McdDocument, DOCUMENT, {"document_type": "NCD"}, "document_type", "isin"),
        (m.McdDocument, DOCUMENT, {"document_display_id": "35490"}, "document_display_id", "str_matches"),
        (m.McdDocument, DOCUMENT, {"document_display_id": "A35490"}, None, "display_id_matches_type"),
        (m.McdDocument, DOCUMENT, {"updated_on_sort": "2025-06-17"}, "updated_on_sort", "str_matches"),
        (m.McdDocument, DOCUMENT, {"url": "cms.gov/lcd"}, "url", "str_matches"),
        (m.McdCodeScope, SCOPE, {"code_table": "article_x_icd10_covered"}, "code_table", "isin"),
        (m.McdCodeScope, SCOPE, {"rows_listing_code": "-1"}, "rows_listing_code", "greater_than_or_equal_to"),
    ],
)
def test_blocking_rule_quarantines(model, base, changes, column, check_prefix) -> None:  # type: ignore[no-untyped-def]
    result = check(model, base, **changes)
    assert result.valid.empty
    found = [(None if pd.isna(c) else c, str(k)) for c, k in zip(result.failures["column"], result.failures["check"])]
    assert any(c == column and k.startswith(check_prefix) for c, k in found), found


@pytest.mark.parametrize(
    ("model", "base", "changes"),
    [
        (m.McdArticle, ARTICLE, {}),
        (m.McdArticle, ARTICLE, {"article_end_date": "2024-01-01", "article_type": None}),
        (m.McdLcd, LCD, {}),
        (m.McdArticleCodeGroup, GROUP, {"listing_class": "other", "listing_class_phrase": None, "paragraph": None}),
        (m.McdArticleCode, CODE, {"hcpc_code_id": "J1100", "hcpc_code_version": None}),
        (m.McdArticleContractor, ISSUER, {}),
        (m.McdContractor, CONTRACTOR, {"contractor_type_id": None, "contract_number": None}),
        (m.McdDocument, DOCUMENT, {}),
        (
            m.McdDocument,
            DOCUMENT,
            {"document_type": "Article", "document_display_id": "A56902", "retirement_date": "2025-06-26"},
        ),
        (m.McdCodeScope, SCOPE, {}),
    ],
)
def test_rule_passes(model, base, changes) -> None:  # type: ignore[no-untyped-def]
    result = check(model, base, **changes)
    assert len(result.valid) == 1, result.failures


def test_contract_number_keeps_leading_zeros() -> None:
    assert check(m.McdContractor, CONTRACTOR).valid["contract_number"].iloc[0] == "05101"


def test_article_rules_through_the_loader(settings: Settings) -> None:
    record = load_file(catalog.get("cms_mcd"), fixture("cms__mcd_article", "end_before_start.csv"), settings, "run-s")
    assert (record.rows_read, record.rows_loaded, record.rows_quarantined) == (3, 1, 2)
