"""Flow: ingest Medicare Coverage Database exports (raw/cms_mcd/ by default)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_sources
from flows.settings import Settings
from flows.steps.load_log import LoadRecord


@flow(name="ingest_medicare_coverage")
def ingest_medicare_coverage(
    paths: list[Path] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    raw_dir: str | None = None,
    build: bool = False,
) -> list[LoadRecord]:
    """Load MCD export zips or their CSV tables into the cms__mcd_* datasets.

    `raw_dir` (a deployment parameter) is the raw folder root; `build` rebuilds DuckDB if a file loaded.
    """
    return ingest_sources("ingest_medicare_coverage", ("cms_mcd",), paths, settings, run_id, raw_dir, build)
