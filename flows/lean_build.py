"""An ingest's warehouse build, in the same process re-executed without pandas (`python -c BOOT ...`).

`payerbench ingest` loads with pandas, pandera and pyarrow imported (~170 MB before the first row, ~270 MB at the
end of a 1 GB TiC load, much of which the allocator keeps), then builds DuckDB, whose +100 MB landed on top of that.
Run as the command (the console script, whose `sys.argv[0]` is `payerbench`, and `python -m flows`: flows/cli.py
`main`), on POSIX, with
no Prefect API configured (under one the flow keeps its in-process build, so its flow and task runs are recorded),
the ingest flow ends its load phase here instead (`exec_build`): the process replaces itself with
`os.execve(sys.executable, [..., "-c", BOOT, <sys.path>, <handover>])` (this image's sys.path and interpreter
flags; the environment unchanged). The pid stays (shells, supervisors and
`bench_tic_ingest.py` see one process); the pandas image is gone, and the build starts near 60 MB.

The handover is a small JSON file in the warehouse folder (removed by the new image as soon as it is read). It
carries what the build needs of the catalog's Pandera schemas and of the Arrow layouts (`warehouse.Datasets`: the
view comments, the schema fingerprint, the empty files), what the new image would otherwise read with Arrow (the load
log's rows, read under the writer lock that is still held, so they cannot change; the run's rows per dataset and
quarantine reasons), the settings, the run being tracked (flows/ops/run_summary.py: its records, start, command; the
new image resumes and publishes it, so runs/<run_id>.json is the one an in-process build writes), what the command
prints after it (the load table) and the writer lock's descriptor (flows/steps/lock.py `inheritable`: handed across
the exec, not released and taken again). The new image imports neither pandas nor pandera nor Arrow, only DuckDB and
rich. It then does what the rest of the command would have: the build (`build_warehouse.build_with`), the run
record, the load table, the exit status (1 when a file was rejected or failed, even after a good build; a build
that fails prints the message `main` prints and exits with its error's code).

Everything else builds in-process as before: Windows, a Prefect API, `flows.cli.main(...)` called by a program or
a test (`main([...])`, or `main()` in a process that is not the console script), `payerbench build`, `run` (it renders reports after its build, with the libraries this avoids), and an
ingest whose plan finds nothing to build.

The lean build keeps the build's settings (PAYERBENCH_BUILD_THREADS 2, PAYERBENCH_BUILD_MEMORY_LIMIT 112MB), the
environment's when set. On the 1 GB TiC ingest (idle 2-core machine, alternating) the build took 0.5 s less with two
threads than with one and peaked at about 190 MB, against 184 MB: below the load phase's 213-223 MB, which stays the
ingest's peak. (Measured while the machine's other core was busy, an earlier round had found two threads no faster
and out of memory within 112MB; since tic_rate_summary reads the TiC rows once fewer they fit.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from flows.ops.run_summary import RunTracker
    from flows.steps.load_log import LoadRecord

log = logging.getLogger(__name__)
HANDOVER_PREFIX = ".payerbench-build.json.tmp-"
"""The handover file: `<warehouse>/.payerbench-build.json.tmp-<pid>`, a name flows/steps/leftovers.py removes once its
process is gone (killed between writing it and the new image reading it)."""
BOOT = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from flows.lean_build import main; raise SystemExit(main(sys.argv[2:]))"
"""What the new image runs (`python -c BOOT <sys.path as JSON> <handover>`): this image's sys.path, then `main`."""
PANDAS_FREE_MARK = "PAYERBENCH_LEAN_BUILD_MARK"
"""Tests only: a file the lean image writes, saying which heavy modules it had imported when its build ended."""

_command: dict[str, str] | None = None
"""Set by `allowed` around a command that may end in an exec'd build: its name and its load table's title."""


@contextlib.contextmanager
def allowed(command: str, title: str) -> Iterator[None]:
    """Within the block, an ingest flow may hand its build to a re-executed lean image (`exec_build`); `command`
    and `title` are what the CLI would print (errors as `payerbench <command>: ...`, the load table's title)."""
    global _command
    previous, _command = _command, {"command": command, "title": title}
    try:
        yield
    finally:
        _command = previous


def may_exec() -> bool:
    """Whether the build may leave this process: the CLI allowed it, POSIX, no Prefect API and no Prefect run, and
    Prefect not even imported (a Dask task runner's temporary server: its state would not cross the exec)."""
    if _command is None or os.name != "posix" or not hasattr(os, "execve"):
        return False
    from flows import orchestration

    return orchestration.plain_call() and not orchestration.prefect_imported()


# --- the loading image ----------------------------------------------------------------------------------------
def exec_build(settings: Settings, run: RunTracker, records: Sequence[LoadRecord]) -> None:
    """Replace this process with the lean build (never returns), when a build is needed and `may_exec`; returns
    (nothing done) otherwise, and the caller builds in-process. Hold the writer lock when calling it."""
    if not may_exec() or run.landings or not sys.executable:  # (no interpreter to exec: an embedding program)
        return
    from flows import catalog
    from flows.ops import run_summary
    from flows.steps import load_log, lock, warehouse
    from flows.steps.lake import lake_root

    datasets = warehouse.datasets_of(catalog.SCHEMAS)
    current = warehouse.plan(settings, datasets)
    if not current.needed:  # nothing to build: the in-process `build_if_changed` says so at once
        return
    assert _command is not None
    generation, log_rows = load_log.read_rows(lake_root(settings), warehouse.LOG_COLUMNS)
    rows, reasons = run_summary.dataset_rows(lake_root(settings), run.records)
    handover = {
        "settings": _settings_to_json(settings),
        "datasets": {
            "docs": dict(datasets),
            "fingerprint": datasets.fingerprint,
            "empty": {k: str(v) for k, v in datasets.empty_files(settings, str(current.state["schema"])).items()},
            "system_schemas": list(datasets.system_schemas),
        },
        # what the new image would read with Arrow: the load log (unchanged while the lock is held), the run's rows
        "log": {"generation": generation, "rows": log_rows},
        "rows": [[dataclasses.asdict(r) for r in rows], [dataclasses.asdict(r) for r in reasons]],
        "run": _tracker_to_json(run),
        "records": [_record_to_json(r) for r in records],
        "command": _command,
        "lock_fd": lock.inheritable(settings.warehouse_dir),
        "mark": os.environ.get(PANDAS_FREE_MARK),
    }
    name = str(settings.warehouse_dir / f"{HANDOVER_PREFIX}{os.getpid()}")
    try:
        with open(name, "w", encoding="utf-8") as handle:
            json.dump(handover, handle)
        _flush()
        # the new image imports from this one's sys.path, not from where it starts: `-m` would put the working
        # folder first, and a folder holding a `flows` package of its own (a Prefect project's, another checkout)
        # would be imported instead of this one (the console script never looks there); the interpreter's flags
        # (-X, -W, -O, -I ...) go along as multiprocessing passes them, the environment as it is
        flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
        os.execve(
            sys.executable,
            [sys.executable, *flags, "-c", BOOT, json.dumps([p for p in sys.path if isinstance(p, str)]), name],
            dict(os.environ),
        )
    except Exception:  # no exec after all (it failed, or the handover could not be written): the build runs here
        log.warning("could not hand the warehouse build to a new process image; building in this one", exc_info=True)
        _take_back(handover["lock_fd"], name)
    except BaseException:  # an interrupt: the run ends here as it would have,
        _take_back(handover["lock_fd"], name)  # leaving no handover (and no inheritable lock) behind
        raise


def _take_back(lock_fd: int, name: str) -> None:
    """Undo a handover that did not happen: the lock's descriptor no longer inheritable, the file gone."""
    os.set_inheritable(lock_fd, False)
    Path(name).unlink(missing_ok=True)


def _flush() -> None:
    """What this image printed or logged reaches its destination before the exec discards its buffers."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", ()):
            with contextlib.suppress(Exception):
                handler.flush()
    with contextlib.suppress(Exception):
        logging.lastResort.flush()  # type: ignore[union-attr]


def _settings_to_json(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, Path):
            value = {"path": str(value)}
        elif isinstance(value, tuple):
            value = {"paths": [str(p) for p in value]}
        out[f.name] = value
    return out


def _settings_from_json(data: dict[str, Any]) -> Settings:
    values = {}
    for name, value in data.items():
        if isinstance(value, dict) and "path" in value:
            value = Path(value["path"])
        elif isinstance(value, dict) and "paths" in value:
            value = tuple(Path(p) for p in value["paths"])
        values[name] = value
    return Settings(**values)


def _record_to_json(record: LoadRecord) -> dict[str, Any]:
    out = dataclasses.asdict(record)
    for key in ("started_at", "ended_at"):
        out[key] = out[key].isoformat() if out[key] is not None else None
    return out


def _record_from_json(data: dict[str, Any]) -> LoadRecord:
    from flows.steps.load_log import LoadRecord

    for key in ("started_at", "ended_at"):
        data[key] = dt.datetime.fromisoformat(data[key]) if data[key] is not None else None
    return LoadRecord(**data)


def _tracker_to_json(run: RunTracker) -> dict[str, Any]:
    return {
        "flow": run.flow,
        "run_id": run.run_id,
        "started_at": run.started_at.isoformat(),
        "elapsed": time.perf_counter() - run.started,
        "records": [_record_to_json(r) for r in run.records],
        "fetched": list(run.fetched),
        "fetch_problems": list(run.fetch_problems),
        "process": dict(run.process),
        "command": run.command,
        "build": None if run.build is None else _build_to_json(run.build),
    }


def _build_to_json(result: Any) -> dict[str, Any]:
    out = dataclasses.asdict(result)
    out["path"] = str(result.path)
    return out


# --- the lean image ----------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """`python -c BOOT <sys.path> <handover.json>` (or `python -m flows.lean_build <handover.json>`): the rest of the
    command `exec_build` was called from."""
    path = Path((sys.argv[1:] if argv is None else argv)[0])
    try:
        handover = json.loads(path.read_text(encoding="utf-8"))
    finally:
        path.unlink(missing_ok=True)
    command = handover["command"]
    from flows.ops.console import exit_code

    return exit_code(command["command"], lambda: _finish(handover))  # an interrupt from here on exits 130


def _finish(handover: dict[str, Any]) -> int:
    """The build, the run record, the load table and the exit status of the command `exec_build` left."""
    from flows.build_warehouse import build_with
    from flows.ops import run_summary
    from flows.ops.console import exit_for, print_load_table
    from flows.steps import load_log, lock, warehouse
    from flows.steps.lake import lake_root

    settings = _settings_from_json(handover["settings"])
    given = handover["datasets"]
    empty = {k: Path(v) for k, v in given["empty"].items()}
    datasets = warehouse.Datasets(
        given["docs"], given["fingerprint"], lambda _settings, _key: empty, tuple(given["system_schemas"])
    )
    load_log.seed_rows(
        lake_root(settings), warehouse.LOG_COLUMNS, handover["log"]["generation"], handover["log"]["rows"]
    )
    records = [_record_from_json(r) for r in handover["records"]]
    tracker = _tracker_from_json(handover["run"], settings)
    rows, reasons = handover["rows"]
    tracker.rows = (
        [run_summary.DatasetRows(**r) for r in rows],
        [run_summary.QuarantineReason(**r) for r in reasons],
    )
    with run_summary.resumed(tracker), lock.adopted(settings.warehouse_dir, handover["lock_fd"]):
        build_with(settings, datasets, if_changed=True)
        if handover.get("mark"):
            _mark(Path(handover["mark"]))
    print_load_table(records, handover["command"]["title"])
    return exit_for(records)


def _tracker_from_json(data: dict[str, Any], settings: Settings) -> RunTracker:
    from flows.ops.run_summary import RunTracker
    from flows.steps.warehouse import BuildResult

    tracker = RunTracker(
        data["flow"],
        data["run_id"],
        settings,
        started_at=dt.datetime.fromisoformat(data["started_at"]),
        started=time.perf_counter() - data["elapsed"],
        records=[_record_from_json(r) for r in data["records"]],
        fetched=data["fetched"],
        fetch_problems=data["fetch_problems"],
        process=data["process"],
        command=data["command"],
    )
    if data["build"] is not None:
        built = data["build"]
        tracker.build = BuildResult(**{**built, "path": Path(built["path"])})
    return tracker


def _mark(path: Path) -> None:
    heavy = sorted(m for m in ("pandas", "pandera", "pyarrow", "flows.catalog", "flows.steps.load") if m in sys.modules)
    path.write_text(json.dumps({"pid": os.getpid(), "heavy": heavy}), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
