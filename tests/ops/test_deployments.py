"""prefect.yaml: one scheduled deployment per catalog group and the pipeline, each on its sources' cadence.

The expectation is derived from flows/catalog.py: a deployment prefect.yaml declares differently
(or forgets, or adds) fails here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
from pathlib import Path

import pytest
import yaml

from flows import catalog
from flows.errors import ConfigurationError
from flows.ops import deployments
from flows.settings import PROJECT_DIR

EXPECTED = {d.name: d for d in catalog.deployments()}


def test_every_group_and_the_pipeline_has_one_deployment() -> None:
    raw = yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text(encoding="utf-8"))
    assert [d["name"] for d in raw["deployments"]] == list(EXPECTED)  # one each, none forgotten, same order
    assert len(EXPECTED) == len(catalog.GROUPS) + 1
    for entry in raw["deployments"]:
        assert entry["work_pool"]["name"] == "payerbench"  # `prefect deploy --all` needs one


@pytest.mark.parametrize("definition", deployments.definitions(), ids=lambda d: d.name)
def test_each_deployment_is_the_catalogs(definition: deployments.Definition) -> None:
    expected = EXPECTED[definition.name]
    assert definition.entrypoint == expected.entrypoint
    assert (definition.cron, definition.timezone) == (expected.cron, expected.timezone)
    assert definition.timezone == "America/New_York"
    assert definition.description == expected.description
    assert definition.tags == expected.tags
    assert definition.parameters == expected.parameters


def test_a_deployment_that_disagrees_with_the_catalog_is_caught(tmp_path: Path) -> None:
    text = (PROJECT_DIR / "prefect.yaml").read_text(encoding="utf-8").replace('"0 6 * * 1"', '"0 6 * * 2"')
    (tmp_path / "prefect.yaml").write_text(text, encoding="utf-8")
    edited = {d.name: d for d in deployments.definitions(tmp_path / "prefect.yaml")}
    assert edited["payer-policies-weekly"].cron != EXPECTED["payer-policies-weekly"].cron


@pytest.mark.parametrize("definition", deployments.definitions(), ids=lambda d: d.name)
def test_schedule_runs_at_least_as_often_as_its_sources_publish(definition: deployments.Definition) -> None:
    """The longest gap between two runs (over two years, DST included) fits every source's cadence, and
    a source goes stale only after more than one scheduled run has had the chance to load it."""
    from prefect.server.schemas.schedules import CronSchedule

    schedule = CronSchedule(cron=definition.cron, timezone=definition.timezone)
    start = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    dates = asyncio.run(schedule.get_dates(n=1000, start=start, end=start + dt.timedelta(days=731)))
    gap = max(b - a for a, b in zip(dates, dates[1:]))
    for source in EXPECTED[definition.name].sources:
        cadence = catalog.get(source).cadence
        assert cadence is not None, source
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
    for source in catalog.SOURCES.values():
        assert source.cadence is not None, source.name
        assert set(source.cadence.periods) <= set(source.datasets), source.name


def test_every_source_belongs_to_a_group_and_the_pipeline_loads_them_all() -> None:
    """The fetch manifest excepted: every deployment that fetches loads it after its fetch (flows/ingest.py); so
    too a source fed by a grouped source's fetch step (payer_policy_snapshot: the policy pages payer_policy's
    deployment fetches)."""
    grouped = {name for name, s in catalog.SOURCES.items() if s.group is not None}
    steps_of_groups = {s.fetch.key for s in catalog.SOURCES.values() if s.group is not None and s.fetch is not None}
    fed = {n for n, s in catalog.SOURCES.items() if s.group is None and s.fetch and s.fetch.key in steps_of_groups}
    assert fed == {"payer_policy_snapshot"}
    assert set(catalog.SOURCES) - grouped == {catalog.FETCH_MANIFEST, *fed}
    assert set(EXPECTED["pipeline-daily"].sources) == set(catalog.SOURCES)
    assert {s for g in catalog.GROUPS for s in catalog.members(g)} == grouped
    assert all(
        d.parameters.get("fetch")
        for d in catalog.deployments()
        if any(catalog.SOURCES[m].fetch for m in d.sources if m in catalog.SOURCES) and d.name != "pipeline-daily"
    )
    for group in catalog.GROUPS:  # a group named like a source loads exactly that source
        if group in catalog.SOURCES:
            assert catalog.members(group) == (group,)
