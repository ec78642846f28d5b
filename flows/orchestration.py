"""Prefect where it earns its place, plain calls where it would only cost.

The pipeline's flows and tasks are Prefect flows and tasks (deployments, `payerbench serve`, runs
against a configured Prefect server keep their flow and task runs, retries and artifacts). Called
in a process that has no Prefect API configured (`PREFECT_API_URL` unset) and outside any Prefect
run, a Prefect flow would first start a temporary API server; here such a call runs the function's
body directly instead (Prefect keeps it as `.fn`), as a program, a notebook or a test would expect.
The project's own run record and summary (flows/ops/run_summary.py) are written either way.

`flow` and `task` are Prefect's decorators, whose objects behave so; `run_logger()` is Prefect's run
logger inside a Prefect run and the `payerbench` logger outside one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from prefect import Flow, Task
from prefect import flow as prefect_flow
from prefect import task as prefect_task

LOGGER = logging.getLogger("payerbench")


def in_prefect_run() -> bool:
    """True inside a Prefect flow or task run."""
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def prefect_api_configured() -> bool:
    """True when a Prefect API is configured (a server, Prefect Cloud, or the test harness's)."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def plain_call() -> bool:
    """True when a flow or task called now runs as a plain function: no API configured, no Prefect run."""
    return not prefect_api_configured() and not in_prefect_run()


class _Done:
    """What `submit` returns for a task run as a plain call: its result, already there."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value

    def wait(self) -> None:
        return None


class LocalFlow(Flow):
    """A Prefect flow that runs its body directly when `plain_call()` (see the module's doc)."""

    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        if plain_call() and not return_state and wait_for is None:
            return self.fn(*args, **kwargs)
        return super().__call__(*args, return_state=return_state, wait_for=wait_for, **kwargs)


class LocalTask(Task):
    """A Prefect task that runs its body directly when `plain_call()` (see the module's doc)."""

    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        if plain_call() and not return_state and wait_for is None:
            return self.fn(*args, **kwargs)
        return super().__call__(*args, return_state=return_state, wait_for=wait_for, **kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        if plain_call() and not kwargs.get("return_state") and kwargs.get("wait_for") is None:
            return _Done(self.fn(*args, **kwargs))
        return super().submit(*args, **kwargs)


def flow(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`prefect.flow`, whose flow runs as a plain call outside Prefect (see the module's doc)."""

    def decorate(function: Callable[..., Any]) -> LocalFlow:
        made = prefect_flow(**options)(function)
        made.__class__ = LocalFlow
        return made

    return decorate(fn) if fn is not None else decorate


def task(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`prefect.task`, whose task runs as a plain call outside Prefect (see the module's doc)."""

    def decorate(function: Callable[..., Any]) -> LocalTask:
        made = prefect_task(**options)(function)
        made.__class__ = LocalTask
        return made

    return decorate(fn) if fn is not None else decorate


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """Prefect's run logger inside a Prefect run (its lines reach the server), else the `payerbench` logger."""
    if in_prefect_run():
        from prefect import get_run_logger

        return get_run_logger()
    return LOGGER
