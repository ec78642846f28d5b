"""The report's data: read-only queries (warehouse/sql/report/*.sql), the payer filter, and the loaded context.

`ReportData` runs one query file at a time against the analysts' sandbox, as of a date; `ReportContext.load`
runs every query in `QUERIES` once, keeps the payer groups asked for, and is what every section and the figure
read. Nothing here formats a value for the page (see text.py) or decides what a section says.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pandas as pd

from flows.report.labels import GROUPS
from flows.report.synthetic import wall_off
from flows.report.text import text
from flows.settings import Settings, from_env
from flows.steps.sandbox import connect_read_only

QUERIES = (
    "code_profile",
    "code_facts",
    "diagnoses",
    "modifiers",
    "comparators",
    "coverage",
    "medicare_rates",
    "medicare_localities",
    "benchmark",
    "commercial_rates",
    "utilization_trend",
    "utilization_cells",
    "data_availability",
    "source_files",
    "policy_sources",
    "policy_pages",
    "policy_page_changes",
    "medicare_file_listings",
    "mcd_documents",
    "pfs_indicators",
    "asc_device_offsets",
    "clinical_context",
    "coverage_policies",
)
"""The queries (warehouse/sql/report/<name>.sql) behind a report, each run once per report."""


class ReportData:
    """Read-only access to the marts for one report: `q("name", ...)` runs warehouse/sql/report/name.sql.

    The session answers as of `as_of` (default today): the DuckDB variable `as_of` is set, so the marts
    take Medicare releases in effect then and payer / hospital / Part B files published by then."""

    def __init__(self, settings: Settings, billing_code: str, as_of: dt.date | None = None) -> None:
        self.settings = settings
        self.billing_code = billing_code.strip().upper()
        self.as_of = as_of or dt.date.today()
        self.sql_dir = settings.sql_dir / "report"
        # the analysts' sandbox: read-only, no file outside the lake, no URL, no extension, settings locked
        self.con = connect_read_only(settings)
        # every mart answers as of this date (warehouse/sql/stg_as_of.sql), not only the queries that take $as_of
        self.con.execute("SET VARIABLE as_of = ?", [self.as_of])
        self._snapshot_marts()
        self.rendered_on = dt.date.today()

    @classmethod
    def open(
        cls, warehouse_dir: str | None, project_dir: str | None, billing_code: str, as_of: str | None = None
    ) -> ReportData:
        """For the notebook's parameters (plain strings, as papermill passes them)."""
        settings = from_env().replace(warehouse_dir=warehouse_dir, project_dir=project_dir)
        return cls(settings, billing_code, dt.date.fromisoformat(as_of) if as_of else None)

    def _snapshot_marts(self) -> None:
        """Read each mart the report's queries read at this session's as-of date. The build materialises every
        mart as of its day (flows/steps/warehouse.py: the table `<mart>`, its date in `mart_as_of`): when that is
        this session's date the queries read those tables, lookups. Otherwise (an earlier --as-of, or tables
        built on an earlier day) each mart is computed once from its view `live.<mart>`, as a temporary table
        of the plain name (temporary objects come first in DuckDB's search path), so the queries that share a
        mart share its rows. Nothing is written to the warehouse."""
        read = set()
        for path in sorted(self.sql_dir.glob("*.sql")):
            read |= set(re.findall(r"\b[a-z_][a-z0-9_]*\b", path.read_text(encoding="utf-8").lower()))
        built = dict(self.con.execute("select mart, as_of_date from mart_as_of").fetchall())
        self.computed = sorted(mart for mart in built.keys() & read if built[mart] != self.as_of)
        for mart in self.computed:
            self.con.execute(f'create temp table "{mart}" as select * from live."{mart}"')

    def q(self, name: str, **params: object) -> pd.DataFrame:
        """Rows of one report query, with $code and $as_of bound (and any extra named parameters)."""
        sql = (self.sql_dir / f"{name}.sql").read_text(encoding="utf-8")
        values = {"code": self.billing_code, "as_of": self.as_of, **params}
        used = {k: v for k, v in values.items() if re.search(rf"\${k}\b", sql)}
        return self.con.execute(sql, used).df()

    def close(self) -> None:
        self.con.close()


def report_codes(settings: Settings) -> list[str]:
    """The codes reports are rendered for: the `target` codes of the warehouse's code configuration
    (warehouse/sql/report/report_codes.sql; NoWarehouse when there is none)."""
    con = connect_read_only(settings)
    try:
        sql = (settings.sql_dir / "report" / "report_codes.sql").read_text(encoding="utf-8")
        return [code for (code,) in con.execute(sql).fetchall()]
    finally:
        con.close()


def check_payers(payers: list[str] | None) -> None:
    """ValueError naming any payer group the report does not know (None: every group)."""
    unknown = sorted(set(payers or []) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown payer group {', '.join(unknown)}; use some of {', '.join(GROUPS)}")


def keep_payers(frame: pd.DataFrame, payers: list[str] | None) -> pd.DataFrame:
    """The rows of those payer groups (None: every row); rows of no group and Medicare's fee-schedule rows (every
    benchmark's reference) stay. A frame without a payer_group column is kept whole."""
    if not payers or "payer_group" not in frame.columns:
        return frame
    keep = frame["payer_group"].isin(payers) | frame["payer_group"].isna()
    if "source" in frame.columns:  # Medicare's fee-schedule rows are every benchmark's reference
        keep |= frame["source"].eq("medicare_fee_schedule")
    return frame[keep.fillna(False).astype(bool)].reset_index(drop=True)


@dataclass
class ReportContext:
    code: str
    as_of: dt.date
    payers: list[str]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    rendered_on: dt.date = field(default_factory=dt.date.today)
    include_synthetic: bool = False

    @classmethod
    def load(cls, data: ReportData, payers: list[str] | None = None, include_synthetic: bool = False) -> ReportContext:
        """Every report query's result; `payers` (payer groups) limits the coverage and negotiated-rate
        rows to those groups (None: every group). Medicare's own rates stay: they are the reference.
        Synthetic rows are set apart for the appendix unless `include_synthetic` (flows/report/synthetic.py)."""
        check_payers(payers)
        # the code is a parameter (the CLI's --code), printed in most sections: text like any value from outside
        ctx = cls(
            code=text(data.billing_code),
            as_of=data.as_of,
            payers=list(payers or GROUPS),
            rendered_on=data.rendered_on,
            include_synthetic=include_synthetic,
        )
        for name in QUERIES:
            ctx.frames[name] = keep_payers(data.q(name), payers)
        ctx.frames = wall_off(ctx.frames, include_synthetic)
        return ctx

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    def facts(self, topic: str) -> pd.DataFrame:
        facts = self["code_facts"]
        return facts[facts["topic"] == topic]

    def fact(self, topic: str) -> str | None:
        rows = self.facts(topic)
        return None if rows.empty else str(rows.iloc[0]["fact"])

    def medicare_listings(self) -> pd.DataFrame:
        """The loaded Medicare payment files that list the code (warehouse/sql/report/medicare_file_listings.sql)."""
        return self.frames.get("medicare_file_listings", pd.DataFrame())

    @property
    def known(self) -> bool:
        """Is the code configured or present in any mart?"""
        return not self["code_profile"].empty or int(self["benchmark"]["rate_count"].sum() or 0) > 0
