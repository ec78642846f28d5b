"""Flow: ingest hospital price-transparency files (raw/hospital_mrf/ by default)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_sources
from flows.settings import Settings
from flows.steps.load_log import LoadRecord


@flow(name="ingest_hospital_mrf")
def ingest_hospital_mrf(
    paths: list[Path] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    raw_dir: str | None = None,
    build: bool = False,
) -> list[LoadRecord]:
    """Load hospital standard-charge files (CMS v2/v3 CSV tall, CSV wide, JSON) for the codes of interest.

    `raw_dir` (a deployment parameter) is the raw folder root; `build` rebuilds DuckDB if a file loaded.
    """
    return ingest_sources("ingest_hospital_mrf", ("hospital_mrf",), paths, settings, run_id, raw_dir, build)
