"""Flow: ingest payer medical-policy extracts (raw/payer_policy/ by default)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest_source
from flows.settings import Settings
from flows.steps.load_log import LoadRecord


@flow(name="ingest_payer_policies")
def ingest_payer_policies(paths: list[Path] | None = None, settings: Settings | None = None,
                          run_id: str | None = None) -> list[LoadRecord]:
    """Load policy extracts (CSV, XLSX or JSON) into payer__policy."""
    return ingest_source("payer_policy", paths, settings, run_id)
