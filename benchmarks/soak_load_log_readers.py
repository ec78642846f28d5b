"""Soak: readers of the load log never fail while a writer appends, merges, rebuilds and prunes.

Reader processes loop on what analysts, `status` and `report` do: DuckDB read-only sessions asking
`load_log` and marts that read it (`stg_source_file` joined to it, `hospital_rate_summary`), and
`load_log.read()`. Meanwhile one writer (this process, as a run holding the writer lock would)
appends attempts, merges the log into a new generation every `at` parts, rebuilds DuckDB every
`build_every` seconds and prunes old generations after `grace` seconds. Every reader error is
counted, as is a row count that goes backwards or a load_id seen twice.

tests/steps/test_readers_during_compaction.py runs it for a few seconds; the longer run:

    PYTHONPATH=$PWD .venv/bin/python benchmarks/soak_load_log_readers.py [--seconds 60] [--readers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import queue
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flows import catalog  # noqa: E402
from flows.settings import Settings  # noqa: E402
from flows.steps import load_log, warehouse  # noqa: E402
from flows.steps.lock import warehouse_lock  # noqa: E402

QUERY = """
select rows, distinct_ids,
       (select count(*) from stg_source_file s join load_log l using (load_id)),
       (select count(*) from hospital_rate_summary)
from (select count(*) as rows, count(distinct load_id) as distinct_ids from load_log)
"""  # both counts from one scan of the view: an append between two scans is not a duplicate


@dataclass
class ReaderTally:
    kind: str
    reads: int = 0
    errors: int = 0
    backwards: int = 0  # a row count lower than the one read before
    duplicates: int = 0  # a read holding some load_id twice
    first_errors: list[str] = field(default_factory=list)

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.first_errors) < 3:
            self.first_errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")


@dataclass
class SoakResult:
    seconds: float
    appends: int
    compactions: int
    builds: int
    generations_pruned: int
    readers: list[ReaderTally]

    @property
    def reads(self) -> int:
        return sum(r.reads for r in self.readers)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.readers)

    def summary(self) -> str:
        lines = [
            f"{self.seconds:.0f} s: {self.appends} appends, {self.compactions} compactions, {self.builds} builds, "
            f"{self.generations_pruned} generations pruned; {self.reads} reads, {self.errors} reader errors"
        ]
        for r in self.readers:
            lines.append(
                f"  {r.kind}: {r.reads} reads, {r.errors} errors, {r.backwards} went backwards, "
                f"{r.duplicates} with duplicate load_ids" + "".join(f"\n    {e}" for e in r.first_errors)
            )
        return "\n".join(lines)


def _duckdb_reader(database: str, ready, stop, out) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    tally, last = ReaderTally("duckdb load_log + marts"), 0
    ready.set()
    while not stop.is_set():
        try:
            con = duckdb.connect(database, read_only=True)
            try:
                rows, distinct, _, _ = con.execute(QUERY).fetchone()
            finally:
                con.close()
        except Exception as exc:  # noqa: BLE001 - every failure is what the soak counts
            tally.failed(exc)
            continue
        tally.reads += 1
        tally.backwards += rows < last
        tally.duplicates += distinct != rows
        last = rows
    out.put(tally)


def _python_reader(lake: str, ready, stop, out) -> None:  # type: ignore[no-untyped-def]
    tally, last = ReaderTally("load_log.read()"), 0
    ready.set()
    while not stop.is_set():
        try:
            frame = load_log.read(Path(lake))
        except Exception as exc:  # noqa: BLE001
            tally.failed(exc)
            continue
        tally.reads += 1
        tally.backwards += len(frame) < last
        tally.duplicates += bool(frame["load_id"].duplicated().any())
        last = len(frame)
    out.put(tally)


def _attempt(lake: Path, number: int) -> None:
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=number)
    status = "loaded" if number % 2 else "unchanged"  # committed ones reach stg_source_file and the marts
    load_log.append(
        lake,
        load_log.LoadRecord(
            load_id=f"soak-{number:07d}",
            run_id=f"soak-run-{number // 10}",
            source="payer_policy",
            source_file=f"soak_{number % 7}.csv",
            source_path="raw/payer_policy",
            source_sha256=f"{number:064x}",
            file_bytes=100,
            started_at=started,
            status=status,
            ended_at=started,
        ),
    )


def soak(
    root: Path,
    seconds: float,
    readers: int = 2,
    at: int = 4,
    grace: float = 2.0,
    build_every: float = 3.0,
    min_builds: int = 0,
    min_pruned: int = 0,
) -> SoakResult:
    """Run the writer for `seconds` against `readers` DuckDB reader processes and one `read()` process,
    and on (up to 3 x `seconds`) until it has rebuilt `min_builds` times and pruned `min_pruned`
    generations (a busy machine builds slowly)."""
    settings = Settings(
        raw_dir=root / "raw",
        warehouse_dir=root / "warehouse",
        reports_dir=root / "reports",
        inbox_dir=root / "inbox",
        render_reports=False,
        log_grace_seconds=grace,
    )
    lake = settings.lake_dir
    number = 0
    for number in range(4):
        _attempt(lake, number)
    warehouse.build(settings, catalog.SCHEMAS)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding DuckDB and Arrow threads
    stop, out = context.Event(), context.Queue()
    workers = []
    for index in range(readers + 1):
        ready = context.Event()
        target, arg = (_duckdb_reader, str(settings.duckdb_path)) if index < readers else (_python_reader, str(lake))
        worker = context.Process(target=target, args=(arg, ready, stop, out), daemon=True)
        worker.start()
        workers.append((worker, ready))
    for _, ready in workers:
        ready.wait(120)
    appends = compactions = builds = pruned = 0
    started = time.monotonic()
    last_build = started
    try:

        def going() -> bool:
            elapsed = time.monotonic() - started
            return elapsed < seconds or (elapsed < 3 * seconds and (builds < min_builds or pruned < min_pruned))

        while going():
            with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
                for _ in range(2):
                    number += 1
                    _attempt(lake, number)
                    appends += 1
                compactions += bool(load_log.compact(lake, at))
                if time.monotonic() - last_build >= build_every:
                    builds += warehouse.build_if_changed(settings, catalog.SCHEMAS).rebuilt
                    last_build = time.monotonic()
                pruned += len(
                    load_log.prune(lake, settings.log_grace_seconds, warehouse.log_generation_in_use(settings))
                )
            time.sleep(0.01)
    finally:
        elapsed = time.monotonic() - started
        stop.set()
        tallies = []
        for _ in workers:
            try:
                tallies.append(out.get(timeout=120))
            except queue.Empty:
                tallies.append(ReaderTally("a reader that never reported", errors=1, first_errors=["no report"]))
        for worker, _ in workers:
            worker.join(10)
    return SoakResult(elapsed, appends, compactions, builds, pruned, tallies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--readers", type=int, default=2, help="DuckDB reader processes (plus one read() process)")
    parser.add_argument("--at", type=int, default=4, help="merge the log every this many parts")
    parser.add_argument("--grace", type=float, default=2.0, help="seconds an old generation stays")
    parser.add_argument(
        "--build-every",
        type=float,
        default=3.0,
        help="seconds between rebuilds (above --grace, or pruning never comes: it waits the grace "
        "period after the latest build that moved to a new generation)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soak-load-log-") as tmp:
        result = soak(Path(tmp), args.seconds, args.readers, args.at, args.grace, args.build_every)
    print(result.summary())
    return 1 if result.errors or any(r.backwards or r.duplicates for r in result.readers) else 0


if __name__ == "__main__":
    raise SystemExit(main())
