"""Flows and tasks run as plain calls without a Prefect API, and through Prefect with one."""

from __future__ import annotations

import logging

import prefect
import pytest

from flows import orchestration
from flows.orchestration import flow, run_logger, task


@task(name="double")
def double(x: int) -> tuple[int, bool]:
    return 2 * x, orchestration.in_prefect_run()


@flow(name="outer")
def outer(x: int) -> dict[str, object]:
    inner, inner_in_run = double(x)
    submitted = double.submit(x + 1).result()
    return {
        "in_run": orchestration.in_prefect_run(),
        "inner": inner,
        "inner_in_run": inner_in_run,
        "submitted": submitted[0],
        "logger": run_logger(),
    }


def test_without_an_api_a_flow_and_its_tasks_are_plain_calls() -> None:
    assert orchestration.plain_call()
    result = outer(3)
    assert result["in_run"] is False and result["inner_in_run"] is False
    assert (result["inner"], result["submitted"]) == (6, 8)
    assert result["logger"] is logging.getLogger("payerbench")
    from prefect.settings import PREFECT_API_URL

    assert PREFECT_API_URL.value() is None  # nothing started an API on the way


def test_the_decorated_objects_stay_prefect_flows_and_tasks() -> None:
    """Deployments (prefect.yaml entrypoints, `payerbench serve`) load them as Prefect objects."""
    from flows.ingest import ingest, load_file_task
    from flows.run_pipeline import run_pipeline

    assert isinstance(ingest, prefect.Flow) and isinstance(run_pipeline, prefect.Flow)
    assert isinstance(load_file_task, prefect.Task)
    assert isinstance(ingest, orchestration.LocalFlow) and ingest.name == "ingest"
    assert isinstance(outer.with_options(name="renamed"), prefect.Flow)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_with_an_api_they_run_through_prefect() -> None:
    assert not orchestration.plain_call()
    result = outer(3)
    assert result["in_run"] is True and result["inner_in_run"] is True
    assert (result["inner"], result["submitted"]) == (6, 8)
    assert result["logger"] is not logging.getLogger("payerbench")  # Prefect's run logger


def test_after_a_prefect_test_the_next_one_has_no_api_again() -> None:
    assert orchestration.plain_call()  # the autouse fixture: no API, even once a harness started


def test_a_plain_submit_hands_back_its_result_at_once() -> None:
    future = double.submit(5)
    assert future.result() == (10, False)
    assert future.wait() is None


@pytest.mark.parametrize("option", [{"return_state": True}])
def test_asking_for_prefect_state_goes_through_prefect(
    option: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(prefect.Task, "__call__", lambda self, *a, **k: calls.append(k) or "via prefect")
    assert double(1, **option) == "via prefect"
    assert calls == [option | {"wait_for": None}]
