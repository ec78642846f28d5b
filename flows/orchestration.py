"""Prefect where it earns its place, plain calls where it would only cost.

The pipeline's flows and tasks are Prefect flows and tasks (deployments, `payerbench serve`, runs
against a configured Prefect server keep their flow and task runs, retries and artifacts). Called
in a process that has no Prefect API configured (`PREFECT_API_URL` unset) and outside any Prefect
run, a Prefect flow would first start a temporary API server; here such a call runs the function's
body directly instead (Prefect keeps it as `.fn`), as a program, a notebook or a test would expect.
This is the path Prefect's own documentation gives for running a flow's or task's function without the
engine ("Test the underlying function without the engine: use .fn() to call the wrapped function
directly", https://docs.prefect.io/v3/how-to-guides/workflows/test-workflows); the temporary server is
Prefect's ephemeral mode (`server.ephemeral.enabled`, `PREFECT_SERVER_EPHEMERAL_ENABLED`,
https://docs.prefect.io/v3/develop/settings-ref), which only starts when a client is asked for.
The project's own run record and summary (flows/ops/run_summary.py) are written either way.

Importing Prefect alone takes about a second, so a local run does not: in a process that has not
imported Prefect, `flow` and `task` give a `Deferred` object, which runs plain calls without it and
builds the Prefect flow or task on first need (an API configured, a Prefect run around it, or any
Prefect attribute: `with_options`, `to_deployment`, `name`...). Where Prefect is already imported
(a worker loading a deployment's entrypoint, `payerbench serve`, the tests) they are Prefect objects
at once, as Prefect's `load_flow_from_entrypoint` requires. Either way the calls behave the same.

`run_logger()` is Prefect's run logger inside a Prefect run and the `payerbench` logger outside one.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger("payerbench")

NO_CACHE = "NO_CACHE"
"""`cache_policy=NO_CACHE`: Prefect's `prefect.cache_policies.NO_CACHE`, named without importing Prefect."""


def prefect_imported() -> bool:
    """True once this process imported Prefect (nothing can be in a Prefect run before)."""
    return "prefect" in sys.modules


def in_prefect_run() -> bool:
    """True inside a Prefect flow or task run."""
    if "prefect.context" not in sys.modules:  # no run without Prefect's run context
        return False
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def api_may_be_configured() -> bool:
    """False only when no Prefect setting can name an API: no PREFECT_API_URL in the environment, no
    .env, prefect.toml or [tool.prefect] here, no profiles file naming one (Prefect's settings sources,
    https://docs.prefect.io/v3/develop/settings-and-profiles). True means: ask Prefect."""
    if any(name.upper() in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH") for name in os.environ):
        return True
    if Path(".env").exists() or Path("prefect.toml").exists():
        return True
    try:
        if "tool.prefect" in Path("pyproject.toml").read_text(encoding="utf-8"):
            return True
    except (OSError, UnicodeDecodeError):
        pass
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
    try:
        return "api_url" in (home / "profiles.toml").read_text(encoding="utf-8").lower()
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True


def prefect_api_configured() -> bool:
    """True when a Prefect API is configured (a server, Prefect Cloud, or the test harness's)."""
    if not prefect_imported() and not api_may_be_configured():
        return False
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


@functools.cache
def _prefect_classes() -> tuple[type, type]:
    """`LocalFlow` and `LocalTask`: Prefect's Flow and Task, run as plain calls when `plain_call()`."""
    from prefect import Flow, Task

    class LocalFlow(Flow):
        def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
            if plain_call() and not return_state and wait_for is None:
                return self.fn(*args, **kwargs)
            return super().__call__(*args, return_state=return_state, wait_for=wait_for, **kwargs)

    class LocalTask(Task):
        def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
            if plain_call() and not return_state and wait_for is None:
                return self.fn(*args, **kwargs)
            return super().__call__(*args, return_state=return_state, wait_for=wait_for, **kwargs)

        def submit(self, *args: Any, **kwargs: Any) -> Any:
            if plain_call() and not kwargs.get("return_state") and kwargs.get("wait_for") is None:
                return _Done(self.fn(*args, **kwargs))
            return super().submit(*args, **kwargs)

    LocalFlow.__module__ = LocalTask.__module__ = __name__
    return LocalFlow, LocalTask


def __getattr__(name: str) -> type:
    """`orchestration.LocalFlow` / `LocalTask` (importing Prefect)."""
    if name in ("LocalFlow", "LocalTask"):
        return _prefect_classes()[name == "LocalTask"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _prefect_object(function: Callable[..., Any], options: dict[str, Any], kind: str) -> Any:
    """The Prefect flow or task of `function` (a `LocalFlow` / `LocalTask`)."""
    import prefect

    if options.get("cache_policy") == NO_CACHE:
        from prefect.cache_policies import NO_CACHE as prefect_no_cache

        options = {**options, "cache_policy": prefect_no_cache}
    made = getattr(prefect, kind)(**options)(function)
    made.__class__ = _prefect_classes()[kind == "task"]
    return made


class Deferred:
    """A flow or task not yet built in Prefect (see the module's doc): plain calls run `fn`, anything
    else goes to the Prefect object, built on first need."""

    def __init__(self, function: Callable[..., Any], options: dict[str, Any], kind: str) -> None:
        self.fn = function
        self._options, self._kind = options, kind
        functools.update_wrapper(self, function)

    @functools.cached_property
    def prefect(self) -> Any:
        """The Prefect flow or task."""
        return _prefect_object(self.fn, self._options, self._kind)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if plain_call() and not kwargs.get("return_state") and kwargs.get("wait_for") is None:
            return self.fn(*args, **{k: v for k, v in kwargs.items() if k not in ("return_state", "wait_for")})
        return self.prefect(*args, **kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        if plain_call() and not kwargs.get("return_state") and kwargs.get("wait_for") is None:
            return _Done(self.fn(*args, **{k: v for k, v in kwargs.items() if k not in ("return_state", "wait_for")}))
        return self.prefect.submit(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # only for what is not set here: Prefect's attributes
        if name.startswith("__") or name in ("prefect", "_options", "_kind"):
            raise AttributeError(name)
        return getattr(self.prefect, name)


def _decorator(kind: str, fn: Callable[..., Any] | None, options: dict[str, Any]) -> Any:
    def decorate(function: Callable[..., Any]) -> Any:
        if prefect_imported():
            return _prefect_object(function, options, kind)
        return Deferred(function, options, kind)

    return decorate(fn) if fn is not None else decorate


def flow(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`prefect.flow`, whose flow runs as a plain call outside Prefect (see the module's doc)."""
    return _decorator("flow", fn, options)


def task(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`prefect.task`, whose task runs as a plain call outside Prefect (see the module's doc)."""
    return _decorator("task", fn, options)


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """Prefect's run logger inside a Prefect run (its lines reach the server), else the `payerbench` logger."""
    if in_prefect_run():
        from prefect import get_run_logger

        return get_run_logger()
    return LOGGER
