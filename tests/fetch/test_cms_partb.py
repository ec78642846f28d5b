"""Part B by Geography and Service: data.json -> year -> version -> the data API's rows, as the adapter's CSV.

Everything served here is SYNTHETIC: a trimmed data.json (the dataset, three API distributions of
different `temporal`, an undated "latest" one and a CSV one, both ignored, and another dataset) and
made-up rows (descriptions say "SYNTHETIC"), paged two rows at a time so that paging is exercised."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from flows.fetch import cms_partb, manifest
from flows.fetch.run import FetchResult, run_fetch
from flows.settings import Settings
from flows.sources import cms_partb_geo_service as adapter
from flows.sources.base import FetchStep, ReadContext, Source

API = "https://data.cms.gov/data-api/v1/dataset/"
UUIDS = {2021: "aaaa2021-0000-4000-8000-000000000021", 2022: "bbbb2022-0000-4000-8000-000000000022",
         2023: "cccc2023-0000-4000-8000-000000000023"}  # fmt: skip
CODES = frozenset({"0440T", "64450"})


def data_json(modified: dict[int, str] | None = None) -> dict[str, object]:
    modified = modified or {2021: "2023-05-01", 2022: "2024-05-01", 2023: "2025-05-01"}
    api = [
        {"format": "API", "title": f"Medicare Physician & Other Practitioners - by Geography and Service : {modified[y]}",
         "accessURL": f"{API}{UUIDS[y]}/data", "temporal": f"{y}-01-01/{y}-12-31", "modified": modified[y]}
        for y in (2023, 2022, 2021)
    ]  # fmt: skip
    return {
        "dataset": [
            {"title": "Medicare Physician & Other Practitioners - by Provider", "distribution": [
                {"format": "API", "accessURL": f"{API}ffff0000-0000-4000-8000-000000000000/data",
                 "temporal": "2023-01-01/2023-12-31", "modified": "2025-05-01"}]},
            {
                "title": "Medicare Physician &amp; Other Practitioners \u2013 by Geography and Service",  # en dash
                "landingPage": "https://data.cms.gov/provider-summary-by-type-of-service/medicare-physician-other-"
                "practitioners/medicare-physician-other-practitioners-by-geography-and-service",
                "distribution": [
                    {"format": "API", "description": "latest", "accessURL": f"{API}{UUIDS[2023]}/data"},
                    *api,
                    {"mediaType": "text/csv", "temporal": "2023-01-01/2023-12-31",
                     "downloadURL": "https://data.cms.gov/sites/default/files/2025-05/x/MUP_PHY_R25_P05_V10_D23_Geo.csv"},
                ],
            },
        ]
    }  # fmt: skip


def api_rows(year: int, code: str) -> list[dict[str, str]]:
    """Three synthetic rows of one code in one year: national, two states."""
    geos = [("National", "", "National"), ("State", "48", "Texas"), ("State", "06", "California")]
    return [
        {"Rndrng_Prvdr_Geo_Lvl": lvl, "Rndrng_Prvdr_Geo_Cd": cd, "Rndrng_Prvdr_Geo_Desc": desc, "HCPCS_Cd": code,
         "HCPCS_Desc": f"SYNTHETIC description of {code}, made up", "HCPCS_Drug_Ind": "N", "Place_Of_Srvc": "O",
         "Tot_Rndrng_Prvdrs": str(10 + i), "Tot_Benes": str(20 + i), "Tot_Srvcs": f"{year - 2000}{i}.0",
         "Tot_Bene_Day_Srvcs": str(30 + i), "Avg_Sbmtd_Chrg": "774.05", "Avg_Mdcr_Alowd_Amt": "267.9",
         "Avg_Mdcr_Pymt_Amt": "211.64", "Avg_Mdcr_Stdzd_Amt": "254.42"}
        for i, (lvl, cd, desc) in enumerate(geos)
    ]  # fmt: skip


class Server:
    """data.cms.gov for the tests: data.json (ETag, 304 on a match), /data/stats and /data pages per code."""

    def __init__(self) -> None:
        self.catalog = data_json()
        self.etag = '"dj1"'
        self.asked: list[str] = []
        self.stats_override: dict[tuple[int, str], int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self.asked.append(str(url))
        if str(url) == cms_partb.DATA_JSON:
            if request.headers.get("if-none-match") == self.etag:
                return httpx.Response(304, headers={"ETag": self.etag})
            body = json.dumps(self.catalog).encode()
            return httpx.Response(200, stream=httpx.ByteStream(body), headers={"ETag": self.etag})
        path = url.path.removeprefix("/data-api/v1/dataset/")
        uuid, _, rest = path.partition("/")
        year = next(y for y, u in UUIDS.items() if u == uuid)
        code = url.params[cms_partb.CODE_FILTER]
        rows = api_rows(year, code)
        if rest == "data/stats":
            found = self.stats_override.get((year, code), len(rows))
            body = json.dumps({"total_rows": 270000, "found_rows": found}).encode()
        else:
            assert rest == "data", path
            size, offset = int(url.params["size"]), int(url.params["offset"])
            body = json.dumps(rows[offset : offset + size]).encode()
        return httpx.Response(200, stream=httpx.ByteStream(body), headers={"Content-Type": "application/json"})

    def api_asked(self) -> list[str]:
        return [u for u in self.asked if u != cms_partb.DATA_JSON]


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cms_partb, "PAGE_SIZE", 2)  # 3 rows per code: a full page, then a short one


def settings(tmp_path: Path) -> Settings:
    return Settings(raw_dir=tmp_path / "raw", warehouse_dir=tmp_path / "warehouse", fetch_interval=0)


def fetch(tmp_path: Path, server: Server, fetch_id: str, codes: frozenset[str] = CODES) -> FetchResult:
    step = FetchStep(
        cms_partb.STEP, cms_partb.fetch_partb_geo_service, cms_partb.DISCOVERY, cms_partb.DATA_JSON, cms_partb.EVERY
    )
    source = Source("cms_partb_geo_service", "x", lambda path, context: iter(()), {}, fetch=step)
    (result,) = run_fetch(settings(tmp_path), [source], fetch_id, codes=codes, transport=httpx.MockTransport(server))
    assert result.error is None, result.error
    return result


def outcomes(result: FetchResult) -> dict[str, str]:
    return {row.logical_key.split(":", 1)[1]: row.outcome for row in result.rows}


def landed(tmp_path: Path) -> list[str]:
    folder = tmp_path / "raw" / "cms_partb_geo_service" / "fetched"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


FILES = ["2021/MUP_PHY_API_D21_Geo.csv", "2022/MUP_PHY_API_D22_Geo.csv", "2023/MUP_PHY_API_D23_Geo.csv"]


def read(path: Path, tmp_path: Path, codes: frozenset[str]) -> dict[str, pd.DataFrame]:
    found: dict[str, list[pd.DataFrame]] = {}
    for batch in adapter.read(path, ReadContext(settings=settings(tmp_path), codes_of_interest=codes)):
        assert batch.rejects is None or batch.rejects.empty
        found.setdefault(batch.dataset, []).append(batch.frame)
    return {k: pd.concat(v, ignore_index=True) for k, v in found.items()}


def test_each_data_year_lands_as_one_csv_the_adapter_reads_back_row_for_row(tmp_path: Path) -> None:
    server = Server()
    result = fetch(tmp_path, server, "f1")
    assert outcomes(result) == {"data.json": "discovered", "2021": "downloaded", "2022": "downloaded", "2023": "downloaded"}  # fmt: skip
    assert landed(tmp_path) == FILES  # no .part left, the CSV distribution and the other dataset ignored
    # per year and code: the stats, then a full page and a short one (size forced to 2)
    assert len(server.api_asked()) == 3 * 2 * 3
    assert f"{API}{UUIDS[2022]}/data/stats?filter%5BHCPCS_Cd%5D=0440T" in server.api_asked()
    assert f"{API}{UUIDS[2022]}/data?filter%5BHCPCS_Cd%5D=64450&size=2&offset=2" in server.api_asked()
    row = next(r for r in result.rows if r.release == "2022")
    assert (row.url, row.last_modified, row.landed_path) == (
        f"{API}{UUIDS[2022]}/data", "2024-05-01", "cms_partb_geo_service/fetched/2022/MUP_PHY_API_D22_Geo.csv")  # fmt: skip
    path = tmp_path / "raw" / row.landed_path  # type: ignore[operator]
    assert row.sha256 and row.bytes_received == path.stat().st_size
    assert adapter.detect(path)

    found = read(path, tmp_path, CODES)
    rows = found["cms__partb_geo_service"]
    expected = [r for code in sorted(CODES) for r in api_rows(2022, code)]
    got = rows[["billing_code", "geo_name", "geo_code", "service_count", "avg_medicare_allowed_usd"]]
    assert got.fillna("").values.tolist() == [
        [r["HCPCS_Cd"], r["Rndrng_Prvdr_Geo_Desc"], r["Rndrng_Prvdr_Geo_Cd"], r["Tot_Srvcs"], r["Avg_Mdcr_Alowd_Amt"]]
        for r in expected
    ]
    assert set(rows["data_year"]) == {"2022"} and rows["source_record"].iloc[0] == "line 3"  # line 1 names the codes
    scope = found["cms__partb_geo_service_scope"]
    assert scope[["data_year", "billing_code", "code_rows"]].values.tolist() == [["2022", "0440T", "3"], ["2022", "64450", "3"]]  # fmt: skip


def test_a_fetched_file_reads_as_scanned_for_exactly_the_codes_it_was_fetched_for(tmp_path: Path) -> None:
    fetch(tmp_path, Server(), "f1")
    path = tmp_path / "raw" / "cms_partb_geo_service" / "fetched" / FILES[2]
    # billing_codes.csv since gained 0441T (not fetched yet): the file was not scanned for it
    scope = read(path, tmp_path, CODES | {"0441T"})["cms__partb_geo_service_scope"]
    assert sorted(scope["billing_code"]) == ["0440T", "64450"]
    # a code dropped from billing_codes.csv: its rows are skipped and it is not in the scope
    found = read(path, tmp_path, frozenset({"0440T"}))
    assert set(found["cms__partb_geo_service"]["billing_code"]) == {"0440T"}
    assert found["cms__partb_geo_service_scope"]["billing_code"].tolist() == ["0440T"]
    # with no codes of interest given, the fetched codes
    assert sorted(read(path, tmp_path, frozenset())["cms__partb_geo_service_scope"]["billing_code"]) == ["0440T", "64450"]  # fmt: skip


def test_an_unchanged_second_run_asks_only_data_json_and_lands_nothing(tmp_path: Path) -> None:
    server = Server()
    fetch(tmp_path, server, "f1")
    before = {p: (tmp_path / "raw/cms_partb_geo_service/fetched" / p).stat().st_mtime_ns for p in FILES}
    server.asked.clear()
    result = fetch(tmp_path, server, "f2")
    assert server.asked == [cms_partb.DATA_JSON] and outcomes(result) == {"data.json": "not_modified"}
    # a server that ignores If-None-Match: data.json again, each year unchanged by its `modified` and codes
    server.etag = '"dj2"'
    server.asked.clear()
    result = fetch(tmp_path, server, "f3")
    assert server.asked == [cms_partb.DATA_JSON]
    assert outcomes(result) == {"data.json": "discovered", "2021": "unchanged", "2022": "unchanged", "2023": "unchanged"}  # fmt: skip
    assert {p: (tmp_path / "raw/cms_partb_geo_service/fetched" / p).stat().st_mtime_ns for p in FILES} == before


def test_a_new_code_refetches_every_year_even_when_data_json_is_not_modified(tmp_path: Path) -> None:
    server = Server()
    fetch(tmp_path, server, "f1")
    server.asked.clear()
    result = fetch(tmp_path, server, "f2", codes=CODES | {"0441T"})
    assert server.asked[0] == cms_partb.DATA_JSON  # asked unconditionally: the 304 would hide the years
    assert outcomes(result) == {"data.json": "discovered", "2021": "downloaded", "2022": "downloaded", "2023": "downloaded"}  # fmt: skip
    assert len(server.api_asked()) == 3 * 3 * 3
    path = tmp_path / "raw" / "cms_partb_geo_service" / "fetched" / FILES[0]
    scope = read(path, tmp_path, CODES | {"0441T"})["cms__partb_geo_service_scope"]
    assert sorted(scope["billing_code"]) == ["0440T", "0441T", "64450"]
    assert landed(tmp_path) == FILES  # each year's file replaced, not doubled


def test_a_year_whose_version_changed_is_the_only_one_asked_again(tmp_path: Path) -> None:
    server = Server()
    fetch(tmp_path, server, "f1")
    server.catalog = data_json({2021: "2023-05-01", 2022: "2024-05-01", 2023: "2025-09-30"})
    server.etag = '"dj2"'
    server.asked.clear()
    result = fetch(tmp_path, server, "f2")
    assert outcomes(result) == {"data.json": "discovered", "2021": "unchanged", "2022": "unchanged", "2023": "downloaded"}  # fmt: skip
    assert all(UUIDS[2023] in u for u in server.api_asked())


def test_a_row_count_that_disagrees_with_the_stats_fails_the_year_and_lands_nothing(tmp_path: Path) -> None:
    server = Server()
    server.stats_override[(2022, "64450")] = 5
    result = fetch(tmp_path, server, "f1")
    assert outcomes(result) == {"data.json": "discovered", "2021": "downloaded", "2022": "failed", "2023": "downloaded"}  # fmt: skip
    failed = next(r for r in result.rows if r.outcome == "failed")
    assert failed.landed_path is None and failed.sha256 is None
    assert "got 3 rows for 64450, the stats said 5" in failed.message and "nothing landed for 2022" in failed.message
    assert landed(tmp_path) == [FILES[0], FILES[2]]
    assert [r.outcome for r in manifest.read(tmp_path / "raw")].count("failed") == 1
    # the next run asks the failed year again (nothing landed for it), and only it
    server.stats_override.clear()
    server.etag = '"dj2"'
    server.asked.clear()
    assert outcomes(fetch(tmp_path, server, "f2"))["2022"] == "downloaded"
    assert all(UUIDS[2022] in u for u in server.api_asked())


def test_the_dataset_is_found_by_its_title_normalised_else_by_its_landing_page() -> None:
    catalog = data_json()
    assert cms_partb.find_dataset({"dataset": [{"title": "MEDICARE Physician &amp; Other Practitioners \u2014 by "
                                                "Geography and Service", "distribution": []}]}) is not None  # fmt: skip
    catalog["dataset"][1]["title"] = "Medicare Physician and Other Practitioners: Geography & Service"  # type: ignore[index]
    dataset = cms_partb.find_dataset(catalog)
    assert dataset is not None and [v.year for v in cms_partb.versions(dataset)] == [2021, 2022, 2023]
    assert cms_partb.find_dataset({"dataset": [{"title": "Something else"}]}) is None


def test_a_data_json_without_the_dataset_is_a_failed_step_saying_what_to_do(tmp_path: Path) -> None:
    server = Server()
    server.catalog = {"dataset": [{"title": "Something else"}]}
    step = FetchStep(
        cms_partb.STEP, cms_partb.fetch_partb_geo_service, cms_partb.DISCOVERY, cms_partb.DATA_JSON, cms_partb.EVERY
    )
    source = Source("cms_partb_geo_service", "x", lambda path, context: iter(()), {}, fetch=step)
    (result,) = run_fetch(settings(tmp_path), [source], "f1", codes=CODES, transport=httpx.MockTransport(server))
    assert result.error is not None and "lists no dataset titled" in result.error and "renamed" in result.error
    assert landed(tmp_path) == []
