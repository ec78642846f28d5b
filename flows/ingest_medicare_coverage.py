"""Flow: ingest Medicare Coverage Database exports (raw/cms_mcd/ by default)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_source
from flows.settings import Settings
from flows.steps.load_log import LoadRecord


@flow(name="ingest_medicare_coverage")
def ingest_medicare_coverage(paths: list[Path] | None = None, settings: Settings | None = None,
                             run_id: str | None = None) -> list[LoadRecord]:
    """Load MCD export zips or their CSV tables into the cms__mcd_* datasets."""
    return ingest_source("cms_mcd", paths, settings, run_id)
