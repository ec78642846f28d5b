"""Staging views for analysts (warehouse/sql/staging/): which load each one keeps, on small SYNTHETIC loads."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from flows import catalog
from flows.settings import Settings
from flows.steps import warehouse
from schemas.hospital_hpt import HptEntry
from tests import cms_loading

HOSPITALS_HEADER = "hospital_name,state_abbrev,web_root,source,source_confidence,notes"


def ask(settings: Settings, sql: str, as_of: str | None = None) -> list[tuple]:  # type: ignore[type-arg]
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        if as_of:
            con.execute(f"SET VARIABLE as_of = DATE '{as_of}'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def hospitals_file(folder: Path, name: str, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([HOSPITALS_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_stg_hospital_keeps_the_latest_reference_load(settings: Settings) -> None:
    folder = settings.raw_dir / "reference"
    first = hospitals_file(
        folder,
        "hospitals.csv",
        [
            "Alpha Hospital (SYNTHETIC),TX,alpha.example,synthetic test row,not_found,",
            "Beta Hospital (SYNTHETIC),OH,beta.example,synthetic test row,not_found,dropped by the next load",
        ],
    )
    assert cms_loading.load(settings, "reference", first).status == "loaded"
    first.write_text(
        "\n".join(
            [HOSPITALS_HEADER, "Alpha Hospital Renamed (SYNTHETIC),TX,alpha.example,synthetic test row,verified,"]
        )
        + "\n",
        encoding="utf-8",
    )
    assert cms_loading.load(settings, "reference", first, run_id="20260102T000000Z-cms002").status == "loaded"
    warehouse.build(settings, catalog.SCHEMAS)
    rows = ask(settings, "select hospital_name, state_abbrev, web_root, source_confidence from stg_hospital")
    assert rows == [("Alpha Hospital Renamed (SYNTHETIC)", "TX", "alpha.example", "verified")]
    assert ask(settings, "select count(*) from ref__hospital") == [(3,)]  # both loads are in the lake


def entries_file(settings: Settings, root: str, fetched_at: str, rows: list[dict[str, object]]) -> Path:
    """A SYNTHETIC cms-hpt.csv as the fetch step writes it (flows/fetch/hospital_hpt.py)."""
    path = settings.raw_dir / "hospital_mrf" / "fetched" / root / "cms-hpt.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(HptEntry.to_schema().columns)
    base = dict.fromkeys(columns, "") | {"state_abbrev": "TX", "web_root": root, "fetched_at": fetched_at}
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(base | row)
    return path


def clean(n: int, root: str, name: str) -> dict[str, object]:
    return {
        "hospital_name": f"{root} hospital (SYNTHETIC)",
        "txt_url": f"https://{root}/cms-hpt.txt",
        "entry": n,
        "txt_line": 1 + 6 * (n - 1),
        "location_name": name,
        "source_page_url": f"https://{root}/price-transparency",
        "mrf_url": f"https://{root}/{name}.csv",
        "contact_name": "Jo Example",
        "contact_email": f"prices@{root}",
        "mrf_file": f"hospital_mrf/fetched/{root}/{name}.csv",
    }


def test_stg_hospital_hpt_entry_keeps_each_web_roots_latest_load_and_its_findings(settings: Settings) -> None:
    alpha_first = entries_file(
        settings,
        "alpha.example",
        "2026-01-05T06:00:00+00:00",
        [clean(1, "alpha.example", "alpha_old"), clean(2, "alpha.example", "alpha_gone")],
    )
    assert cms_loading.load(settings, "hospital_mrf", alpha_first).status == "loaded"
    beta = entries_file(
        settings,
        "beta.example",
        "2026-01-05T06:00:00+00:00",
        [
            {
                "hospital_name": "beta.example hospital (SYNTHETIC)",
                "entry": 0,
                "finding": "cms_hpt_is_html",
                "finding_detail": "an HTML page came back at https://beta.example/cms-hpt.txt",
            }
        ],
    )
    assert cms_loading.load(settings, "hospital_mrf", beta).status == "loaded"
    bad = clean(2, "alpha.example", "alpha_east") | {
        "mrf_url": "/alpha_east.csv",
        "mrf_file": "",
        "finding": "relative_url",
        "finding_detail": "mrf-url /alpha_east.csv is not an absolute URL",
    }
    alpha_second = entries_file(
        settings, "alpha.example", "2026-02-02T06:00:00+00:00", [clean(1, "alpha.example", "alpha_new"), bad]
    )
    second = cms_loading.load(settings, "hospital_mrf", alpha_second, run_id="20260202T000000Z-cms002")
    assert second.status == "loaded"
    warehouse.build(settings, catalog.SCHEMAS)

    sql = (
        "select web_root, entry, location_name, finding, is_clean from stg_hospital_hpt_entry order by web_root, entry"
    )
    assert ask(settings, sql) == [
        ("alpha.example", 1, "alpha_new", None, True),
        ("alpha.example", 2, "alpha_east", "relative_url", False),  # the earlier load's alpha_gone is replaced
        ("beta.example", 0, None, "cms_hpt_is_html", False),  # another root's older load stays
    ]
    # as of a day before the second fetch, alpha.example reads as its first load
    assert ask(settings, sql, as_of="2026-01-20")[:2] == [
        ("alpha.example", 1, "alpha_old", None, True),
        ("alpha.example", 2, "alpha_gone", None, True),
    ]
    assert ask(settings, sql, as_of="2026-01-04") == []


def test_stg_tic_in_network_rate_keeps_each_plans_newest_file_from_its_latest_load() -> None:
    # synthetic rows: the view's rankings run over the distinct keys and a semi-join keeps the wide rows
    sql = Path("warehouse/sql")
    con = duckdb.connect()
    for name in ("as_of_date", "is_latest_load"):
        con.execute((sql / "macros" / f"{name}.sql").read_text())
    con.execute("""create table tic__in_network_rate as select * from (values
        ('a.json', 1, 'load-1', 'P', 'id1', null, '0440T', date '2025-01-01', 'a old load'),
        ('a.json', 2, 'load-2', 'P', 'id1', null, '0440T', date '2025-01-01', 'a re-download'),
        ('b.json', 1, 'load-3', 'P', 'id1', null, '0440T', date '2024-06-01', 'b older month'),
        ('c.json', 1, 'load-4', 'P', null, 'Gold', '0440T', null, 'c undated'),
        ('d.json', 1, 'load-5', 'P', null, 'Gold', '0440T', date '2025-02-01', 'd dated'),
        ('e.json', 1, 'load-6', 'P', null, null, '0441T', null, 'e no plan, undated'),
        ('f.json', 1, 'load-7', 'P', 'id1', null, '0440T', date '2099-01-01', 'f after the as-of date')
    ) t(source_file, loaded_at, load_id, payer_name, plan_id, plan_name, billing_code, last_updated_on, note)""")
    view = (sql / "staging" / "stg_tic_in_network_rate.sql").read_text()
    con.execute("SET VARIABLE as_of = DATE '2026-01-01'")
    kept = sorted(row[0] for row in con.execute(f"select note from ({view})").fetchall())
    assert kept == ["a re-download", "d dated", "e no plan, undated"]
    con.execute("RESET VARIABLE as_of")
    kept = sorted(row[0] for row in con.execute(f"select note from ({view})").fetchall())
    assert kept == ["d dated", "e no plan, undated", "f after the as-of date"]
