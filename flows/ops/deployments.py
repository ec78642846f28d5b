"""The scheduled deployments, read from prefect.yaml: `payerbench serve` serves exactly those.

prefect.yaml is the one definition of what runs when (its comments say why each time was
chosen). `prefect deploy --all` reads it for a Prefect server with a work pool; `payerbench serve`
reads it here and serves the same deployments from this process, without a work pool, so the
two never disagree. Serving needs a Prefect server that runs the scheduler (`prefect server start`,
or Prefect Cloud): Prefect's temporary in-process server does not schedule runs.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flows.errors import ConfigurationError
from flows.settings import PROJECT_DIR

PREFECT_YAML = PROJECT_DIR / "prefect.yaml"


@dataclass(frozen=True)
class Definition:
    """One deployment as prefect.yaml declares it."""

    name: str
    entrypoint: str  # flows/<module>.py:<flow function>
    cron: str
    timezone: str
    parameters: dict[str, Any]
    description: str = ""
    tags: tuple[str, ...] = ()

    def load_flow(self):  # type: ignore[no-untyped-def]
        """The flow object the entrypoint names (imported as a module of the installed project)."""
        path, _, function = self.entrypoint.partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        return getattr(module, function)


def definitions(path: Path | None = None) -> list[Definition]:
    """Every deployment of prefect.yaml, each with its (single) cron schedule and time zone."""
    path = path or PREFECT_YAML
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = []
    for entry in config.get("deployments") or []:
        schedules = entry.get("schedules") or []
        if len(schedules) != 1 or not schedules[0].get("cron") or not schedules[0].get("timezone"):
            raise ConfigurationError(
                f"{path.name}: deployment {entry.get('name')!r} needs exactly one schedule "
                f"with a cron and an explicit timezone"
            )
        found.append(
            Definition(
                entry["name"],
                entry["entrypoint"],
                schedules[0]["cron"],
                schedules[0]["timezone"],
                dict(entry.get("parameters") or {}),
                entry.get("description") or "",
                tuple(entry.get("tags") or ()),
            )
        )
    return found


def build(path: Path | None = None, only: list[str] | None = None) -> list[Any]:
    """Runner deployments (with their cron schedules) for `prefect.serve`, built from prefect.yaml."""
    from prefect.client.schemas.schedules import CronSchedule

    chosen = definitions(path)
    if only:
        unknown = sorted(set(only) - {d.name for d in chosen})
        if unknown:
            raise ConfigurationError(
                f"no deployment named {', '.join(unknown)} in prefect.yaml; "
                f"there are: {', '.join(d.name for d in chosen)}"
            )
        chosen = [d for d in chosen if d.name in only]
    return [
        d.load_flow().to_deployment(
            name=d.name,
            schedules=[CronSchedule(cron=d.cron, timezone=d.timezone)],
            parameters=d.parameters,
            description=d.description,
            tags=list(d.tags),
        )
        for d in chosen
    ]


def serve(path: Path | None = None, only: list[str] | None = None) -> int:
    """Serve the deployments until interrupted (Ctrl-C); returns the CLI exit code."""
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print(
            "payerbench serve: schedules need a Prefect server. Start one in another terminal with\n"
            "  prefect server start\n"
            "then point this shell at it and serve again:\n"
            "  export PREFECT_API_URL=http://127.0.0.1:4200/api\n"
            "  payerbench serve",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("PAYERBENCH_HOME", str(PROJECT_DIR))  # flow runs resolve raw_dir against it
    os.chdir(PROJECT_DIR)  # entrypoints (flows/<module>.py) are relative to the project folder
    deployments = build(path, only)
    for d in definitions(path):
        if not only or d.name in only:
            print(f"serving {d.name}: {d.entrypoint} at '{d.cron}' ({d.timezone}) {d.parameters}")
    prefect_serve(*deployments)
    return 0
