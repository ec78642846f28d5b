"""Rules of the reference tables (payer aliases, codes of interest, geographies): passing and failing rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.reference import BillingCode, Geography, Hospital, PayerAlias, PayerIndex

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
