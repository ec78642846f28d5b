"""A mirror tree shaped like CMS's hosts, built from the bundled files in raw/ (a test helper, not a test).

    from tests.fetch.mirror_tree import publish
    with MirrorServer(tmp_path / "mirror") as server:
        by_hand = publish(server)      # www.cms.gov, downloads.cms.gov and data.cms.gov as the fetch steps read them
        ...                            # by_hand: {path under raw/: bytes}, the same files placed by a person

What is served (`<root>/HOST/PATH?QUERY`, tests/fetch/server.py):
- www.cms.gov: the PFS relative value files landing page -> release page `rvu25d` -> the RVU25D zip (through
  the `/license/ama?file=` prefix, under a slug with literal slashes as CMS writes them); the ASC addenda page
  -> the October 2025 and January 2026 zips; the OPPS quarterly addenda page -> `january-2023-addendum-b` ->
  its zip. The pages are SYNTHETIC (links only). The zips hold REAL rows: the bundled excerpts of CMS's files,
  under the member names CMS uses, beside members payerbench does not read (a TXT/XLSX edition, a PDF).
- downloads.cms.gov: the MCD exports `current_article.zip` / `current_lcd.zip`, nested as CMS ships them
  (an outer zip holding `current_<kind>_csv.zip` and a readme), of the SYNTHETIC tables in
  raw/cms_mcd/synthetic_mcd_release/ (invented documents and contractors), Last-Modified 2026-01-08.
- data.cms.gov: data.json listing the Part B "by Geography and Service" dataset with one API distribution
  per data year 2021-2023 (SYNTHETIC version UUIDs), and per year and code the data API's `/data/stats` and
  first `/data` page, answering the rows of the SYNTHETIC CSVs in raw/cms_partb_geo_service/.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import zipfile
from collections.abc import Iterable
from urllib.parse import urlencode

from flows.fetch import cms_mcd, cms_partb, cms_quarterly
from flows.settings import PROJECT_DIR

BUNDLED = PROJECT_DIR / "raw"
CMS = "https://www.cms.gov"

RVU25D_PAGE = f"{cms_quarterly.PFS_LANDING}/rvu25d"
RVU25D_ZIP = f"{CMS}/files/zip/rvu25d-updated-09/11/2025.zip"  # a literal "/" in CMS's slug
ASC_ZIPS = {
    "20251001": f"{CMS}/files/zip/october-2025-asc-approved-hcpcs-code-and-payment-rates.zip",
    "20260101": f"{CMS}/files/zip/january-2026-asc-approved-hcpcs-code-payment-rates.zip",
}
OPPS_PAGE = f"{cms_quarterly.OPPS_LANDING}/january-2023-addendum-b"
OPPS_ZIP = f"{CMS}/files/zip/january-2023-opps-addendum-b.zip"
GATED_ZIPS = (RVU25D_ZIP, *ASC_ZIPS.values(), OPPS_ZIP)  # behind CMS's AMA CPT licence

MCD_MODIFIED = dt.datetime(2026, 1, 8, 14, 0, tzinfo=dt.UTC)  # a Thursday: CMS's weekly refresh
MCD_FOLDER = "2026-01-08"
PARTB_UUIDS = {  # SYNTHETIC dataset version ids (CMS's are looked up in data.json, never hard-coded)
    2021: "5e7e0000-0000-4000-8000-000000002021",
    2022: "5e7e0000-0000-4000-8000-000000002022",
    2023: "5e7e0000-0000-4000-8000-000000002023",
}
PARTB_FILES = {  # data year -> the bundled SYNTHETIC CSV the API's rows are taken from
    2021: "synthetic_MUP_PHY_R23_P05_V10_D21_Geo.csv",
    2022: "synthetic_MUP_PHY_R24_P05_V10_D22_Geo.csv",
    2023: "synthetic_MUP_PHY_R25_P05_V10_D23_Geo.csv",
}


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def html(*hrefs: str) -> str:
    """A SYNTHETIC page shaped like cms.gov's: a list of links."""
    items = "".join(f'<li><a href="{h}">link {n}</a></li>' for n, h in enumerate(hrefs))
    return f"<html><body><h1>Synthetic page shaped like cms.gov</h1><ul>{items}</ul></body></html>"


def bundled(path: str) -> bytes:
    return (BUNDLED / path).read_bytes()


# --- the quarterly payment files (real rows) ------------------------------------------------------------------
def pfs_members() -> dict[str, bytes]:
    """RVU25D's zip: the four members the adapters read (real excerpts) and three they do not."""
    return {
        "PPRRVU2025_Oct.csv": bundled("cms_pfs_rvu/PPRRVU2025_Oct_excerpt.csv"),
        "PPRRVU2025_Oct.txt": b"HDR synthetic: the fixed-width edition, not landed when the CSV is there\n",
        "GPCI2025.csv": bundled("cms_pfs_gpci/GPCI2025.csv"),
        "25LOCCO.csv": bundled("cms_pfs_locality/25LOCCO.csv"),
        "OPPSCAP_Oct.csv": bundled("cms_opps_cap/RVU25D/OPPSCAP_Oct_excerpt.csv"),
        "ANES2025.csv": b"synthetic anesthesia file, not read by payerbench\n",
        "RVU25D.pdf": b"%PDF synthetic",
    }


def asc_members(folder: str) -> dict[str, bytes]:
    """One quarter's ASC zip: Addenda AA and FF (real excerpts) and a workbook that is not landed."""
    month = {"20251001": "October_2025", "20260101": "January_2026"}[folder]
    return {
        f"AA_{month}.csv": bundled(f"cms_asc_addenda/{folder}/AA_{month}_excerpt.csv"),
        f"FF_{month}.csv": bundled(f"cms_asc_addenda/{folder}/FF_{month}_excerpt.csv"),
        f"ASC Addenda {month.replace('_', ' ')}.xlsx": b"PK\x03\x04 synthetic workbook, not landed",
    }


OPPS_MEMBER = "January 2023 Web Addendum B.12212022.xlsx"


def opps_members() -> dict[str, bytes]:
    return {
        OPPS_MEMBER: bundled("cms_opps_addendum_b/2023_January_Web_Addendum_B.12212022_excerpt.xlsx"),
        "Addendum B readme.pdf": b"%PDF synthetic",
    }


# --- the MCD exports (synthetic tables) ------------------------------------------------------------------------
def synthetic_export(kind: str, extra: dict[str, bytes] | None = None, readme: str = "synthetic week 1") -> bytes:
    """current_<kind>.zip > current_<kind>_csv.zip > the SYNTHETIC <kind> tables and the contractor table."""
    folder = BUNDLED / "cms_mcd" / "synthetic_mcd_release"
    tables = {
        p.name.removeprefix("synthetic_"): p.read_bytes()
        for p in sorted(folder.glob("*.csv"))
        if p.name.startswith((f"synthetic_{kind}", "synthetic_contractor"))
    }
    inner = zipped({**tables, **(extra or {})})
    return zipped({f"current_{kind}_csv.zip": inner, "readme_first.txt": f"SYNTHETIC MCD export ({readme})\n".encode()})


# --- Part B by Geography and Service (synthetic rows) ----------------------------------------------------------
def partb_rows(year: int) -> list[dict[str, str]]:
    with (BUNDLED / "cms_partb_geo_service" / PARTB_FILES[year]).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def partb_data_json() -> dict[str, object]:
    """data.json trimmed to the dataset (SYNTHETIC versions), newest first as CMS lists them."""
    dists = [
        {"format": "API", "title": f"{cms_partb.TITLE} : {y + 2}-05-01", "temporal": f"{y}-01-01/{y}-12-31",
         "accessURL": f"https://data.cms.gov/data-api/v1/dataset/{PARTB_UUIDS[y]}/data", "modified": f"{y + 2}-05-01"}
        for y in sorted(PARTB_UUIDS, reverse=True)
    ]  # fmt: skip
    return {"dataset": [{"title": cms_partb.TITLE, "description": "SYNTHETIC catalog entry", "distribution": dists}]}


def partb_api(year: int, code: str) -> dict[str, bytes]:
    """The data API's answers for one year and code: /data/stats and the one page of rows (origin URL -> body)."""
    data = f"https://data.cms.gov/data-api/v1/dataset/{PARTB_UUIDS[year]}/data"
    rows = [r for r in partb_rows(year) if r["HCPCS_Cd"] == code]
    query = {cms_partb.CODE_FILTER: code}
    return {
        f"{data}/stats?{urlencode(query)}": json.dumps({"total_rows": len(partb_rows(year)), "found_rows": len(rows)}).encode(),
        f"{data}?{urlencode({**query, 'size': cms_partb.PAGE_SIZE, 'offset': 0})}": json.dumps(rows).encode(),
    }  # fmt: skip


# --- the tree ----------------------------------------------------------------------------------------------------
def publish(server: object, codes: Iterable[str] | None = None) -> dict[str, bytes]:
    """Put CMS's three hosts into `server` (a MirrorServer); return the same files as a person would place
    them by hand after downloading: {path under raw/: bytes}."""
    put = server.put  # type: ignore[attr-defined]
    if codes is None:
        with (BUNDLED / "reference" / "billing_codes.csv").open(encoding="utf-8", newline="") as handle:
            codes = [r["billing_code"] for r in csv.DictReader(handle)]
    by_hand: dict[str, bytes] = {}

    put(cms_quarterly.PFS_LANDING + "/index.html", html(
        "/medicare/payment/fee-schedules/physician/pfs-relative-value-files/rvu25d", "/about-cms"))  # fmt: skip
    put(
        RVU25D_PAGE + "/index.html",
        html("/license/ama?file=/files/zip/rvu25d-updated-09/11/2025.zip", "/files/document/rvu25d.pdf"),
    )
    members = pfs_members()
    put(RVU25D_ZIP, zipped(members))
    for name, source in (("PPRRVU2025_Oct.csv", "cms_pfs_rvu"), ("GPCI2025.csv", "cms_pfs_gpci"),
                         ("25LOCCO.csv", "cms_pfs_locality"), ("OPPSCAP_Oct.csv", "cms_opps_cap")):  # fmt: skip
        by_hand[f"{source}/RVU25D/{name}"] = members[name]

    put(
        cms_quarterly.ASC_LANDING + "/index.html",
        html(*(url.replace(CMS, "/license/ama?file=") for url in ASC_ZIPS.values())),
    )
    for folder, url in ASC_ZIPS.items():
        members = asc_members(folder)
        put(url, zipped(members))
        by_hand |= {f"cms_asc_addenda/{folder}/{n}": b for n, b in members.items() if n.endswith(".csv")}

    put(cms_quarterly.OPPS_LANDING + "/index.html", html(OPPS_PAGE, "/about-cms"))
    put(OPPS_PAGE + "/index.html", html("/license/ama?file=/files/zip/january-2023-opps-addendum-a.zip",
                              OPPS_ZIP.replace(CMS, "/license/ama?file=")))  # fmt: skip
    put(OPPS_ZIP, zipped(opps_members()))
    by_hand[f"cms_opps_addendum_b/20230101/{OPPS_MEMBER}"] = opps_members()[OPPS_MEMBER]

    stamp = MCD_MODIFIED.timestamp()
    for kind in ("article", "lcd"):
        body = synthetic_export(kind)
        path = put(cms_mcd.export_url(f"current_{kind}.zip"), body)
        os.utime(path, (stamp, stamp))  # the server's Last-Modified: the export's week
        by_hand[f"cms_mcd/{MCD_FOLDER}/current_{kind}.zip"] = body

    put(cms_partb.DATA_JSON, json.dumps(partb_data_json()))
    for year, name in PARTB_FILES.items():
        for code in codes:
            for url, body in partb_api(year, code).items():
                put(url, body)
        by_hand[f"cms_partb_geo_service/{year}/{name}"] = bundled(f"cms_partb_geo_service/{name}")
    return by_hand
