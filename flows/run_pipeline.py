"""Flow: the main job. Load every source's raw files (reference tables first), then build DuckDB.

Incremental: files whose sha256 was loaded before are `unchanged`; DuckDB is rebuilt only when a
load committed (or its SQL changed); a report is re-rendered only when the data behind it changed.
The scheduled deployment first lands the inbox (`land=True`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flows import catalog
from flows.build_warehouse import build_warehouse
from flows.ingest import load_source, load_urls
from flows.land_inbox import land_inbox
from flows.ops import run_summary
from flows.orchestration import flow
from flows.report.flow import render_benchmark_reports
from flows.settings import Settings, with_folders
from flows.steps import load_log, store, warehouse
from flows.steps.lake import lake_root
from flows.steps.land import Landing
from flows.steps.load import new_run_id
from flows.steps.load_log import LoadRecord
from flows.steps.lock import warehouse_lock
from flows.steps.warehouse import BuildResult

if TYPE_CHECKING:
    from flows.fetch_sources import FetchReport


@dataclass
class RunSummary:
    run_id: str
    records: list[LoadRecord] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    report_errors: list[str] = field(default_factory=list)
    reports_unchanged: list[Path] = field(default_factory=list)
    landings: list[Landing] = field(default_factory=list)
    build: BuildResult | None = None
    fetch: FetchReport | None = None  # with --fetch: what each fetch step asked and got

    @property
    def ok(self) -> bool:
        """True when no file was rejected, nothing failed, every report rendered and every fetch went through."""
        fetched = self.fetch is None or not self.fetch.problems
        return all(r.status not in ("rejected", "failed") for r in self.records) and not self.report_errors and fetched


def source_order() -> list[str]:
    """Reference sources first (others resolve against them), then the rest in catalog order."""
    return catalog.load_order()


@flow(name="run_pipeline")
def run_pipeline(
    settings: Settings | None = None,
    raw_dir: str | None = None,
    land: bool = False,
    inbox_dir: str | None = None,
    fetch: bool = False,
    offline: bool = False,
) -> RunSummary:
    """Ingest every bundled or landed file of every source, rebuild the warehouse, render the reports.

    Deployment parameters: `raw_dir` (raw folder root), `land` (first move the inbox's files into
    raw/), `inbox_dir` (default PAYERBENCH_INBOX_DIR), `fetch` (first fetch every source's new releases from
    its publisher: flows/fetch_sources.py; `offline` says what it would fetch and fetches nothing).
    """
    settings = with_folders(settings, raw_dir=raw_dir, inbox_dir=inbox_dir)
    summary = RunSummary(run_id=new_run_id())
    with run_summary.tracking("run_pipeline", settings, summary.run_id):
        if fetch:  # outside the lock: downloads take minutes, readers and other runs go on meanwhile
            from flows.fetch_sources import fetch_sources

            summary.fetch = fetch_sources(None, settings, offline=offline)
        with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
            if land:
                summary.landings = land_inbox(settings)
            warehouse.compact_load_log(settings, catalog.SCHEMAS)
            log = load_log.read(lake_root(settings))
            store.sweep_orphans(lake_root(settings), set(log.loc[log["status"].isin(load_log.COMMITTED), "load_id"]))
            with load_log.gathered(lake_root(settings)):  # the unchanged files' log rows: one part per run
                for name in source_order():  # a source with a `runner` hook may fan out (PAYERBENCH_DASK_ADDRESS)
                    source = catalog.get(name)
                    summary.records += load_source(source, None, settings, summary.run_id)
                    if source.remote is not None and not offline:  # what a fetch planned (raw/tic/fetched/), streamed
                        summary.records += load_urls(source, source.remote(settings), settings, summary.run_id)
            summary.build = build_warehouse(settings, if_changed=True)
        if settings.render_reports:  # outside the lock: reports only read the (swapped-in) DuckDB file
            for result in render_benchmark_reports(settings, only_changed=True):
                if isinstance(result, str):
                    summary.report_errors.append(result)
                elif result.rendered:
                    summary.reports += [result.html, result.markdown]
                else:
                    summary.reports_unchanged += [result.html, result.markdown]
    return summary
