"""The hospital price-transparency adapter: layouts, versions, filtering, values, and the fast CSV path."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from flows.engines import csv_prefilter
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.sources import hospital_mrf
from flows.sources.base import FileRejected, ReadContext
from tests.conftest import FIXTURES

DIR = FIXTURES / "hospital__standard_charge"
CMS = DIR / "cms-examples"
HPT = DIR / "hpt-validator"
CODES = frozenset({"0440T", "0441T", "0442T", "64640", "64624", "64450"})
PAYER_COLUMNS = [
    "billing_code",
    "payer_name",
    "plan_name",
    "negotiated_dollar_usd",
    "negotiated_percent",
    "negotiated_algorithm",
    "median_amount_usd",
    "percentile_10th_usd",
    "percentile_90th_usd",
    "allowed_amount_count",
    "methodology",
]


def read(
    path: Path, settings: Settings, codes: frozenset[str] = frozenset(), fast: bool | None = None, payers: bool = False
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """(hospital__file row, hospital__standard_charge rows, adapter rejects) of one file."""
    ctx = ReadContext(
        settings=settings,
        codes_of_interest=codes,
        payers=payer_directory(settings.payer_alias_file) if payers else None,
    )
    batches = list(hospital_mrf.read_file(path, ctx, fast=fast))
    files = [b.frame for b in batches if b.dataset == "hospital__file"]
    assert len(files) == 1
    charges = [b.frame for b in batches if b.dataset == "hospital__standard_charge"]
    rejects = [b.rejects for b in batches if b.rejects is not None]
    return (
        files[0].iloc[0],
        pd.concat(charges, ignore_index=True) if charges else pd.DataFrame(columns=hospital_mrf.COLUMNS),
        pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=["source_record", "check"]),
    )


def payer_rows(frame: pd.DataFrame) -> list[tuple]:
    rows = frame[frame["charge_scope"] == "payer_specific"][PAYER_COLUMNS].astype(object)
    return sorted((tuple(None if pd.isna(v) else v for v in row) for row in rows.itertuples(index=False)), key=str)


# --- the CMS example files: every layout and both generations --------------------------------------
@pytest.mark.parametrize(
    ("name", "layout", "generation", "version", "updated", "independent", "payer"),
    [
        ("V3.0.0_Tall_CSV_Format_Example.csv", "csv_tall", "v3", "3.0.0", "2026-04-01", 12, 18),
        ("V3.0.0_Wide_CSV_Format_Example.csv", "csv_wide", "v3", "3.0.0", "2026-04-01", 11, 18),
        ("v3_json_format_example.json", "json", "v3", "3.0.0", "2026-04-01", 11, 18),
        ("V2.0.0_Tall_CSV_Format_Example.csv", "csv_tall", "v2", "2.0.0", "2024-07-01", 7, 10),
        ("V2.0.0_Wide_CSV_Format_Example.csv", "csv_wide", "v2", "2.0.0", "2024-07-01", 7, 10),
        ("V2.0.0_JSON_Format_Example.json", "json", "v2", "2.0.0", "2024-07-01", 4, 10),
    ],
)
def test_cms_examples_read_with_correct_counts(
    settings: Settings,
    name: str,
    layout: str,
    generation: str,
    version: str,
    updated: str,
    independent: int,
    payer: int,
) -> None:
    facts, rows, rejects = read(CMS / name, settings)
    assert (facts["file_layout"], facts["template_generation"], facts["template_version"]) == (
        layout,
        generation,
        version,
    )
    assert facts["hospital_name"] == "West Mercy Hospital" and facts["last_updated_on"] == updated
    assert facts["license_number"] == "50056" and facts["license_state"] == "CA"
    assert facts["location_name"] == "West Mercy Hospital|West Mercy Surgical Center"
    assert facts["attestation_confirmed"] == "true"
    assert rows["charge_scope"].value_counts().to_dict() == {"payer_independent": independent, "payer_specific": payer}
    assert set(rows["billing_code_type"]) <= {"CPT", "HCPCS"} and rejects.empty
    # v2 publishes estimated amounts, v3 median / percentiles / count: never the other generation's
    stats = ["median_amount_usd", "percentile_10th_usd", "percentile_90th_usd", "allowed_amount_count"]
    if generation == "v2":
        assert rows[stats].isna().all().all() and rows["estimated_amount_usd"].notna().any()
    else:
        assert rows["estimated_amount_usd"].isna().all() and rows[stats].notna().any().all()
    if generation == "v3":
        assert facts["type_2_npi"] == "0000000001|0000000002|0000000003" and facts["attester_name"] == "Leigh Attester"


def test_v3_tall_wide_and_json_give_the_same_payer_charges(settings: Settings) -> None:
    tall = payer_rows(read(CMS / "V3.0.0_Tall_CSV_Format_Example.csv", settings)[1])
    assert len(tall) == 18
    assert payer_rows(read(CMS / "V3.0.0_Wide_CSV_Format_Example.csv", settings)[1]) == tall
    assert payer_rows(read(CMS / "v3_json_format_example.json", settings)[1]) == tall


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with amounts compared as numbers (JSON writes 4200.5 where CSV writes 4200.50)."""
    out = frame.drop(columns="source_record").astype(object)
    for name in [c for c in out.columns if c.endswith("_usd") or c == "negotiated_percent"]:
        out[name] = out[name].map(lambda v: None if pd.isna(v) else Decimal(v).normalize())
    return out


def test_our_three_layouts_give_identical_rows(settings: Settings) -> None:
    _, tall, _ = read(DIR / "valid_v3_tall.csv", settings, CODES)
    assert len(tall) == 8
    for name in ("valid_v3_wide.csv", "valid_v3.json"):
        _, other, _ = read(DIR / name, settings, CODES)
        pd.testing.assert_frame_equal(canonical(other), canonical(tall))


@pytest.mark.parametrize(
    ("name", "record", "expected"),
    [
        # values a person can check in the file at the named line / path
        (
            "V3.0.0_Tall_CSV_Format_Example.csv",
            "line 22",
            {
                "billing_code": "99283",
                "payer_name": "Platform Health Insurance",
                "negotiated_percent": "80",
                "negotiated_dollar_usd": None,
                "negotiated_type": "percentage",
                "negotiated_dollar_reason": "expressed_as_percentage",
                "median_amount_usd": "12000.12",
                "allowed_amount_count": "299",
                "methodology": "percent_of_total_billed_charges",
            },
        ),
        (
            "V3.0.0_Wide_CSV_Format_Example.csv",
            "line 10, Region Health Insurance | HMO",
            {
                "billing_code": "C1785",
                "negotiated_algorithm": "Allowed amount for service is 120% of the actual cost, based on supplier invoice.",
                "negotiated_type": "algorithm",
                "median_amount_usd": "25086.61",
                "percentile_90th_usd": "60762.44",
                "allowed_amount_count": "37",
            },
        ),
        (
            "v3_json_format_example.json",
            "$.standard_charge_information[11].standard_charges[0].payers_information[0]",
            {"billing_code": "H0017", "plan_name": "HMO", "negotiated_dollar_usd": "2000", "methodology": "per_diem"},
        ),
        (
            "V2.0.0_Tall_CSV_Format_Example.csv",
            "line 9",
            {
                "billing_code": "92626",
                "payer_name": "Region Health Insurance",
                "negotiated_percent": "115",
                "estimated_amount_usd": "105.34",
                "additional_notes": "115% of the state's workers' compensation amount.",
            },
        ),
        (
            "V2.0.0_Wide_CSV_Format_Example.csv",
            "line 7, Platform_Health_Insurance | PPO",
            {"billing_code": "92626", "payer_name": "Platform_Health_Insurance", "negotiated_dollar_usd": "98.98"},
        ),
        (
            "V2.0.0_JSON_Format_Example.json",
            "$.standard_charge_information[1].standard_charges[0]",
            {
                "billing_code": "92626",
                "charge_scope": "payer_independent",
                "gross_charge_usd": "150",
                "discounted_cash_usd": "125",
                "minimum_usd": "98.98",
                "maximum_usd": "98.98",
                "charges_missing": None,
            },
        ),
    ],
)
def test_a_value_a_person_can_check(settings: Settings, name: str, record: str, expected: dict[str, object]) -> None:
    _, rows, _ = read(CMS / name, settings)
    found = rows[rows["source_record"] == record]
    if "charge_scope" not in expected:
        found = found[found["charge_scope"] == "payer_specific"]
    assert len(found) == 1, found
    row = found.iloc[0]
    assert {k: (None if pd.isna(row[k]) else row[k]) for k in expected} == expected


def test_the_tall_layout_repeats_item_charges_but_one_payer_independent_row_is_kept(settings: Settings) -> None:
    _, rows, _ = read(DIR / "valid_v3_tall.csv", settings, CODES)
    item = rows[(rows["billing_code"] == "0440T") & (rows["charge_scope"] == "payer_independent")]
    assert len(item) == 1 and item.iloc[0]["source_record"] == "line 5"
    assert item.iloc[0][["gross_charge_usd", "discounted_cash_usd", "minimum_usd", "maximum_usd"]].tolist() == [
        "16000",
        "3000",
        "1800",
        "6500",
    ]
    payers = rows[(rows["billing_code"] == "0440T") & (rows["charge_scope"] == "payer_specific")]
    assert len(payers) == 5 and payers[["gross_charge_usd", "minimum_usd"]].isna().all().all()
    # an item whose file gives different minimums on its payer rows (CMS's own tall example, 80048)
    # keeps both payer_independent rows for the loader to quarantine the second as a duplicate
    _, cms, _ = read(CMS / "V3.0.0_Tall_CSV_Format_Example.csv", settings)
    panel = cms[(cms["billing_code"] == "80048") & (cms["charge_scope"] == "payer_independent")]
    assert panel["minimum_usd"].tolist() == ["150", "125"]


def test_percentages_and_dollars_never_share_a_column(settings: Settings) -> None:
    _, rows, _ = read(DIR / "valid_v3_tall.csv", settings, CODES)
    bcbs = rows[rows["payer_name"] == "BCBS of Texas"].iloc[0]
    assert (bcbs["negotiated_percent"], bcbs["negotiated_type"], bcbs["negotiated_dollar_reason"]) == (
        "65",
        "percentage",
        "expressed_as_percentage",
    )
    assert pd.isna(bcbs["negotiated_dollar_usd"])
    _, v2, _ = read(DIR / "v2_tall_estimated_amount.csv", settings, CODES)
    assert v2.loc[v2["payer_name"] == "BCBS of Texas", "negotiated_percent"].tolist() == ["62"]  # "62%"
    assert v2.loc[v2["payer_name"] == "Aetna", "negotiated_dollar_usd"].tolist() == ["4100.00"]  # "$4,100.00"
    independent = v2[v2["charge_scope"] == "payer_independent"].iloc[0]
    assert (independent["gross_charge_usd"], independent["discounted_cash_usd"]) == ("15900.00", "2950.00")


def test_nine_nines_in_an_allowed_amount_is_null_with_a_reason(settings: Settings) -> None:
    _, rows, _ = read(DIR / "v2_tall_estimated_amount.csv", settings, CODES)
    cigna = rows[rows["payer_name"] == "Cigna"].iloc[0]
    assert pd.isna(cigna["estimated_amount_usd"]) and cigna["allowed_amounts_reason"] == "placeholder_999999999"
    assert cigna["negotiated_percent"] == "70"  # the rate itself is kept
    bcbs = rows[rows["payer_name"] == "BCBS of Texas"].iloc[0]
    assert bcbs["estimated_amount_usd"] == "9858.00" and pd.isna(bcbs["allowed_amounts_reason"])


def test_only_codes_of_interest_are_kept(settings: Settings) -> None:
    _, rows, _ = read(DIR / "valid_v3_tall.csv", settings, CODES)
    assert set(rows["billing_code"]) == {"0440T", "0441T"}  # 99213 dropped
    facts, cms, _ = read(CMS / "V3.0.0_Tall_CSV_Format_Example.csv", settings, CODES)
    assert cms.empty and facts["hospital_name"] == "West Mercy Hospital"  # the file still says who published it
    _, cms_all, _ = read(CMS / "V3.0.0_Tall_CSV_Format_Example.csv", settings)  # empty set: every CPT/HCPCS item
    assert set(cms_all["billing_code"]) == {"70551", "49505", "80048", "C1785", "99283", "H0017", "J1450", "J3420"}
    assert not cms_all["other_codes"].str.contains("MS-DRG", na=False).any()  # DRG items are another code system


def test_code_types(settings: Settings) -> None:
    _, rows, _ = read(DIR / "code_type_not_cpt.csv", settings, CODES)
    assert "0440T" not in set(rows["billing_code"])  # typed CDM: the hospital's own number, not CPT 0440T
    assert rows.loc[rows["billing_code"] == "0441T", "billing_code_type"].unique().tolist() == [
        "CTP"
    ]  # schema quarantines
    assert rows.loc[rows["billing_code"] == "0442T", "billing_code_type"].unique().tolist() == [
        "HCPCS"
    ]  # "0442t", "hcpcs"


def test_plan_type_and_other_codes(settings: Settings) -> None:
    _, rows, _ = read(DIR / "valid_v3_tall.csv", settings, CODES, payers=True)
    plan = dict(zip(rows["payer_name"], rows["plan_type"]))
    assert plan["UHC Medicare Advantage"] == "medicare_advantage"
    assert pd.isna(plan["Aetna"]) and pd.isna(plan["BCBS of Texas"])  # "Blue Advantage HMO" is not Medicare
    assert set(rows["other_codes"]) == {"RC:0360"}


@pytest.mark.parametrize(
    ("payer", "plan", "group", "expected"),
    [
        ("UHC Medicare Advantage", "Choice PPO", "unitedhealthcare", "medicare_advantage"),
        ("Humana", "Gold Plus HMO-POS MAPD", None, "medicare_advantage"),
        ("Humana Medicare", "Gold Plus", None, "medicare_advantage"),
        ("Medicare", "Part A", None, "medicare_ffs"),
        ("Aetna", "Aetna Medicare Premier (PPO)", "aetna", "medicare_advantage"),
        ("Cigna-HealthSpring", "Preferred D-SNP", "cigna", "medicare_advantage"),
        ("Medicare", "Medicare", "medicare", "medicare_ffs"),
        ("Traditional Medicare", "Part B", "medicare", "medicare_ffs"),
        ("Blue Cross Blue Shield of Texas", "Blue Advantage HMO", "bcbs", None),
        ("Aetna", "Medicare Supplement Plan G", "aetna", None),
        ("Superior HealthPlan", "STAR Medicaid", None, "medicaid_managed"),
        ("Ambetter", "Marketplace Silver", None, "commercial"),
        ("Aetna", "Commercial PPO", "aetna", "commercial"),
        ("Aetna", "Choice POS II", "aetna", None),
    ],
)
def test_plan_type_only_when_the_text_says_so(payer: str, plan: str, group: str | None, expected: str | None) -> None:
    assert hospital_mrf._plan_type(payer, plan, group) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Code | 1 | Type", "code|1|type"),
        ("standard_charge | negotiated_dollar", "standard_charge|negotiated_dollar"),
        ("hospital_ location", "hospital_location"),
        ("\ufeffhospital_name", "hospital_name"),
        ("License Number|CA", "license_number|ca"),
    ],
)
def test_header_keys(text: str, key: str) -> None:
    assert hospital_mrf._key(text) == key


def test_metadata_after_the_charges_reads_the_same(settings: Settings) -> None:
    first_facts, first, _ = read(DIR / "valid_v3.json", settings, CODES)
    late_facts, late, _ = read(DIR / "metadata_after_charges.json", settings, CODES)
    pd.testing.assert_frame_equal(first, late)
    assert late_facts.drop("source_record").equals(first_facts.drop("source_record"))
    assert late_facts["hospital_name"] == "Fixture Hospital" and late_facts["template_generation"] == "v3"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.json", "truncated.json (line 91 column 29): invalid or truncated JSON"),
        (
            "third_row_not_header.csv",
            "third_row_not_header.csv (line 3): line 3 is not the data header (it starts 'Office visit",
        ),
        (
            "no_metadata_rows.csv",
            "no_metadata_rows.csv (line 1): line 1 is the data header: the hospital metadata rows",
        ),
        ("nul_byte.csv", "nul_byte.csv (line 10): binary content (NUL byte at byte offset"),
        ("bare_cr_line_endings.csv", "bare_cr_line_endings.csv (record starting on line 1): a bare carriage return"),
    ],
)
def test_file_defects_reject_naming_the_place(settings: Settings, name: str, message: str) -> None:
    for fast in (True, False):
        with pytest.raises(FileRejected) as caught:
            read(DIR / name, settings, CODES, fast=fast)
        assert caught.value.message.startswith(message), caught.value.message


def test_mixed_line_endings_keep_exact_line_numbers(settings: Settings) -> None:
    _, rows, _ = read(DIR / "mixed_line_endings.csv", settings, CODES)
    lines = (DIR / "mixed_line_endings.csv").read_bytes().split(b"\n")
    for record in set(rows["source_record"]):
        number = int(record.split()[1])
        assert b",04" in lines[number - 1]  # the physical line the record starts on holds its code
    cigna = rows[(rows["payer_name"] == "Cigna") & (rows["billing_code"] == "0440T")].iloc[0]
    assert cigna["additional_notes"] == "Line one of the note\r\nline two of the note"
    assert cigna["source_record"] == "line 11"
    assert rows.loc[rows["payer_name"] == "Aetna", "negotiated_dollar_usd"].tolist() == ["4200.50"]


def test_multiline_records_and_a_code_named_in_a_note(settings: Settings) -> None:
    _, rows, _ = read(DIR / "multiline_quoted_fields.csv", settings, CODES)
    assert rows.loc[rows["billing_code"] == "0440T", "source_record"].unique().tolist() == ["line 7", "line 10"]
    assert rows.loc[rows["billing_code"] == "0441T", "source_record"].unique().tolist() == ["line 15"]
    assert "99213" not in set(rows["billing_code"])  # its note mentions 0440T; it is not a 0440T row
    assert rows["description"].str.contains('\n"percutaneous"\n', regex=False).sum() == 3


def test_rows_the_adapter_cannot_align_or_decode_are_rejects(settings: Settings) -> None:
    _, rows, rejects = read(DIR / "cp1252_byte_in_row.csv", settings, CODES)
    assert rejects[["source_record", "check"]].values.tolist() == [["line 10", "utf8_encoding"]]
    assert "\\xe9" in rejects.iloc[0]["failure_value"] and "0441T" not in set(rows["billing_code"])
    _, rows, rejects = read(DIR / "unquoted_comma_row.csv", settings, CODES)
    assert rejects[["source_record", "check"]].values.tolist() == [["line 10", "field_count"]]


def test_detect_by_content(tmp_path: Path) -> None:
    for path in [
        CMS / "V3.0.0_Tall_CSV_Format_Example.csv",
        CMS / "v3_json_format_example.json",
        CMS / "V2.0.0_Wide_CSV_Format_Example.csv",
        DIR / "valid_v3_wide.csv",
        HPT / "removed-2.0" / "sample-tall-valid-quoted.csv",
    ]:  # a quoted "hospital_name" header
        renamed = tmp_path / f"download_{path.stem}.txt"
        shutil.copy(path, renamed)
        assert hospital_mrf.detect(renamed), path.name
    assert not hospital_mrf.detect(FIXTURES / "payer__policy" / "valid_minimal.csv")
    assert not hospital_mrf.detect(FIXTURES / "payer__policy" / "valid_array.json")


# --- the byte-level prefilter gives exactly the straightforward parse's rows ------------------------
CSV_FILES = sorted(p for p in DIR.rglob("*.csv"))


@pytest.mark.parametrize("path", CSV_FILES, ids=[str(p.relative_to(DIR)) for p in CSV_FILES])
def test_fast_and_straightforward_csv_reads_agree(settings: Settings, path: Path) -> None:
    try:
        _, everything, _ = read(path, settings, fast=False)
        codes = frozenset(everything["billing_code"]) | CODES
    except FileRejected:
        codes = CODES
    results = []
    for fast in (False, True):
        try:
            results.append(read(path, Settings(chunk_rows=3), codes, fast=fast))
        except FileRejected as exc:
            results.append(exc.message)
    slow, fast = results
    if isinstance(slow, str):
        assert fast == slow
        return
    pd.testing.assert_series_equal(slow[0], fast[0])
    pd.testing.assert_frame_equal(slow[1], fast[1])
    pd.testing.assert_frame_equal(slow[2], fast[2])


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("valid_v3_tall.csv", True),
        ("multiline_quoted_fields.csv", True),
        ("mixed_line_endings.csv", True),
        ("stray_quote_in_unquoted_field.csv", False),  # an inch mark flips the quote parity: full parse instead
        ("nul_byte.csv", False),
        ("bare_cr_line_endings.csv", False),
    ],
)
def test_when_the_prefilter_trusts_itself(name: str, trusted: bool) -> None:
    path = DIR / name
    records = csv_prefilter.iter_records(path)
    try:
        header = [next(records) for _ in range(3)][-1]
    except FileRejected:
        assert not trusted
        return
    found = csv_prefilter.scan(path, header.end, header.next_line, CODES, block_bytes=256)
    assert (found is not None) == trusted
    if trusted:
        assert len(found) > 0 and found.blocks > 1


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("Aetna", "aetna"),
        ("AETNA HMO", "aetna"),
        ("BCBS of Texas", "bcbs"),
        ("BCBSTX", "bcbs"),
        ("Anthem Blue Cross", "bcbs"),
        ("Blue Cross Blue Shield of Texas", "bcbs"),
        ("UHC Medicare Advantage", "unitedhealthcare"),
        ("United Health Care", "unitedhealthcare"),
        ("AARP Medicare Advantage", "unitedhealthcare"),
        ("Cigna-HealthSpring", "cigna"),
        ("Medicare", "medicare"),
        ("Humana", None),
        ("Medicare Advantage", None),
    ],
)
def test_hospital_payer_names_map_through_the_reference_table(settings: Settings, name: str, group: str | None) -> None:
    assert payer_directory(settings.payer_alias_file).lookup(name) == group


def test_copied_fixtures_are_byte_identical_to_the_public_files(real_samples: Path) -> None:
    """Provenance: the copies under tests/fixtures equal the files listed in real-samples/SHA256SUMS."""
    import hashlib

    sums = {}
    for line in (real_samples / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        sums[name.strip()] = digest
    copies = [
        (p, "validator-fixtures/hpt-validator/test/fixtures/" + str(p.relative_to(HPT)))
        for p in HPT.rglob("*")
        if p.is_file()
    ]
    examples = {
        p.name: n
        for n in sums
        for p in CMS.iterdir()
        if n.startswith("cms-hospital-price-transparency/") and n.endswith("/" + p.name)
    }
    copies += [(CMS / name, source) for name, source in examples.items()]
    assert len(copies) == 73 + 6
    for path, name in copies:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[name], name


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("cpt", "CPT"),
        ("CPT4", "CPT"),
        ("CPT\u00ae", "CPT"),
        ("HCPCS Level II", "HCPCS"),
        ("hcpcs", "HCPCS"),
        ("CTP", "CTP"),
        (" local ", "LOCAL"),
        (None, None),
    ],
)
def test_code_type_spellings(written: str | None, expected: str | None) -> None:
    assert hospital_mrf._code_type(written) == expected


def test_zip_and_gzip_files_are_refused_with_what_to_do(settings: Settings, tmp_path: Path) -> None:
    import gzip
    import zipfile

    zipped, gzipped = tmp_path / "mrf.zip", tmp_path / "mrf.json.gz"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(DIR / "valid_v3.json", "valid_v3.json")
    gzipped.write_bytes(gzip.compress((DIR / "valid_v3.json").read_bytes()))
    with pytest.raises(FileRejected, match=r"mrf.zip: a ZIP archive .* unzipped"):
        read(zipped, settings, CODES)
    with pytest.raises(FileRejected, match=r"mrf.json.gz: gzip-compressed; expected an uncompressed CSV or JSON file"):
        read(gzipped, settings, CODES)
