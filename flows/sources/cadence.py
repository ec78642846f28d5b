"""The vocabulary of a source's calendar: how often it publishes (`Cadence`), when it counts as
stale, which period each dataset covers (`Period`), and the deployment group that loads it on a
schedule (`Group`).

The values are declared per source in flows/catalog.py. They drive `payerbench status`; the
schedules in prefect.yaml are the groups' (a test checks each deployment runs at least as often as
the sources it loads publish).

Freshness is judged on **time since the source's newest successful load**, not on the period the
data describes. A scheduled run that finds nothing new for longer than the source's cadence
allows (`stale_after`: the cadence plus a grace period for late publication) means the download
or landing job, or the publisher, has stopped, which is what an operator must hear about. The
data's own period ("release 2025-Q4", "data year 2023") is shown beside it but not judged: each
publisher lags differently and some say it loosely (CMS publishes Part B utilization about two
years after its data year; TiC `last_updated_on` and hospital dates are whatever the file claims;
a policy can be years old and current), so a period rule would raise false alarms or need a lag
table nobody can keep right.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Period:
    """How a dataset states the period it covers: an aggregate over its rows, and a label."""

    sql: str
    label: str


@dataclass(frozen=True)
class Cadence:
    every: str  # weekly, monthly, quarterly, yearly, on change
    stale_after: dt.timedelta | None  # None: never stale (updated when someone edits it)
    periods: dict[str, Period] = field(default_factory=dict)  # dataset -> newest period
    said: str = ""  # how the README states the cadence when `every` says too little

    @property
    def interval(self) -> dt.timedelta | None:
        """The longest time between two publications at this cadence."""
        return INTERVALS.get(self.every)


INTERVALS = {
    "weekly": dt.timedelta(days=7),
    "monthly": dt.timedelta(days=31),
    "quarterly": dt.timedelta(days=92),
    "yearly": dt.timedelta(days=366),
}
# Stale after the cadence plus grace for a late or slow publication (and a missed scheduled run).
WEEKLY = dt.timedelta(days=10)
MONTHLY = dt.timedelta(days=38)
QUARTERLY = dt.timedelta(days=106)
YEARLY = dt.timedelta(days=396)

QUARTER = Period("max(format('{}-Q{}', release_year, release_quarter))", "release")
YEAR = Period("max(release_year)::varchar", "release year")
MCD_UPDATED = Period("max(last_updated)::varchar", "last updated")
LAST_UPDATED_ON = Period("max(last_updated_on)::varchar", "last_updated_on")


@dataclass(frozen=True)
class Group:
    """A deployment group: sources loaded together on one schedule by the `ingest` flow.

    `name` is what `ingest(target=...)` and prefect.yaml's `target` parameter take; the run is
    tracked (artifact, run record, `payerbench status`) as `ingest_<name>`.
    """

    name: str
    deployment: str  # prefect.yaml deployment name
    cron: str
    description: str  # prefect.yaml description
    tags: tuple[str, ...]
    why: str  # README: why it runs then
    cron_note: str = ""  # README: the cron in words, when it helps ("Mondays")
    timezone: str = "America/New_York"
    # the reference tables load first (when changed): the group's sources resolve against them
    reference_first: bool = False
    build: bool = True  # the deployment rebuilds DuckDB when a file loaded

    @property
    def flow_run(self) -> str:
        """The name a run of this group is tracked under (the per-group flow's name before the catalog)."""
        return f"ingest_{self.name}"
