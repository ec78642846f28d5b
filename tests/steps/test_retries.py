"""Retries: only around I/O that can fail transiently; no task ever retries a data error."""

from __future__ import annotations

import errno
import importlib
import pkgutil
import urllib.error

import pytest
from prefect import Task
from prefect.states import Failed

import flows
from flows.errors import ConfigurationError, NoWarehouse
from flows.orchestration import Deferred
from flows.sources.base import FileRejected
from flows.steps.retries import is_transient, retry_transient_io


def every_task() -> list[Task]:
    """Every Prefect task defined anywhere under flows/."""
    found: dict[str, Task] = {}
    for module in pkgutil.walk_packages(flows.__path__, "flows."):
        if module.name.endswith("__main__"):  # the CLI entry point runs on import
            continue
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if isinstance(value, Deferred):  # a module imported before Prefect was: its real task on demand
                value = value.prefect
            if isinstance(value, Task):
                found[f"{value.fn.__module__}.{value.name}"] = value
    return [found[k] for k in sorted(found)]


DATA_ERRORS = [
    FileRejected("x.csv", "missing required column 'billing_code'"),
    ValueError("bad value"),
    KeyError("billing_code"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    NoWarehouse("no warehouse"),
    ConfigurationError("PAYERBENCH_CHUNK_ROWS='ten' is not a number"),
    urllib.error.HTTPError("https://x", 404, "Not Found", None, None),
]  # type: ignore[arg-type]
TRANSIENT = [
    OSError(errno.EIO, "I/O error"),
    OSError(errno.ESTALE, "Stale file handle"),
    TimeoutError("read timed out"),
    urllib.error.HTTPError("https://x", 503, "Service Unavailable", None, None),  # type: ignore[arg-type]
    urllib.error.URLError(ConnectionResetError(errno.ECONNRESET, "reset")),
]


def test_the_tasks_are_found() -> None:
    names = {task.name for task in every_task()}
    assert {"load_file", "download_tic_file", "land_files", "render_report"} <= names


@pytest.mark.parametrize("task", every_task(), ids=lambda t: t.name)
def test_no_task_retries_a_data_error(task: Task) -> None:
    if task.retries == 0:
        return  # never retries at all (loads return a `rejected` record rather than raising)
    assert task.retry_condition_fn is not None, f"{task.name} retries every error, data errors included"
    for error in DATA_ERRORS:
        assert task.retry_condition_fn(task, None, Failed(data=error)) is False, (task.name, error)


@pytest.mark.parametrize("task", [t for t in every_task() if t.retries], ids=lambda t: t.name)
def test_tasks_that_retry_do_so_on_transient_io_with_backoff(task: Task) -> None:
    for error in TRANSIENT:
        assert task.retry_condition_fn(task, None, Failed(data=error)) is True, (task.name, error)
    delays = task.retry_delay_seconds
    assert isinstance(delays, list) and delays == sorted(delays) and delays[0] > 0  # backing off


def test_loads_never_retry() -> None:
    [load] = [t for t in every_task() if t.name == "load_file"]
    assert load.retries == 0


def test_transient_is_about_the_error_not_the_message() -> None:
    assert is_transient(OSError(errno.EAGAIN, "try again"))
    assert not is_transient(OSError(errno.ENOENT, "No such file"))  # a missing file stays missing
    assert not is_transient(PermissionError(errno.EACCES, "denied"))
    assert retry_transient_io(None, None, Failed(data=OSError(errno.EBUSY, "busy"))) is True
