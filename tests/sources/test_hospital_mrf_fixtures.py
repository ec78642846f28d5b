"""Every CMS hpt-validator fixture through the loader: the outcome a careful analyst wants, one line each.

The fixtures (copied into tests/fixtures/hospital__standard_charge/hpt-validator/, see its README)
describe West Mercy Hospital, whose items carry no code of interest. So the table runs the loader
with an empty codes-of-interest set, which keeps every CPT/HCPCS item (92626, H0017, ... here); the
DRG, revenue-code and NDC items are another code system and never reach the dataset.

Columns: fixture | status | rows loaded | rows quarantined | quarantine checks | advisory checks |
rejection text. Rows count hospital__standard_charge rows; the hospital__file row a loaded file always
has describes the file and is not counted (its advisories are).
Defects that only touch DRG items (MS-DRG 470: bad enums, nine 9s, wrong code_information, ...)
leave the CPT/HCPCS rows untouched: those files load cleanly.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows import catalog
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.steps import store
from flows.steps.load import load_file
from tests.conftest import FIXTURES

ROOT = FIXTURES / "hospital__standard_charge" / "hpt-validator"
SOURCE = catalog.get("hospital_mrf")
NONE: tuple[str, ...] = ()

OUTCOMES = [
    # v3.0 fixtures
    ("3.0/alerts-with-errors.json", "loaded", 0, 0, NONE, NONE, ""),  # only an MS-DRG item: no CPT/HCPCS rows
    (
        "3.0/allowed-amounts-nine-9s.json",
        "loaded",
        8,
        0,
        NONE,
        ("allowed_amount_placeholder",),
        "",
    ),  # 92626 median 999999999 -> NULL + reason
    ("3.0/estimated-amount.json", "loaded", 8, 0, NONE, NONE, ""),  # v2 field on an MS-DRG payer only
    ("3.0/false-confirmation.json", "loaded", 8, 0, NONE, ("attestation_confirmed",), ""),  # loads, file flagged
    ("3.0/sample-empty-address.json", "loaded", 8, 0, NONE, NONE, ""),  # blank second address dropped from the list
    ("3.0/sample-empty-algorithm.json", "loaded", 8, 0, NONE, NONE, ""),  # on an MS-DRG payer
    ("3.0/sample-empty-generic-notes.json", "loaded", 8, 0, NONE, NONE, ""),  # "" is NULL
    ("3.0/sample-empty-location.json", "loaded", 8, 0, NONE, NONE, ""),
    ("3.0/sample-empty-payer-notes.json", "loaded", 8, 0, NONE, NONE, ""),
    ("3.0/sample-missing-10th.json", "loaded", 8, 0, NONE, NONE, ""),  # the percentage rate is still a rate
    ("3.0/sample-missing-90th.json", "loaded", 8, 0, NONE, NONE, ""),
    ("3.0/sample-missing-count-of-allowed-amounts.json", "loaded", 8, 0, NONE, NONE, ""),
    ("3.0/sample-missing-median.json", "loaded", 8, 0, NONE, NONE, ""),
    ("3.0/sample-modifier-invalid-setting.json", "loaded", 8, 0, NONE, NONE, ""),  # modifier_information is not read
    ("3.0/sample-payer-no-charge.json", "loaded_with_quarantine", 7, 1, ("payer_row_has_negotiated_charge",), NONE, ""),
    ("3.0/sample-valid-allowed-amount-zero.json", "loaded", 8, 0, NONE, NONE, ""),
    ("3.0/sample-valid-drug-info.json", "loaded", 0, 0, NONE, NONE, ""),  # an NDC item only
    ("3.0/sample-valid.json", "loaded", 8, 0, NONE, NONE, ""),
    (
        "3.0/unexpected-version.json",
        "loaded",
        8,
        0,
        NONE,
        ("template_version_matches_structure",),
        "",
    ),  # says 2.0.0, is v3
    # v2.x fixtures (current repository)
    ("false-confirmation.json", "loaded", 8, 0, NONE, ("attestation_confirmed",), ""),
    (
        "sample-bad-header.csv",
        "loaded",
        11,
        0,
        NONE,
        ("payer_row_has_methodology", "template_version_known"),
        "",
    ),  # "July 1 2024" is read
    (
        "sample-bad-item-header.csv",
        "rejected",
        0,
        0,
        NONE,
        NONE,
        "missing required column 'description' (found 'describe')",
    ),
    (
        "sample-blank-header.csv",
        "loaded",
        11,
        0,
        NONE,
        ("template_version_known",),
        "",
    ),  # blank line before the header skipped
    ("sample-empty.json", "rejected", 0, 0, NONE, NONE, "no hospital_name and no standard_charge_information"),
    ("sample-invalid.json", "rejected", 0, 0, NONE, NONE, "(line 5 column 3): invalid or truncated JSON"),
    ("sample-lots-of-alerts.json", "loaded", 8, 0, NONE, ("allowed_amount_placeholder",), ""),
    (
        "sample-lots-of-errors.csv",
        "loaded_with_quarantine",
        4,
        7,
        ("greater_than",),
        ("template_version_known",),
        "",
    ),  # $0 is no price
    ("sample-missing-estimate.json", "loaded", 8, 0, NONE, ("allowed_amount_placeholder",), ""),
    ("sample-ndc-no-drug-info.json", "loaded", 8, 0, NONE, NONE, ""),  # the NDC item is not ours
    ("sample-nine-nines.json", "loaded", 8, 0, NONE, NONE, ""),  # nine 9s on an MS-DRG payer only
    ("sample-no-charges.json", "loaded_with_quarantine", 4, 4, ("payer_row_has_negotiated_charge",), NONE, ""),
    ("sample-no-data.csv", "rejected", 0, 0, NONE, NONE, "header only, no data rows"),
    ("sample-no-min-max.json", "loaded", 8, 0, NONE, NONE, ""),  # charges_missing says so
    ("sample-no-payer-charges.json", "loaded", 2, 0, NONE, NONE, ""),  # gross/cash only: payer_independent rows
    ("sample-other-no-notes.json", "loaded", 8, 0, NONE, NONE, ""),  # on an MS-DRG payer
    ("sample-tall-mixed-line-endings.csv", "loaded", 11, 0, NONE, ("template_version_known",), ""),
    ("sample-tall-small-rows.csv", "loaded", 11, 0, NONE, NONE, ""),  # short rows padded, all-comma row skipped
    ("sample-tall-valid.csv", "loaded", 11, 0, NONE, NONE, ""),
    ("sample-valid-bom.json", "loaded", 8, 0, NONE, NONE, ""),
    ("sample-valid-drug-info.json", "loaded", 8, 0, NONE, NONE, ""),
    ("sample-valid-modifier.json", "loaded", 8, 0, NONE, NONE, ""),
    ("sample-valid.json", "loaded", 8, 0, NONE, NONE, ""),
    ("sample-wide-blank-headers.csv", "loaded", 0, 0, NONE, NONE, ""),  # blank column names ignored; MS-DRG items only
    ("sample-wide-valid.csv", "loaded", 11, 0, NONE, NONE, ""),
    ("sample-wrong-drug-info.json", "loaded", 8, 0, NONE, NONE, ""),
    ("sample-wrong-modifier.json", "loaded", 8, 0, NONE, NONE, ""),
    (
        "unexpected-version.json",
        "loaded",
        8,
        0,
        NONE,
        ("template_version_known", "template_version_matches_structure"),
        "",
    ),
    # v2.0 fixtures removed from the repository in 2025 (test/fixtures/2.0/)
    ("removed-2.0/error.csv", "loaded", 11, 0, NONE, NONE, ""),  # no drug_unit_of_measurement column: not needed
    ("removed-2.0/sample-2025-properties.json", "loaded", 8, 0, NONE, NONE, ""),  # "105.34" as text is a number
    ("removed-2.0/sample-conditional-error-estimate.json", "loaded", 8, 0, NONE, NONE, ""),
    ("removed-2.0/sample-conditional-error-minimum.json", "loaded", 8, 0, NONE, NONE, ""),
    ("removed-2.0/sample-conditional-error-ndc.json", "loaded", 8, 0, NONE, NONE, ""),
    (
        "removed-2.0/sample-conditional-error-standardcharge.json",
        "loaded_with_quarantine",
        7,
        1,
        ("payer_row_has_negotiated_charge",),
        NONE,
        "",
    ),
    ("removed-2.0/sample-conditional-error-wrong-code-information.json", "loaded", 8, 0, NONE, NONE, ""),  # MS-DRG item
    ("removed-2.0/sample-conditional-errors.json", "loaded", 8, 0, NONE, NONE, ""),  # no gross: charges_missing
    ("removed-2.0/sample-conditional-valid-minimum.json", "loaded", 0, 0, NONE, NONE, ""),
    (
        "removed-2.0/sample-empty.json",
        "rejected",
        0,
        0,
        NONE,
        NONE,
        "no hospital_name and no standard_charge_information",
    ),
    ("removed-2.0/sample-errors.json", "loaded", 8, 0, NONE, NONE, ""),
    ("removed-2.0/sample-invalid.json", "rejected", 0, 0, NONE, NONE, "(line 5 column 3): invalid or truncated JSON"),
    ("removed-2.0/sample-nine-nines.json", "loaded", 8, 0, NONE, ("allowed_amount_placeholder",), ""),
    ("removed-2.0/sample-tall-mixed-line-endings.csv", "loaded", 11, 0, NONE, ("template_version_known",), ""),
    ("removed-2.0/sample-tall-valid-quoted.csv", "loaded", 11, 0, NONE, ("template_version_known",), ""),
    ("removed-2.0/sample-tall-valid.csv", "loaded", 11, 0, NONE, ("template_version_known",), ""),
    ("removed-2.0/sample-valid-bom.json", "loaded", 8, 0, NONE, NONE, ""),
    ("removed-2.0/sample-valid.json", "loaded", 8, 0, NONE, NONE, ""),
    ("removed-2.0/sample-wide-error-bad-enum.csv", "loaded", 11, 0, NONE, NONE, ""),  # "MS-DRGG" on an MS-DRG item
    (
        "removed-2.0/sample-wide-error-header-standardcharge.csv",
        "rejected",
        0,
        0,
        NONE,
        NONE,
        "column 12 'standard_charge|Platform_Health_Insurance|PPO|negotiated_dollarr' is a charge column",
    ),
    (
        "removed-2.0/sample-wide-error-header.csv",
        "loaded",
        11,
        0,
        NONE,
        NONE,
        "",
    ),  # "hospital_ location", attestation "yes"
    ("removed-2.0/sample-wide-error-missing-value.csv", "loaded", 11, 0, NONE, NONE, ""),
    ("removed-2.0/sample-wide-error.csv", "loaded", 11, 0, NONE, NONE, ""),
    (
        "removed-2.0/sample-wide-header-empty.csv",
        "rejected",
        0,
        0,
        NONE,
        NONE,
        "(line 2): line 2 holds no hospital metadata values",
    ),
    ("removed-2.0/sample-wide-missing-new-columns.csv", "loaded", 11, 0, NONE, NONE, ""),
    ("removed-2.0/sample-wide-valid.csv", "loaded", 11, 0, NONE, NONE, ""),
]


def _findings(settings: Settings, folder: str) -> set[str]:
    parts = sorted((settings.lake_dir / folder).glob("*/*.parquet"))
    return set(pd.concat([pq.read_table(p).to_pandas() for p in parts])["check_name"]) if parts else set()


def test_the_table_covers_every_fixture() -> None:
    on_disk = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file())
    assert on_disk == sorted(name for name, *_ in OUTCOMES)
    assert len(on_disk) == 73


@pytest.mark.parametrize(
    ("name", "status", "loaded", "quarantined", "checks", "advisories", "error"), OUTCOMES, ids=[o[0] for o in OUTCOMES]
)
def test_fixture_outcome(
    settings: Settings,
    name: str,
    status: str,
    loaded: int,
    quarantined: int,
    checks: tuple[str, ...],
    advisories: tuple[str, ...],
    error: str,
) -> None:
    record = load_file(
        SOURCE,
        ROOT / name,
        settings,
        "20260101T000000Z-hptfix",
        payers=payer_directory(settings.payer_alias_file),
        codes=frozenset(),
    )
    assert (record.status, record.rows_loaded, record.rows_quarantined) == (status, loaded, quarantined), record.error
    assert record.rows_read == record.rows_loaded + record.rows_quarantined
    assert _findings(settings, store.QUARANTINE) == set(checks)
    assert _findings(settings, store.ADVISORY) == set(advisories)
    if error:
        assert record.error.startswith(Path(name).name) and error in record.error, record.error
    else:
        assert record.error is None


# --- the issue's own bad-input cases (tests/fixtures/hospital__standard_charge/*, synthetic), loaded
# with the configured codes of interest. Same columns as above.
CODES = frozenset({"0440T", "0441T", "0442T", "64640", "64624", "64450"})
OWN = FIXTURES / "hospital__standard_charge"
OWN_OUTCOMES = [
    ("valid_v3_tall.csv", "loaded", 8, 0, NONE, NONE, ""),
    ("valid_v3_wide.csv", "loaded", 8, 0, NONE, NONE, ""),
    ("valid_v3.json", "loaded", 8, 0, NONE, NONE, ""),
    ("metadata_after_charges.json", "loaded", 8, 0, NONE, NONE, ""),
    ("placeholder_charge_999999999.csv", "loaded_with_quarantine", 9, 2, ("placeholder_amount",), NONE, ""),
    ("negative_negotiated_charge.csv", "loaded_with_quarantine", 8, 1, ("greater_than",), NONE, ""),
    ("third_row_not_header.csv", "rejected", 0, 0, NONE, NONE, "(line 3): line 3 is not the data header"),
    ("no_metadata_rows.csv", "rejected", 0, 0, NONE, NONE, "(line 1): line 1 is the data header"),
    ("attestation_false.csv", "loaded", 8, 0, NONE, ("attestation_confirmed",), ""),
    ("mixed_line_endings.csv", "loaded", 9, 0, NONE, NONE, ""),
    ("truncated.json", "rejected", 0, 0, NONE, NONE, "(line 91 column 29): invalid or truncated JSON"),
    ("duplicate_payer_row.csv", "loaded_with_quarantine", 8, 1, ("unique_key (first seen at line 5)",), NONE, ""),
    ("code_type_not_cpt.csv", "loaded_with_quarantine", 2, 2, ("isin",), NONE, ""),
    ("multiline_quoted_fields.csv", "loaded", 5, 0, NONE, NONE, ""),
    ("stray_quote_in_unquoted_field.csv", "loaded", 8, 0, NONE, NONE, ""),
    ("nul_byte.csv", "rejected", 0, 0, NONE, NONE, "(line 10): binary content (NUL byte"),
    ("cp1252_byte_in_row.csv", "loaded_with_quarantine", 6, 1, ("utf8_encoding",), NONE, ""),
    ("unquoted_comma_row.csv", "loaded_with_quarantine", 6, 1, ("field_count",), NONE, ""),
    ("bare_cr_line_endings.csv", "rejected", 0, 0, NONE, NONE, "a bare carriage return (CR without LF)"),
    ("v2_tall_estimated_amount.csv", "loaded", 4, 0, NONE, ("allowed_amount_placeholder",), ""),
]


def test_the_own_table_covers_every_own_fixture() -> None:
    assert sorted(p.name for p in OWN.iterdir() if p.is_file() and p.suffix != ".md") == sorted(
        o[0] for o in OWN_OUTCOMES
    )


@pytest.mark.parametrize(
    ("name", "status", "loaded", "quarantined", "checks", "advisories", "error"),
    OWN_OUTCOMES,
    ids=[o[0] for o in OWN_OUTCOMES],
)
def test_own_fixture_outcome(
    settings: Settings,
    name: str,
    status: str,
    loaded: int,
    quarantined: int,
    checks: tuple[str, ...],
    advisories: tuple[str, ...],
    error: str,
) -> None:
    record = load_file(
        SOURCE,
        OWN / name,
        settings,
        "20260101T000000Z-ownfix",
        payers=payer_directory(settings.payer_alias_file),
        codes=CODES,
    )
    assert (record.status, record.rows_loaded, record.rows_quarantined) == (status, loaded, quarantined), record.error
    assert record.rows_read == record.rows_loaded + record.rows_quarantined
    assert _findings(settings, store.QUARANTINE) == set(checks)
    assert _findings(settings, store.ADVISORY) == set(advisories)
    if error:
        assert record.error.startswith(name) and error in record.error, record.error
        assert not any((settings.lake_dir / d).exists() for d in ("hospital__standard_charge", "hospital__file"))
    else:
        assert record.error is None


def test_quarantined_placeholder_and_negative_rows_name_line_column_and_value(settings: Settings) -> None:
    payers = payer_directory(settings.payer_alias_file)
    for name in ("placeholder_charge_999999999.csv", "negative_negotiated_charge.csv"):
        load_file(SOURCE, OWN / name, settings, "20260101T000000Z-ownfix", payers=payers, codes=CODES)
    parts = sorted((settings.lake_dir / store.QUARANTINE).glob("*/*.parquet"))
    found = pd.concat([pq.read_table(p).to_pandas() for p in parts])
    rows = sorted(
        found[["source_file", "source_record", "column_name", "check_name", "failure_value"]].itertuples(
            index=False, name=None
        )
    )
    assert rows == [
        ("negative_negotiated_charge.csv", "line 11", "negotiated_dollar_usd", "greater_than", "-1250.00"),
        ("placeholder_charge_999999999.csv", "line 11", "negotiated_dollar_usd", "placeholder_amount", "999999999"),
        ("placeholder_charge_999999999.csv", "line 12", "gross_charge_usd", "placeholder_amount", "999999999.00"),
    ]
    assert set(found.loc[found["check_name"] == "placeholder_amount", "reason"]) == {
        "999999999 is CMS's placeholder for 'no amount', not a price"
    }


# --- CMS's published example files, loaded whole (every CPT/HCPCS item) ---------------------------
CMS = FIXTURES / "hospital__standard_charge" / "cms-examples"
CMS_OUTCOMES = [
    # the v3 tall example gives 80048 a minimum of 150 on one payer row and 125 on the other (its
    # wide and JSON twins say 125): the second, conflicting item row is quarantined as a duplicate
    ("V3.0.0_Tall_CSV_Format_Example.csv", "loaded_with_quarantine", 29, 1, ("unique_key (first seen at line 12)",)),
    ("V3.0.0_Wide_CSV_Format_Example.csv", "loaded", 29, 0, NONE),
    ("v3_json_format_example.json", "loaded", 29, 0, NONE),
    ("V2.0.0_Tall_CSV_Format_Example.csv", "loaded", 17, 0, NONE),
    ("V2.0.0_Wide_CSV_Format_Example.csv", "loaded", 17, 0, NONE),
    ("V2.0.0_JSON_Format_Example.json", "loaded", 14, 0, NONE),
]


@pytest.mark.parametrize(
    ("name", "status", "loaded", "quarantined", "checks"), CMS_OUTCOMES, ids=[o[0] for o in CMS_OUTCOMES]
)
def test_cms_example_loads(
    settings: Settings, name: str, status: str, loaded: int, quarantined: int, checks: tuple[str, ...]
) -> None:
    record = load_file(
        SOURCE,
        CMS / name,
        settings,
        "20260101T000000Z-cmsexa",
        payers=payer_directory(settings.payer_alias_file),
        codes=frozenset(),
    )
    assert (record.status, record.rows_loaded, record.rows_quarantined) == (status, loaded, quarantined), record.error
    assert _findings(settings, store.QUARANTINE) == set(checks)
    assert _findings(settings, store.ADVISORY) == set()
    # with the configured codes of interest the same file loads only its hospital__file row (not counted)
    again = load_file(
        SOURCE,
        CMS / name,
        settings.replace(warehouse_dir=settings.warehouse_dir / "filtered"),
        "20260101T000000Z-cmsfil",
        payers=payer_directory(settings.payer_alias_file),
        codes=CODES,
    )
    assert (again.status, again.rows_loaded, again.rows_quarantined) == ("loaded", 0, 0)
