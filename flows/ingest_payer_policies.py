"""Flow: ingest payer medical-policy extracts (raw/payer_policy/ by default)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_sources
from flows.settings import Settings
from flows.steps.load_log import LoadRecord


@flow(name="ingest_payer_policies")
def ingest_payer_policies(
    paths: list[Path] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    raw_dir: str | None = None,
    build: bool = False,
) -> list[LoadRecord]:
    """Load policy extracts (CSV, XLSX or JSON) into payer__policy.

    `raw_dir` (a deployment parameter) is the raw folder root; `build` rebuilds DuckDB if a file loaded.
    """
    return ingest_sources("ingest_payer_policies", ("payer_policy",), paths, settings, run_id, raw_dir, build)
