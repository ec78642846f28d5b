"""Flows and tasks run as plain calls without a Prefect API, and through Prefect with one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import prefect
import pytest

from flows import orchestration
from flows.orchestration import flow, run_logger, task

PROJECT = Path(__file__).resolve().parents[1]


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


def _prefect_of(made: object) -> object:
    return made.prefect if isinstance(made, orchestration.Deferred) else made


def test_the_decorated_objects_are_prefect_flows_and_tasks_when_prefect_is_asked() -> None:
    """Deployments (prefect.yaml entrypoints, `payerbench serve`) use them as Prefect objects."""
    from flows.ingest import ingest, load_file_task
    from flows.run_pipeline import run_pipeline

    assert isinstance(_prefect_of(ingest), prefect.Flow) and isinstance(_prefect_of(run_pipeline), prefect.Flow)
    assert isinstance(_prefect_of(load_file_task), prefect.Task)
    assert isinstance(_prefect_of(ingest), orchestration.LocalFlow) and ingest.name == "ingest"
    assert isinstance(outer.with_options(name="renamed"), prefect.Flow)


def _python(code: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env={**env, "PYTHONPATH": str(PROJECT)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """This environment without Prefect settings, Prefect's home an empty folder."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_")}
    return {**env, "PREFECT_HOME": str(tmp_path / "prefect-home")}


def test_a_local_process_runs_its_flows_without_importing_prefect(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom flows.orchestration import flow\n@flow(name='f')\ndef f(x): return x + 1\n"
        "print(f(1), 'prefect' in sys.modules)"
    )
    assert _python(code, tmp_path, _clean_env(tmp_path)) == "2 False"


def test_a_process_that_imported_prefect_gets_prefect_flows_from_an_entrypoint(tmp_path: Path) -> None:
    """As a worker running a deployment does: Prefect's loader accepts only a Prefect flow."""
    code = (
        "import prefect\nfrom prefect.flows import load_flow_from_entrypoint\n"
        f"made = load_flow_from_entrypoint({str(PROJECT / 'flows/build_warehouse.py')!r} + ':build_warehouse')\n"
        "print(isinstance(made, prefect.Flow), made.name)"
    )
    assert _python(code, tmp_path, _clean_env(tmp_path)) == "True build_warehouse"


@pytest.mark.parametrize(
    ("where", "text", "expected"),
    [
        ("environment", "PREFECT_API_URL", True),
        ("environment", "PREFECT_PROFILE", True),
        ("profiles.toml", '[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n', True),
        ("profiles.toml", '[profiles.ephemeral]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "true"\n', False),
        ("prefect.toml", "[api]\n", True),
        ("pyproject.toml", "[tool.prefect.api]\nurl = 'http://x'\n", True),
        ("pyproject.toml", "[project]\nname = 'x'\n", False),
        ("nowhere", "", False),
    ],
)
def test_an_api_may_be_configured_where_any_prefect_setting_source_could_name_one(
    where: str, text: str, expected: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PREFECT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    if where == "environment":
        monkeypatch.setenv(text, "x")
    elif where == "profiles.toml":
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / where).write_text(text, encoding="utf-8")
    elif where != "nowhere":
        (tmp_path / where).write_text(text, encoding="utf-8")
    assert orchestration.api_may_be_configured() is expected


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
