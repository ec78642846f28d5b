"""The Medicare Coverage Database adapter: tables told by header, zips in zips, integrity across tables."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows import catalog
from flows.settings import Settings
from flows.sources import cms_mcd
from flows.sources.base import FileRejected, ReadContext
from flows.steps import store
from flows.steps.load import load_file
from tests.conftest import BUNDLED_RAW, fixture

CODES = frozenset({"0440T", "0441T", "0442T", "64640", "64624", "64450"})
SOURCE = catalog.get("cms_mcd")
RELEASE = BUNDLED_RAW / "cms_mcd" / "synthetic_mcd_release"


def read_all(path: Path, settings: Settings, codes: frozenset[str] = CODES) -> dict[str, pd.DataFrame]:
    """Every batch of a file, concatenated per dataset (rejects under '<dataset>:rejects')."""
    found: dict[str, list[pd.DataFrame]] = {}
    for batch in cms_mcd.read(path, ReadContext(settings=settings, codes_of_interest=codes)):
        found.setdefault(batch.dataset, []).append(batch.frame)
        if batch.rejects is not None:
            found.setdefault(f"{batch.dataset}:rejects", []).append(batch.rejects)
    return {k: pd.concat(v, ignore_index=True) for k, v in found.items()}


def quarantine(settings: Settings) -> pd.DataFrame:
    parts = sorted((settings.lake_dir / store.QUARANTINE).glob("*/*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True) if parts else pd.DataFrame()


def export_zip(tmp_path: Path, folder: Path, name: str = "current_article.zip") -> Path:
    """A zip shaped like CMS's export: an inner *_csv.zip of the tables, a readme and a binary database."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        for table in sorted(folder.glob("*.csv")):
            zf.write(table, table.name.removeprefix("synthetic_"))
        zf.writestr("article_x_icd10_covered.csv", fixture("cms__mcd_article", "unused_icd10_table.csv").read_bytes())
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("current_article_csv.zip", inner.getvalue())
        zf.writestr("readme_first.txt", "MCD export (test copy)\n")
        zf.writestr("current_article.mdb", b"\x00\x01Standard Jet DB\x00" * 10)
    return path


# --- paragraphs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("paragraph", "expected", "phrase"),
    [
        ("<p>The following CPT codes are covered when the criteria are met:</p>", "covered", "covered"),
        (
            "<p>The appearance of a code in this section does not necessarily indicate coverage.</p>"
            "<p>Group 1 Paragraph: The following codes are non-covered.</p>",
            "non_covered",
            "non-covered",
        ),
        (
            "The following Category III codes are considered investigational and are not reasonable and necessary.",
            "non_covered",
            "not reasonable and necessary",
        ),
        ("These services are not covered by Medicare.", "non_covered", "not covered"),
        ("The following services are considered reasonable and necessary.", "covered", "reasonable and necessary"),
        ("<p>The appearance of a code in this section does not necessarily indicate coverage.</p>", "other", None),
        ("Claims are reviewed on a case-by-case basis; submit records.", "other", None),
        ("&amp;lt;p&amp;gt;Non-Covered codes&amp;lt;/p&amp;gt;", "non_covered", "non-covered"),  # escaped twice
        (None, "other", None),
    ],
)
def test_paragraph_is_classified_with_the_deciding_phrase(
    paragraph: str | None, expected: str, phrase: str | None
) -> None:
    assert cms_mcd.classify_paragraph(cms_mcd.paragraph_text(paragraph)) == (expected, phrase)


def test_paragraph_text_drops_html_and_decodes_entities() -> None:
    assert cms_mcd.paragraph_text("<p>Bill 0440T &amp; 0441T</p>\r\n<ul><li>one</li></ul>") == "Bill 0440T & 0441T one"
    assert cms_mcd.paragraph_text("&lt;p&gt;A&lt;/p&gt;") == "A"
    assert cms_mcd.paragraph_text("   ") is None


# --- formats ---------------------------------------------------------------------------------------
def test_each_table_of_a_folder_is_told_by_its_header(settings: Settings) -> None:
    tables = {p.name: cms_mcd.table_of(cms_mcd._header_of(p.read_bytes()[:4096])) for p in RELEASE.glob("*.csv")}
    assert {name: t.name for name, t in tables.items() if t} == {
        f"synthetic_{t}.csv": t
        for t in [
            "article",
            "article_x_contractor",
            "article_x_hcpc_code",
            "article_x_hcpc_code_group",
            "contractor",
            "lcd",
            "lcd_x_contractor",
            "lcd_x_hcpc_code",
            "lcd_x_hcpc_code_group",
        ]
    }
    renamed = settings.raw_dir / "whatever.csv"
    shutil.copy(RELEASE / "synthetic_lcd.csv", renamed)
    assert set(read_all(renamed, settings)) == {"cms__mcd_lcd"}


def test_code_rows_keep_codes_of_interest_only_and_say_what_was_scanned(settings: Settings) -> None:
    found = read_all(RELEASE / "synthetic_article_x_hcpc_code.csv", settings)
    codes = found["cms__mcd_article_hcpc_code"]
    assert sorted(codes["hcpc_code_id"]) == ["64450", "64450", "64624", "64624", "64640"]  # not 64633, 64999
    assert "long_description" not in codes.columns  # AMA descriptors are not kept
    scope = found["cms__mcd_code_scope"].set_index("billing_code")
    assert scope.loc["0440T", "rows_listing_code"] == "0" and scope.loc["64624", "rows_listing_code"] == "2"
    assert set(scope["rows_in_table"]) == {"7"}


def test_nested_export_zip_reads_every_table_with_member_locators(settings: Settings, tmp_path: Path) -> None:
    found = read_all(export_zip(tmp_path, RELEASE), settings)
    assert {
        "cms__mcd_article",
        "cms__mcd_lcd",
        "cms__mcd_contractor",
        "cms__mcd_article_hcpc_code",
        "cms__mcd_lcd_hcpc_code_group",
        "cms__mcd_code_scope",
    } <= set(found)
    assert not any(k.endswith(":rejects") for k in found)
    codes = found["cms__mcd_article_hcpc_code"]
    assert codes["source_record"].iloc[0] == "current_article_csv.zip > article_x_hcpc_code.csv line 2"
    groups = found["cms__mcd_article_hcpc_code_group"].set_index(["article_id", "hcpc_code_group"])
    assert groups.loc[("990002", "1"), "listing_class"] == "non_covered"  # the double-escaped paragraph
    assert groups.loc[("990002", "2"), "listing_class"] == "other"


def test_dates_are_iso_and_download_names_are_read_as_the_api_names(settings: Settings) -> None:
    article = read_all(RELEASE / "synthetic_article.csv", settings)["cms__mcd_article"].set_index("article_id")
    assert article.loc["990003", ["article_eff_date", "date_retired"]].tolist() == ["2019-06-01", "2024-09-30"]
    contractor = read_all(RELEASE / "synthetic_contractor.csv", settings)["cms__mcd_contractor"]
    assert contractor["contractor_name"].iloc[0] == "Synthetic Example Administrators, LLC"  # from contractor_bus_name
    assert contractor["contract_number"].tolist() == ["99101", "99102", "99201"]  # leading digits kept as text
    api = read_all(fixture("cms__mcd_contractor", "api_column_names.csv"), settings)["cms__mcd_contractor"]
    assert api[["contractor_type_id", "contract_number"]].values.tolist() == [["1", "99101"]]


def test_windows_1252_table_is_read(settings: Settings) -> None:
    article = read_all(fixture("cms__mcd_article", "cp1252_title.csv"), settings)["cms__mcd_article"]
    assert article["title"].iloc[0] == "SYNTHETIC fixture \u2013 cryoneurolysis"


def test_an_mcd_table_not_used_loads_nothing(settings: Settings) -> None:
    record = load_file(SOURCE, fixture("cms__mcd_article", "unused_icd10_table.csv"), settings, "run-u", codes=CODES)
    assert record.status == "loaded" and record.rows_read == 0 and record.datasets == []


def test_documents_listing_real_format(settings: Settings) -> None:
    """documents_latest.csv: contractor names with embedded newlines and commas, MM/DD/YYYY, N/A."""
    docs = read_all(fixture("cms__mcd_document", "documents_latest_excerpt.csv"), settings)["cms__mcd_document"]
    assert len(docs) == 12
    wps = docs.set_index("document_display_id").loc["L35490"]
    assert wps["contractor_name_type"] == "WPS Insurance Corporation\n(MAC - Part A, MAC - Part B)"
    assert (wps["title"], wps["document_version"], wps["effective_date"]) == ("Category III Codes", "81", "2025-06-26")
    assert pd.isna(wps["retirement_date"])  # written N/A
    dme = docs.set_index("document_display_id").loc["L33802", "contractor_name_type"]
    assert dme.count("\n\n") == 1  # two MACs separated by a blank line inside one quoted field
    assert docs.set_index("document_display_id").loc["L34011", "retirement_date"] == "2025-06-26"
    assert docs.loc[docs["document_display_id"] == "A59090", "source_record"].iloc[0] == "line 30"


# --- integrity across tables ----------------------------------------------------------------------
def test_orphan_code_rows_are_quarantined_with_the_reason(settings: Settings) -> None:
    path = fixture("cms__mcd_article_hcpc_code", "orphan_rows") / "article_x_hcpc_code.csv"
    record = load_file(SOURCE, path, settings, "run-o", codes=CODES)
    assert record.status == "loaded_with_quarantine", record.error
    assert (record.rows_read, record.rows_loaded, record.rows_quarantined) == (3, 1, 2)  # 99213 is not read
    found = quarantine(settings).sort_values("source_record")
    assert found["source_record"].tolist() == ["line 3", "line 4"]
    assert found["check_name"].tolist() == ["references_article", "references_code_group"]
    assert "points to article_id 990099 article_version 1, which is not in the article table" in found["reason"].iloc[0]
    assert "hcpc_code_group 7" in found["reason"].iloc[1] and "article_x_hcpc_code_group" in found["reason"].iloc[1]
    assert '"hcpc_code_id": "64640"' in found["raw_record"].iloc[0]


def test_orphan_rows_in_a_zip_are_quarantined_too(settings: Settings, tmp_path: Path) -> None:
    path = export_zip(tmp_path, fixture("cms__mcd_article_hcpc_code", "orphan_rows"))
    record = load_file(SOURCE, path, settings, "run-z", codes=CODES)
    assert record.rows_quarantined == 2 and record.rows_read == record.rows_loaded + record.rows_quarantined
    assert set(quarantine(settings)["source_record"]) == {
        "current_article_csv.zip > article_x_hcpc_code.csv line 3",
        "current_article_csv.zip > article_x_hcpc_code.csv line 4",
    }


def test_a_table_without_its_parent_tables_is_rejected_saying_what_to_add(settings: Settings) -> None:
    path = fixture("cms__mcd_article_hcpc_code", "missing_parent_table") / "article_x_hcpc_code.csv"
    with pytest.raises(
        FileRejected,
        match=r"points to article rows, but the folder missing_parent_table holds no article "
        r"table; expected the whole release: load the CMS export zip",
    ) as info:
        read_all(path, settings)
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "t.csv").write_text("a,b\n1,2\n"), r"t.csv \(line 1\): header matches no MCD table"),
        (lambda d: (d / "t.zip").write_bytes(b"PK\x03\x04 not really a zip"), r"t.zip: not a readable zip"),
        (
            lambda d: (d / "t.zip").write_bytes(_zip_of({"notes.txt": b"hello"})),
            r"t.zip: holds no MCD table payerbench reads",
        ),
    ],
)
def test_bad_files_are_rejected(settings: Settings, tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    make(tmp_path)
    path = next(tmp_path.glob("t.*"))
    with pytest.raises(FileRejected, match=message):
        read_all(path, settings)


def _zip_of(members: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return data.getvalue()


def test_detect_by_content(settings: Settings, tmp_path: Path) -> None:
    assert cms_mcd.detect(RELEASE / "synthetic_article_x_hcpc_code.csv")
    assert cms_mcd.detect(fixture("cms__mcd_document", "documents_latest_excerpt.csv"))
    assert cms_mcd.detect(export_zip(tmp_path, RELEASE))
    assert not cms_mcd.detect(fixture("payer__policy", "valid_minimal.csv"))
    assert not cms_mcd.detect(settings.billing_code_file)
    assert catalog.detect_source(RELEASE / "synthetic_lcd.csv") == ["cms_mcd"]


def test_full_documents_listing_loads_and_reconciles(settings: Settings, real_samples: Path) -> None:
    path = real_samples / "cms-coverage-api" / "dataset" / "documents_latest.csv"
    record = load_file(SOURCE, path, settings, "run-r", codes=CODES)
    assert record.status == "loaded", record.error
    assert (record.rows_read, record.rows_loaded, record.rows_quarantined) == (3133, 3133, 0)
    docs = pd.concat(
        [pq.read_table(p).to_pandas() for p in (settings.lake_dir / "cms__mcd_document").glob("*/*.parquet")]
    )
    assert docs["document_type"].value_counts().to_dict() == {"Article": 2161, "LCD": 972}
    cryo = docs[docs["title"] == "Billing and Coding: Cryoneurolysis Instructions"]
    assert sorted(cryo["document_display_id"]) == ["A59752", "A59753"]


def test_article_and_lcd_exports_zipped_together_read_the_shared_contractor_table_once(
    settings: Settings, tmp_path: Path
) -> None:
    article, lcd = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(article, "w") as zf:
        for table in (
            "article",
            "article_x_hcpc_code_group",
            "article_x_hcpc_code",
            "article_x_contractor",
            "contractor",
        ):
            zf.write(RELEASE / f"synthetic_{table}.csv", f"{table}.csv")
    with zipfile.ZipFile(lcd, "w") as zf:
        for table in ("lcd", "lcd_x_hcpc_code_group", "lcd_x_hcpc_code", "lcd_x_contractor", "contractor"):
            zf.write(RELEASE / f"synthetic_{table}.csv", f"{table}.csv")
    path = tmp_path / "all_data.zip"
    path.write_bytes(
        _zip_of(
            {
                "current_article.zip": _zip_of({"current_article_csv.zip": article.getvalue()}),
                "current_lcd.zip": _zip_of({"current_lcd_csv.zip": lcd.getvalue()}),
            }
        )
    )
    record = load_file(SOURCE, path, settings, "run-a", codes=CODES)
    assert record.status == "loaded" and record.rows_quarantined == 0, record.error
    contractors = pq.read_table(next((settings.lake_dir / "cms__mcd_contractor").glob("*/*.parquet"))).to_pandas()
    assert len(contractors) == 3
    assert (
        contractors["source_record"].iloc[0] == "current_article.zip > current_article_csv.zip > contractor.csv line 2"
    )
