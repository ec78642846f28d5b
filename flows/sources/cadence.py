"""How often each source publishes, when it counts as stale, and which period each dataset covers.

One table, keyed by source name (a test checks every registered source has a line). It drives
`payerbench status`; the schedules in prefect.yaml follow the same cadences (a test checks each
deployment runs at least as often as the sources it loads publish).

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

CADENCES: dict[str, Cadence] = {
    "reference": Cadence("on change", None),
    "payer_policy": Cadence("weekly", WEEKLY, {"payer__policy": Period("max(retrieved_date)::varchar", "retrieved")}),
    "cms_pfs_rvu": Cadence("quarterly", QUARTERLY, {"cms__pfs_rvu": QUARTER}),
    "cms_pfs_gpci": Cadence("yearly", YEARLY, {"cms__pfs_gpci": YEAR}),
    "cms_pfs_locality": Cadence("yearly", YEARLY, {"cms__pfs_locality": YEAR}),
    "cms_opps_cap": Cadence("quarterly", QUARTERLY, {"cms__opps_cap": QUARTER}),
    "cms_opps_addendum_b": Cadence("quarterly", QUARTERLY, {"cms__opps_addendum_b": QUARTER}),
    "cms_asc_addenda": Cadence(
        "quarterly", QUARTERLY, {"cms__asc_addendum_aa": QUARTER, "cms__asc_addendum_ff": QUARTER}
    ),
    "cms_mcd": Cadence(
        "weekly",
        WEEKLY,
        {
            "cms__mcd_article": MCD_UPDATED,
            "cms__mcd_lcd": MCD_UPDATED,
            "cms__mcd_contractor": MCD_UPDATED,
            "cms__mcd_article_hcpc_code": MCD_UPDATED,
            "cms__mcd_article_hcpc_code_group": MCD_UPDATED,
            "cms__mcd_article_contractor": MCD_UPDATED,
            "cms__mcd_lcd_hcpc_code": MCD_UPDATED,
            "cms__mcd_lcd_hcpc_code_group": MCD_UPDATED,
            "cms__mcd_lcd_contractor": MCD_UPDATED,
            "cms__mcd_document": Period("max(updated_on)::varchar", "updated on"),
        },
    ),
    "cms_partb_geo_service": Cadence(
        "yearly",
        YEARLY,
        {
            "cms__partb_geo_service": Period("max(data_year)::varchar", "data year"),
            "cms__partb_geo_service_scope": Period("max(data_year)::varchar", "data year"),
        },
    ),
    "tic": Cadence(
        "monthly",
        MONTHLY,
        {"tic__in_network_rate": LAST_UPDATED_ON, "tic__allowed_amount": LAST_UPDATED_ON, "tic__file": LAST_UPDATED_ON},
    ),
    "hospital_mrf": Cadence("yearly", YEARLY, {"hospital__file": LAST_UPDATED_ON}),
}
