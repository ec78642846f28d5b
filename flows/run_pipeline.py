"""Flow: the main job. Load every source's raw files (reference tables first), then build DuckDB."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prefect import flow

from flows.build_warehouse import build_warehouse
from flows.render_report import render_benchmark_reports
from flows.ingest import ingest_source
from flows.ingest_tic import ingest_tic
from flows.settings import Settings, from_env
from flows.sources import registry
from flows.steps import load_log, store
from flows.steps.load import new_run_id
from flows.steps.load_log import LoadRecord
from flows.steps.lock import warehouse_lock


@dataclass
class RunSummary:
    run_id: str
    records: list[LoadRecord] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    report_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file was rejected, nothing failed and every report rendered."""
        return all(r.status not in ("rejected", "failed") for r in self.records) and not self.report_errors


def source_order() -> list[str]:
    """Reference sources first (others resolve against them), then the rest as registered."""
    sources = list(registry.SOURCES.values())
    return [s.name for s in sources if s.is_reference] + [s.name for s in sources if not s.is_reference]


@flow(name="run_pipeline")
def run_pipeline(settings: Settings | None = None) -> RunSummary:
    """Ingest every bundled or landed file of every source, rebuild the warehouse, render the reports."""
    settings = settings or from_env()
    summary = RunSummary(run_id=new_run_id())
    with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
        log = load_log.read(settings.lake_dir)
        store.sweep_orphans(settings.lake_dir, set(log.loc[log["status"].isin(load_log.COMMITTED), "load_id"]))
        for name in source_order():
            if name == "tic":  # may fan out over a Dask cluster (PAYERBENCH_DASK_ADDRESS)
                summary.records += ingest_tic(None, None, settings, summary.run_id)
            else:
                summary.records += ingest_source(name, None, settings, summary.run_id)
        build_warehouse(settings)
    if settings.render_reports:  # outside the lock: reports only read the (swapped-in) DuckDB file
        for result in render_benchmark_reports(settings):
            if isinstance(result, str):
                summary.report_errors.append(result)
            else:
                summary.reports += [result.html, result.markdown]
    return summary
