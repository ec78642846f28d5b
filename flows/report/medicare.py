"""Medicare's releases in the report: which release is latest per setting, how old one is, and how it is named.

CMS publishes each payment system (PFS, OPPS, ASC) quarterly; the marts hold every loaded release in effect by
the as-of date. A section quotes the latest release with an answer per setting and flags one that lies more than
`STALE_QUARTERS` before the newest loaded; traditional-Medicare coverage is named by its contractors (MACs).
"""

from __future__ import annotations

import pandas as pd

from flows.report.data import ReportContext
from flows.report.labels import CONFIDENCE_ORDER
from flows.report.text import Md, confidence, listing, missing, money, reason, text

STALE_QUARTERS = 4
"""A Medicare release more than this many quarters from what it is compared with is flagged."""


def quarters_between(year: int, quarter: int, other_year: int, other_quarter: int) -> int:
    """How many quarters (year, quarter) lies before (other_year, other_quarter)."""
    return (other_year * 4 + other_quarter) - (year * 4 + quarter)


def latest_medicare(ctx: ReportContext) -> pd.DataFrame:
    """Per setting, the latest release with an answer (else the latest row)."""
    rates = ctx["medicare_rates"]
    if rates.empty:
        return rates
    rates = rates.assign(_loaded=rates["availability_reason"].fillna("reported") != "not_loaded")
    rates = rates.sort_values(["_loaded", "period_start_date"])
    return rates.groupby("setting", sort=False).tail(1).drop(columns="_loaded").set_index("setting")


def newest_medicare_release(ctx: ReportContext) -> tuple[int, int] | None:
    """(year, quarter) of the newest Medicare release loaded for any setting, up to the as-of date."""
    rates = ctx["medicare_rates"]
    loaded = rates[rates["availability_reason"].fillna("reported") != "not_loaded"]
    if loaded.empty:
        return None
    newest = loaded.sort_values("period_start_date").iloc[-1]
    return int(newest["release_year"]), int(newest["release_quarter"])


def as_of_quarter(ctx: ReportContext) -> tuple[int, int]:
    """(year, quarter) of the as-of date: the quarterly release of each payment system in effect then."""
    return ctx.as_of.year, (ctx.as_of.month - 1) // 3 + 1


def in_effect_note(ctx: ReportContext, row: pd.Series) -> Md:
    """'latest loaded; the 2026-Q4 release in effect on 2026-12-05 is not loaded' when the row's release is not the one
    in effect on the as-of date (CMS updates each payment system quarterly), '' when it is."""
    if missing(row.get("release_year")) or missing(row.get("release_quarter")):
        return Md("")
    year, quarter = as_of_quarter(ctx)
    if (int(row["release_year"]), int(row["release_quarter"])) >= (year, quarter):
        return Md("")
    return Md(f"latest loaded; the {year}-Q{quarter} release in effect on {ctx.as_of.isoformat()} is not loaded")


def release_name(row: pd.Series) -> Md:
    """The release in words, e.g. "CMS OPPS 2026-Q1, national unadjusted" (the file in brackets when it matters)."""
    label = row.get("rate_label")
    return text(label) if not missing(label) else text(row["release_period"])


def older_release_note(ctx: ReportContext, row: pd.Series) -> Md:
    """'; an older release: ...' when the row's release lies more than STALE_QUARTERS before the newest loaded one."""
    newest = newest_medicare_release(ctx)
    if newest is None or missing(row.get("release_year")):
        return Md("")
    lag = quarters_between(int(row["release_year"]), int(row["release_quarter"]), *newest)
    if lag <= STALE_QUARTERS:
        return Md("")
    return Md(
        f"; an older release, {lag} quarters before the newest loaded Medicare release "
        f"({newest[0]}-Q{newest[1]}): no later file of this payment system is loaded"
    )


def medicare_phrase(ctx: ReportContext, row: pd.Series, setting: str) -> Md:
    where = {
        "asc": "an ambulatory surgical center",
        "hopd_opps": "a hospital outpatient department",
        "physician_nonfacility": "a physician's office",
        "physician_facility": "a facility (physician fee)",
    }[setting]
    if not missing(row["payment_usd"]):
        extra = []
        if not missing(row.get("status_indicator")):
            extra.append(
                f"status {text(row['status_indicator'])}"
                if setting != "asc"
                else f"payment indicator {text(row['status_indicator'])}"
            )
        if not missing(row.get("apc")) and "APC" not in release_name(row):
            # ASC payment uses no APC: the one Addendum FF lists is OPPS's
            extra.append(f"{'OPPS APC (Addendum FF)' if setting == 'asc' else 'APC'} {text(row['apc'])}")
        note = in_effect_note(ctx, row)
        return Md(
            f"{money(row['payment_usd'])} in {where} ({release_name(row)}"
            f"{'; ' + ', '.join(extra) if extra else ''}{'; ' + note if note else ''}{older_release_note(ctx, row)})"
        )
    if row["availability_reason"] == "contractor_priced":
        note = in_effect_note(ctx, row)
        return Md(
            f"the physician fee is contractor-priced, with no national amount (PFS status "
            f"{text(row['status_indicator'])}, CMS PFS {text(row['release_period'])}{'; ' + note if note else ''})"
        )
    return Md(f"nothing in {where}: {reason(row['availability_reason'])} ({text(row['release_period'])})")


def short_release(row: pd.Series) -> Md:
    """ "CMS OPPS 2026-Q1, national unadjusted" without the file detail after the colon."""
    return Md(release_name(row).split(": ")[0])


_CORPORATE_WORDS = {
    "administrators",
    "healthcare",
    "solutions",
    "insurance",
    "corporation",
    "services",
    "service",
    "options",
    "llc",
    "inc",
    "inc.",
}
"""Words a contractor's short name drops from its end: "CGS Administrators, LLC" is CGS, "First Coast Service
Options, Inc." First Coast, "National Government Services, Inc." National Government."""


def short_contractor(name: object) -> str:
    """A Medicare contractor's name without its corporate tail ("Noridian Healthcare Solutions, LLC" -> "Noridian")."""
    words = str(name).replace(",", " ").split()
    while len(words) > 1 and words[-1].lower() in _CORPORATE_WORDS:
        words.pop()
    return " ".join(words)


def medicare_contractors(ctx: ReportContext, status: object, joiner: str = " and ", short: bool = False) -> Md:
    """Who states a traditional-Medicare stance: the contractors (MACs) whose policies give it, with their jurisdictions
    ("CGS Administrators, LLC (MAC, J15; verified)"), so one contractor's instruction never reads as all of Medicare's.
    `short`: the contractor's first word, its jurisdictions and the confidence ("CGS (J15, verified)")."""
    policies = ctx["policy_sources"]
    if policies.empty or "coverage_status" not in policies:
        return Md("")
    rows = policies[
        (policies["payer_group"] == "medicare")
        & (policies["plan_type"] == "medicare_ffs")
        & (policies["coverage_status"] == status)
    ]
    rows = rows.sort_values("source_confidence", key=lambda c: c.map(CONFIDENCE_ORDER))
    contractors = []
    for _, r in rows.drop_duplicates("payer_name").iterrows():
        jurisdictions = listing(r.get("mac_jurisdictions"), empty="")
        where = f"MAC, {jurisdictions.replace(', ', '/')}; " if jurisdictions else ""
        if short:
            name = text(short_contractor(r["payer_name"]))
            contractors.append(
                f"{name} ({jurisdictions + ', ' if jurisdictions else ''}{confidence(r['source_confidence'])})"
            )
            continue
        contractors.append(
            f"{text(r['payer_name'])} ({where}{text(r['policy_id'])}, {confidence(r['source_confidence'])})"
        )
    return Md(joiner.join(contractors))


MEDICARE_SETTING = {
    "professional_office": "physician_nonfacility",
    "professional_facility": "physician_facility",
    "hospital_outpatient": "hopd_opps",
    "asc": "asc",
}
"""The Medicare setting whose amount a benchmark setting is compared with (a professional fee with the PFS, never a facility rate)."""
