"""prefect.yaml: one scheduled deployment per ingest flow and the pipeline, each on its source's cadence."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
from pathlib import Path

import pytest
import yaml

from flows.errors import ConfigurationError
from flows.ingest_medicare_rates import MEDICARE_SOURCES
from flows.ops import deployments
from flows.settings import PROJECT_DIR
from flows.sources import registry
from flows.sources.cadence import CADENCES

# flow -> (cron, time zone, the sources it loads): the cadences the issue gives
EXPECTED = {
    "ingest_reference_tables": ("30 5 * * *", ("reference",)),
    "ingest_payer_policies": ("0 6 * * 1", ("payer_policy",)),
    "ingest_medicare_rates": ("0 6 1,15 1,4,7,10 *", ("reference", *MEDICARE_SOURCES)),
    "ingest_medicare_coverage": ("0 6 * * 5", ("cms_mcd",)),
    "ingest_partb_utilization": ("0 6 1 7 *", ("cms_partb_geo_service",)),
    "ingest_tic": ("0 9 1 * *", ("tic",)),
    "ingest_hospital_mrf": ("0 6 15 * *", ("hospital_mrf",)),
    "run_pipeline": ("0 7 * * *", tuple(registry.SOURCES)),
}


def flow_name(entrypoint: str) -> str:
    return entrypoint.partition(":")[2]


def test_every_ingest_flow_and_the_pipeline_has_one_deployment() -> None:
    raw = yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text(encoding="utf-8"))
    entrypoints = [d["entrypoint"] for d in raw["deployments"]]
    modules = sorted(p.stem for p in (PROJECT_DIR / "flows").glob("ingest_*.py")) + ["run_pipeline"]
    assert sorted(flow_name(e) for e in entrypoints) == sorted(modules)  # one each, none forgotten
    for entry in raw["deployments"]:
        assert entry["work_pool"]["name"] == "payerbench"  # `prefect deploy --all` needs one


@pytest.mark.parametrize("definition", deployments.definitions(), ids=lambda d: d.name)
def test_cron_and_time_zone_match_the_cadence(definition: deployments.Definition) -> None:
    cron, _ = EXPECTED[flow_name(definition.entrypoint)]
    assert definition.cron == cron
    assert definition.timezone == "America/New_York"


@pytest.mark.parametrize("definition", deployments.definitions(), ids=lambda d: d.name)
def test_schedule_runs_at_least_as_often_as_its_sources_publish(definition: deployments.Definition) -> None:
    """The longest gap between two runs (over two years, DST included) fits every source's cadence, and
    a source goes stale only after more than one scheduled run has had the chance to load it."""
    from prefect.server.schemas.schedules import CronSchedule

    schedule = CronSchedule(cron=definition.cron, timezone=definition.timezone)
    start = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    dates = asyncio.run(schedule.get_dates(n=1000, start=start, end=start + dt.timedelta(days=731)))
    gap = max(b - a for a, b in zip(dates, dates[1:]))
    for source in EXPECTED[flow_name(definition.entrypoint)][1]:
        cadence = CADENCES[source]
        if cadence.interval is not None:
            assert gap <= cadence.interval + dt.timedelta(hours=1), (source, gap)  # +1 h: the autumn DST change
        if cadence.stale_after is not None:
            assert cadence.stale_after > gap


@pytest.mark.parametrize("definition", deployments.definitions(), ids=lambda d: d.name)
def test_parameters_are_plain_json_the_flow_accepts(definition: deployments.Definition) -> None:
    flow = definition.load_flow()
    accepted = inspect.signature(flow.fn).parameters
    assert set(definition.parameters) <= set(accepted)
    assert json.loads(json.dumps(definition.parameters)) == definition.parameters
    assert definition.parameters["raw_dir"] == "raw"  # resolved against the project folder, not the cwd


def test_serve_builds_the_same_deployments_from_prefect_yaml() -> None:
    built = {d.name: d for d in deployments.build()}
    assert set(built) == {d.name for d in deployments.definitions()}
    for definition in deployments.definitions():
        deployment = built[definition.name]
        [schedule] = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (definition.cron, definition.timezone)
        assert deployment.parameters == definition.parameters
        assert deployment.flow_name == definition.load_flow().name


def test_a_deployment_without_an_explicit_time_zone_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "prefect.yaml"
    bad.write_text(
        "deployments:\n  - name: x\n    entrypoint: flows/run_pipeline.py:run_pipeline\n"
        "    schedules:\n      - cron: '0 7 * * *'\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match="needs exactly one schedule with a cron and an explicit timezone"):
        deployments.definitions(bad)


def test_every_source_declares_its_cadence_and_periods_of_its_own_datasets() -> None:
    assert set(CADENCES) == set(registry.SOURCES)
    for name, cadence in CADENCES.items():
        assert set(cadence.periods) <= set(registry.SOURCES[name].datasets), name
