"""Flow: ingest the CMS Medicare payment files (PFS RVU, GPCI, localities, OPPS cap, OPPS Addendum B,
ASC Addenda AA/FF) from their raw/ folders, then rebuild the warehouse so medicare_rate reflects them.

The reference tables are loaded first (when changed): medicare_rate's grid is built over the codes
of interest in raw/reference/billing_codes.csv."""

from __future__ import annotations

from prefect import flow

from flows.ingest import ingest_sources
from flows.settings import Settings
from flows.steps.load_log import LoadRecord

MEDICARE_SOURCES = (
    "cms_pfs_rvu",
    "cms_pfs_gpci",
    "cms_pfs_locality",
    "cms_opps_cap",
    "cms_opps_addendum_b",
    "cms_asc_addenda",
)


@flow(name="ingest_medicare_rates")
def ingest_medicare_rates(
    settings: Settings | None = None, run_id: str | None = None, raw_dir: str | None = None, build: bool = True
) -> list[LoadRecord]:
    """Load every landed CMS payment file not loaded before, then rebuild DuckDB if any loaded."""
    return ingest_sources(
        "ingest_medicare_rates", ("reference", *MEDICARE_SOURCES), None, settings, run_id, raw_dir, build
    )
