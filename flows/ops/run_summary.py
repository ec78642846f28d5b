"""What one flow run did, for operators: a Prefect markdown artifact and a record `status` reads.

Every flow body runs inside `tracking(...)`. The outermost one owns the run; nested flows (the
ingest of each source inside `run_pipeline`, the warehouse build, the reports) report into it
through `current()` instead of publishing their own. When the run starts it writes
`warehouse/runs/<run_id>.json` saying `started` (its pid, host and command), so a run killed before
it ends is not silent: the next writer finds the pid gone and marks the record `crashed`
(`steps/leftovers.py`), and `status` reports it. When the run ends, well or not, it:
- collects rows loaded and quarantined per dataset and the top quarantine reasons from the
  Parquet of this run's committed loads;
- writes `warehouse/runs/<run_id>.json` (status, counts, problems; what `payerbench status`
  reads) and `<run_id>.md` (the same report as the artifact, for installs without a server);
- publishes the Markdown as a Prefect artifact keyed `payerbench-<flow>` (its history is the
  run history in the Prefect UI).

`to_markdown` is a plain function of a `RunSummary`, so its content is unit-tested.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flows.settings import Settings
from flows.steps import leftovers
from flows.steps.lake import LakePath, lake_root
from flows.steps.load_log import COMMITTED, LoadRecord, new_run_id

if TYPE_CHECKING:  # pragma: no cover
    from flows.steps.land import Landing
    from flows.steps.warehouse import BuildResult

log = logging.getLogger(__name__)
TOP_REASONS = 5
_current: contextvars.ContextVar[RunTracker | None] = contextvars.ContextVar("payerbench_run", default=None)


@dataclass
class RunTracker:
    """Accumulates what the steps of one run did."""

    flow: str
    run_id: str
    settings: Settings
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    started: float = field(default_factory=time.perf_counter)
    records: list[LoadRecord] = field(default_factory=list)
    landings: list[Landing] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)  # one line per fetch step ("cms_mcd: nothing new upstream ...")
    fetch_problems: list[str] = field(default_factory=list)  # a failed, refused or licence-stopped fetch
    build: BuildResult | None = None
    reports_rendered: list[str] = field(default_factory=list)
    reports_unchanged: list[str] = field(default_factory=list)
    report_errors: list[str] = field(default_factory=list)
    error: str | None = None
    process: dict[str, object] = field(default_factory=leftovers.this_process)  # pid, host: judged if it dies
    command: str = field(default_factory=lambda: " ".join(sys.argv))
    # `dataset_rows` of the records, read before the run went on in a process without Arrow (flows/lean_build.py)
    rows: tuple[list[DatasetRows], list[QuarantineReason]] | None = None

    def add_build(self, result: BuildResult) -> None:
        """Record a warehouse build (a run may build more than once: the marts of all are kept)."""
        if self.build is None or not self.build.rebuilt:
            self.build = result
        elif result.rebuilt:
            self.build = dataclasses.replace(
                result,
                marts_rebuilt=list(dict.fromkeys(self.build.marts_rebuilt + result.marts_rebuilt)),
                reason="; ".join(dict.fromkeys([self.build.reason, result.reason])),
            )


def current() -> RunTracker | None:
    """The run the calling step belongs to (None outside any tracked flow)."""
    return _current.get()


@contextlib.contextmanager
def tracking(flow: str, settings: Settings, run_id: str | None = None) -> Iterator[RunTracker]:
    """Track a flow run; nested inside another tracked run, report into that one instead."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    tracker = RunTracker(flow, run_id or new_run_id(), settings)
    try:
        write_started(tracker)
    except Exception:  # noqa: BLE001 - as below: the record is for operators, the run goes on
        log.exception("could not write the start record of %s %s", flow, tracker.run_id)
    with resumed(tracker) as resumed_tracker:
        yield resumed_tracker


@contextlib.contextmanager
def resumed(tracker: RunTracker) -> Iterator[RunTracker]:
    """Go on tracking a run that `tracking` started (its start record written): the outermost run for the block,
    published when it ends. flows/lean_build.py resumes an ingest's run after the exec into its build."""
    flow, settings = tracker.flow, tracker.settings
    token = _current.set(tracker)
    try:
        yield tracker
    except BaseException as exc:
        tracker.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _current.reset(token)
        try:
            publish(collect(tracker), settings)
        except Exception:  # noqa: BLE001 - reporting on a run must never break or mask the run itself
            log.exception("could not write the run report of %s %s", flow, tracker.run_id)


# --- the report ------------------------------------------------------------------------------------------
@dataclass
class DatasetRows:
    dataset: str
    rows_loaded: int = 0
    rows_quarantined: int = 0


@dataclass
class QuarantineReason:
    dataset: str
    column: str | None
    check: str
    reason: str | None
    rows: int


@dataclass
class RunSummary:
    """Everything the artifact shows; built by `collect`, rendered by `to_markdown`."""

    flow: str
    run_id: str
    started_at: dt.datetime
    elapsed_s: float
    records: list[LoadRecord] = field(default_factory=list)
    datasets: list[DatasetRows] = field(default_factory=list)
    top_reasons: list[QuarantineReason] = field(default_factory=list)
    warehouse_rebuilt: bool | None = None  # None: this run did not get as far as the warehouse
    warehouse_reason: str = ""
    marts_rebuilt: list[str] = field(default_factory=list)
    reports_rendered: list[str] = field(default_factory=list)
    reports_unchanged: list[str] = field(default_factory=list)
    report_errors: list[str] = field(default_factory=list)
    landings: list[Landing] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    fetch_problems: list[str] = field(default_factory=list)
    error: str | None = None
    process: dict[str, object] = field(default_factory=dict)
    command: str = ""

    def count(self, *statuses: str) -> int:
        return sum(r.status in statuses for r in self.records)

    @property
    def problems(self) -> list[str]:
        """One line per thing a person must look at."""
        lines = [
            f"{r.status} {r.source}/{r.source_file}: {r.error}"
            for r in self.records
            if r.status in ("rejected", "failed")
        ]
        lines += [
            f"inbox: {lnd.inbox_path} left in the inbox: {lnd.message}" for lnd in self.landings if lnd.needs_attention
        ]
        lines += [f"report failed: {e}" for e in self.report_errors]
        lines += [f"fetch: {p}" for p in self.fetch_problems]
        if self.error:
            lines.insert(0, f"the run failed: {self.error}")
        return lines

    @property
    def status(self) -> str:
        """failed (the flow raised), problems (something needs a person) or ok."""
        if self.error:
            return "failed"
        return "problems" if self.problems else "ok"


def collect(tracker: RunTracker) -> RunSummary:
    """The run's summary, with per-dataset rows and quarantine reasons read from this run's loads."""
    report = RunSummary(
        tracker.flow,
        tracker.run_id,
        tracker.started_at,
        time.perf_counter() - tracker.started,
        records=list(tracker.records),
        reports_rendered=list(tracker.reports_rendered),
        reports_unchanged=list(tracker.reports_unchanged),
        report_errors=list(tracker.report_errors),
        landings=list(tracker.landings),
        fetched=list(tracker.fetched),
        fetch_problems=list(tracker.fetch_problems),
        error=tracker.error,
        process=dict(tracker.process),
        command=tracker.command,
    )
    if tracker.build is not None:
        report.warehouse_rebuilt = tracker.build.rebuilt
        report.warehouse_reason = tracker.build.reason
        report.marts_rebuilt = list(tracker.build.marts_rebuilt)
    report.datasets, report.top_reasons = tracker.rows or dataset_rows(lake_root(tracker.settings), tracker.records)
    return report


def dataset_rows(lake: LakePath, records: list[LoadRecord]) -> tuple[list[DatasetRows], list[QuarantineReason]]:
    """Rows loaded and quarantined per dataset by these loads, and the commonest quarantine reasons."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flows.steps.store import QUARANTINE, parquet_source

    committed = [r for r in records if r.status in COMMITTED]
    rows: dict[str, DatasetRows] = {}
    for record in committed:
        for dataset in record.datasets:
            parts = (lake / dataset / record.load_id).glob("*.parquet")
            loaded = sum(pq.read_metadata(parquet_source(p)).num_rows for p in parts)
            rows.setdefault(dataset, DatasetRows(dataset)).rows_loaded += loaded
    findings = [p for r in committed if r.rows_quarantined for p in (lake / QUARANTINE / r.load_id).glob("*.parquet")]
    reasons: list[QuarantineReason] = []
    if findings:
        columns = ["load_id", "dataset", "source_record", "column_name", "check_name", "reason"]
        frame = pa.concat_tables(pq.read_table(parquet_source(p), columns=columns) for p in findings).to_pandas()
        per_dataset = frame.drop_duplicates(["load_id", "dataset", "source_record"]).groupby("dataset").size()
        for dataset, count in per_dataset.items():
            rows.setdefault(str(dataset), DatasetRows(str(dataset))).rows_quarantined += int(count)
        keys = ["dataset", "column_name", "check_name", "reason"]
        grouped = (
            frame.fillna({"column_name": "", "reason": ""})
            .drop_duplicates(keys + ["load_id", "source_record"])
            .groupby(keys)
            .size()
            .sort_values(ascending=False, kind="stable")
            .head(TOP_REASONS)
        )
        reasons = [QuarantineReason(d, c or None, k, r or None, int(n)) for (d, c, k, r), n in grouped.items()]
    return sorted(rows.values(), key=lambda d: d.dataset), reasons


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[object]], right: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: RunSummary) -> str:
    """The run summary as Markdown: files, rows per dataset, quarantine reasons, warehouse, reports."""
    out = [
        f"# payerbench {report.flow}: {report.status}",
        f"Run `{report.run_id}`, started {report.started_at:%Y-%m-%d %H:%M:%S} UTC, elapsed {report.elapsed_s:.1f} s.",
    ]
    if report.problems:
        out += ["", "## Needs attention", *[f"- {_cell(p)}" for p in report.problems]]
    loaded = report.count(*COMMITTED)
    out += [
        "",
        "## Files",
        _table(
            ["seen", "loaded", "unchanged", "rejected", "failed"],
            [
                [
                    len(report.records),
                    loaded,
                    report.count("unchanged"),
                    report.count("rejected"),
                    report.count("failed"),
                ]
            ],
            right={0, 1, 2, 3, 4},
        ),
    ]
    changed = [r for r in report.records if r.status != "unchanged"]
    if changed:
        out += [
            "",
            _table(
                ["source", "file", "status", "read", "loaded", "quarantined"],
                [
                    [
                        r.source,
                        r.source_file,
                        r.status,
                        f"{r.rows_read:,}",
                        f"{r.rows_loaded:,}",
                        f"{r.rows_quarantined:,}",
                    ]
                    for r in changed
                ],
                right={3, 4, 5},
            ),
        ]
    out += ["", "## Rows by dataset"]
    if report.datasets:
        out.append(
            _table(
                ["dataset", "rows loaded", "rows quarantined"],
                [[d.dataset, f"{d.rows_loaded:,}", f"{d.rows_quarantined:,}"] for d in report.datasets],
                right={1, 2},
            )
        )
    else:
        out.append("No rows loaded: no new files.")
    if report.top_reasons:
        out += [
            "",
            "## Top quarantine reasons",
            _table(
                ["dataset", "column", "check", "reason", "rows"],
                [[q.dataset, q.column, q.check, q.reason, f"{q.rows:,}"] for q in report.top_reasons],
                right={4},
            ),
        ]
    out += ["", "## Warehouse"]
    if report.warehouse_rebuilt is None:
        out.append("Not built in this run.")
    elif report.warehouse_rebuilt:
        out.append(f"Rebuilt ({report.warehouse_reason}).")
        out.append(
            "Marts rebuilt (their inputs changed): "
            + (", ".join(f"`{m}`" for m in report.marts_rebuilt) or "none")
            + "."
        )
    else:
        out.append(f"Not rebuilt: {report.warehouse_reason}. Marts rebuilt: none.")
    if report.reports_rendered or report.reports_unchanged or report.report_errors:
        out += [
            "",
            "## Reports",
            "Rendered: " + (", ".join(report.reports_rendered) or "none") + ".",
            "Unchanged, not re-rendered: " + (", ".join(report.reports_unchanged) or "none") + ".",
        ]
        out += [f"- failed: {_cell(e)}" for e in report.report_errors]
    if report.fetched:
        out += ["", "## Fetched", *[f"- {_cell(line)}" for line in report.fetched]]
    if report.landings:
        out += [
            "",
            "## Inbox",
            _table(
                ["file", "status", "source", "landed at", "note"],
                [[lnd.inbox_path, lnd.status, lnd.source, lnd.target_path, lnd.message] for lnd in report.landings],
            ),
        ]
    return "\n".join(out) + "\n"


def record(report: RunSummary) -> dict[str, object]:
    """The run as JSON (what `payerbench status` reads)."""
    ended = report.started_at + dt.timedelta(seconds=report.elapsed_s)
    return {
        "run_id": report.run_id,
        "flow": report.flow,
        "status": report.status,
        "error": report.error,
        "started_at": report.started_at.isoformat(),
        "ended_at": ended.isoformat(),
        "elapsed_s": round(report.elapsed_s, 3),
        "files": {
            "seen": len(report.records),
            "loaded": report.count(*COMMITTED),
            "unchanged": report.count("unchanged"),
            "rejected": report.count("rejected"),
            "failed": report.count("failed"),
        },
        "datasets": [asdict(d) for d in report.datasets],
        "warehouse": {
            "rebuilt": report.warehouse_rebuilt,
            "reason": report.warehouse_reason,
            "marts_rebuilt": report.marts_rebuilt,
        },
        "reports": {
            "rendered": report.reports_rendered,
            "unchanged": report.reports_unchanged,
            "errors": report.report_errors,
        },
        "inbox": [asdict(lnd) for lnd in report.landings],
        "fetched": report.fetched,
        "problems": report.problems,
        **report.process,
        "command": report.command,
    }


def write_started(tracker: RunTracker) -> None:
    """runs/<run_id>.json saying the run started (replaced by its full record when it ends)."""
    started = {
        "run_id": tracker.run_id,
        "flow": tracker.flow,
        "status": leftovers.STARTED,
        "error": None,
        "started_at": tracker.started_at.isoformat(),
        "ended_at": None,
        **tracker.process,
        "command": tracker.command,
        "problems": [],
    }
    _write(tracker.settings.runs_dir / f"{tracker.run_id}.json", json.dumps(started, indent=1, default=str))


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)


def publish(report: RunSummary, settings: Settings) -> None:
    """Write runs/<run_id>.json and .md, and the Prefect artifact (when inside a flow run)."""
    markdown = to_markdown(report)
    folder = settings.runs_dir
    for suffix, text in ((".md", markdown), (".json", json.dumps(record(report), indent=1, default=str))):
        _write(folder / f"{report.run_id}{suffix}", text)
    from flows.orchestration import in_prefect_run

    if not in_prefect_run():
        return
    from prefect.artifacts import create_markdown_artifact

    try:
        create_markdown_artifact(
            markdown=markdown,
            key=artifact_key(report.flow),
            description=f"payerbench {report.flow} run {report.run_id}: {report.status}",
        )
    except Exception as exc:  # noqa: BLE001 - the API being away must not fail a run that loaded fine
        log.warning("could not publish the run report as a Prefect artifact (%s); it is in %s", exc, folder)


def artifact_key(flow: str) -> str:
    """Prefect artifact keys are lower-case letters, digits and dashes."""
    return "payerbench-" + flow.replace("_", "-").lower()


def read_runs(settings: Settings) -> list[dict[str, object]]:
    """Every run record, oldest first."""
    folder = settings.runs_dir
    runs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(runs, key=lambda r: str(r.get("started_at")))


def latest_runs(settings: Settings) -> dict[str, dict[str, object]]:
    """The latest run record of each flow."""
    return {str(r["flow"]): r for r in read_runs(settings)}


def effective_status(run: dict[str, object]) -> str:
    """A record's status as of now: a `started` run whose process is gone (on this host) is `crashed`
    even before the next writer rewrites its record; one still going is `running`."""
    status = str(run.get("status"))
    if status == leftovers.STARTED:
        return leftovers.CRASHED if leftovers.run_alive(run) is False else "running"
    return status
