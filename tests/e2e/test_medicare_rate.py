"""End to end on the bundled CMS excerpts (raw -> Parquet -> DuckDB -> medicare_rate), and on the
full public files when present: the values a person can read in CMS's files."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows import catalog
from flows.ingest import ingest
from flows.land_inbox import land_inbox
from flows.run_pipeline import run_pipeline
from flows.settings import PROJECT_DIR, Settings
from flows.steps import load_log, warehouse
from flows.steps.load import load_file
from schemas.cms_asc_addenda import UNPAID_INDICATORS
from schemas.cms_common import ASC_PAYMENT_INDICATORS, OPPS_STATUS_INDICATORS, PFS_STATUS_CODES
from schemas.cms_opps_addendum_b import PAID_STATUS_INDICATORS
from tests.cms_loading import load as cms_load
from tests.conftest import fixture, query

REASONS = {"contractor_priced", "not_payable", "packaged", "not_in_release", "not_loaded"}
CODES = 6  # raw/reference/billing_codes.csv: 0440T, 0441T, 0442T, 64640, 64624, 64450


def medicare_only(tmp_path: Path) -> Settings:
    """Settings over a copy of the reference tables and the bundled CMS folders only."""
    raw = tmp_path / "raw"
    for name in catalog.members("medicare_rates"):
        shutil.copytree(PROJECT_DIR / "raw" / name, raw / name)
    return Settings(raw_dir=raw, warehouse_dir=tmp_path / "warehouse", chunk_rows=1000, render_reports=False)


@pytest.fixture
def bundled(bundled_warehouse: Settings) -> Settings:
    """`make run` on a copy of the bundled raw/ folder: the session's run, for the read-only tests of this module."""
    return bundled_warehouse


def test_0440t_physician_fee_is_contractor_priced_in_every_locality(bundled: Settings) -> None:
    rows = query(
        bundled,
        """
        select locality_id, payment_usd, availability_reason, status_indicator, availability_note, pfs_formula_usd
        from medicare_rate
        where billing_code = '0440T' and setting like 'physician%' and release_period = '2025-Q4'""",
    )
    assert len(rows) == 2 * 110  # two settings x (national + 109 GPCI localities)
    assert {r[1:4] for r in rows} == {(None, "contractor_priced", "C")}  # NULL, never 0.00
    assert {r[5] for r in rows} == {None}
    national = [r for r in rows if r[0] == "national"]
    assert len(national) == 2 and all("Contractor-priced, no national amount" in r[4] for r in national)


def test_0440t_asc_rates_both_quarters(bundled: Settings) -> None:
    rows = query(
        bundled,
        """
        select release_period, payment_usd, status_indicator, apc, relative_weight, source_file, period_start_date::varchar
        from medicare_rate where billing_code = '0440T' and setting = 'asc' and release_period in ('2025-Q4', '2026-Q1')
        order by release_period""",
    )
    assert rows == [
        ("2025-Q4", Decimal("1503.58"), "J8", "5431", Decimal("27.3901"), "AA_October_2025_excerpt.csv", "2025-10-01"),
        ("2026-Q1", Decimal("1475.61"), "J8", "5431", Decimal("26.1995"), "AA_January_2026_excerpt.csv", "2026-01-01"),
    ]


def test_0440t_hospital_outpatient_2023(bundled: Settings) -> None:
    rows = query(
        bundled,
        """
        select payment_usd, availability_reason, status_indicator, apc, relative_weight, source_file
        from medicare_rate where billing_code = '0440T' and setting = 'hopd_opps' and release_period = '2023-Q1'""",
    )
    assert rows == [
        (
            Decimal("1797.52"),
            None,
            "J1",
            "5431",
            Decimal("21.0028"),
            "2023_January_Web_Addendum_B.12212022_excerpt.xlsx",
        )
    ]


def test_64640_pfs_amount_computed_by_hand(bundled: Settings) -> None:
    # PPRRVU2025_Oct 64640: work 1.98, non-facility PE 5.26, facility PE 1.43, MP 0.21, CF 32.3465.
    # GPCI2025 Manhattan (13202-01): work 1.065, PE 1.166, MP 1.656.
    # Non-facility: (1.98 x 1.065 + 5.26 x 1.166 + 0.21 x 1.656) x 32.3465
    #             = (2.1087 + 6.13316 + 0.34776) x 32.3465 = 8.58962 x 32.3465 = 277.844... -> $277.84
    # Facility:     (2.1087 + 1.43 x 1.166 + 0.34776) x 32.3465 = 4.12384 x 32.3465 = 133.391... -> $133.39
    # National (all GPCIs 1.000): 7.45 x 32.3465 = 240.981... -> $240.98; 3.62 x 32.3465 = 117.094... -> $117.09
    rows = {
        (r[0], r[1]): r[2]
        for r in query(
            bundled,
            """
        select setting, locality_id, payment_usd from medicare_rate
        where billing_code = '64640' and release_period = '2025-Q4' and locality_id in ('national', '13202-01')
          and setting like 'physician%'""",
        )
    }
    assert rows == {
        ("physician_nonfacility", "13202-01"): Decimal("277.84"),
        ("physician_facility", "13202-01"): Decimal("133.39"),
        ("physician_nonfacility", "national"): Decimal("240.98"),
        ("physician_facility", "national"): Decimal("117.09"),
    }


def test_grid_is_complete_and_null_means_a_reason(bundled: Settings) -> None:
    total, distinct = query(
        bundled,
        """
        select count(*), count(distinct (billing_code, setting, release_period, locality_id)) from medicare_rate""",
    )[0]
    # Periods 2023-Q1 (Addendum B), 2025-Q4 (PFS, ASC), 2026-Q1 (ASC); GPCIs only for 2025: per code
    # 2023-Q1 and 2026-Q1 have 4 national rows each, 2025-Q4 has 2 x 110 physician rows + hopd + asc.
    assert total == distinct == CODES * (4 + 222 + 4)
    reasons = {r[0] for r in query(bundled, "select distinct availability_reason from medicare_rate")}
    assert reasons - {None} <= REASONS
    assert query(
        bundled,
        """select count(*) from medicare_rate
                             where (payment_usd is null) <> (availability_reason is not null)
                                or payment_usd = 0 or (availability_reason is not null and availability_note is null)""",
    ) == [(0,)]


def test_not_loaded_is_told_apart_and_points_at_what_is_known(bundled: Settings) -> None:
    rows = dict(
        query(
            bundled,
            """
        select setting || ' ' || release_period, availability_reason || ': ' || availability_note from medicare_rate
        where billing_code = '0440T' and locality_id = 'national'""",
        )
    )
    assert rows["physician_facility 2026-Q1"] == "not_loaded: No PFS relative value file (PPRRVU) is loaded for 2026-Q1"
    assert rows["hopd_opps 2026-Q1"] is None  # no Addendum B, but FF prints the APC's OPPS rate: an amount, no reason
    ff = query(
        bundled,
        """select payment_usd, rate_source, apc, source_file, availability_note from medicare_rate
                            where billing_code = '0440T' and locality_id = 'national' and setting = 'hopd_opps'
                              and release_period = '2026-Q1'""",
    )[0]
    assert ff[:4] == (Decimal("1765.76"), "asc_addendum_ff", "5431", "FF_January_2026_excerpt.csv")
    assert ff[4].startswith("OPPS national unadjusted rate of APC 5431 as printed in CMS ASC Addendum FF for 2026-Q1")
    assert rows["asc 2023-Q1"] == "not_loaded: No ASC Addendum AA is loaded for 2023-Q1"


def test_views_are_catalogued_with_their_grain(bundled: Settings) -> None:
    kinds = {name: (kind, doc) for name, kind, doc in query(bundled, "select name, kind, description from catalog")}
    assert kinds["medicare_rate"][0] == "mart" and kinds["medicare_rate"][1].startswith(
        "One row per billing code of interest"
    )
    for name in (
        "stg_pfs_rvu",
        "stg_pfs_gpci",
        "stg_pfs_locality",
        "stg_opps_cap",
        "stg_opps_addendum_b",
        "stg_asc_addendum_aa",
        "stg_asc_addendum_ff",
    ):
        assert kinds[name][0] == "staging" and kinds[name][1].startswith("One row per")
    assert kinds["cms__pfs_rvu"][1].startswith("One row per HCPCS code and modifier")


def test_indicator_meanings_cover_the_schema_lists(bundled: Settings) -> None:
    found = query(bundled, "select payment_system, indicator, is_paid from medicare_indicator")
    by_system = {s: {i for sys, i, _ in found if sys == s} for s in ("pfs", "opps", "asc")}
    assert by_system == {
        "pfs": set(PFS_STATUS_CODES),
        "opps": set(OPPS_STATUS_INDICATORS),
        "asc": set(ASC_PAYMENT_INDICATORS),
    }
    assert {i for s, i, paid in found if s == "opps" and paid} == set(PAID_STATUS_INDICATORS)
    assert {i for s, i, paid in found if s == "asc" and not paid} == set(UNPAID_INDICATORS)


# --- tests that change what is loaded ----------------------------------------------------------------
def test_same_release_loaded_twice_gives_no_duplicates(tmp_path: Path) -> None:
    settings = medicare_only(tmp_path)
    ingest("medicare_rates", settings=settings, build=True)
    before = query(settings, "select * exclude (source_file, load_id) from medicare_rate")
    assert len(before) == CODES * 230
    # Re-downloaded copies of two releases: the same rows, different bytes (so a new sha256 and a new load).
    for folder, name in (
        ("cms_pfs_rvu", "PPRRVU2025_Oct_excerpt.csv"),
        ("cms_asc_addenda/20260101", "AA_January_2026_excerpt.csv"),
    ):
        original = settings.raw_dir / folder / name
        (original.parent / f"redownload_{name}").write_bytes(original.read_bytes() + b"\r\n")
    records = ingest("medicare_rates", settings=settings, build=True)
    assert sorted(r.source_file for r in records if r.status == "loaded") == [
        "redownload_AA_January_2026_excerpt.csv",
        "redownload_PPRRVU2025_Oct_excerpt.csv",
    ]
    assert query(settings, "select count(*) from cms__pfs_rvu") == [(32,)]  # both loads are kept in the lake ...
    assert query(settings, "select count(*), count(distinct source_file) from stg_pfs_rvu") == [
        (16, 1)
    ]  # ... staging keeps one
    assert query(settings, "select count(*) from stg_asc_addendum_aa where release_quarter = 1") == [(13,)]
    after = query(settings, "select * exclude (source_file, load_id) from medicare_rate")
    assert sorted(after, key=str) == sorted(before, key=str)
    assert query(
        settings,
        """select distinct source_file from medicare_rate
                              where setting = 'asc' and release_period = '2026-Q1' and source_file is not null""",
    ) == [("redownload_AA_January_2026_excerpt.csv",)]


def test_codes_of_interest_are_configuration(tmp_path: Path) -> None:
    settings = medicare_only(tmp_path)
    with settings.billing_code_file.open("a", encoding="utf-8") as handle:
        handle.write("93990,CPT,category_i,comparator,doppler,Doppler flow study (test of the OPPS cap),\n")
        handle.write("99213,CPT,category_i,comparator,office visit,Office visit (not in the excerpts),\n")
    ingest("medicare_rates", settings=settings, build=True)
    capped = {
        (r[0], r[1]): r[2:]
        for r in query(
            settings,
            """
        select setting, locality_id, payment_usd, pfs_formula_usd, opps_cap_usd, opps_cap_applied, availability_reason
        from medicare_rate where billing_code = '93990' and release_period = '2025-Q4' and locality_id in ('national', '10112-00')
          and setting like 'physician%'""",
        )
    }
    # 93990 (PPRRVU): work 0.50, non-facility PE 3.74, MP 0.10; OPPS PE 3.37, OPPS MP 0.10. Alabama GPCIs 1 / 0.869 / 0.575.
    # PFS Alabama: (0.50 + 3.74 x 0.869 + 0.10 x 0.575) x 32.3465 = 3.80756 x 32.3465 = 123.16; OPPSCAP_Oct lists $112.76.
    assert capped[("physician_nonfacility", "10112-00")] == (
        Decimal("112.76"),
        Decimal("123.16"),
        Decimal("112.76"),
        True,
        None,
    )
    # National: 4.34 x 32.3465 = 140.38; the OPPS amount (0.50 + 3.37 + 0.10) x 32.3465 = 128.42 is lower.
    assert capped[("physician_nonfacility", "national")] == (
        Decimal("128.42"),
        Decimal("140.38"),
        Decimal("128.42"),
        True,
        None,
    )
    assert capped[("physician_facility", "national")][0] is None  # CMS gives 93990 no facility PE RVU (NA)
    assert capped[("physician_facility", "national")][4] == "not_payable"
    absent = {
        r[0]: r[1]
        for r in query(
            settings,
            """select setting, availability_reason from medicare_rate
                                                      where billing_code = '99213' and release_period = '2025-Q4'
                                                        and locality_id = 'national'""",
        )
    }
    assert absent == {
        "physician_nonfacility": "not_in_release",
        "physician_facility": "not_in_release",
        "hopd_opps": "not_loaded",
        "asc": "not_in_release",
    }


def test_gpci_locality_missing_from_the_crosswalk_is_flagged(tmp_path: Path) -> None:
    settings = medicare_only(tmp_path)
    shutil.copy(
        fixture("cms__pfs_gpci", "unknown_locality.csv"), settings.raw_dir / "cms_pfs_gpci" / "GPCI2025_extra.csv"
    )
    records = ingest("medicare_rates", settings=settings, build=True)
    assert {r.source_file: r.rows_quarantined for r in records}["GPCI2025_extra.csv"] == 2
    flags = {
        (r[0], r[1]): r[2]
        for r in query(settings, "select mac, locality_number, in_locality_crosswalk from stg_pfs_gpci")
    }
    # The extra file loaded last, so it is 2025's GPCI file now: Alabama and Alaska from it, plus the made-up 77.
    assert flags == {("10112", "00"): True, ("02102", "01"): True, ("10112", "77"): False}


# --- payment tracks: CY 2026 QPP and non-QPP files of one release -----------------------------------
# PPRRVU2026_Jan_QPP.csv / _nonQPP.csv are test fixtures, not CMS data: the 2025 excerpt's 0440T and
# 64640 rows with a 2026 January title and CY 2026's two conversion factors (QPP 33.5675, non-QPP
# 33.4009; tests/fixtures/cms__pfs_rvu/README.md). 64640 national, totals 7.45 (non-facility) and 3.62:
#   non-QPP 7.45 x 33.4009 = 248.8367 -> $248.84, 3.62 x 33.4009 = 120.9113 -> $120.91
#   QPP     7.45 x 33.5675 = 250.0779 -> $250.08, 3.62 x 33.5675 = 121.5144 -> $121.51
RVU_2026 = {
    "qpp": fixture("cms__pfs_rvu", "PPRRVU2026_Jan_QPP.csv"),
    "non_qpp": fixture("cms__pfs_rvu", "PPRRVU2026_Jan_nonQPP.csv"),
}
NON_QPP_64640 = {
    "physician_nonfacility": (Decimal("248.84"), Decimal("33.4009"), "non_qpp", "PPRRVU2026_Jan_nonQPP.csv"),
    "physician_facility": (Decimal("120.91"), Decimal("33.4009"), "non_qpp", "PPRRVU2026_Jan_nonQPP.csv"),
}


def load_pfs(settings: Settings, *paths: Path) -> list:
    """The codes of interest, then each PPRRVU file in the order given, then the DuckDB build."""
    load_file(catalog.get("reference"), settings.billing_code_file, settings, "20260101T000000Z-ref001")
    records = [
        cms_load(settings, "cms_pfs_rvu", path, run_id=f"20260101T00000{n}Z-pfs{n:03d}") for n, path in enumerate(paths)
    ]
    warehouse.build(settings, catalog.SCHEMAS)
    return records


def physician_64640(settings: Settings, period: str = "2026-Q1") -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in query(
            settings,
            f"""
        select setting, payment_usd, conversion_factor_usd, payment_track, source_file from medicare_rate
        where billing_code = '64640' and release_period = '{period}' and locality_id = 'national'
          and setting like 'physician%'""",
        )
    }


@pytest.mark.parametrize("order", [("qpp", "non_qpp"), ("non_qpp", "qpp")])
def test_medicare_rate_uses_the_non_qpp_file_whichever_loads_last(settings: Settings, order: tuple[str, str]) -> None:
    records = load_pfs(settings, *(RVU_2026[track] for track in order))
    assert [r.status for r in records] == ["loaded", "loaded"]
    assert physician_64640(settings) == NON_QPP_64640
    assert query(settings, "select payment_track, count(*) from cms__pfs_rvu group by 1 order by 1") == [
        ("non_qpp", 2),
        ("qpp", 2),
    ]  # both files are kept in the lake ...
    assert query(settings, "select distinct payment_track from stg_pfs_rvu") == [("non_qpp",)]  # ... staging uses one
    contractor = query(
        settings,
        """select payment_usd, availability_reason, payment_track from medicare_rate
                                    where billing_code = '0440T' and release_period = '2026-Q1'
                                      and setting = 'physician_facility'""",
    )
    assert contractor == [(None, "contractor_priced", "non_qpp")]


def test_qpp_file_alone_is_used_and_labelled_qpp(settings: Settings) -> None:
    [record] = load_pfs(settings, RVU_2026["qpp"])
    assert record.advisories == 1
    assert physician_64640(settings) == {
        "physician_nonfacility": (Decimal("250.08"), Decimal("33.5675"), "qpp", "PPRRVU2026_Jan_QPP.csv"),
        "physician_facility": (Decimal("121.51"), Decimal("33.5675"), "qpp", "PPRRVU2026_Jan_QPP.csv"),
    }
    assert query(settings, "select check_name, source_file from advisory") == [
        ("qpp_track_file", "PPRRVU2026_Jan_QPP.csv")
    ]


def test_a_single_file_release_is_labelled_single(settings: Settings) -> None:
    load_pfs(settings, PROJECT_DIR / "raw" / "cms_pfs_rvu" / "PPRRVU2025_Oct_excerpt.csv")
    assert physician_64640(settings, "2025-Q4")["physician_nonfacility"] == (
        Decimal("240.98"),
        Decimal("32.3465"),
        "single",
        "PPRRVU2025_Oct_excerpt.csv",
    )
    assert query(
        settings,
        """select distinct payment_track from medicare_rate
                              where setting in ('hopd_opps', 'asc')""",
    ) == [(None,)]  # not a PFS amount


def test_both_files_of_an_rvu26a_drop_land_and_load(settings: Settings) -> None:
    """The user drops the RVU26A folder's CSVs into the inbox: both land by content, both load."""
    (settings.inbox_dir / "RVU26A").mkdir(parents=True)
    for path in RVU_2026.values():
        shutil.copy(path, settings.inbox_dir / "RVU26A" / path.name)
    landed = land_inbox(settings, settle_seconds=0)
    assert sorted((i.status, i.target_path) for i in landed) == [
        ("landed", "cms_pfs_rvu/RVU26A/PPRRVU2026_Jan_QPP.csv"),
        ("landed", "cms_pfs_rvu/RVU26A/PPRRVU2026_Jan_nonQPP.csv"),
    ]
    records = {
        r.source_file: r for r in ingest("medicare_rates", settings=settings, build=True) if r.source == "cms_pfs_rvu"
    }
    assert {name: (r.status, r.advisories) for name, r in records.items()} == {
        "PPRRVU2026_Jan_QPP.csv": ("loaded", 1),
        "PPRRVU2026_Jan_nonQPP.csv": ("loaded", 0),
    }
    assert physician_64640(settings) == NON_QPP_64640


def test_loads_made_before_payment_track_existed_still_read(settings: Settings) -> None:
    """A lake written before the column: its PFS parts lack payment_track. They still read; the track
    is taken from the file name they were loaded from, and single when it names none."""
    load_pfs(
        settings,
        RVU_2026["non_qpp"],
        RVU_2026["qpp"],
        PROJECT_DIR / "raw" / "cms_pfs_rvu" / "PPRRVU2025_Oct_excerpt.csv",
    )
    parts = sorted((settings.lake_dir / "cms__pfs_rvu").glob("*/*.parquet"))
    assert len(parts) == 3
    for part in parts:
        pq.write_table(pq.read_table(part).drop_columns(["payment_track"]), part)
    warehouse.build(settings, catalog.SCHEMAS)
    assert query(settings, "select count(*), count(payment_track) from cms__pfs_rvu") == [(20, 0)]
    assert physician_64640(settings) == NON_QPP_64640  # the QPP file loaded last, yet the non-QPP amounts
    assert physician_64640(settings, "2025-Q4")["physician_nonfacility"][0:3] == (
        Decimal("240.98"),
        Decimal("32.3465"),
        "single",
    )


# --- the full public files (skipped where they are not present) ------------------------------------
@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory, real_samples: Path) -> Settings:
    """`payerbench run` over CMS's full files (PPRRVU, GPCI, 25LOCCO, OPPSCAP, Addendum B, AA/FF x2)."""
    tmp_path = tmp_path_factory.mktemp("full")
    raw = tmp_path / "raw"
    shutil.copytree(PROJECT_DIR / "raw" / "reference", raw / "reference")
    rvu = real_samples / "cms-pfs-rvu" / "RVU25D"
    placed = {
        "cms_pfs_rvu": [rvu / "PPRRVU2025_Oct.csv"],
        "cms_pfs_gpci": [rvu / "GPCI2025.csv"],
        "cms_pfs_locality": [rvu / "25LOCCO.csv"],
        "cms_opps_cap/RVU25D": [rvu / "OPPSCAP_Oct.csv"],
        "cms_opps_addendum_b": [real_samples / "cms-opps-addendum-b" / "2023_January_Web_Addendum_B.12212022.xlsx"],
        "cms_asc_addenda/20251001": [
            real_samples / "cms-asc-addenda" / "2025" / "20251001" / n for n in ("AA.csv", "FF.csv")
        ],
        "cms_asc_addenda/20260101": [
            real_samples / "cms-asc-addenda" / "2026" / "20260101" / n for n in ("AA.csv", "FF.csv")
        ],
    }
    for folder, files in placed.items():
        (raw / folder).mkdir(parents=True)
        for path in files:
            shutil.copy(path, raw / folder / path.name)
    settings = Settings(raw_dir=raw, warehouse_dir=tmp_path / "warehouse", render_reports=False)
    summary = run_pipeline(settings)
    assert summary.ok, [r.error for r in summary.records]
    return settings


@pytest.mark.slow
def test_full_files_give_the_same_answers(full: Settings) -> None:
    log = load_log.read(full.lake_dir)
    assert (log["rows_read"] == log["rows_loaded"] + log["rows_quarantined"]).all()
    cms = log[log["source"].str.startswith("cms_")]
    assert cms["rows_loaded"].sum() == 19090 + 109 + 109 + 16100 + 17559 + 4201 * 2 + 4821 * 2
    answers = {
        (r[0], r[1]): r[2:]
        for r in query(
            full,
            """
        select setting, release_period, payment_usd, availability_reason, status_indicator, apc from medicare_rate
        where billing_code = '0440T' and locality_id = 'national'""",
        )
    }
    assert answers[("physician_nonfacility", "2025-Q4")] == (None, "contractor_priced", "C", None)
    assert answers[("asc", "2026-Q1")] == (Decimal("1475.61"), None, "J8", "5431")
    assert answers[("asc", "2025-Q4")] == (Decimal("1503.58"), None, "J8", "5431")
    assert answers[("hopd_opps", "2023-Q1")] == (Decimal("1797.52"), None, "J1", "5431")
    manhattan = query(
        full,
        """select payment_usd from medicare_rate where billing_code = '64640'
                               and setting = 'physician_nonfacility' and locality_id = '13202-01'""",
    )
    assert manhattan == [(Decimal("277.84"),)]


def test_computed_opps_cap_reproduces_every_oppscap_price(full: Settings) -> None:
    """The cap medicare_rate computes for national rows is CMS's: on the full October 2025 files the
    same formula on the PPRRVU's OPPS RVUs gives every status-A OPPSCAP price to the cent, and is
    lower than the PFS amount exactly where OPPSCAP lists the code."""
    mismatched, listed, binding = query(
        full,
        """
        with priced as (
            select r.billing_code, r.modifier, g.mac, g.locality_number, c.nonfacility_price_usd,
                round((r.work_rvu * g.work_gpci + r.opps_nonfacility_pe_rvu * g.pe_gpci + r.opps_mp_rvu * g.mp_gpci)
                      * r.conversion_factor_usd, 2) as computed_cap,
                round((r.work_rvu * g.work_gpci + r.nonfacility_pe_rvu * g.pe_gpci + r.mp_rvu * g.mp_gpci)
                      * r.conversion_factor_usd, 2) as pfs_amount
            from stg_pfs_rvu r
            cross join stg_pfs_gpci g
            left join stg_opps_cap c on c.billing_code = r.billing_code and c.modifier is not distinct from r.modifier
                and c.mac = g.mac and c.locality_number = g.locality_number
            where r.status_code = 'A' and r.opps_nonfacility_pe_rvu + r.opps_mp_rvu > 0
        )
        select count(*) filter (where nonfacility_price_usd is not null and nonfacility_price_usd <> computed_cap),
               count(*) filter (where nonfacility_price_usd is not null),
               count(*) filter (where (nonfacility_price_usd is not null) <> (computed_cap < pfs_amount))
        from priced""",
    )[0]
    assert (mismatched, binding) == (0, 0) and listed > 6000
