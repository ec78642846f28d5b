"""Flow: ingest the CMS Medicare payment files (PFS RVU, GPCI, localities, OPPS cap, OPPS Addendum B,
ASC Addenda AA/FF) from their raw/ folders, then rebuild the warehouse so medicare_rate reflects them.

The reference tables are loaded first (when changed): medicare_rate's grid is built over the codes
of interest in raw/reference/billing_codes.csv."""

from __future__ import annotations

from prefect import flow

from flows.build_warehouse import build_warehouse
from flows.ingest import ingest_source
from flows.settings import Settings, from_env
from flows.steps.load import new_run_id
from flows.steps.load_log import LoadRecord

MEDICARE_SOURCES = ("cms_pfs_rvu", "cms_pfs_gpci", "cms_pfs_locality", "cms_opps_cap", "cms_opps_addendum_b",
                    "cms_asc_addenda")


@flow(name="ingest_medicare_rates")
def ingest_medicare_rates(settings: Settings | None = None, run_id: str | None = None) -> list[LoadRecord]:
    """Load every landed CMS payment file not loaded before, then rebuild DuckDB."""
    settings = settings or from_env()
    run_id = run_id or new_run_id()
    records: list[LoadRecord] = []
    for name in ("reference", *MEDICARE_SOURCES):
        records += ingest_source(name, None, settings, run_id)
    build_warehouse(settings)
    return records
