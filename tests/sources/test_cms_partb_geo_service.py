"""The Part B geography-and-service adapter: data year, filtering, CMS's quirks, bad rows and files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows import catalog, cli
from flows.settings import Settings
from flows.sources import cms_partb_geo_service as partb
from flows.sources.base import FileRejected, ReadContext
from flows.steps import store
from flows.steps.load import load_file
from tests.conftest import BUNDLED_RAW, fixture

DATASET = "cms__partb_geo_service"
CODES = frozenset({"0440T", "0441T", "0442T", "64640", "64624", "64450"})
SOURCE = catalog.get("cms_partb_geo_service")


def read_all(path: Path, settings: Settings, codes: frozenset[str] = CODES, **options: str) -> dict[str, pd.DataFrame]:
    found: dict[str, list[pd.DataFrame]] = {}
    for batch in partb.read(path, ReadContext(settings=settings, codes_of_interest=codes, options=options)):
        found.setdefault(batch.dataset, []).append(batch.frame)
    return {k: pd.concat(v, ignore_index=True) for k, v in found.items()}


def quarantine(settings: Settings) -> pd.DataFrame:
    parts = sorted((settings.lake_dir / store.QUARANTINE).glob("*/*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True) if parts else pd.DataFrame()


def test_quirks_are_normalised_and_other_codes_skipped(settings: Settings) -> None:
    found = read_all(fixture(DATASET, "quirks_2022.csv"), settings)
    rows = found[DATASET]
    assert rows["billing_code"].tolist() == ["0440T", "64450", "64450", "64450"]  # 99213 (line 4) skipped
    assert rows["source_record"].tolist() == ["line 2", "line 3", "line 5", "line 6"]
    assert set(rows["data_year"]) == {"2022"}
    national = rows.iloc[1]
    assert national[["rendering_provider_count", "beneficiary_count", "service_count"]].tolist() == [
        "68838",
        "383772",
        "900000",
    ]
    assert pd.isna(rows.loc[0, "geo_code"]) and rows.loc[0, "geo_level"] == "national"
    texas = rows.iloc[2]
    assert (texas["geo_level"], texas["drug_indicator"], texas["place_of_service"]) == ("state", "N", "O")
    assert (texas["rendering_provider_count"], texas["service_count"]) == ("120", "2700.0")
    assert rows.loc[3, "geo_level"] == "state"  # ' State ' with blanks around it
    assert rows.loc[0, "hcpcs_description"].startswith("Percutaneous cryoablation, upper extremity")


def test_scope_rows_record_the_year_and_each_code_scanned(settings: Settings) -> None:
    scope = read_all(fixture(DATASET, "quirks_2022.csv"), settings)["cms__partb_geo_service_scope"].set_index(
        "billing_code"
    )
    assert sorted(scope.index) == sorted(CODES)
    assert scope.loc["64450", "code_rows"] == "3" and scope.loc["0442T", "code_rows"] == "0"
    assert set(scope["rows_in_file"]) == {"5"} and set(scope["rows_kept"]) == {"4"}
    assert set(scope["year_source"]) == {"file name"} and set(scope["data_year"]) == {"2022"}


@pytest.mark.parametrize(
    ("relative", "year", "how"),
    [
        ("MUP_PHY_R24_P05_V10_D22_Geo.csv", 2022, "file name"),  # R24 (release) is not the data year
        ("synthetic_MUP_PHY_R23_P05_V10_D21_Geo.csv", 2021, "file name"),
        ("partb_geo_service_2019.csv", 2019, "file name"),
        ("2020/geo_and_service.csv", 2020, "folder name"),
        ("2020/partb_2018.csv", 2018, "file name"),
    ],
)
def test_data_year_from_the_name(tmp_path: Path, relative: str, year: int, how: str) -> None:
    assert partb.year_from_name(tmp_path / relative) == (year, how)


def test_data_year_from_a_column_or_an_option(settings: Settings, tmp_path: Path) -> None:
    rows = read_all(fixture(DATASET, "year_column.csv"), settings)
    assert rows[DATASET]["data_year"].tolist() == ["2021", "2022"]
    assert sorted(set(rows["cms__partb_geo_service_scope"]["data_year"])) == ["2021", "2022"]
    passed = read_all(fixture(DATASET, "no_year_in_name.csv"), settings, data_year="2017")
    assert set(passed[DATASET]["data_year"]) == {"2017"}
    assert set(passed["cms__partb_geo_service_scope"]["year_source"]) == {"option"}
    with pytest.raises(FileRejected, match="the Data_Year column says 2021 but data_year=2023 was passed"):
        read_all(fixture(DATASET, "year_column.csv"), settings, data_year="2023")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "no_year_in_name.csv",
            {},
            r"no_year_in_name.csv: cannot tell the data year: the file has no Data_Year column and "
            r"neither its name nor its folder holds a year; expected a name carrying the data year as "
            r"CMS writes it \(MUP_PHY_R24_P05_V10_D22_Geo.csv = data year 2022\).*or pass it: "
            r"payerbench ingest cms_partb_geo_service FILE -o data_year=2022",
        ),
        (
            "ambiguous_years_2022_2023.csv",
            {},
            r"the file name holds several years \(2022, 2023\), so the data year is ambiguous",
        ),
        ("no_year_in_name.csv", {"data_year": "22"}, r"option data_year='22' is not a year"),
    ],
)
def test_undeterminable_year_rejects_the_file(settings: Settings, name: str, options: dict, message: str) -> None:
    with pytest.raises(FileRejected, match=message) as info:
        read_all(fixture(DATASET, name), settings, **options)
    assert "\n" not in info.value.message


def test_undeterminable_year_loads_nothing(settings: Settings) -> None:
    record = load_file(SOURCE, fixture(DATASET, "no_year_in_name.csv"), settings, "run-y", codes=CODES)
    assert record.status == "rejected" and record.rows_read == 0 and "-o data_year=2022" in record.error
    assert not (settings.lake_dir / DATASET).exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("services_below_beneficiaries_2022.csv", [("line 3", None, "services_at_least_beneficiaries", None)]),
        (
            "negative_counts_2022.csv",
            [
                ("line 3", "rendering_provider_count", "greater_than_or_equal_to", "-3"),
                ("line 4", "service_count", "greater_than_or_equal_to", "-1,090"),
                ("line 4", None, "services_at_least_beneficiaries", None),
            ],
        ),
        ("unknown_geo_level_2022.csv", [("line 3", "geo_level", "isin", "County")]),
    ],
)
def test_bad_rows_are_quarantined_with_the_rule_and_raw_value(
    settings: Settings, name: str, expected: list[tuple]
) -> None:
    record = load_file(SOURCE, fixture(DATASET, name), settings, "run-b", codes=CODES)
    assert record.status == "loaded_with_quarantine", record.error
    assert record.rows_read == record.rows_loaded + record.rows_quarantined and record.rows_loaded >= 1
    found = quarantine(settings)
    assert record.rows_quarantined == len({e[0] for e in expected})
    got = {
        (
            r.source_record,
            None if pd.isna(r.column_name) else r.column_name,
            r.check_name.split("(")[0],
            None if pd.isna(r.failure_value) else r.failure_value,
        )
        for r in found.itertuples()
    }
    assert got == {
        (line, column, check, value) for line, column, check, value in expected
    }  # values as the file wrote them
    assert found["reason"].str.len().min() > 10
    if name.startswith("services_below"):
        assert "each beneficiary counted had at least one service" in found["reason"].iloc[0]


def test_detect_by_header(settings: Settings) -> None:
    assert partb.detect(fixture(DATASET, "no_year_in_name.csv"))
    assert not partb.detect(fixture("payer__policy", "valid_minimal.csv"))
    assert catalog.detect_source(
        BUNDLED_RAW / "cms_partb_geo_service" / "synthetic_MUP_PHY_R24_P05_V10_D22_Geo.csv"
    ) == ["cms_partb_geo_service"]


def test_ingest_passes_the_year_for_a_file_that_does_not_tell_it(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)]
    path = str(fixture(DATASET, "no_year_in_name.csv"))
    assert cli.main(["ingest", "cms_partb_geo_service", path, *args]) == cli.EXIT_DATA
    assert "-o data_year=2022" in capsys.readouterr().out
    assert cli.main(["ingest", "cms_partb_geo_service", path, "-o", "data_year=2017", "--force", *args]) == cli.EXIT_OK
    capsys.readouterr()
    assert (
        cli.main(
            [
                "query",
                "select data_year, year_source from cms__partb_geo_service_scope limit 1",
                "--format",
                "csv",
                *args,
            ]
        )
        == cli.EXIT_OK
    )
    assert capsys.readouterr().out.splitlines()[1] == "2017,option"


def test_chunking_does_not_change_the_result(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "synthetic_2023.csv"
    shutil.copy(BUNDLED_RAW / "cms_partb_geo_service" / "synthetic_MUP_PHY_R25_P05_V10_D23_Geo.csv", path)
    small = Settings(raw_dir=settings.raw_dir, warehouse_dir=settings.warehouse_dir, chunk_rows=7)
    a, b = read_all(path, settings), read_all(path, small)
    pd.testing.assert_frame_equal(a[DATASET], b[DATASET])
    pd.testing.assert_frame_equal(a["cms__partb_geo_service_scope"], b["cms__partb_geo_service_scope"])


def test_a_fetched_file_is_scanned_for_the_codes_its_first_line_names(tmp_path: Path, settings: Settings) -> None:
    source = fixture(DATASET, "quirks_2022.csv").read_text(encoding="utf-8").splitlines()
    body = [line for line in source[1:] if ",0440T," in line]
    path = tmp_path / "MUP_PHY_API_D22_Geo.csv"
    path.write_text(f"{partb.SCANNED_MARK} 0440T 64640; synthetic test file\n{source[0]}\n" + "\n".join(body) + "\n")
    assert partb.detect(path)
    found = read_all(path, settings)  # CODES: six codes of interest, the file fetched for two of them
    assert set(found[DATASET]["billing_code"]) == {"0440T"}
    assert found[DATASET]["source_record"].tolist()[0] == "line 3"
    scope = found["cms__partb_geo_service_scope"]
    assert scope[["data_year", "billing_code", "code_rows"]].values.tolist() == [["2022", "0440T", str(len(body))], ["2022", "64640", "0"]]  # fmt: skip
    assert partb.scanned_codes(b"Rndrng_Prvdr_Geo_Lvl,HCPCS_Cd\n") is None  # CMS's own files: the codes of interest
