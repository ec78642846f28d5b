"""Evidence the report's sections add from the loaded files and the curated reference tables.

The real Medicare contractor documents that bear on the code (raw/reference/medicare_documents.csv joined with the
loaded Coverage-database listing), each policy named with the plan that publishes it, the PFS indicators behind
modifier 51, release-to-release changes of Medicare's APC or amount, the ASC device offset of Addendum FF, and the
clinical context per code (raw/reference/code_clinical_context.csv). Every value comes from a report query; nothing
here types in a number.
"""

from __future__ import annotations

import pandas as pd

from flows.report.data import ReportContext
from flows.report.labels import CONFIDENCE, GROUPS, NA, PLAN_TYPES, SETTINGS, STANCES
from flows.report.text import Md, confidence, date, flag, link, missing, money, named, percent, reason, table, text

CHANGE_THRESHOLD_PCT = 10.0
"""A Medicare amount that moves by at least this many percent between consecutive loaded releases of a setting is
called out (an APC change is called out whatever the amount does)."""

MULT_PROC_INDICATORS = {
    "0": "no multiple-procedure payment reduction applies",
    "1": "the standard multiple-procedure rules in effect before 1995 apply",
    "2": "the standard multiple-procedure reduction applies (100 % for the highest-paid procedure, 50 % for the next)",
    "3": "the special rules for multiple endoscopic procedures apply",
    "4": "the multiple-procedure reduction for diagnostic imaging applies",
    "5": "the multiple-procedure reduction for therapy services applies",
    "6": "the multiple-procedure reduction for diagnostic cardiovascular services applies",
    "7": "the multiple-procedure reduction for diagnostic ophthalmology services applies",
    "9": "the multiple-procedure concept does not apply",
}
"""The PFS relative value file's multiple-procedure indicator (CMS's RVU file documentation, field MULT PROC)."""

GLOBAL_DAYS = {
    "000": "no postoperative days",
    "010": "10 postoperative days",
    "090": "90 postoperative days",
    "MMM": "maternity care global rules",
    "XXX": "the global concept does not apply",
    "YYY": "the Medicare contractor decides whether a global period applies and sets it when it prices the service",
    "ZZZ": "an add-on code within another service's global period",
}
"""The PFS relative value file's global-surgery periods (field GLOB DAYS)."""

RECORDED_NOTE = (
    "*Recorded* is the date each policy was recorded in the payer-policy extract (its retrieval date). For the "
    "bundled extract that is the date the project's notes were compiled into it from stored copies of the pages "
    "(raw/payer_policy/README.md), not the date a live page was read; the page's own dates are in the policy rows "
    "and, once the policy pages have been fetched (`payerbench fetch`), in the policy-page table of section 4."
)


# --- policies named with their plan -------------------------------------------------------------------------
def policy_owner(ctx: ReportContext, payer_group: object, policy_id: object) -> Md:
    """The plan that publishes a policy, then its id ("Capital Blue Cross MP 2.376"), from the payer extract; the
    id alone when the extract names no plan for it."""
    policies = ctx.frames.get("coverage_policies", pd.DataFrame())
    if missing(policy_id):
        return Md(NA)
    if not policies.empty:
        rows = policies[(policies["payer_group"] == payer_group) & (policies["policy_id"] == policy_id)]
        if len(rows):
            return Md(f"{text(rows.iloc[0]['payer_name'])} {text(policy_id)}")
    return text(policy_id)


def group_and_policy(ctx: ReportContext, payer_group: object, policy_id: object) -> Md:
    """ "Blue Cross Blue Shield plans" and "Capital Blue Cross MP 2.376" in one: the plan with its policy, preceded by
    the payer group only when the plan's name does not already say it ("Medicare (CGS Administrators, LLC cope24853)")."""
    owner = policy_owner(ctx, payer_group, policy_id)
    group = str(named(GROUPS, payer_group))
    if group.split()[0].lower() in owner.lower():
        return owner
    return Md(f"{group} ({owner})")


def policies_behind(ctx: ReportContext, payer_group: object) -> Md:
    """Every policy of a payer group in the extract, each with the plan behind it, its plans, stance and confidence;
    a search that found nothing reads "no policy found"."""
    policies = ctx.frames.get("coverage_policies", pd.DataFrame())
    if policies.empty:
        return Md(NA)
    rows = policies[policies["payer_group"] == payer_group]
    parts = []
    for r in rows.itertuples():
        who = text(r.payer_name) + (f" {text(r.policy_id)}" if not missing(r.policy_id) else "")
        parts.append(
            f"{who} ({named(PLAN_TYPES, r.plan_type)}): {named(STANCES, r.coverage_status)}, "
            f"{confidence(r.source_confidence)}"
        )
    return Md("; ".join(parts) if parts else NA)


# --- Medicare contractor documents --------------------------------------------------------------------------
def mcd_documents(ctx: ReportContext) -> list[str]:
    """The real Medicare contractor documents that bear on the code, by title, contractor, id, effective date and
    link, with how each bears on it; their code lists are not loaded, so none is said to list the code."""
    docs = ctx.frames.get("mcd_documents", pd.DataFrame())
    out = ["### Medicare contractor documents that bear on the code"]
    if docs.empty:
        out.append(
            f"Medicare contractor documents: {NA} — none is recorded for {ctx.code} in "
            "raw/reference/medicare_documents.csv."
        )
        return out
    rows = []
    for r in docs.itertuples():
        title = r.title if not missing(r.title) else NA
        where = f" ({', '.join(str(r.jurisdictions).split())})" if not missing(r.jurisdictions) else ""
        url = r.url if not missing(r.url) else r.source_url
        rows.append(
            [
                Md(text(r.contractor) + text(where, empty="")),
                link(r.document_id, url),
                text(r.document_type)
                if not missing(r.document_type)
                else Md("Article" if str(r.document_id)[0] == "A" else "LCD"),
                text(title),
                date(r.effective_date) if not missing(r.effective_date) else NA,
                Md(f"{text(r.bears_on)} ({confidence(r.source_confidence)})"),
                Md(
                    f"real Coverage-database listing ({text(r.source_file)}, version {text(r.document_version)})"
                    if flag(r.in_listing)
                    else "not in the loaded Coverage-database listing (project notes)"
                ),
            ]
        )
    out.append(
        "Real documents of Medicare contractors (MACs) that bear on the code: how each bears on it is curated in "
        "raw/reference/medicare_documents.csv (its title names the service, or it is a Category III codes document "
        f"and {ctx.code} is a Category III code), with a confidence; title, version and effective date come from the "
        "loaded Coverage-database listing. **Their code lists are not loaded** (the listing names documents, not the "
        f"codes they list), so whether each lists {ctx.code}, and with what stance, is not known from these files."
    )
    out.append(
        table(rows, ["Contractor", "Document", "Type", "Title", "Effective", "How it bears on the code", "From"])
    )
    return out


def listed_document_rows(ctx: ReportContext) -> pd.DataFrame:
    """The real Coverage-database documents that bear on the code and are in the loaded listing (section 4's rows)."""
    docs = ctx.frames.get("mcd_documents", pd.DataFrame())
    if docs.empty or "in_listing" not in docs:
        return docs.iloc[0:0]
    return docs[[flag(v) for v in docs["in_listing"]]]


def mcd_code_lists(m: pd.Series) -> Md:
    """What the loaded Coverage-database code lists say for the code: a conclusion only when they are real."""
    if flag(m.get("mcd_is_synthetic")):
        return Md(
            "Coverage-database code lists: only synthetic demonstration files are loaded (raw/cms_mcd/"
            "synthetic_mcd_release): they show how the pipeline reads CMS's export and support no conclusion about "
            "which LCDs or articles list the code. CMS's export with the real code lists is not loaded."
        )
    if missing(m.get("mcd_availability")):
        return Md("")
    detail = f" — {text(m['mcd_detail'])}" if not missing(m.get("mcd_detail")) else ""
    return Md(f"Medicare Coverage Database code lists (CMS's export): {reason(m['mcd_availability'])}{detail}.")


# --- Medicare payment: indicators, changes, device offsets ---------------------------------------------------
def pfs_indicators(ctx: ReportContext) -> pd.Series | None:
    """The newest loaded PFS release's indicators for the code (None when no PFS file lists it)."""
    rows = ctx.frames.get("pfs_indicators", pd.DataFrame())
    return None if rows.empty else rows.iloc[0]


def modifier_51_note(ctx: ReportContext) -> Md | None:
    """What the loaded PFS file says about multiple procedures and the global period for the code."""
    r = pfs_indicators(ctx)
    if r is None:
        return None
    mpi, glob = str(r["mult_proc_indicator"]), str(r["global_days"])
    mpi_words = MULT_PROC_INDICATORS.get(mpi, "an indicator this report does not explain")
    glob_words = GLOBAL_DAYS.get(glob, "a period this report does not explain")
    return Md(
        f"Medicare PFS {int(r['release_year'])}-Q{int(r['release_quarter'])} ({text(r['source_file'])}): "
        f"multiple-procedure indicator {text(mpi)} ({mpi_words}) and global days {text(glob)} ({glob_words})"
    )


def _changes(ctx: ReportContext) -> list[tuple[str, pd.Series, pd.Series, float, bool]]:
    """(setting, release before, release after, % change, APC changed) for each pair of consecutive loaded releases
    of a setting with an amount whose APC changed or whose amount moved by CHANGE_THRESHOLD_PCT or more."""
    rates = ctx["medicare_rates"]
    if rates.empty:
        return []
    paid = rates[rates["payment_usd"].notna()].sort_values("period_start_date")
    out = []
    for setting, group in paid.groupby("setting", sort=False):
        rows = [r for _, r in group.iterrows()]
        for before, after in zip(rows, rows[1:], strict=False):
            change = (float(after["payment_usd"]) - float(before["payment_usd"])) / float(before["payment_usd"]) * 100
            apc_changed = (
                not missing(before["apc"]) and not missing(after["apc"]) and str(before["apc"]) != str(after["apc"])
            )
            if apc_changed or abs(change) >= CHANGE_THRESHOLD_PCT:
                out.append((str(setting), before, after, change, apc_changed))
    return out


def _change_words(setting: str, before: pd.Series, after: pd.Series, change: float, apc_changed: bool) -> str:
    """ "OPPS APC (Addendum FF) 5432 → 5433; $4,626.66 → $6,353.37 (+37%)"."""
    apc_label = "OPPS APC (Addendum FF)" if setting == "asc" else "APC"
    what = f"{apc_label} {text(before['apc'])} → {text(after['apc'])}; " if apc_changed else ""
    return (
        f"{what}{money(before['payment_usd'])} → {money(after['payment_usd'])} "
        f"({'+' if change >= 0 else '−'}{percent(abs(change), 0)})"
    )


def latest_change(ctx: ReportContext, setting: str, release_period: object) -> Md:
    """The called-out change into a setting's shown release, in words ("up 37% from $4,626.66 in 2025-Q4, OPPS APC
    (Addendum FF) 5432 → 5433"), '' when the release shown did not change beyond the threshold."""
    for s, before, after, change, apc_changed in _changes(ctx):
        if s == setting and str(after["release_period"]) == str(release_period):
            direction = "up" if change >= 0 else "down"
            apc_label = "OPPS APC (Addendum FF)" if setting == "asc" else "APC"
            apc = f", {apc_label} {text(before['apc'])} → {text(after['apc'])}" if apc_changed else ""
            return Md(
                f"{direction} {percent(abs(change), 0)} from {money(before['payment_usd'])} in "
                f"{text(before['release_period'])}{apc}"
            )
    return Md("")


def release_changes(ctx: ReportContext) -> list[str]:
    """A bullet per setting where the APC changed, or the amount moved by CHANGE_THRESHOLD_PCT or more, between
    consecutive loaded releases with an amount."""
    if ctx["medicare_rates"].empty:
        return []
    lines = [
        f"- **{named(SETTINGS, setting)}, {text(before['release_period'])} → {text(after['release_period'])}:** "
        + _change_words(setting, before, after, change, apc_changed)
        for setting, before, after, change, apc_changed in _changes(ctx)
    ]
    if not lines:
        return [
            f"Release-to-release changes: no APC change and no amount change of {percent(CHANGE_THRESHOLD_PCT, 0)} "
            "or more between consecutive loaded releases."
        ]
    return [
        f"Release-to-release changes (an APC change, or an amount change of {percent(CHANGE_THRESHOLD_PCT, 0)} or "
        "more, between consecutive loaded releases of a setting; releases not loaded in between are not seen):",
        "\n".join(lines),
    ]


def device_offsets(ctx: ReportContext) -> list[str]:
    """ASC Addendum FF per loaded release: the device offset a device-intensive (J8) procedure carries."""
    ff = ctx.frames.get("asc_device_offsets", pd.DataFrame())
    if ff.empty:
        return []
    rows = [
        [
            f"{int(r.release_year)}-Q{int(r.release_quarter)}",
            text(r.payment_indicator),
            Md(f"OPPS APC {text(r.apc)}") if not missing(r.apc) else NA,
            money(r.opps_payment_rate_usd),
            percent(r.device_offset_pct, 2),
            money(r.device_portion_usd),
            text(r.source_file),
        ]
        for r in ff.itertuples()
    ]
    j8 = ff["payment_indicator"].eq("J8").any()
    return [
        "ASC Addendum FF (device-intensive procedures)"
        + (
            ": the code is device-intensive (payment indicator J8), so its ASC payment carries the device portion "
            "below; the APC and rate are OPPS's (ASC payment does not use APCs)."
            if j8
            else "; the APC and rate are OPPS's (ASC payment does not use APCs)."
        ),
        table(
            rows,
            [
                "Release",
                "ASC payment indicator",
                "OPPS APC (Addendum FF)",
                "OPPS rate",
                "Device offset",
                "Device portion",
                "File",
            ],
        ),
    ]


# --- clinical context ---------------------------------------------------------------------------------------
PART_TITLES = {
    "vignette": "Clinical vignette",
    "indications": "Indications",
    "coding": "Code-specific coding guidance",
    "documentation": "Documentation a payer will ask for",
}


def clinical_context(ctx: ReportContext) -> list[str]:
    """The code's clinical context: vignette, indications, coding and the documentation workflow, each item with
    its confidence and source, an illustrative item labelled so."""
    rows = ctx.frames.get("clinical_context", pd.DataFrame())
    out = ["### Clinical context"]
    if rows.empty:
        out.append(
            f"Clinical context: {NA} — none is recorded for {ctx.code} in raw/reference/code_clinical_context.csv."
        )
        return out
    for part, group in rows.groupby("part", sort=False):
        out.append(f"**{PART_TITLES.get(str(part), text(part))}**")
        items = []
        for r in group.itertuples():
            label = (
                "*illustrative, not a clinical fact*"
                if r.illustrative == "yes"
                else named(CONFIDENCE, r.source_confidence)
            )
            lead = "1." if part == "documentation" else "-"
            items.append(f"{lead} {text(r.text)} ({label}; {link('source', r.source_url)})")
        out.append("\n".join(items))
    return out
