"""Every source the pipeline knows, declared once: adding a source is one entry in `ENTRIES`.

An entry (a `flows.sources.base.Source`) says everything about a source: its adapter (`read`,
`detect`), its datasets and the pandera schema of each, how payer names are resolved, the options
`payerbench ingest` accepts, its cadence, staleness rule and period columns (`payerbench status`),
the deployment group that loads it on a schedule (prefect.yaml), its labels (the README, the
report, `payerbench sources`) and the hooks only some sources need (a table of contents expanded
into files, files run in parallel on Dask, and - for the next issue - where and how it is fetched).

Everything else is derived from the entries: `SOURCES`, `SCHEMAS`, the deployment `GROUPS` and
their members, the deployments prefect.yaml must declare (tests/ops/test_deployments.py compares)
and the README's source and schedule tables (`python -m flows.catalog --readme` prints them;
tests/test_catalog.py fails when the README disagrees).

Steps never import this module: flows hand them the `Source` or the schema mapping they need.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pandera.api.pandas.model import DataFrameModel

from flows import tic_hooks
from flows.engines import csv_prefilter, tic_scan, tic_stream
from flows.errors import ConfigurationError
from flows.fetch import cms_mcd as fetch_mcd
from flows.fetch import cms_partb as fetch_partb
from flows.fetch import cms_quarterly, hospital_hpt, tic_index
from flows.fetch import policy_pages as fetch_policy_pages
from flows.settings import PROJECT_DIR
from flows.sources import (
    cms_asc_addenda,
    cms_mcd,
    cms_opps_addendum_b,
    cms_opps_cap,
    cms_partb_geo_service,
    cms_pfs_gpci,
    cms_pfs_locality,
    cms_pfs_rvu,
    fetch_manifest,
    hospital_mrf,
    payer_policy,
    payer_policy_snapshot,
    reference,
    tic,
)
from flows.sources.base import FetchStep, Source
from flows.sources.cadence import (
    LAST_UPDATED_ON,
    MCD_UPDATED,
    MONTHLY,
    QUARTER,
    QUARTERLY,
    WEEKLY,
    YEAR,
    YEARLY,
    Cadence,
    Group,
    Period,
)
from schemas import cms_asc_addenda as cms_asc_addenda_schema
from schemas import cms_mcd as mcd_schema
from schemas import cms_opps_addendum_b as cms_opps_addendum_b_schema
from schemas import cms_opps_cap as cms_opps_cap_schema
from schemas import cms_partb_geo_service as partb_schema
from schemas import cms_pfs_gpci as cms_pfs_gpci_schema
from schemas import cms_pfs_locality as cms_pfs_locality_schema
from schemas import cms_pfs_rvu as cms_pfs_rvu_schema
from schemas import fetch_manifest as fetch_manifest_schema
from schemas import hospital_hpt as hospital_hpt_schema
from schemas import hospital_mrf as hospital_mrf_schema
from schemas import payer_policy as payer_policy_schema
from schemas import payer_policy_snapshot as policy_snapshot_schema
from schemas import reference as reference_schema
from schemas import tic as tic_schema

# --- deployment groups: one scheduled `ingest` deployment each (times America/New_York, staggered) -------
REFERENCE_TABLES = Group(
    "reference_tables",
    deployment="reference-tables-daily",
    cron="30 5 * * *",
    description="Reference tables (payer aliases, codes of interest, geographies, code facts); edited by "
    "analysts when needed, so checked daily.",
    tags=("payerbench", "reference"),
    why="analysts edit the reference tables whenever a new payer name or code turns up",
)
PAYER_POLICIES = Group(
    "payer_policies",
    deployment="payer-policies-weekly",
    cron="0 6 * * 1",
    cron_note="Mondays",
    description="Payer medical-policy extracts, reviewed weekly by the analysts.",
    tags=("payerbench", "payer_policy"),
    why="policy extracts are reviewed weekly",
)
MEDICARE_RATES = Group(
    "medicare_rates",
    deployment="medicare-rates-quarterly",
    cron="0 6 1,15 1,4,7,10 *",
    description="CMS payment files (PFS RVU, GPCI, localities, OPPS cap, OPPS Addendum B, ASC Addenda AA/FF); "
    "CMS releases quarterly, effective on the 1st of January, April, July and October.",
    tags=("payerbench", "cms"),
    why="CMS PFS / OPPS / ASC releases take effect on the 1st of each quarter; the 15th picks up files "
    "corrected or posted late",
    reference_first=True,  # medicare_rate's grid is built over the codes of interest
)
MEDICARE_COVERAGE = Group(
    "medicare_coverage",
    deployment="medicare-coverage-weekly",
    cron="0 6 * * 5",
    cron_note="Fridays",
    description="Medicare Coverage Database exports (LCDs, articles, code lists, MACs); CMS refreshes them weekly.",
    tags=("payerbench", "cms_mcd"),
    why="CMS refreshes the MCD exports weekly",
)
PARTB_UTILIZATION = Group(
    "partb_utilization",
    deployment="partb-utilization-monthly",
    cron="0 6 1 * *",
    cron_note="the 1st of each month",
    description="Medicare Part B utilization by geography and service, one file per data year; data.cms.gov's "
    "catalog is asked monthly for a new data year or a revised one.",
    tags=("payerbench", "cms_partb"),
    why="a new data year appears about mid-year (data year Y in Y+2) on no fixed day, and a year can be revised: "
    "one conditional request a month finds it",
)
TIC = Group(
    "tic",
    deployment="tic-monthly",
    cron="0 9 1 * *",
    description="Payers' Transparency-in-Coverage files, published monthly on the 1st.",
    tags=("payerbench", "tic"),
    why="payers publish TiC files monthly, on the 1st",
)
HOSPITAL_MRF = Group(
    "hospital_mrf",
    deployment="hospital-files-monthly",
    cron="0 6 15 * *",
    description="Hospital price-transparency files; hospitals update them when they choose (at least yearly), "
    "so checked monthly.",
    tags=("payerbench", "hospital_mrf"),
    why="hospitals update when they choose (at least yearly)",
)

# --- fetch steps shared by several sources -----------------------------------------------------------------
PFS_RVU_ZIP = FetchStep(
    "cms_pfs_rvu_zip",
    cms_quarterly.fetch_pfs_rvu_zip,
    cms_quarterly.PFS_DISCOVERY,
    cms_quarterly.PFS_LANDING,
    cms_quarterly.EVERY,
    licence="cms_ama",
)
# The extract's policy pages: on the extract's entry (`payerbench fetch payer_policy`) and on the snapshots'
# (whose folder the pages land in), one run for both.
POLICY_PAGES = FetchStep(
    fetch_policy_pages.STEP,
    fetch_policy_pages.watch_policy_pages,
    fetch_policy_pages.DISCOVERY,
    fetch_policy_pages.HOME,
    fetch_policy_pages.EVERY,
)

# --- the sources --------------------------------------------------------------------------------------------
ENTRIES: tuple[Source, ...] = (
    Source(
        "reference",
        "Reference tables: payer aliases, codes of interest, US geographies",
        reference.read,
        reference_schema.TABLES,
        detect=reference.detect,
        is_reference=True,
        cadence=Cadence("on change", None),
        group=REFERENCE_TABLES,
        labels={
            "ref__payer_alias": "payer alias table",
            "ref__billing_code": "codes of interest",
            "ref__geography": "US geographies",
            "ref__code_fact": "code facts",
            "ref__code_modifier": "code modifiers",
            "ref__code_diagnosis": "code diagnoses",
            "ref__code_clinical_context": "code clinical context",
            "ref__medicare_document": "Medicare contractor documents per code",
            "ref__hospital": "hospitals watched for cms-hpt.txt",
            "ref__payer_index": "TiC payer indexes",
        },
        formats="project CSVs ([list](raw/reference/README.md))",
        grain="one row per payer alias; per code of interest; per state or territory; per code × fact topic; "
        "per modifier; per code × ICD-10-CM code; per code × clinical-context item; per code × Medicare document; "
        "per hospital web root watched; per payer TiC index",
    ),
    Source(
        "payer_policy",
        "Payer medical-policy extracts (CSV, XLSX or JSON)",
        payer_policy.read,
        {payer_policy_schema.DATASET: payer_policy_schema.PayerPolicy},
        detect=payer_policy.detect,
        payer_column="payer_name",
        unknown_payer="quarantine",
        cadence=Cadence(
            "weekly", WEEKLY, {payer_policy_schema.DATASET: Period("max(retrieved_date)::varchar", "retrieved")}
        ),
        group=PAYER_POLICIES,
        fetch=POLICY_PAGES,
        labels={payer_policy_schema.DATASET: "payer medical-policy extract"},
        formats="extract v1 as CSV, XLSX or JSON ([format](raw/payer_policy/README.md))",
        grain="one row per payer, plan type, policy and billing code",
    ),
    Source(
        "payer_policy_snapshot",
        "Payer policy pages as fetched: a snapshot per page version, a change row per new version",
        payer_policy_snapshot.read,
        {
            policy_snapshot_schema.SNAPSHOT_DATASET: policy_snapshot_schema.PolicySnapshot,
            policy_snapshot_schema.CHANGE_DATASET: policy_snapshot_schema.PolicyChange,
        },
        detect=payer_policy_snapshot.detect,
        file_globs=("*.json",),
        cadence=Cadence("on change", None, said="a snapshot per new page version; pages checked weekly"),
        # in no group (a group given files must be one source); the payer_policies deployment fetches the pages
        # (the step it shares with payer_policy) and then loads these too
        fetch=POLICY_PAGES,
        labels={
            policy_snapshot_schema.SNAPSHOT_DATASET: "payer policy page snapshot",
            policy_snapshot_schema.CHANGE_DATASET: "payer policy page change",
        },
        formats="snapshot files `payerbench fetch payer_policy` writes (JSON, `payerbench.policy_snapshot/1`)",
        grain="one row per policy page version; one change row per new version of a page seen before",
    ),
    Source(
        "cms_pfs_rvu",
        "CMS Physician Fee Schedule relative value file PPRRVU (CSV or fixed-width TXT)",
        cms_pfs_rvu.read,
        {cms_pfs_rvu_schema.DATASET: cms_pfs_rvu_schema.PfsRvu},
        detect=cms_pfs_rvu.detect,
        cadence=Cadence("quarterly", QUARTERLY, {cms_pfs_rvu_schema.DATASET: QUARTER}),
        group=MEDICARE_RATES,
        fetch=PFS_RVU_ZIP,
        labels={cms_pfs_rvu_schema.DATASET: "CMS PFS relative value file (PPRRVU)"},
        formats="CMS `PPRRVU<YYYY>_<Mon>.csv` (9 preamble rows, header split over 5) and the fixed-width `.txt` "
        "(CY 2025 layout); from CY 2026 two files per release, `PPRRVU2026_Jan_nonQPP` and `PPRRVU2026_Jan_QPP` "
        "(one per conversion factor)",
        grain="one row per HCPCS code and modifier per release and payment track (`non_qpp`, `qpp`, or `single` "
        "for a release of one file)",
    ),
    Source(
        "cms_pfs_gpci",
        "CMS PFS geographic practice cost indices by locality (GPCI<YYYY>.csv)",
        cms_pfs_gpci.read,
        {cms_pfs_gpci_schema.DATASET: cms_pfs_gpci_schema.PfsGpci},
        detect=cms_pfs_gpci.detect,
        cadence=Cadence("yearly", YEARLY, {cms_pfs_gpci_schema.DATASET: YEAR}),
        group=MEDICARE_RATES,
        fetch=PFS_RVU_ZIP,
        labels={cms_pfs_gpci_schema.DATASET: "CMS PFS geographic practice cost indices (GPCI)"},
        formats="CMS `GPCI<YYYY>.csv` (PFS Addendum E)",
        grain="one row per payment locality (MAC, locality) per year",
    ),
    Source(
        "cms_pfs_locality",
        "CMS PFS locality-to-county crosswalk (<YY>LOCCO.csv)",
        cms_pfs_locality.read,
        {cms_pfs_locality_schema.DATASET: cms_pfs_locality_schema.PfsLocality},
        detect=cms_pfs_locality.detect,
        cadence=Cadence("yearly", YEARLY, {cms_pfs_locality_schema.DATASET: YEAR}),
        group=MEDICARE_RATES,
        fetch=PFS_RVU_ZIP,
        labels={cms_pfs_locality_schema.DATASET: "CMS PFS locality-county crosswalk"},
        formats="CMS `<YY>LOCCO.csv` locality-county crosswalk",
        grain="one row per payment locality per year, with its counties",
    ),
    Source(
        "cms_opps_cap",
        "CMS PFS OPPS payment cap by locality (OPPSCAP_<Mon>.csv)",
        cms_opps_cap.read,
        {cms_opps_cap_schema.DATASET: cms_opps_cap_schema.OppsCap},
        detect=cms_opps_cap.detect,
        cadence=Cadence("quarterly", QUARTERLY, {cms_opps_cap_schema.DATASET: QUARTER}),
        group=MEDICARE_RATES,
        fetch=PFS_RVU_ZIP,
        labels={cms_opps_cap_schema.DATASET: "CMS PFS OPPS payment cap"},
        formats="CMS `OPPSCAP_<Mon>.csv` (release year from its `RVU<YY><A-D>/` folder)",
        grain="one row per code, modifier and locality where the OPPS cap applies",
    ),
    Source(
        "cms_opps_addendum_b",
        "CMS OPPS Addendum B, payment by HCPCS code (XLSX or CSV)",
        cms_opps_addendum_b.read,
        {cms_opps_addendum_b_schema.DATASET: cms_opps_addendum_b_schema.OppsAddendumB},
        detect=cms_opps_addendum_b.detect,
        cadence=Cadence("quarterly", QUARTERLY, {cms_opps_addendum_b_schema.DATASET: QUARTER}),
        group=MEDICARE_RATES,
        fetch=FetchStep(
            "cms_opps_addendum_b_zip",
            cms_quarterly.fetch_opps_addendum_b,
            cms_quarterly.OPPS_DISCOVERY,
            cms_quarterly.OPPS_LANDING,
            cms_quarterly.EVERY,
            licence="cms_ama",
        ),
        labels={cms_opps_addendum_b_schema.DATASET: "CMS OPPS Addendum B"},
        formats="CMS OPPS Addendum B `.xlsx` (header on row 4) and its CSV edition (Windows-1252)",
        grain="one row per HCPCS code per release",
    ),
    Source(
        "cms_asc_addenda",
        "CMS ASC Addendum AA (covered procedures) and FF (device offsets), CSV",
        cms_asc_addenda.read,
        {
            cms_asc_addenda_schema.AA_DATASET: cms_asc_addenda_schema.AscAddendumAA,
            cms_asc_addenda_schema.FF_DATASET: cms_asc_addenda_schema.AscAddendumFF,
        },
        detect=cms_asc_addenda.detect,
        cadence=Cadence(
            "quarterly",
            QUARTERLY,
            {cms_asc_addenda_schema.AA_DATASET: QUARTER, cms_asc_addenda_schema.FF_DATASET: QUARTER},
        ),
        group=MEDICARE_RATES,
        fetch=FetchStep(
            "cms_asc_addenda_zip",
            cms_quarterly.fetch_asc_addenda,
            cms_quarterly.ASC_DISCOVERY,
            cms_quarterly.ASC_LANDING,
            cms_quarterly.EVERY,
            licence="cms_ama",
        ),
        labels={
            cms_asc_addenda_schema.AA_DATASET: "CMS ASC Addendum AA",
            cms_asc_addenda_schema.FF_DATASET: "CMS ASC Addendum FF",
        },
        formats="CMS ASC Addendum AA and FF `.csv` (Windows-1252, 3 preamble rows, period-prefixed headers)",
        grain="one row per HCPCS code per release (AA: ASC payment; FF: APC and device offset)",
    ),
    Source(
        "cms_mcd",
        "Medicare Coverage Database: local coverage articles and LCDs, their code lists and MACs "
        "(CMS export zip or its CSV tables)",
        cms_mcd.read,
        {
            "cms__mcd_contractor": mcd_schema.McdContractor,
            "cms__mcd_article": mcd_schema.McdArticle,
            "cms__mcd_article_hcpc_code_group": mcd_schema.McdArticleCodeGroup,
            "cms__mcd_article_hcpc_code": mcd_schema.McdArticleCode,
            "cms__mcd_article_contractor": mcd_schema.McdArticleContractor,
            "cms__mcd_lcd": mcd_schema.McdLcd,
            "cms__mcd_lcd_hcpc_code_group": mcd_schema.McdLcdCodeGroup,
            "cms__mcd_lcd_hcpc_code": mcd_schema.McdLcdCode,
            "cms__mcd_lcd_contractor": mcd_schema.McdLcdContractor,
            "cms__mcd_document": mcd_schema.McdDocument,
            mcd_schema.SCOPE_DATASET: mcd_schema.McdCodeScope,
        },
        detect=cms_mcd.detect,
        cadence=Cadence(
            "weekly",
            WEEKLY,
            {
                "cms__mcd_article": MCD_UPDATED,
                "cms__mcd_lcd": MCD_UPDATED,
                "cms__mcd_contractor": MCD_UPDATED,
                "cms__mcd_article_hcpc_code": MCD_UPDATED,
                "cms__mcd_article_hcpc_code_group": MCD_UPDATED,
                "cms__mcd_article_contractor": MCD_UPDATED,
                "cms__mcd_lcd_hcpc_code": MCD_UPDATED,
                "cms__mcd_lcd_hcpc_code_group": MCD_UPDATED,
                "cms__mcd_lcd_contractor": MCD_UPDATED,
                "cms__mcd_document": Period("max(updated_on)::varchar", "updated on"),
            },
        ),
        group=MEDICARE_COVERAGE,
        fetch=FetchStep(
            fetch_mcd.STEP, fetch_mcd.fetch_mcd_exports, fetch_mcd.DISCOVERY, fetch_mcd.BASE, fetch_mcd.EVERY
        ),
        labels={
            "cms__mcd_contractor": "MCD Medicare administrative contractors",
            "cms__mcd_article": "MCD local coverage articles",
            "cms__mcd_article_hcpc_code_group": "MCD article code groups",
            "cms__mcd_article_hcpc_code": "MCD article codes",
            "cms__mcd_article_contractor": "MCD article contractors",
            "cms__mcd_lcd": "MCD local coverage determinations (LCDs)",
            "cms__mcd_lcd_hcpc_code_group": "MCD LCD code groups",
            "cms__mcd_lcd_hcpc_code": "MCD LCD codes",
            "cms__mcd_lcd_contractor": "MCD LCD contractors",
            "cms__mcd_document": "MCD local coverage listing (Coverage API)",
            mcd_schema.SCOPE_DATASET: "MCD codes scanned for",
        },
        formats="Medicare Coverage Database export: the zip CMS ships (CSV tables in an inner zip) or its CSV "
        "tables, told by header; Coverage API 1.5 names; the API's local-coverage listing "
        "(`documents_latest.csv`) ([notes](raw/cms_mcd/README.md))",
        grain="one row per document version; per document, code group and code of interest; per document and MAC",
    ),
    Source(
        "cms_partb_geo_service",
        "Medicare Physician & Other Practitioners by Geography and Service (Part B utilization, one CSV per data year)",
        cms_partb_geo_service.read,
        {
            partb_schema.DATASET: partb_schema.PartbGeoService,
            partb_schema.SCOPE_DATASET: partb_schema.PartbGeoServiceScope,
        },
        detect=cms_partb_geo_service.detect,
        options=(("data_year", "the data year of the file, when neither its content nor its name tells it"),),
        cadence=Cadence(
            "yearly",
            YEARLY,
            {
                partb_schema.DATASET: Period("max(data_year)::varchar", "data year"),
                partb_schema.SCOPE_DATASET: Period("max(data_year)::varchar", "data year"),
            },
        ),
        group=PARTB_UTILIZATION,
        fetch=FetchStep(
            fetch_partb.STEP,
            fetch_partb.fetch_partb_geo_service,
            fetch_partb.DISCOVERY,
            fetch_partb.DATA_JSON,
            fetch_partb.EVERY,
        ),
        labels={
            partb_schema.DATASET: "Medicare Part B utilization by geography and service",
            partb_schema.SCOPE_DATASET: "Part B utilization codes scanned for",
        },
        formats='"Medicare Physician & Other Practitioners – by Geography and Service" CSV, one per data year '
        "(15 columns; ~270,000 rows, streamed, codes of interest kept) ([notes](raw/cms_partb_geo_service/README.md))",
        grain="one row per data year, geography, HCPCS code and place of service",
    ),
    Source(
        "tic",
        "Payers' Transparency-in-Coverage files: in-network rates, allowed amounts, tables of contents",
        tic.read,
        {
            tic.RATE: tic_schema.InNetworkRate,
            tic.ALLOWED: tic_schema.AllowedAmount,
            tic.FILE: tic_schema.TicFile,
            tic.TOC: tic_schema.TocFile,
        },
        detect=tic.detect,
        payer_column="payer_name",
        unknown_payer="other",
        cadence=Cadence(
            "monthly",
            MONTHLY,
            {tic.RATE: LAST_UPDATED_ON, tic.ALLOWED: LAST_UPDATED_ON, tic.FILE: LAST_UPDATED_ON},
        ),
        group=TIC,
        fetch=FetchStep(tic_index.STEP, tic_index.crawl_indexes, tic_index.DISCOVERY, tic_index.HOME, tic_index.EVERY),
        remote=tic_index.planned_urls,
        skip_globs=("fetched/*/*_plan.csv",),  # the crawl's plans: what to stream, not TiC files
        labels={
            tic.RATE: "TiC in-network rates",
            tic.ALLOWED: "TiC allowed amounts",
            tic.FILE: "TiC files",
            tic.TOC: "TiC tables of contents",
        },
        formats="CMS TiC schema v1.x and v2.x: in-network, allowed-amount, table of contents, provider-reference "
        "files; `.json`, `.json.gz`, `.zip` ([notes](raw/tic/README.md))",
        grain="one row per file × billing code × negotiated price × provider group",
        engines=(tic_scan, tic_stream),
        expand=tic_hooks.expand_toc,
        runner=tic_hooks.dask_runner,
    ),
    Source(
        "hospital_mrf",
        "Hospital price-transparency files (CMS template v2.x / v3.0; CSV tall, CSV wide, JSON)",
        hospital_mrf.read,
        {
            hospital_mrf_schema.DATASET: hospital_mrf_schema.HospitalStandardCharge,
            hospital_mrf_schema.FILE_DATASET: hospital_mrf_schema.HospitalFile,
            hospital_hpt_schema.DATASET: hospital_hpt_schema.HptEntry,
        },
        detect=hospital_mrf.detect,
        payer_column="payer_name",
        unknown_payer="other",
        cadence=Cadence(
            "yearly",
            YEARLY,
            {hospital_mrf_schema.FILE_DATASET: LAST_UPDATED_ON},
            said="as hospitals publish (at least yearly)",
        ),
        group=HOSPITAL_MRF,
        fetch=FetchStep(
            hospital_hpt.STEP,
            hospital_hpt.fetch_hospital_files,
            hospital_hpt.DISCOVERY,
            hospital_hpt.HOME,
            hospital_hpt.EVERY,
        ),  # fmt: skip
        labels={
            hospital_mrf_schema.DATASET: "hospital standard charges",
            hospital_mrf_schema.FILE_DATASET: "hospital price-transparency files",
            hospital_hpt_schema.DATASET: "hospital cms-hpt.txt entries",
        },
        formats="CMS hospital price-transparency template v2.0–2.2 and v3.0, as CSV tall, CSV wide or JSON "
        "(version told by the file's structure)",
        grain="one row per hospital file × code × item × setting × modifiers × payer × plan × terms, plus one "
        "payer-independent row per item (gross, cash, min, max); one row per file; one row per hospital web root × "
        "cms-hpt.txt entry",
        engines=(csv_prefilter,),
    ),
    Source(
        "fetch_manifest",
        "What `payerbench fetch` asked and got: one row per URL asked or file landed",
        fetch_manifest.read,
        {fetch_manifest_schema.DATASET: fetch_manifest_schema.FetchManifest},
        detect=fetch_manifest.detect,
        cadence=Cadence("on change", None),
        labels={fetch_manifest_schema.DATASET: "fetch manifest"},
        formats="`raw/fetch_manifest/fetch_manifest.csv`, appended by every fetch run ([columns](#fetching))",
        grain="one row per fetch run × URL asked or file landed",
    ),
)

# --- derived ------------------------------------------------------------------------------------------------
FETCH_MANIFEST = "fetch_manifest"  # in no group: each deployment that fetches loads it after fetching
SOURCES: dict[str, Source] = {s.name: s for s in ENTRIES}
SCHEMAS: dict[str, type[DataFrameModel]] = {d: model for s in ENTRIES for d, model in s.schemas.items()}
GROUPS: dict[str, Group] = {s.group.name: s.group for s in ENTRIES if s.group is not None}


def get(name: str) -> Source:
    """The source called `name`, or a ConfigurationError listing the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigurationError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}") from None


def detect_source(path) -> list[str]:  # type: ignore[no-untyped-def]
    """Names of the sources whose detector recognises this file's content."""
    return [s.name for s in SOURCES.values() if s.detect is not None and s.detect(path)]


def members(group: str) -> tuple[str, ...]:
    """The sources a group loads, in catalog order; the reference tables first when it says so."""
    declared = tuple(s.name for s in ENTRIES if s.group is not None and s.group.name == group)
    first = tuple(s.name for s in ENTRIES if s.is_reference and s.name not in declared)
    return (first if GROUPS[group].reference_first else ()) + declared


def load_order() -> list[str]:
    """Every source: the reference sources first (others resolve against them), then the rest in order."""
    return [s.name for s in ENTRIES if s.is_reference] + [s.name for s in ENTRIES if not s.is_reference]


def resolve(target: str) -> tuple[str, list[Source]]:
    """What `ingest(target)` loads and the name its run is tracked under: a group (its members;
    tracked as `ingest_<group>`) or else a single source (tracked as `ingest_source`)."""
    if target in GROUPS:
        return GROUPS[target].flow_run, [SOURCES[name] for name in members(target)]
    if target in SOURCES:
        return "ingest_source", [SOURCES[target]]
    raise ConfigurationError(
        f"unknown source or group {target!r}; groups: {', '.join(GROUPS)}; sources: {', '.join(SOURCES)}"
    )


# --- hooks: which ingest flags a source accepts -----------------------------------------------------------
HOOK_FLAGS: dict[str, tuple[tuple[str, ...], str]] = {
    "expand": (("--toc", "--download"), "expand a table of contents into files"),
    "runner": (("--dask-address",), "run files in parallel on Dask"),
    "remote": (("--keep",), "stream files from URLs"),
}


def with_hook(hook: str) -> list[str]:
    """Names of the sources whose entry declares `hook` (expand, runner, fetch)."""
    return [s.name for s in ENTRIES if getattr(s, hook) is not None]


def refused_flags(source: Source, flags: Iterable[str]) -> str | None:
    """Why `payerbench ingest <source>` cannot take some of the given flags (None: it takes them all)."""
    flags = set(flags)
    reasons = []
    for hook, (names, does) in HOOK_FLAGS.items():
        used = [n for n in names if n in flags]
        if used and getattr(source, hook) is None:
            verb = "apply" if len(used) > 1 else "applies"
            reasons.append(
                f"{' and '.join(used)} {verb} only to sources that {does} "
                f"({', '.join(with_hook(hook)) or 'none'}), not {source.name}"
            )
    return "; ".join(reasons) or None


# --- deployments --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deployment:
    """One deployment prefect.yaml must declare, as the catalog derives it."""

    name: str
    entrypoint: str
    cron: str
    timezone: str
    description: str
    tags: tuple[str, ...]
    parameters: dict[str, Any]
    sources: tuple[str, ...]
    flow: str  # README: what it runs
    why: str  # README
    cron_note: str = ""


INGEST_ENTRYPOINT = "flows/ingest.py:ingest"
PIPELINE = Deployment(
    "pipeline-daily",
    "flows/run_pipeline.py:run_pipeline",
    "0 7 * * *",
    "America/New_York",
    "The whole pipeline, incremental - land the inbox, load every new file, rebuild what changed, "
    "re-render reports whose data changed.",
    ("payerbench", "pipeline"),
    {"raw_dir": "raw", "land": True, "inbox_dir": "inbox"},
    tuple(load_order()),
    "`run_pipeline`",
    "lands the inbox, loads anything new from any source, re-renders changed reports",
)


def deployments() -> list[Deployment]:
    """Every deployment: one per group (the `ingest` flow, the group as its target), then the pipeline."""
    return [
        Deployment(
            g.deployment,
            INGEST_ENTRYPOINT,
            g.cron,
            g.timezone,
            g.description,
            g.tags,
            {"target": g.name, "raw_dir": "raw", "build": g.build}
            | ({"fetch": True} if any(SOURCES[m].fetch is not None for m in members(g.name)) else {}),
            members(g.name),
            f"`ingest`, target `{g.name}`",
            g.why,
            g.cron_note,
        )
        for g in GROUPS.values()
    ] + [PIPELINE]


# --- README tables -------------------------------------------------------------------------------------------
def _path(module_name: str) -> str:
    module = sys.modules[module_name]
    return Path(module.__file__ or "").resolve().relative_to(PROJECT_DIR).as_posix()


def sources_table() -> str:
    """The README's Sources table."""
    rows = [
        "| source | adapter | schema → dataset | format versions | cadence | grain |",
        "|---|---|---|---|---|---|",
    ]
    for s in ENTRIES:
        adapter = f"`{_path(s.read.__module__)}`"
        if s.engines:
            adapter += f" (engines: {', '.join(f'`{Path(e.__file__).name}`' for e in s.engines)})"
        schema_files = dict.fromkeys(_path(model.__module__) for model in s.schemas.values())
        schema = f"{', '.join(f'`{f}`' for f in schema_files)} → {', '.join(f'`{d}`' for d in s.datasets)}"
        cadence = (s.cadence.said or s.cadence.every) if s.cadence else ""
        rows.append(f"| `{s.name}` | {adapter} | {schema} | {s.formats} | {cadence} | {s.grain} |")
    return "\n".join(rows)


def schedules_table() -> str:
    """The README's Schedules table."""
    rows = ["| deployment | flow | cron | why then |", "|---|---|---|---|"]
    for d in deployments():
        cron = f"`{d.cron}`" + (f" ({d.cron_note})" if d.cron_note else "")
        rows.append(f"| `{d.name}` | {d.flow} | {cron} | {d.why} |")
    return "\n".join(rows)


def fetch_table() -> str:
    """The README's Fetching table: per fetch step, the sources it feeds, where it looks and how often."""
    rows = ["| fetch step | sources | where it is published and how the newest release is found | checked | licence |",
            "|---|---|---|---|---|"]  # fmt: skip
    steps: dict[str, list[Source]] = {}
    for s in ENTRIES:
        if s.fetch is not None:
            steps.setdefault(s.fetch.key, []).append(s)
    for key, sources in steps.items():
        step = sources[0].fetch
        assert step is not None
        licence = "CMS/AMA CPT acknowledgement" if step.licence == "cms_ama" else "none"
        names = ", ".join(f"`{s.name}`" for s in sources)
        rows.append(f"| `{key}` | {names} | {step.discovery} | {step.every} | {licence} |")
    return "\n".join(rows)


def readme_tables() -> dict[str, str]:
    """Every README table the catalog owns, by name."""
    return {"sources": sources_table(), "schedules": schedules_table(), "fetching": fetch_table()}


def main(argv: list[str] | None = None) -> None:
    """`python -m flows.catalog --readme`: print the README tables the catalog owns."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--readme"]:
        print("usage: python -m flows.catalog --readme   (prints the README tables the catalog owns)", file=sys.stderr)
        return
    print("\n\n".join(readme_tables().values()))


if __name__ == "__main__":
    main()
