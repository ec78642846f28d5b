"""Rules of the reference tables (payer aliases, codes of interest, geographies): passing and failing rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.reference import (
    BillingCode,
    CodeClinicalContext,
    CodeModifier,
    Geography,
    Hospital,
    MedicareDocument,
    PayerAlias,
    PayerIndex,
)

ALIAS = {"alias": "Aetna", "match_type": "prefix", "payer_group": "aetna", "notes": None, "source_record": "line 2"}
CODE = {
    "billing_code": "0440T",
    "code_type": "CPT",
    "code_category": "category_iii",
    "role": "target",
    "code_family": "peripheral nerve cryoablation",
    "label": "upper extremity",
    "notes": None,
    "source_record": "line 2",
}
HOSPITAL = {
    "hospital_name": "Example General Hospital (SYNTHETIC)",
    "state_abbrev": "TX",
    "web_root": "general-hospital.example",
    "source": "synthetic example row",
    "source_confidence": "not_found",
    "notes": None,
    "source_record": "line 2",
}
GEO = {
    "geo_fips": "01",
    "state_abbrev": "AL",
    "geo_name": "Alabama",
    "geo_type": "state",
    "notes": None,
    "source_record": "line 2",
}


def run(model, row):  # type: ignore[no-untyped-def]
    return DatasetValidator(model).check(pd.DataFrame([row], dtype=object), Path("ref.csv"))


@pytest.mark.parametrize(
    ("model", "base", "changes", "column", "check_prefix"),
    [
        (PayerAlias, ALIAS, {"match_type": "fuzzy"}, "match_type", "isin"),
        (PayerAlias, ALIAS, {"payer_group": "kaiser"}, "payer_group", "isin"),
        (PayerAlias, ALIAS, {"alias": "A"}, "alias", "str_length"),
        (BillingCode, CODE, {"billing_code": "440T"}, "billing_code", "str_matches"),
        (BillingCode, CODE, {"role": "sibling"}, "role", "isin"),
        (BillingCode, CODE, {"code_category": "category_iv"}, "code_category", "isin"),
        (BillingCode, CODE, {"label": None}, "label", "not_nullable"),
        (Geography, GEO, {"geo_fips": "1"}, "geo_fips", "str_matches"),
        (Geography, GEO, {"state_abbrev": "Ala"}, "state_abbrev", "str_matches"),
        (Geography, GEO, {"geo_type": "county"}, "geo_type", "isin"),
        (Hospital, HOSPITAL, {"web_root": "https://general-hospital.example/"}, "web_root", "str_matches"),
        (Hospital, HOSPITAL, {"web_root": "localhost"}, "web_root", "str_matches"),
        (Hospital, HOSPITAL, {"state_abbrev": "tx"}, "state_abbrev", "str_matches"),
        (Hospital, HOSPITAL, {"hospital_name": "A"}, "hospital_name", "str_length"),
        (Hospital, HOSPITAL, {"source": None}, "source", "not_nullable"),
        (Hospital, HOSPITAL, {"source_confidence": "sure"}, "source_confidence", "isin"),
    ],
)
def test_reference_rule_fails(model, base, changes, column, check_prefix) -> None:  # type: ignore[no-untyped-def]
    result = run(model, dict(base, **changes))
    assert result.valid.empty
    assert result.failures.iloc[0]["column"] == column
    assert str(result.failures.iloc[0]["check"]).startswith(check_prefix)


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (PayerAlias, ALIAS),
        (PayerAlias, dict(ALIAS, match_type="exact")),
        (BillingCode, CODE),
        (BillingCode, dict(CODE, billing_code="64640", role="comparator")),
        (Geography, GEO),
        (Geography, dict(GEO, geo_fips="72", state_abbrev="PR", geo_name="Puerto Rico", geo_type="territory")),
        (Hospital, HOSPITAL),
        (Hospital, dict(HOSPITAL, web_root="www.regional-medical.example", source_confidence="verified")),
    ],
)
def test_reference_rule_passes(model, row) -> None:  # type: ignore[no-untyped-def]
    assert len(run(model, row).valid) == 1


# --- payer indexes (the TiC crawl's table) ----------------------------------------------------------------------
INDEX = {
    "payer_group": "bcbs",
    "payer": "anthem",
    "index_kind": "toc_json",
    "index_url": "https://example.test/anthem/{YYYY-MM-01}_anthem_index.json.gz",
    "publication_day": "1",
    "index_name_pattern": None,
    "max_indexes": None,
    "plan_name_pattern": None,
    "market_type": "group",
    "network_pattern": None,
    "file_name_pattern": "in-network",
    "max_files": "10",
    "source": "acquisition.md 7d",
    "source_confidence": "confirmed",
    "notes": None,
    "source_record": "line 2",
}


@pytest.mark.parametrize(
    ("changes", "column", "check_prefix"),
    [
        ({"index_kind": "ftp_listing"}, "index_kind", "isin"),
        ({"payer": "Anthem BCBS"}, "payer", "str_matches"),
        ({"index_url": "http://example.test/index.json"}, "index_url", "str_matches"),
        ({"publication_day": "32"}, "publication_day", "less_than_or_equal_to"),
        ({"market_type": "large_group"}, "market_type", "isin"),
        ({"max_files": "0"}, "max_files", "greater_than_or_equal_to"),
        ({"source_confidence": "verified"}, "source_confidence", "isin"),
        ({"index_url": None}, None, "url_unless_signed"),
    ],
)
def test_payer_index_rule_fails(changes, column, check_prefix) -> None:  # type: ignore[no-untyped-def]
    result = run(PayerIndex, dict(INDEX, **changes))
    assert result.valid.empty
    failure = result.failures.iloc[0]
    assert str(failure["check"]).startswith(check_prefix)
    if column is not None:
        assert failure["column"] == column


@pytest.mark.parametrize(
    "changes",
    [{}, {"index_kind": "signed_url_required", "index_url": None}, {"max_files": None, "market_type": None}],
)
def test_payer_index_rule_passes(changes) -> None:  # type: ignore[no-untyped-def]
    assert len(run(PayerIndex, dict(INDEX, **changes)).valid) == 1


def test_the_bundled_payer_index_table_is_valid_and_names_the_five_payers() -> None:
    from flows.sources.reference import read_file

    (batch,) = read_file(Path("raw/reference/payer_indexes.csv"), 100)
    assert batch.dataset == "ref__payer_index"
    result = DatasetValidator(PayerIndex).check(batch.frame.assign(source_record="x"), Path("payer_indexes.csv"))
    assert result.failures.empty
    assert dict(zip(result.valid["payer"], result.valid["index_kind"], strict=True)) == {
        "unitedhealthcare": "uhc_blob_listing",
        "anthem": "toc_json",
        "aetna_alicsi": "aetna_metadata",
        "bcbs_texas": "azure_container_listing",
        "cigna": "signed_url_required",
    }
    assert result.valid["max_files"].notna().all()  # a default crawl is small


# --- clinical context, Medicare documents and the modifiers' second confidence (issue 17) -------------------------
CONTEXT = {
    "billing_code": "0440T",
    "part": "vignette",
    "item_order": 1,
    "text": "An adult with CRPS II after a wrist fracture is treated.",
    "source_url": "https://www.cgsmedicare.com/parta/pubs/news/2022/01/cope24853.html",
    "source_confidence": "inferred",
    "illustrative": "yes",
    "notes": None,
    "source_record": "line 2",
}
DOCUMENT = {
    "billing_code": "0440T",
    "document_id": "A55681",
    "contractor": "Noridian Healthcare Solutions",
    "jurisdictions": "JF",
    "bears_on": "A Category III codes article; the code is Category III.",
    "source_url": "https://healthdocbox.com/x.html",
    "source_confidence": "verified",
    "notes": None,
    "source_record": "line 2",
}
MODIFIER = {
    "modifier": "T1",
    "description": "Left foot, second digit",
    "when_to_use": "A digital nerve of the foot.",
    "applies_to": "0441T",
    "source": "CMS HCPCS file",
    "source_confidence": "verified",
    "use_confidence": "inferred",
    "notes": None,
    "source_record": "line 2",
}


@pytest.mark.parametrize(
    ("model", "base", "changes", "column", "check_prefix"),
    [
        (CodeClinicalContext, CONTEXT, {"part": "anecdote"}, "part", "isin"),
        (CodeClinicalContext, CONTEXT, {"source_url": None}, "source_url", "not_nullable"),
        (CodeClinicalContext, CONTEXT, {"source_url": "cgs page"}, "source_url", "str_matches"),
        (CodeClinicalContext, CONTEXT, {"illustrative": "maybe"}, "illustrative", "isin"),
        (CodeClinicalContext, CONTEXT, {"item_order": 0}, "item_order", "greater_than_or_equal_to"),
        (CodeClinicalContext, CONTEXT, {"source_confidence": "verified"}, None, "illustration_is_not_verified"),
        (MedicareDocument, DOCUMENT, {"jurisdictions": "JE/JF"}, "jurisdictions", "str_matches"),
        (MedicareDocument, DOCUMENT, {"document_id": "55681"}, "document_id", "str_matches"),
        (MedicareDocument, DOCUMENT, {"source_confidence": "likely"}, "source_confidence", "isin"),
        (MedicareDocument, DOCUMENT, {"bears_on": None}, "bears_on", "not_nullable"),
        (CodeModifier, MODIFIER, {"use_confidence": "sure"}, "use_confidence", "isin"),
    ],
)
def test_issue17_reference_rule_fails(model, base, changes, column, check_prefix) -> None:  # type: ignore[no-untyped-def]
    result = run(model, dict(base, **changes))
    assert result.valid.empty
    if column is not None:
        assert result.failures.iloc[0]["column"] == column
    assert check_prefix in str(result.failures.iloc[0]["check"])


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (CodeClinicalContext, CONTEXT),
        (CodeClinicalContext, dict(CONTEXT, illustrative="no", source_confidence="verified")),
        (MedicareDocument, DOCUMENT),
        (MedicareDocument, dict(DOCUMENT, jurisdictions=None, document_id="L35490")),
        (MedicareDocument, dict(DOCUMENT, jurisdictions="JE JF")),
        (CodeModifier, MODIFIER),
        (CodeModifier, dict(MODIFIER, use_confidence=None)),
    ],
)
def test_issue17_reference_rule_passes(model, row) -> None:  # type: ignore[no-untyped-def]
    assert len(run(model, row).valid) == 1


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("raw/reference/code_clinical_context.csv", CodeClinicalContext),
        ("raw/reference/medicare_documents.csv", MedicareDocument),
        ("raw/reference/code_modifiers.csv", CodeModifier),
    ],
)
def test_the_bundled_issue17_tables_are_valid(path, model) -> None:  # type: ignore[no-untyped-def]
    from flows.sources.reference import read_file

    (batch,) = read_file(Path(path), 1000)
    assert batch.dataset == model.Config.name
    result = DatasetValidator(model).check(batch.frame.assign(source_record="x"), Path(path))
    assert result.failures.empty, result.failures.head()
    if model is CodeClinicalContext:  # every target code has its own vignette and documentation workflow
        for code in ("0440T", "0441T", "0442T"):
            parts = set(result.valid.loc[result.valid["billing_code"] == code, "part"])
            assert {"vignette", "indications", "documentation"} <= parts
    if model is MedicareDocument:  # Noridian's A55681 is a jurisdiction JF article, not JE/JF
        a55681 = result.valid[result.valid["document_id"] == "A55681"]
        assert set(a55681["jurisdictions"]) == {"JF"}
