"""Flow: ingest Part B geography-and-service utilization files (raw/cms_partb_geo_service/ by default)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_sources
from flows.settings import Settings
from flows.steps.load_log import LoadRecord


@flow(name="ingest_partb_utilization")
def ingest_partb_utilization(
    paths: list[Path] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    data_year: int | None = None,
    raw_dir: str | None = None,
    build: bool = False,
) -> list[LoadRecord]:
    """Load yearly utilization CSVs into cms__partb_geo_service; `data_year` for files that do not tell it.

    `raw_dir` (a deployment parameter) is the raw folder root; `build` rebuilds DuckDB if a file loaded.
    """
    options = {"data_year": str(data_year)} if data_year is not None else None
    return ingest_sources(
        "ingest_partb_utilization", ("cms_partb_geo_service",), paths, settings, run_id, raw_dir, build, options=options
    )
