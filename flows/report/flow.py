"""Flow: render the benchmark report (HTML + Markdown) for each configured target code."""

from __future__ import annotations

import datetime as dt

from flows.errors import NoWarehouse
from flows.ops import run_summary
from flows.orchestration import NO_CACHE, flow, run_logger, task
from flows.report import render
from flows.report.data import report_codes
from flows.settings import Settings, from_env


@task(name="render_report", cache_policy=NO_CACHE, task_run_name="report {billing_code}")
def render_report_task(
    settings: Settings,
    billing_code: str,
    as_of: dt.date | None = None,
    only_changed: bool = False,
    payers: list[str] | None = None,
    include_synthetic: bool = False,
) -> render.ReportResult:
    """Execute the notebook for one code (a failure is a bug or a broken warehouse: no retries).

    `only_changed` keeps a report whose data and code have not changed since it was last rendered.
    """
    if only_changed:
        result = render.render_report_if_changed(
            settings, billing_code, as_of=as_of, payers=payers, include_synthetic=include_synthetic
        )
    else:
        result = render.render_report(
            settings, billing_code, as_of=as_of, payers=payers, include_synthetic=include_synthetic
        )
    if result.rendered:
        run_logger().info("rendered %s in %.1f s: %s", billing_code, result.seconds, result.html)
    else:
        run_logger().info("%s unchanged (no mart behind it changed): kept %s", billing_code, result.html)
    return result


@flow(name="render_benchmark_reports")
def render_benchmark_reports(
    settings: Settings | None = None,
    codes: list[str] | None = None,
    as_of: dt.date | None = None,
    only_changed: bool = False,
    payers: list[str] | None = None,
    include_synthetic: bool = False,
) -> list[render.ReportResult | str]:
    """One report per code (default: every target code); an error is returned as text, not raised.
    `payers` limits coverage and negotiated rates to those payer groups (default: every group)."""
    settings = settings or from_env()
    results: list[render.ReportResult | str] = []
    with run_summary.tracking("render_benchmark_reports", settings) as run:
        for code in codes or report_codes(settings):
            try:
                result = render_report_task(settings, code, as_of, only_changed, payers, include_synthetic)
                results.append(result)
                (run.reports_rendered if result.rendered else run.reports_unchanged).append(code)
            except NoWarehouse:  # the same for every code: the flow fails on it, as it always has
                raise
            except Exception as exc:  # noqa: BLE001 - one broken report must not hide the others
                run_logger().error("report %s failed: %s", code, exc)
                results.append(f"report {code}: {type(exc).__name__}: {exc}")
                run.report_errors.append(results[-1])
    return results
