"""Flow: ingest the reference tables (raw/reference/: payer aliases, codes of interest, geographies, code facts)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_sources
from flows.settings import Settings
from flows.steps.load_log import LoadRecord


@flow(name="ingest_reference_tables")
def ingest_reference_tables(
    paths: list[Path] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    raw_dir: str | None = None,
    build: bool = False,
) -> list[LoadRecord]:
    """Load the reference tables every other source resolves against (only files whose content changed).

    `raw_dir` (a deployment parameter) is the raw folder root; `build` rebuilds DuckDB if a file loaded.
    """
    return ingest_sources("ingest_reference_tables", ("reference",), paths, settings, run_id, raw_dir, build)
