"""The report's first screen: an at-a-glance table and the summary's headline, from real evidence only.

What a revenue-cycle analyst asks first: is it covered (by payer group, with the policy), what does Medicare pay
per setting and under which release, what do commercial payers pay (with how many payers, which setting and the
file's date), and how often Medicare sees it. Every commercial range is qualified with its payer count, setting and
file date, and a professional fee is never put in one range or comparison with a facility amount. Medicare's
amounts are what it pays *if* the service is covered. Synthetic rows never enter this screen, even with
`--include-synthetic` (they state no fact).
"""

from __future__ import annotations

import pandas as pd

from flows.report.data import ReportContext
from flows.report.evidence import latest_change, listed_document_rows, policy_owner
from flows.report.labels import GROUPS, LINES, NA, STANCES
from flows.report.medicare import as_of_quarter, in_effect_note, latest_medicare, medicare_contractors, short_release
from flows.report.text import Md, confidence, date, flag, missing, money, named, number, percent, reason, table, text

GLANCE_TITLE = "At a glance"
"""The first screen's heading: a heading (not bold text) so a reader can jump to it, print keeps it with its table,
and page.css lays its table out for a phone."""
PROFESSIONAL = ("professional_office", "professional_facility")
FACILITY = ("hospital_outpatient", "asc")
SETTING_FEE = {
    "professional_office": "professional fee, office",
    "professional_facility": "professional fee, in a facility",
    "hospital_outpatient": "facility fee, hospital outpatient",
    "asc": "facility fee, ambulatory surgical center",
}
"""A commercial rate's setting, saying which kind of fee it is (a professional fee is paid on top of a facility's)."""
MEDICARE_FEE = {
    "hopd_opps": "facility fee, hospital outpatient (OPPS)",
    "asc": "facility fee, ambulatory surgical center (ASC)",
    "physician_nonfacility": "professional fee, office (PFS non-facility)",
    "physician_facility": "professional fee, in a facility (PFS facility)",
}


def real_commercial(ctx: ReportContext, kind: str = "dollars") -> pd.DataFrame:
    """Real commercial-plan rates of one kind (dollars, percentage): never Medicare Advantage, Medicaid, traditional
    Medicare, a hospital file that does not state its plan, or a synthetic file."""
    rates = ctx["commercial_rates"]
    needed = {"is_synthetic", "plan_type", "payer_group", "rate_kind", "setting"}
    if rates.empty or not needed <= set(rates.columns):
        return rates.iloc[0:0]
    real = ~rates["is_synthetic"].astype("boolean").fillna(False).astype(bool)
    return rates[
        real
        & (rates["plan_type"] == "commercial")
        & (rates["payer_group"] != "medicare")
        & (rates["rate_kind"] == kind)
    ]


def file_dates(rates: pd.DataFrame) -> Md:
    """ "TiC file dated 2022-09-01" / "hospital files dated 2026-01-01 and 2026-07-01"."""
    out = []
    for source, group in rates.groupby("source", sort=True):
        kind = "TiC file" if source == "payer_tic" else "hospital file"
        dates = sorted({date(d) for d in group["as_of_date"]} - {NA})
        out.append(
            f"{kind}{'s' if len(set(group['source_file'])) > 1 else ''} dated {' and '.join(dates) or 'unknown'}"
        )
    return Md("; ".join(out))


def commercial_ranges(ctx: ReportContext) -> list[tuple[str, Md, Md]]:
    """Per setting (professional and facility apart, professional first): (setting key, "$596.75–$702.83",
    "3 negotiated prices from 1 payer (…), TiC file dated 2022-09-01")."""
    dollars = real_commercial(ctx)
    out: list[tuple[str, Md, Md]] = []
    if dollars.empty:
        return out
    for setting in (*PROFESSIONAL, *FACILITY):
        rows = dollars[dollars["setting"] == setting]
        if rows.empty:
            continue
        low, high = money(rows["rate_usd"].min()), money(rows["rate_usd"].max())
        payers = sorted(set(rows["payer_name"]))
        qualifier = Md(
            f"{number(len(rows))} negotiated price{'s' if len(rows) != 1 else ''} from {len(payers)} "
            f"payer{'s' if len(payers) != 1 else ''} ({', '.join(text(p) for p in payers)}), {file_dates(rows)}"
        )
        out.append((setting, Md(low if low == high else f"{low}–{high}"), qualifier))
    return out


def medicare_condition(ctx: ReportContext) -> Md:
    """Under what condition Medicare's amounts are paid: "if covered (traditional Medicare decides case by case)"."""
    coverage = ctx["coverage"]
    row = coverage[coverage["payer_group"] == "medicare"]
    if row.empty or missing(row.iloc[0]["coverage_status"]):
        return Md("if covered (traditional Medicare's coverage stance is not loaded)")
    status = row.iloc[0]["coverage_status"]
    if status == "covered":
        return Md("")
    if status == "case_by_case":
        return Md("if covered (traditional Medicare decides coverage case by case)")
    return Md(f"if covered (traditional Medicare's stance: {named(STANCES, status)})")


def medicare_amounts(ctx: ReportContext, short: bool = False) -> list[tuple[str, Md, Md]]:
    """Per Medicare setting (facility fees, then professional): (setting, amount or why none, release and its note);
    `short`: the why and the in-effect note in a few words (the first screen's), the full words being in section 5."""
    latest = latest_medicare(ctx)
    out = []
    for setting in ("hopd_opps", "asc", "physician_nonfacility", "physician_facility"):
        if setting not in latest.index:
            continue
        row = latest.loc[setting]
        if not missing(row["payment_usd"]):
            amount = money(row["payment_usd"])
        elif short and row["availability_reason"] == "contractor_priced":
            amount = Md("contractor-priced: no national amount")
        else:
            amount = reason(row["availability_reason"])
        effect = in_effect_note(ctx, row)
        if short and effect:
            year, quarter = as_of_quarter(ctx)
            effect = Md(f"latest loaded; {year}-Q{quarter} not loaded")
        notes = [n for n in (effect, latest_change(ctx, setting, row["release_period"])) if n]
        out.append((setting, amount, Md(f"{short_release(row)}{' (' + '; '.join(notes) + ')' if notes else ''}")))
    return out


def volume(ctx: ReportContext) -> tuple[Md, Md]:
    """Medicare Part B volume in the latest real data year: (answer, basis; when there is none, why)."""
    trend = ctx["utilization_trend"]
    if "source_is_synthetic" in trend:
        trend = trend[~trend["source_is_synthetic"].astype("boolean").fillna(False).astype(bool)]
    if trend.empty:
        demo = ctx.frames.get("demo_utilization_trend", pd.DataFrame())
        why = "only synthetic demonstration files are loaded (see the appendix)" if len(demo) else ""
        return Md(f"{NA}: no real Medicare Part B file covering {ctx.code} is loaded"), Md(why)
    r = trend.sort_values("data_year").iloc[-1]
    if missing(r["service_count"]):
        return reason(r["availability_reason"]), Md(
            f"CMS Part B by geography and service, data year {int(r['data_year'])}"
        )
    lower = flag(r.get("totals_are_lower_bounds"))
    answer = Md(
        f"{'at least ' if lower else ''}{number(r['service_count'])} services nationally in {int(r['data_year'])}"
    )
    return answer, Md(f"CMS Part B by geography and service, data year {int(r['data_year'])}")


NOT_COVERED = ("not_covered", "experimental_investigational", "not_medically_necessary")
"""Stances that mean a plan does not pay: the first screen says "not covered (experimental / investigational)"."""


def stance_words(status: object) -> Md:
    """ "not covered (experimental / investigational)", "case by case", ...: a stance a reader acts on."""
    words = named(STANCES, status)
    if status in NOT_COVERED and status != "not_covered":
        return Md(f"not covered ({words})")
    return words


def coverage_rows(ctx: ReportContext) -> list[list[object]]:
    """Coverage in a row per line of business (commercial plans: every payer group's stance in one row, each policy
    with its plan and confidence) and a row for traditional Medicare whose basis names its contractors and the
    Coverage-database documents only by count: section 4 lists them one per row."""
    coverage = ctx["coverage"]
    rows: list[list[object]] = []
    others = coverage[coverage["payer_group"] != "medicare"]
    for line, group in others.groupby("line_of_business", sort=False, dropna=False):
        stances: dict[object, list] = {}
        for r in group.itertuples():
            stances.setdefault(None if missing(r.coverage_status) else r.coverage_status, []).append(r)
        stated, unstated, policies = [], [], []
        for status, members in stances.items():
            names = ", ".join(str(named(GROUPS, r.payer_group)) for r in members)
            with_policy = [r for r in members if not missing(r.policy_id)]
            if status is None:
                unstated.append(f"{names}: {'; '.join(dict.fromkeys(reason(r.availability_reason) for r in members))}")
            elif status == "no_policy_found" or not with_policy:
                unstated.append(f"{names}: {stance_words(status)}")
            else:
                stated.append(f"{stance_words(status)}: {len(members)} of {len(group)} payer groups")
                policies.extend(
                    f"{policy_owner(ctx, r.payer_group, r.policy_id)}, {confidence(r.source_confidence)}"
                    for r in with_policy
                )
        rows.append([Md(f"Coverage: {named(LINES, line)}"), Md("; ".join(stated + unstated)), Md("; ".join(policies))])
    for r in coverage[coverage["payer_group"] == "medicare"].itertuples():
        if missing(r.coverage_status):
            stance, basis = reason(r.availability_reason), Md("")
        else:
            stance = stance_words(r.coverage_status)
            who = medicare_contractors(ctx, r.coverage_status, joiner=", ", short=True)
            basis = (
                Md(f"{who} instructions, not a national policy")
                if who
                else Md(f"{policy_owner(ctx, r.payer_group, r.policy_id)}, {confidence(r.source_confidence)}")
                if not missing(r.policy_id)
                else Md("no policy in the loaded extract")
            )
        if count := len(listed_document_rows(ctx)):
            basis = Md(
                f"{basis}{'; ' if basis else ''}{count} Coverage-database document{'s bear' if count != 1 else ' bears'} "
                "on the code (code lists not loaded; section 4)"
            )
        rows.append([Md(f"Coverage: {named(LINES, r.line_of_business)}"), stance, basis])
    return rows


def medicare_rows(ctx: ReportContext) -> list[list[object]]:
    """A row per Medicare payment system (OPPS, ASC, PFS), the PFS's office and facility amounts in one row when they
    are the same answer from the same release; each with its release, "latest loaded" in short when the release in
    effect on the as-of date is not loaded (the summary and section 5 say it in full), and a called-out change."""
    condition = "if covered" if medicare_condition(ctx) else "covered"
    amounts = medicare_amounts(ctx, short=True)
    pfs = [(s, a, r) for s, a, r in amounts if s in ("physician_nonfacility", "physician_facility")]
    rows = []
    for setting, amount, release in amounts:
        if setting == "physician_facility" and len(pfs) == 2 and pfs[0][1:] == pfs[1][1:]:
            continue
        fee = MEDICARE_FEE[setting]
        if setting == "physician_nonfacility" and len(pfs) == 2 and pfs[0][1:] == pfs[1][1:]:
            fee = "professional fee, office or in a facility (PFS)"
        rows.append([Md(f"Medicare, {condition}: {fee}"), amount, release])
    return rows


def fee_words(settings: list[str]) -> Md:
    """ "professional fee, office or in a facility": the settings of one commercial answer, the kind of fee once."""
    kinds: dict[str, list[str]] = {}
    for s in settings:
        kind, _, where = str(SETTING_FEE.get(s, text(s))).partition(", ")
        kinds.setdefault(kind, []).append(where)
    return Md(
        "; ".join(
            f"{kind}{', ' + ' or '.join(w for w in wheres if w) if any(wheres) else ''}"
            for kind, wheres in kinds.items()
        )
    )


def commercial_rows(ctx: ReportContext) -> list[list[object]]:
    """Negotiated dollar ranges per setting (professional and facility apart), percentage-of-charges terms with the
    settings that share them in one row, each with payer count, payers and file date."""
    rows: list[list[object]] = []
    ranges = commercial_ranges(ctx)
    for setting, span, qualifier in ranges:
        rows.append([Md(f"Commercial negotiated rate: {SETTING_FEE[setting]}"), span, qualifier])
    pct = real_commercial(ctx, "percentage")
    terms: dict[tuple[Md, Md], list[str]] = {}
    order = {s: i for i, s in enumerate((*PROFESSIONAL, *FACILITY))}
    pct = pct.sort_values("setting", key=lambda c: c.map(order))
    for setting, group in pct.groupby("setting", sort=False):
        payers = sorted(set(group["payer_name"]))
        answer = Md(", ".join(percent(v) for v in sorted(set(group["rate_pct_of_charges"]))) + " of charges")
        basis = Md(
            f"{len(payers)} payer{'s' if len(payers) != 1 else ''} ({', '.join(text(p) for p in payers)}), "
            f"{file_dates(group)}"
        )
        terms.setdefault((answer, basis), []).append(str(setting))
    for (answer, basis), settings in terms.items():
        rows.append([Md(f"Commercial, percentage of billed charges: {fee_words(settings)}"), answer, basis])
    if not ranges and pct.empty:
        rows.append([Md("Commercial negotiated rates"), Md(f"{NA}: no real commercial rate is loaded"), Md("")])
    return rows


def at_a_glance(ctx: ReportContext) -> Md:
    """The table right after the title, compact enough that a laptop's first screen holds all of it: coverage (a row
    for commercial plans, one for traditional Medicare), Medicare per payment system, commercial evidence, volume.
    The detail behind each row is in the sections below it."""
    answer, basis = volume(ctx)
    rows = [
        *coverage_rows(ctx),
        *medicare_rows(ctx),
        *commercial_rows(ctx),
        [Md("Medicare Part B volume"), answer, basis],
    ]
    note = (
        "Real data only (the sections below show synthetic rows inline, marked).\n\n" if ctx.include_synthetic else ""
    )
    return Md(f"## {GLANCE_TITLE}\n\n{note}" + table(rows, ["Question", "Answer", "Basis (policy, release or file)"]))


SYSTEM = {"hopd_opps": "OPPS", "asc": "ASC", "physician_nonfacility": "PFS", "physician_facility": "PFS"}


def not_in_effect(ctx: ReportContext) -> Md:
    """One sentence when some Medicare amount shown is not from the release in effect on the as-of date."""
    latest = latest_medicare(ctx)
    stale = sorted({SYSTEM[s] for s in latest.index if s in SYSTEM and in_effect_note(ctx, latest.loc[s])})
    if not stale:
        return Md("")
    year, quarter = as_of_quarter(ctx)
    return Md(
        f"these are the latest loaded releases: the {year}-Q{quarter} {' / '.join(stale)} "
        f"release{'s' if len(stale) > 1 else ''} in effect on {ctx.as_of.isoformat()} "
        f"{'are' if len(stale) > 1 else 'is'} not loaded"
    )


def headline(ctx: ReportContext, coverage_bit: str | None) -> Md:
    """The summary's bold first sentence: coverage, Medicare per setting *if covered*, commercial evidence qualified."""
    sentences = [f"{ctx.code}: {coverage_bit}"] if coverage_bit else [str(ctx.code)]
    latest = latest_medicare(ctx)

    def amount(setting: str) -> str | None:
        if setting not in latest.index:
            return None
        row = latest.loc[setting]
        release = f"{SYSTEM[setting]} {text(row['release_period'])}"
        if missing(row["payment_usd"]):
            why = (
                "contractor-priced"
                if row["availability_reason"] == "contractor_priced"
                else reason(row["availability_reason"])
            )
            return f"{why} ({release})"
        return f"{money(row['payment_usd'])} ({release})"

    facility = [
        f"{a} in {where}"
        for s, where in (("hopd_opps", "a hospital outpatient department"), ("asc", "an ASC"))
        if (a := amount(s))
    ]
    professional = amount("physician_nonfacility")
    if facility or professional:
        condition = medicare_condition(ctx)
        words = f"{'If covered' if condition else 'Medicare covers it and'}, Medicare pays (national unadjusted)"
        if condition and "case by case" in condition:
            words = "Traditional Medicare decides coverage case by case; if covered, it pays (national unadjusted)"
        parts = []
        if facility:
            parts.append("a facility fee of " + " or ".join(facility))
        if professional:
            parts.append(f"a physician's professional fee that is {professional}")
        note = not_in_effect(ctx)
        sentences.append(f"{words} {' and '.join(parts)}{'; ' + note if note else ''}")
    ranges = commercial_ranges(ctx)
    for setting, span, qualifier in ranges:
        kind = "Medicare's professional fee" if setting in PROFESSIONAL else "Medicare's facility fee for that setting"
        sentences.append(
            f"Commercial evidence, {SETTING_FEE[setting]}: {span} ({qualifier}), to compare with {kind} only"
        )
    if not ranges:
        sentences.append("No real commercial negotiated dollar rate is loaded")
    return Md("**" + ". ".join(sentences) + ".**")
