"""The ten sections of the benchmark report, as Markdown, written from the loaded `ReportContext`.

Each `section_*` function returns Markdown for one section of notebooks/benchmark_report.ipynb (in `SECTIONS`
order). Nothing here holds a number: every figure, date and name comes from a `ReportData` query, and a
missing value is printed as "data not available" with the reason the marts give for it.
"""

from __future__ import annotations

import re

import pandas as pd

from flows.report.data import ReportContext
from flows.report.evidence import (
    RECORDED_NOTE,
    clinical_context,
    device_offsets,
    group_and_policy,
    latest_change,
    mcd_code_lists,
    mcd_documents,
    modifier_51_note,
    policies_behind,
    policy_owner,
    release_changes,
)
from flows.report.glance import (
    SETTING_FEE,
    commercial_ranges,
    headline,
    medicare_condition,
    real_commercial,
)
from flows.report.labels import (
    COMMERCIAL_PLAN_TYPES,
    CONFIDENCE,
    CONFIDENCE_ORDER,
    FILE_KINDS,
    GROUPS,
    LINES,
    NA,
    PLAN_TYPES,
    SETTINGS,
    SOURCES,
    STANCES,
    source_description,
)
from flows.report.medicare import (
    in_effect_note,
    latest_medicare,
    medicare_contractors,
    medicare_phrase,
    older_release_note,
    short_release,
)
from flows.report.synthetic import DEMO_RATES, DEMO_UTILIZATION
from flows.report.text import (
    Md,
    confidence,
    date,
    flag,
    link,
    listing,
    missing,
    money,
    named,
    number,
    percent,
    reason,
    source_link,
    table,
    text,
)

SECTION_TITLES = [
    "1. Summary",
    "2. Billing code overview",
    "3. Clinical and coding specifications",
    "4. Payer coverage",
    "5. Medicare reimbursement",
    "6. Commercial reimbursement",
    "7. Utilization",
    "8. Billing considerations",
    "9. Data availability",
    "10. Sources",
    "Appendix: Demonstration data (synthetic)",
]


# --- sections ------------------------------------------------------------------------------------
def title(ctx: ReportContext) -> Md:
    """The heading and a one-line intro (descriptor, as-of date, real data or not), so the at-a-glance table follows
    on the first screen; what "as of" means is said under the table (`as_of_note`)."""
    label = ctx["code_profile"]["label"].iloc[0] if not ctx["code_profile"].empty else None
    data = (
        "real data, with synthetic demonstration rows inline, marked *synthetic sample*"
        if ctx.include_synthetic and synthetic_loaded(ctx)
        else "real data only"
    )
    return Md(
        f"# {ctx.code} reimbursement benchmark\n\n"
        f"{text(label) if label else 'A code not configured in raw/reference/billing_codes.csv'} · "
        f"data as of {ctx.as_of.isoformat()} · {data}"
    )


def as_of_note(ctx: ReportContext) -> Md:
    """Under the at-a-glance table: what "as of" means for each kind of file, when the report was rendered, and where
    synthetic demonstration files are."""
    return Md(
        f"Data as of {ctx.as_of.isoformat()}: the latest loaded Medicare release of each payment system dated on or "
        "before it (each amount names its release, and says so where the release in effect on that date is not "
        "loaded), payer and hospital files dated on or before it, Part B data years CMS had released by then. "
        f"Rendered on {ctx.rendered_on.isoformat()} from the payerbench warehouse."
        + (
            ""
            if not synthetic_loaded(ctx)
            else " Rows from synthetic demonstration files are shown inline, marked *synthetic sample*; they state no "
            "fact."
            if ctx.include_synthetic
            else " Real data only: synthetic demonstration files are set apart in the appendix."
        )
    )


def synthetic_loaded(ctx: ReportContext, source: str | None = None) -> bool:
    """Whether a synthetic demonstration file (of one load-log source, or of any) is loaded."""
    files = ctx["source_files"]
    if files.empty or "is_synthetic" not in files:
        return False
    fake = files[files["is_synthetic"].astype(bool)]
    return bool(len(fake if source is None else fake[fake["source"] == source]))


def real_word(ctx: ReportContext, source: str | None = None) -> str:
    """ "real " where synthetic files of the source are loaded but walled off, so "no loaded file" is not said of them."""
    return "real " if not ctx.include_synthetic and synthetic_loaded(ctx, source) else ""


def section_summary(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[0]}"]
    if not ctx.known:
        listings = ctx.medicare_listings()
        if listings.empty:
            out.append(
                f"**No data is available for {ctx.code}.** It is not among the configured codes of interest and no "
                "loaded file holds it: every section below says what is not available."
            )
        else:
            kinds = list(dict.fromkeys(named(FILE_KINDS, k) for k in listings["rate_source"]))
            out.append(
                f"**{ctx.code} is not among the configured codes of interest** (raw/reference/billing_codes.csv), so "
                f"the marts compute nothing for it. The loaded Medicare payment files do list it ({', '.join(kinds)}; "
                "section 5); payer and hospital files are loaded for the configured codes only. Every section "
                "below says what is not available."
            )
        return "\n\n".join(out)
    lead = []
    category = ctx.fact("code_category")
    profile = ctx["code_profile"].iloc[0] if not ctx["code_profile"].empty else None
    if category:
        lead.append(f"{ctx.code} is a {text(category.split(':')[0])} code")
    elif profile is not None:
        lead.append(
            f"{ctx.code} is a {text(str(profile['code_category']).replace('_', ' '))} {text(profile['code_type'])} code"
        )
    history = list(ctx.facts("code_history")["fact"]) if not ctx.facts("code_history").empty else []
    headline_bits = []

    coverage = ctx["coverage"]
    commercial = coverage[coverage["payer_group"] != "medicare"]
    # coverage_matrix's stance for a commercial group is its commercial plans' only (Medicare Advantage apart)
    stated = commercial[commercial["coverage_position"].notna()]
    not_covered = stated[stated["coverage_position"] == "not_covered"]
    unstated = commercial[commercial["coverage_position"].isna()]
    evidence = "; ".join(
        f"{group_and_policy(ctx, r.payer_group, r.policy_id)}: {confidence(r.source_confidence)}"
        for r in stated.itertuples()
    )
    if len(stated) and len(not_covered) == len(stated):
        statuses = sorted({named(STANCES, s) for s in stated["coverage_status"]})
        by_level: dict[str, list[str]] = {}
        for r in stated.sort_values("source_confidence", key=lambda c: c.map(CONFIDENCE_ORDER)).itertuples():
            # the plan behind each policy ("Capital Blue Cross MP 2.376"), not the payer group alone
            by_level.setdefault(confidence(r.source_confidence), []).append(
                group_and_policy(ctx, r.payer_group, r.policy_id)
            )
        headline_bits.append(
            f"{len(stated)} of {len(commercial)} commercial payer groups' commercial policies treat it as not "
            f"covered ({'; '.join(f'{level}: ' + ', '.join(g) for level, g in by_level.items())})"
            + "".join(
                f"; {named(GROUPS, r.payer_group)}: {reason(r.availability_reason)} for commercial plans"
                for r in unstated.itertuples()
            )
        )
        lead.append(
            f"Every commercial payer group with a published commercial-plan stance ({len(stated)} of {len(commercial)}) "
            f"treats it as not covered ({', '.join(statuses)}; evidence: {evidence})"
        )
    elif len(stated):
        lead.append(
            "Commercial payer stances (commercial plans) differ: "
            + "; ".join(
                f"{named(GROUPS, r.payer_group)}: {named(STANCES, r.coverage_status)} "
                f"({text(r.policy_id)}, {confidence(r.source_confidence)})"
                for r in stated.itertuples()
            )
        )
    else:
        lead.append("No commercial-plan policy stance for the code is loaded (data not available)")
    if len(stated) and len(unstated):
        lead.append(
            "No commercial-plan stance for "
            + "; ".join(
                f"{named(GROUPS, r.payer_group)} ({reason(r.availability_reason)})" for r in unstated.itertuples()
            )
        )
    ma = (
        commercial[commercial["medicare_advantage_coverage_status"].notna()]
        if "medicare_advantage_coverage_status" in commercial
        else commercial.iloc[0:0]
    )
    if len(ma):
        lead.append(
            "Medicare Advantage, shown apart and not counted above: "
            + "; ".join(
                f"{named(GROUPS, r.payer_group)} {listing(r.medicare_advantage_policy_ids)}: "
                f"{named(STANCES, r.medicare_advantage_coverage_status)} "
                f"({confidence(r.medicare_advantage_source_confidence)})"
                for r in ma.itertuples()
            )
        )
    medicare_row = coverage[coverage["payer_group"] == "medicare"]
    if not medicare_row.empty:
        m = medicare_row.iloc[0]
        if not missing(m["coverage_status"]):
            who = medicare_contractors(ctx, m["coverage_status"])
            if who:
                lead.append(
                    f"Traditional Medicare: {named(STANCES, m['coverage_status'])} according to "
                    f"{who}: Medicare contractors' instructions for their own jurisdictions, not a national Medicare "
                    "policy; other contractors' stances are not in the loaded policy extract"
                )
            else:
                lead.append(
                    f"Medicare: {named(STANCES, m['coverage_status'])} "
                    f"({text(m['policy_title'])}, {named(CONFIDENCE, m['source_confidence'])})"
                )
        else:
            lead.append(f"Medicare coverage: {reason(m['availability_reason'])}")

    latest = latest_medicare(ctx)
    phrases = []
    for s in ("asc", "hopd_opps", "physician_nonfacility"):
        if s in latest.index:
            phrase, change = (
                medicare_phrase(ctx, latest.loc[s], s),
                latest_change(ctx, s, latest.loc[s, "release_period"]),
            )
            # a called-out release-to-release change goes inside the phrase's parenthesis, beside its release
            phrases.append(Md(f"{phrase[:-1]}; {change})") if change and phrase.endswith(")") else phrase)
    if phrases:
        condition = medicare_condition(ctx)
        lead.append(f"{'If covered, ' if condition else ''}Medicare pays " + "; ".join(phrases))
    else:
        lead.append("Medicare rates: data not available (no Medicare fee-schedule file holds the code)")

    rates = ctx["commercial_rates"]
    is_synthetic = rates["is_synthetic"].fillna(False).astype(bool)
    real, synthetic = rates[~is_synthetic], ctx.frames.get(DEMO_RATES, rates[is_synthetic])
    # summary claims count commercial plans only: never Medicare Advantage, Medicaid or traditional Medicare
    dollars = real_commercial(ctx)
    pct = real_commercial(ctx, "percentage")
    if len(dollars):
        # one range per setting: a professional fee is never in one range with a facility amount
        lead += [
            f"Commercial negotiated {SETTING_FEE[setting]} rates: {span} ({qualifier})"
            for setting, span, qualifier in commercial_ranges(ctx)
        ]
    else:
        lead.append(
            "No commercial negotiated dollar rate for the code is in the loaded (real) payer or hospital files "
            "(data not available)"
        )
    if len(pct):
        n = len(set(pct["payer_name"]))
        lead.append(
            f"{n} payer{' pays' if n == 1 else 's pay'} a percentage of billed charges instead "
            f"({', '.join(percent(v) for v in sorted(set(pct['rate_pct_of_charges'])))} of charges; "
            f"{', '.join(files_dated(pct))})"
        )
    unstated = real[(real["plan_type"] == "not_stated") & (real["rate_kind"] == "dollars")]
    if len(unstated):
        lead.append(
            f"{number(len(unstated))} further real hospital rates whose file does not state the plan type are in "
            "section 6 and not in this range"
        )
    not_commercial = real[real["plan_type"].isin(["medicare_advantage", "medicaid_managed", "medicare_ffs"])]
    if len(not_commercial):
        lead.append(
            f"{number(len(not_commercial))} real Medicare Advantage, Medicaid or traditional Medicare rates are shown "
            "apart (sections 5 and 6), never in the commercial figures"
        )
    if len(synthetic):
        lead.append(
            "Synthetic demonstration files are loaded too; they state no fact and are left out of this summary "
            + ("(marked *synthetic sample* where shown)" if ctx.include_synthetic else "(see the appendix)")
        )
    out.append(headline(ctx, headline_bits[0] if headline_bits else None))
    out.append(". ".join(lead) + ".")
    if history:
        out.append("History: " + " ".join(text(h).rstrip(".") + "." for h in history) + " (inferred; see section 2).")
    return "\n\n".join(out)


def files_dated(rates: pd.DataFrame, short: bool = False) -> list[Md]:
    """Each payer with the date its file gives for these rates ("UnitedHealthcare Insurance Company of New York, TiC file
    dated 2022-09-01"); short: "TiC file of 2022-09-01"."""
    out = []
    for (payer, source), group in rates.groupby(["payer_name", "source"], sort=True):
        kind = "TiC file" if source == "payer_tic" else "hospital file"
        dates = sorted({date(d) for d in group["as_of_date"]})
        when = " and ".join(dates) if dates and dates != [NA] else "of unknown date"
        out.append(Md(f"{kind} of {when}" if short else f"{text(payer)}, {kind} dated {when}"))
    return list(dict.fromkeys(out))


def section_code_overview(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[1]}"]
    profile = ctx["code_profile"]
    rows = []
    for topic, label in [
        ("descriptor", "Official descriptor"),
        ("short_descriptor", "CMS short descriptor"),
        ("code_category", "Code type"),
        ("service_type", "Service"),
        ("sites_of_service", "Typical sites of service"),
        ("code_history", "History and status"),
    ]:
        facts = ctx.facts(topic)
        if topic == "short_descriptor" and not ctx.medicare_listings().empty:
            # CMS's own text, cited to the loaded file that prints it (not a web page about another code)
            listed = ctx.medicare_listings().iloc[0]
            rows.append(
                [
                    label,
                    text(listed["short_descriptor"]),
                    Md(
                        f"verified (loaded CMS file: {named(FILE_KINDS, listed['rate_source'])} "
                        f"{text(listed['release_period'])}, {text(listed['source_file'])})"
                    ),
                ]
            )
            same = facts["fact"].str.strip().str.lower() == str(listed["short_descriptor"]).strip().lower()
            facts = facts[~same]
            if facts.empty:
                continue
        if facts.empty:
            rows.append([label, NA, ""])
        for f in facts.itertuples():
            rows.append(
                [label, f.fact, Md(named(CONFIDENCE, f.source_confidence) + source_link(f.source_url, ctx.code))]
            )
    if not profile.empty:
        p = profile.iloc[0]
        rows.insert(
            2,
            [
                "Code set",
                Md(
                    f"{text(p['code_type'])} ({text(str(p['code_category']).replace('_', ' '))}), "
                    f"{text(p['role'])} code"
                ),
                "configuration",
            ],
        )
        rows.append(["Sibling codes", listing(p["sibling_labels"], "none configured"), "configuration"])
    else:
        rows.append(["Sibling codes", NA, ""])
    out.append(table(rows, ["Item", "Value", "Confidence / source"]))
    return "\n\n".join(out)


def section_clinical(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[2]}", *clinical_context(ctx), "### Indications (ICD-10-CM)"]
    dx = ctx["diagnoses"]
    if dx.empty:
        out.append(f"Diagnosis codes: {NA} (none recorded for {ctx.code} in raw/reference/code_diagnoses.csv).")
    else:
        out.append(
            table(
                [[r.diagnosis_group, r.icd10_code, r.description] for r in dx.itertuples()],
                ["Indication", "ICD-10-CM", "Description"],
            )
        )
        confidences = sorted({named(CONFIDENCE, c) for c in dx["source_confidence"]})
        out.append(
            f"Codes from {text(dx['source'].iloc[0])}. Pairing with {ctx.code}: {', '.join(confidences)} — "
            f"{text(dx['notes'].dropna().iloc[0]) if dx['notes'].notna().any() else ''}"
        )
    out.append("### Modifiers")
    mods = ctx["modifiers"]
    if mods.empty:
        out.append(f"Modifiers: {NA}.")
    else:
        pfs_51 = modifier_51_note(ctx)
        out.append(
            table(
                [
                    [
                        r.modifier,
                        r.description,
                        Md(text(r.when_to_use) + (f" {pfs_51}." if r.modifier == "51" and pfs_51 else "")),
                        named(CONFIDENCE, r.source_confidence),
                        named(CONFIDENCE, r.use_confidence) if not missing(r.use_confidence) else "not stated",
                    ]
                    for r in mods.itertuples()
                ],
                [
                    "Modifier",
                    "Description",
                    "When to use",
                    "Definition: confidence",
                    f"Use with {ctx.code}: confidence",
                ],
            )
        )
        out.append(
            "Two confidences: the modifier's definition (verified where it was read in CMS's HCPCS file) and its use "
            f"with {ctx.code} (inferred: no {ctx.code}-specific modifier guidance was found)."
        )
    out.append("### Imaging")
    imaging = ctx.fact("imaging")
    out.append(
        text(imaging) + f" ({confidence(ctx.facts('imaging').iloc[0]['source_confidence'])})."
        if imaging
        else f"Imaging: {NA}."
    )
    out.append("### Comparator codes and coding guidance")
    comparators = ctx["comparators"].drop_duplicates("billing_code")
    if comparators.empty:
        out.append(f"Comparator codes: {NA}.")
    else:
        out.append(
            "Comparators configured for this code family: "
            + "; ".join(f"{text(r.billing_code)} ({text(r.label)})" for r in comparators.itertuples())
            + ". Their Medicare amounts are in section 5."
        )
    for topic in ("billing_guidance", "device_maker_guidance", "ncci"):
        for f in ctx.facts(topic).itertuples():
            source = f" ({link('source', f.source_url)})" if not missing(f.source_url) else ""
            out.append(f"- {text(f.fact)} — {named(CONFIDENCE, f.source_confidence)}{source}")
    if ctx.facts("billing_guidance").empty and ctx.facts("device_maker_guidance").empty:
        out.append(f"Coding guidance: {NA}.")
    return "\n\n".join(out)


def section_coverage(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[3]}"]
    coverage = ctx["coverage"]
    if coverage.empty:
        out.append(f"Coverage: {NA} — {ctx.code} has no row in the coverage matrix (not a configured code).")
        return "\n\n".join(out)
    rows = []
    for r in coverage.itertuples():
        stance = named(STANCES, r.coverage_status) if not missing(r.coverage_status) else reason(r.availability_reason)
        if r.payer_group == "medicare":
            ma = Md("not applicable")
            who = medicare_contractors(ctx, r.coverage_status) if not missing(r.coverage_status) else ""
            if who:
                stance = Md(f"{stance} (per {who}; not a national Medicare policy)")
        elif not missing(r.medicare_advantage_coverage_status):
            ma = Md(
                f"{named(STANCES, r.medicare_advantage_coverage_status)} "
                f"({listing(r.medicare_advantage_policy_ids)}, {confidence(r.medicare_advantage_source_confidence)})"
            )
        else:
            ma = reason(r.medicare_advantage_availability_reason)
        rows.append(
            [
                named(GROUPS, r.payer_group),
                named(LINES, r.line_of_business),
                link(policy_owner(ctx, r.payer_group, r.policy_id), r.source_url) if not missing(r.policy_id) else NA,
                r.policy_title,
                stance,
                date(r.effective_date) if not missing(r.effective_date) else NA,
                confidence(r.source_confidence),
                ma,
                in_words(policies_behind(ctx, r.payer_group)),
            ]
        )
    out.append(
        table(
            rows,
            [
                "Payer group",
                "Plans",
                "Policy",
                "Title",
                "Stance",
                "Effective",
                "Confidence",
                "Medicare Advantage (apart)",
                "All policies behind the row",
            ],
        )
    )
    medicare = coverage[coverage["payer_group"] == "medicare"]
    if not medicare.empty and "mcd_availability" in medicare.columns:
        code_lists = mcd_code_lists(medicare.iloc[0])
        if code_lists:
            out.append(code_lists)
    retrieved = pd.to_datetime(coverage["retrieved_date"], errors="coerce").dropna()
    if len(retrieved) and retrieved.max().date() > ctx.as_of:
        out.append(
            f"Policies as recorded in the extract on {date(retrieved.max())} (section 10), after the as-of date {ctx.as_of.isoformat()}: the "
            "report shows the loaded policy versions and does not reconstruct earlier ones."
        )
    out.append(
        "Stances are the strongest-evidence policies' (`verified` > `verified (third party)` > `inferred`) for the "
        "row's plans: a commercial payer group's commercial plans, traditional Medicare for Medicare. A Medicare "
        "Advantage policy is shown in its own column and never sets a commercial stance. `not found` means a search "
        "that found no policy."
    )
    out += mcd_documents(ctx)
    out += policy_pages(ctx)
    return "\n\n".join(out)


_WORDS = {**PLAN_TYPES, **STANCES, **CONFIDENCE, **SETTINGS, **SOURCES}
_SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def in_words(value: Md) -> Md:
    """A mart's summary text with its enumeration values (`experimental_investigational`) in words."""
    return Md(_SNAKE.sub(lambda m: _WORDS.get(m[0], m[0].replace("_", " ")), value))


def page_stance(value: object) -> Md:
    """A page's stance (';'-joined coverage statuses) in words; "no stance sentence found" when it has none."""
    if missing(value):
        return Md("no stance sentence found")
    return Md(" and ".join(named(STANCES, s) for s in str(value).split(";")))


def policy_pages(ctx: ReportContext) -> list[str]:
    """The policy pages behind the coverage rows as fetched by the as-of date (warehouse/sql/report/policy_pages.sql
    and policy_page_changes.sql): each page's stance, last-reviewed date and code listing, a flag where the page's
    stance differs from the reviewed extract's, and the page changes up to the as-of date. Nothing when no page of
    the code has a snapshot by then (the section then reads as it did before pages were watched)."""
    pages = ctx.frames.get("policy_pages", pd.DataFrame())
    changes = ctx.frames.get("policy_page_changes", pd.DataFrame())
    if pages.empty and changes.empty:
        return []
    out = [
        f"### Policy pages as of {ctx.as_of.isoformat()}",
        "Each cited policy page as last fetched on or before the as-of date (`payerbench fetch payer_policy`): what "
        "its stance sentences say, the last-review date it shows and whether its code list names "
        f"{ctx.code}. The extract stays the reviewed truth; a page that reads otherwise is flagged for review.",
    ]
    if not pages.empty:
        rows = []
        for r in pages.itertuples():
            listed = "yes" if flag(r.code_listed) else ("no" if flag(r.code_checked) else "not checked")
            rows.append(
                [
                    named(GROUPS, r.payer_group),
                    named(PLAN_TYPES, r.plan_type),
                    link(r.policy_id if not missing(r.policy_id) else r.policy_url, r.policy_url),
                    date(r.fetched_at),
                    page_stance(r.page_stance),
                    date(r.page_last_reviewed_date),
                    Md(listed),
                    Md(f"{named(STANCES, r.coverage_status)} (reviewed {date(r.retrieved_date)})"),
                    Md("**review**" if flag(r.stance_differs) else "agrees" if not missing(r.page_stance) else NA),
                ]
            )
        out.append(
            table(
                rows,
                [
                    "Payer group",
                    "Plans",
                    "Policy page",
                    "Fetched",
                    "Page stance",
                    "Page last reviewed",
                    f"Page lists {ctx.code}",
                    "Extract stance",
                    "Check",
                ],
            )
        )
        differing = pages[pages["stance_differs"].map(flag)]
        out += [
            f"**{text(r.payer_name)} {text(r.policy_id)} ({named(GROUPS, r.payer_group)}, "
            f"{named(PLAN_TYPES, r.plan_type)}): the page now reads {page_stance(r.page_stance)} "
            f"(fetched {date(r.fetched_at)}); the extract (reviewed {date(r.retrieved_date)}) says "
            f"{named(STANCES, r.coverage_status)}: review it.**"
            for r in differing.itertuples()
        ]
    if changes.empty:
        out.append(f"Page changes: none fetched on or before {ctx.as_of.isoformat()}.")
        return out
    lines = [f"Page changes fetched on or before {ctx.as_of.isoformat()}, newest first:"]
    for r in changes.itertuples():
        stance = (
            f"stance {page_stance(r.previous_stance)} → {page_stance(r.new_stance)}"
            if flag(r.stance_changed)
            else "stance unchanged"
        )
        what = "" if flag(r.relevant_changed) else " (only text outside the dates, codes and stance changed)"
        lines.append(
            f"- {date(r.fetched_at)} — {text(r.payer_name)} "
            f"{link(r.policy_id if not missing(r.policy_id) else r.url, r.url)}: {stance}{what}"
        )
        for line in str(r.diff).splitlines() if not missing(r.diff) else []:
            if line.startswith(("+++", "---", "@@")) or not line.startswith(("+", "-")):
                continue
            lines.append(f"  - {'added' if line[0] == '+' else 'removed'}: {text(line[1:])}")
    out.append("\n".join(lines))
    return out


def section_medicare(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[4]}"]
    rates = ctx["medicare_rates"]
    if rates.empty:
        listings = ctx.medicare_listings()
        if listings.empty:
            out.append(f"Medicare rates: {NA} — no loaded Medicare fee-schedule file lists {ctx.code}.")
        else:
            configured = not ctx["code_profile"].empty
            out.append(
                f"Medicare rates: {NA} — "
                + (
                    "the Medicare marts hold no amount for the code"
                    if configured
                    else f"{ctx.code} is not a configured code of interest, so payerbench computes no Medicare amount for it (add "
                    "it to raw/reference/billing_codes.csv and run again)"
                )
                + ". The loaded Medicare files that list it:"
            )
            out.append(
                table(
                    [
                        [
                            named(FILE_KINDS, r["rate_source"]),
                            r["release_period"],
                            text(r["status_indicator"]),
                            text(r["short_descriptor"]),
                            r["source_file"],
                        ]
                        for _, r in listings.iterrows()
                    ],
                    ["File", "Release", "Status / indicator", "Short descriptor", "File name"],
                )
            )
    else:
        rows = []
        for r in rates.itertuples():
            amount = money(r.payment_usd) if not missing(r.payment_usd) else reason(r.availability_reason)
            rows.append(
                [
                    named(SETTINGS, r.setting),
                    r.release_period,
                    amount,
                    r.status_indicator if not missing(r.status_indicator) else NA,
                    ("" if missing(r.apc) else f"OPPS APC {r.apc} (Addendum FF)" if r.setting == "asc" else r.apc),
                    r.availability_note if not missing(r.availability_note) else "",
                ]
            )
        out.append("National unadjusted amounts by setting and release (the trend across loaded releases):")
        out.append(table(rows, ["Setting", "Release", "Payment", "Status / indicator", "APC", "Note"]))
        out.append(
            "ASC payment does not use APCs: an ASC row's APC is the OPPS APC CMS lists for the code in ASC Addendum FF."
        )
        out += release_changes(ctx)
        out += device_offsets(ctx)
        loc = ctx["medicare_localities"]
        for r in loc.itertuples():
            if r.localities_with_amount:
                out.append(
                    f"{named(SETTINGS, r.setting)} across {number(r.localities)} PFS localities ({text(r.release_period)}): "
                    f"{money(r.min_usd)} to {money(r.max_usd)}, median {money(r.median_usd)}."
                )
            else:
                out.append(
                    f"{named(SETTINGS, r.setting)} in all {number(r.localities)} PFS localities ({text(r.release_period)}): "
                    f"{reason(r.availability_reason)}."
                )
    bench = ctx["benchmark"]
    if len(bench) and "plan_type" in bench:
        listed = bench[
            (bench["source"] == "hospital_mrf") & (bench["plan_type"] == "medicare_ffs") & (bench["rate_count"] > 0)
        ]
        if len(listed):
            out.append(
                "Hospital price files also list traditional Medicare amounts (what a hospital says Medicare pays it, "
                "not a CMS fee schedule; never counted as commercial): "
                + "; ".join(
                    f"{named(SETTINGS, r.setting)} {money(r.median_usd)} (median of {number(r.rate_count)}, "
                    f"file dated {date(r.latest_as_of)})"
                    + (" — **synthetic sample**" if flag(r.includes_synthetic) else "")
                    for r in listed.itertuples()
                )
                + "."
            )
    out.append("### Comparator codes")
    comp = ctx["comparators"]
    if comp.empty:
        out.append(f"Comparator codes: {NA}.")
    else:
        rows = []
        for _, r in comp.iterrows():
            release = short_release(r) if not missing(r["release_period"]) else NA
            rows.append(
                [
                    r["billing_code"],
                    r["label"],
                    named(SETTINGS, r["setting"]) if not missing(r["setting"]) else NA,
                    Md(text(release) + _in_effect(ctx, r) + older_release_note(ctx, r)),
                    money(r["payment_usd"]) if not missing(r["payment_usd"]) else reason(r["availability_reason"]),
                ]
            )
        out.append(
            table(
                rows,
                [
                    "Code",
                    "Description",
                    "Setting",
                    "Release (latest loaded up to the as-of date)",
                    "Medicare national payment",
                ],
            )
        )
    return "\n\n".join(out)


def _in_effect(ctx: ReportContext, row: pd.Series) -> Md:
    note = in_effect_note(ctx, row)
    return Md(f" ({note})" if note else "")


def _source_cell(r) -> Md:  # type: ignore[no-untyped-def]
    return Md(named(SOURCES, r.source) + (" — **synthetic sample**" if flag(r.includes_synthetic) else ""))


def _dollar_rows(rows: pd.DataFrame) -> list[list[object]]:
    return [
        [
            named(GROUPS, r.payer_group),
            named(PLAN_TYPES, r.plan_type),
            named(SETTINGS, r.setting),
            _source_cell(r),
            number(r.rate_count),
            money(r.min_usd),
            money(r.median_usd),
            money(r.max_usd),
            number(r.providers),
            pct_of_medicare(r),
            date(r.latest_as_of),
        ]
        for r in rows.itertuples()
    ]


DOLLAR_HEADER = [
    "Payer group",
    "Plans",
    "Setting",
    "Source",
    "Rates",
    "Min",
    "Median",
    "Max",
    "Providers",
    "Median as % of Medicare (national unadjusted, same setting)",
    "As of",
]


def section_commercial(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[5]}"]
    bench = ctx["benchmark"]
    if bench.empty:
        out.append(f"Commercial rates: {NA}.")
        return "\n\n".join(out)
    rated = bench[(bench["source"] != "medicare_fee_schedule") & (bench["availability_reason"] != "not_applicable")]
    commercial = rated[rated["plan_type"].isin(COMMERCIAL_PLAN_TYPES) & (rated["payer_group"] != "medicare")]
    apart = rated[
        rated["plan_type"].isin(["medicare_advantage", "medicaid_managed"])
        & ((rated["rate_count"] > 0) | (rated["pct_rate_count"] > 0))
    ]
    shown = pd.concat([commercial[(commercial["rate_count"] > 0) | (commercial["pct_rate_count"] > 0)], apart])
    if shown["includes_synthetic"].fillna(False).astype(bool).any():
        out.append(
            "> **Synthetic sample data.** Rows marked *synthetic sample* rest on files labelled synthetic (bundled "
            "to show how the pipeline reads that kind of file); their numbers are not real negotiated rates."
        )
    out.append(
        "Commercial plans only: Transparency-in-Coverage files are commercial (group and individual market) plans' "
        "by law; a hospital file's rate counts here when its plan is commercial or the file does not say (*not "
        "stated in the file*). Medicare Advantage and Medicaid managed care rates are shown apart below, and "
        "hospitals' traditional Medicare rows are in section 5; none of them enters these figures."
    )
    dollars = commercial[commercial["rate_count"] > 0]
    if dollars.empty:
        out.append(
            f"Negotiated dollar rates: {NA} — no loaded {real_word(ctx)}payer TiC or hospital file holds a commercial "
            f"dollar rate for {ctx.code}."
        )
    else:
        out.append(
            "Negotiated **dollar** rates per service (the figure shows each rate against Medicare's amount for the "
            "same setting):"
        )
        out.append(table(_dollar_rows(dollars), DOLLAR_HEADER))
    per_diem = (
        commercial[commercial["per_diem_rate_count"] > 0]
        if "per_diem_rate_count" in commercial
        else commercial.iloc[0:0]
    )
    if len(per_diem):
        out.append(
            "Per-diem rates (dollars per day, not per service; not in the figures above): "
            + "; ".join(
                f"{named(GROUPS, r.payer_group)}, {named(SETTINGS, r.setting)}, {_source_cell(r)}: "
                f"{number(r.per_diem_rate_count)}"
                for r in per_diem.itertuples()
            )
            + "."
        )
    pct = commercial[commercial["pct_rate_count"] > 0]
    if len(pct):
        out.append("Rates set as a **percentage of billed charges** (not dollars; never averaged with dollar rates):")
        out.append(
            table(
                [
                    [
                        named(GROUPS, r.payer_group),
                        named(PLAN_TYPES, r.plan_type),
                        named(SETTINGS, r.setting),
                        _source_cell(r),
                        number(r.pct_rate_count),
                        percent(r.min_pct_of_charges),
                        percent(r.max_pct_of_charges),
                        number(r.pct_providers),
                        listing(r.pct_payer_names),
                    ]
                    for r in pct.itertuples()
                ],
                [
                    "Payer group",
                    "Plans",
                    "Setting",
                    "Source",
                    "Rates",
                    "Min % of charges",
                    "Max % of charges",
                    "Providers",
                    "Payers",
                ],
            )
        )
    formulas = _formula_lines(ctx, COMMERCIAL_PLAN_TYPES)
    if formulas:
        out.append(
            "Rates given only as a **formula** (the file states no dollar amount or percentage, so they are in no "
            "figure or table above; what they pay depends on the fee schedule they name):"
        )
        out.append("\n".join(formulas))
    has_formula = commercial["formula_rate_count"] > 0 if "formula_rate_count" in commercial else False
    missing_cells = commercial[(commercial["rate_count"] == 0) & (commercial["pct_rate_count"] == 0) & ~has_formula]
    if len(missing_cells):
        summary = missing_cells.groupby(["source", "availability_reason"]).size()
        out.append(
            "No commercial rate: "
            + "; ".join(
                f"{named(SOURCES, s)} — {reason(a)} ({n} payer-group × plan × setting cells)"
                for (s, a), n in summary.items()
            )
            + "."
        )
    out.append("### Medicare Advantage and Medicaid managed care (not commercial; shown apart)")
    if apart.empty:
        out.append(
            f"Medicare Advantage and Medicaid managed care rates: {NA} — no loaded {real_word(ctx, 'hospital_mrf')}"
            f"hospital file lists one for {ctx.code} (Transparency-in-Coverage files do not cover these plans)."
        )
    else:
        apart_dollars = apart[apart["rate_count"] > 0]
        if len(apart_dollars):
            out.append(table(_dollar_rows(apart_dollars), DOLLAR_HEADER))
        apart_pct = apart[apart["pct_rate_count"] > 0]
        if len(apart_pct):
            out.append(
                "Percentage-of-charges rates: "
                + "; ".join(
                    f"{named(GROUPS, r.payer_group)} ({named(PLAN_TYPES, r.plan_type)}, {_source_cell(r)}): "
                    f"{percent(r.min_pct_of_charges)}–{percent(r.max_pct_of_charges)} of charges"
                    for r in apart_pct.itertuples()
                )
                + "."
            )
    apart_formulas = _formula_lines(ctx, ("medicare_advantage", "medicaid_managed"))
    if apart_formulas:
        out.append("Rates given only as a formula:")
        out.append("\n".join(apart_formulas))
    return "\n\n".join(out)


def _formula_lines(ctx: ReportContext, plan_types: tuple[str, ...]) -> list[str]:
    """One bullet per rate a file gives only as a formula, quoted as written, for the given plan types."""
    rates = ctx["commercial_rates"]
    if rates.empty or "rate_formula" not in rates:
        return []
    rows = rates[(rates["rate_kind"] == "formula") & rates["plan_type"].isin(plan_types)]

    def who(r: pd.Series) -> str:
        group = GROUPS.get(str(r["payer_group"]), r["payer_group"])
        payer = "" if missing(r["payer_name"]) or str(r["payer_name"]) == str(group) else f"{text(r['payer_name'])}; "
        return f"{text(group)} ({payer}{named(PLAN_TYPES, r['plan_type'])})"

    return [
        f"- {who(r)}, "
        f"{named(SETTINGS, r['setting'])}, {named(SOURCES, r['source'])}"
        + (" — **synthetic sample**" if flag(r["is_synthetic"]) else "")
        + f': "{text(r["rate_formula"])}" ({text(r["source_file"])}, dated {date(r["as_of_date"])})'
        for _, r in rows.iterrows()
    ]


def pct_of_medicare(r) -> Md:  # type: ignore[no-untyped-def]
    """The median as a percent of Medicare's rate for the setting, naming the release and flagging one out of step."""
    if missing(r.median_pct_of_medicare):
        return Md(f"{NA} — Medicare: {reason(r.medicare_availability_reason)}")
    label = (
        str(r.medicare_rate_label).split(": ")[0] if not missing(r.medicare_rate_label) else r.medicare_release_period
    )
    words = f"{percent(r.median_pct_of_medicare)} of {money(r.medicare_rate_usd)} ({text(label)})"
    if flag(r.medicare_release_mismatch) and not missing(r.medicare_release_lag_quarters):
        lag = int(r.medicare_release_lag_quarters)
        words += (
            f"; caution: that release is {abs(lag)} quarters {'older' if lag > 0 else 'newer'} than these rates, "
            "so the percent compares different years"
        )
    return Md(words)


def section_utilization(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[6]}"]
    trend = ctx["utilization_trend"]
    if trend.empty:
        demo = ctx.frames.get(DEMO_UTILIZATION, pd.DataFrame())
        out.append(
            f"Medicare utilization: {NA} — no real Part B geography-and-service file covering {ctx.code} is loaded"
            + (" (the loaded ones are synthetic demonstrations: see the appendix)." if len(demo) else ".")
        )
        return "\n\n".join(out)
    if trend["source_is_synthetic"].fillna(False).any():
        out.append(
            "> **Synthetic data.** The loaded Part B utilization files are synthetic samples made in CMS's layout, "
            "not CMS's published figures; the numbers below demonstrate the pipeline and are not facts about "
            f"{ctx.code}."
        )
    rows = []
    partial_years = []
    for _, r in trend.iterrows():
        total_reason = r["availability_reason"]
        lower = flag(r.get("totals_are_lower_bounds"))
        published = [
            name
            for name, col in (("facility", "facility_reason"), ("office", "office_reason"))
            if r.get(col) == "reported"
        ]
        if lower:
            partial_years.append((int(r["data_year"]), published, r))

        def total(value: object, fmt=number) -> Md:
            # a NULL total reads as the row's reason; a total that leaves out a setting CMS did not publish reads "≥ n"
            # (called only within this iteration, so reading the loop's total_reason and lower is intended)
            if missing(value):
                return reason(total_reason)  # noqa: B023
            return Md(f"≥ {fmt(value)}, partial") if lower else fmt(value)  # noqa: B023

        allowed = (
            money(r["avg_medicare_allowed_usd"]) if not missing(r["avg_medicare_allowed_usd"]) else reason(total_reason)
        )
        if lower and not missing(r["avg_medicare_allowed_usd"]) and published:
            allowed = Md(f"{allowed}, {' and '.join(published)} only")
        rows.append(
            [
                int(r["data_year"]),
                total(r["service_count"]),
                total(r["beneficiary_count"]),
                number(r["facility_service_count"])
                if not missing(r["facility_service_count"])
                else reason(r["facility_reason"]),
                number(r["office_service_count"])
                if not missing(r["office_service_count"])
                else reason(r["office_reason"]),
                allowed,
            ]
        )
    out.append("Medicare Part B, national, by data year:")
    out.append(
        table(
            rows,
            [
                "Year",
                "Services (all settings)",
                "Beneficiaries (sum of settings)",
                "Facility services",
                "Office services",
                "Avg allowed",
            ],
        )
    )
    notes = [
        "Beneficiaries are summed over the facility and office settings: a beneficiary treated in both counts twice, "
        "so the sum can exceed the number of people treated (CMS publishes no national count across settings)."
    ]
    explained: dict[str, list[str]] = {}  # one sentence per kind of partial total, with its years
    for year, published, r in partial_years:
        left_out = [name for name in ("facility", "office") if r[f"{name}_reason"] != "reported"]
        why = "; ".join(dict.fromkeys(reason(r[f"{name}_reason"]) for name in left_out))
        sentence = (
            f"the {' and '.join(left_out)} cell is {why}, so the totals count the "
            f"{' and '.join(published) or 'published'} setting only and the true totals are at least that; the "
            "average allowed amount is the published setting's."
        )
        explained.setdefault(sentence, []).append(str(year))
    notes += [f"≥ n, partial ({', '.join(years)}): {sentence}" for sentence, years in explained.items()]
    out.append(" ".join(notes))
    cells = ctx["utilization_cells"]
    if len(cells):
        states = cells[cells["geo_level"] == "state"]  # medicare_utilization.geo_level: 'national' or 'state'
        published = int(states.loc[states["availability_reason"] == "reported", "cells"].sum())
        hidden = int(states.loc[states["availability_reason"] == "not_published_small_cell", "cells"].sum())
        left_out = int(states.loc[states["availability_reason"] == "synthetic_small_cell", "cells"].sum())
        if hidden or not left_out:
            out.append(
                f"State level: {number(published)} year × state × place-of-service cells published, {number(hidden)} "
                "not published by CMS (cells with fewer than 11 beneficiaries are suppressed)."
            )
        if left_out:
            out.append(
                f"Synthetic sample, state level: {number(left_out)} year × state × place-of-service cells left out of "
                "the sample file (it imitates CMS's small-cell rule; not CMS data)."
            )
    return "\n\n".join(out)


def section_billing(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[7]}"]
    bullets = []
    latest = latest_medicare(ctx)
    if (
        "physician_nonfacility" in latest.index
        and latest.loc["physician_nonfacility", "availability_reason"] == "contractor_priced"
    ):
        bullets.append(
            f"Medicare's physician fee for {ctx.code} is contractor-priced (PFS status "
            f"{text(latest.loc['physician_nonfacility', 'status_indicator'])}, "
            f"{text(latest.loc['physician_nonfacility', 'release_period'])}): "
            "each Medicare contractor sets the payment. Send documentation supporting the price (e.g. a comparable "
            "code and the time and resources used) and ask your MAC how it prices the code."
        )
    coverage = ctx["coverage"]
    denying = ["experimental_investigational", "not_medically_necessary", "not_covered"]
    ei = coverage[(coverage["payer_group"] != "medicare") & coverage["coverage_status"].isin(denying)]
    if len(ei):
        bullets.append(
            "Commercial-plan policies of "
            + ", ".join(f"{named(GROUPS, r.payer_group)} ({confidence(r.source_confidence)})" for r in ei.itertuples())
            + " call the service experimental/investigational or not medically necessary: expect denials, check "
            "benefits and prior-authorization rules before treating, and plan appeals with clinical evidence."
        )
    if "medicare_advantage_coverage_status" in coverage:
        ma = coverage[coverage["medicare_advantage_coverage_status"].isin(denying)]
        for r in ma.itertuples():
            bullets.append(
                f"{named(GROUPS, r.payer_group)} Medicare Advantage plans: "
                f"{named(STANCES, r.medicare_advantage_coverage_status)} under {listing(r.medicare_advantage_policy_ids)} "
                f"({confidence(r.medicare_advantage_source_confidence)}); this is not its commercial policy."
            )
    case = coverage[coverage["coverage_status"] == "case_by_case"]
    for r in case.itertuples():
        who = medicare_contractors(ctx, "case_by_case", joiner=" or ") if r.payer_group == "medicare" else ""
        if who:
            bullets.append(
                f"Traditional Medicare where {who} is the contractor: coverage is decided case by case "
                "(documentation and medical-necessity review). Other Medicare contractors may decide "
                "differently: ask the contractor for your jurisdiction."
            )
        else:
            bullets.append(
                f"{named(GROUPS, r.payer_group)}: coverage is decided case by case "
                "(documentation and medical-necessity review)."
            )
    if "asc" in latest.index and flag(latest.loc["asc", "asc_multiple_procedure_discounting"]):
        # two files, two answers: the ASC facility payment is discounted, the physician fee may not be (section 3)
        pfs_51 = modifier_51_note(ctx)
        bullets.append(
            f"In an ASC the code is subject to Medicare's multiple-procedure discounting (ASC Addendum AA, "
            f"{text(latest.loc['asc', 'release_period'])}): with other procedures the same day the ASC's payment is "
            "reduced. That is the facility payment"
            + (f"; for the physician's fee the PFS file decides: {pfs_51}." if pfs_51 else ".")
        )
    imaging = ctx.fact("imaging")
    if imaging:
        bullets.append(text(imaging) + ".")
    for f in ctx.facts("billing_guidance").itertuples():
        bullets.append(text(f.fact) + f" ({confidence(f.source_confidence)}).")
    for f in ctx.facts("device_maker_guidance").itertuples():
        bullets.append(
            text(f.fact) + f" ({confidence(f.source_confidence)}); follow the payer's or MAC's instruction, "
            "which for Medicare is CGS's where CGS is the contractor."
        )
    pct = ctx["commercial_rates"]
    if len(pct[pct["rate_kind"] == "percentage"]):
        bullets.append("Some payers pay a percentage of billed charges: the amount depends on your chargemaster price.")
    if not bullets:
        out.append(f"Billing considerations: {NA} — no loaded data supports a consideration for {ctx.code}.")
    else:
        out.append("\n".join(f"- {b}" for b in bullets))
    return "\n\n".join(out)


AREAS = {
    "coverage_matrix": "Payer coverage",
    "medicare_rate": "Medicare payment",
    "reimbursement_benchmark": "Negotiated rates",
    "medicare_utilization_trend": "Medicare Part B volume",
}
"""Where an empty value sits, in a reader's words (data_availability.sql's `mart` column)."""


def _where(area: str, subject: object) -> Md:
    """The query's subject in words: "UnitedHealthcare, Medicare Advantage, Hospital outpatient, Hospital price files"."""
    if missing(subject):
        return Md(NA)
    if area == "reimbursement_benchmark":
        parts = str(subject).split(" / ")
        if len(parts) == 4:
            return Md(
                ", ".join(named(w, v) for w, v in zip((GROUPS, PLAN_TYPES, SETTINGS, SOURCES), parts, strict=True))
            )
    if area == "medicare_rate" and " " in str(subject):
        setting, release = str(subject).rsplit(" ", 1)
        return Md(f"{named(SETTINGS, setting)}, {text(release)}")
    return text(subject)


def availability_rows(ctx: ReportContext) -> list[list[Md]]:
    """Every empty value behind the report in words: [area, where, value, reason]."""
    na = ctx["data_availability"]
    return [
        [named(AREAS, r.mart), _where(r.mart, r.subject), text(r.measure), reason(r.reason)] for r in na.itertuples()
    ]


AVAILABILITY_HEADER = ["Area", "Where", "Value", "Reason"]


def availability_csv_name(code: str) -> str:
    return f"{code}_data_availability.csv"


def write_availability_csv(ctx: ReportContext, out_dir: str | None) -> None:
    """The cell-level list of section 9 as CSV beside the report (`<code>_data_availability.csv`), in words."""
    if not out_dir:
        return
    import html
    from pathlib import Path

    from flows.steps.store import write_file_atomic

    rows = [[html.unescape(str(v)).replace("\\", "") for v in row] for row in availability_rows(ctx)]
    frame = pd.DataFrame(rows, columns=AVAILABILITY_HEADER)
    write_file_atomic(Path(out_dir) / availability_csv_name(str(ctx.code)), frame.to_csv(index=False))


def section_availability(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[8]}"]
    na = ctx["data_availability"]
    if na.empty:
        out.append(
            "Every value behind this report is available."
            if ctx.known
            else f"Nothing is available for {ctx.code}: no loaded file holds a value for it."
        )
        return "\n\n".join(out)
    rows = availability_rows(ctx)
    out.append(
        "The values this report could not fill, counted by reason: coverage stances, policy effective dates and "
        "Medicare Advantage stances; Medicare's national payments; negotiated dollar rates per payer group, plan, "
        "setting and source; Medicare Part B services, beneficiaries and average allowed amounts (and totals that "
        "are lower bounds because a setting is missing). A value empty for the same reason as its row is not "
        "counted again."
    )
    counts: dict[tuple[str, str], int] = {}
    for area, _, _, why in rows:
        counts[(area, why)] = counts.get((area, why), 0) + 1
    out.append(
        table([[a, w, number(n)] for (a, w), n in counts.items()], ["Area", "Reason", "Empty or partial values"])
    )
    out.append(
        f"<details><summary>Every empty value, one row each ({number(len(rows))})</summary>\n\n"
        + table(rows, AVAILABILITY_HEADER)
        + "\n\n</details>"
    )
    out.append(f"The same list as a spreadsheet: {availability_csv_name(str(ctx.code))}, beside this report.")
    return "\n\n".join(out)


def section_sources(ctx: ReportContext) -> str:
    out = [f"## {SECTION_TITLES[9]}", "### Files loaded"]
    files = ctx["source_files"]
    if files.empty:
        out.append(f"Files: {NA} (nothing is loaded).")
    else:
        out.append(
            table(
                [
                    [
                        source_description(r.source),
                        r.source_file,
                        r.sha256_prefix,
                        date(r.loaded_on),
                        number(r.rows_loaded),
                        "synthetic (demonstration)" if flag(getattr(r, "is_synthetic", False)) else "real",
                    ]
                    for r in files.itertuples()
                ],
                ["Publisher / source", "File", "sha256", "Loaded", "Rows", "Real or synthetic"],
            )
        )
    out.append("### Policy documents")
    policies = ctx["policy_sources"]
    if policies.empty:
        out.append(f"Policy documents: {NA}.")
    else:
        out.append(
            "\n".join(
                f"- {named(GROUPS, r.payer_group)} — {text(r.payer_name)} {text(r.policy_id)}: "
                f"{link(r.policy_title if not missing(r.policy_title) else r.policy_url, r.policy_url)} "
                f"({named(CONFIDENCE, r.source_confidence)}, recorded {date(r.retrieved_date)})"
                for r in policies.itertuples()
            )
        )
        out.append(RECORDED_NOTE)
    facts = ctx["code_facts"]
    urls = sorted(set(facts["source_url"].dropna()))
    if urls:
        out.append("### Code reference sources")
        out.append("\n".join(f"- {link(u, u)}" for u in urls))
    return "\n\n".join(out)


def section_demonstration(ctx: ReportContext) -> str:
    """The one place synthetic rows appear by default: clearly apart, stating no fact."""
    out = [f"## {SECTION_TITLES[10]}"]
    files = ctx["source_files"]
    fake = files[files["is_synthetic"]] if "is_synthetic" in files else files.iloc[0:0]
    rates = ctx.frames.get(DEMO_RATES, pd.DataFrame())
    trend = ctx.frames.get(DEMO_UTILIZATION, pd.DataFrame())
    if fake.empty and rates.empty and trend.empty:
        out.append("No synthetic file is loaded: everything in this report comes from real files.")
        return "\n\n".join(out)
    where = (
        "They are shown inline above too, marked *synthetic sample* (`--include-synthetic`)."
        if ctx.include_synthetic
        else "Nothing above uses them: not the summary, the figure, the percent-of-Medicare figures or the tables."
    )
    out.append(
        "> **Demonstration data, not facts.** The files below are labelled synthetic: sample data bundled to show how "
        f"payerbench reads that kind of file. Their numbers are made up and say nothing about {ctx.code}. {where}"
    )
    if len(fake):
        out.append("Synthetic files loaded: " + ", ".join(text(f) for f in fake["source_file"]) + ".")
    if len(rates):
        rows = []
        for _, r in rates.iterrows():
            amount = (
                money(r["rate_usd"])
                if r["rate_kind"] == "dollars"
                else percent(r["rate_pct_of_charges"]) + " of charges"
                if r["rate_kind"] == "percentage"
                else Md(f'formula: "{text(r["rate_formula"])}"')
                if r["rate_kind"] == "formula"
                else text(r["rate_kind"])
            )
            rows.append(
                [
                    named(GROUPS, r["payer_group"]),
                    named(PLAN_TYPES, r["plan_type"]),
                    named(SETTINGS, r["setting"]),
                    Md(amount),
                    text(r["source_file"]),
                    date(r["as_of_date"]),
                ]
            )
        out.append("Sample negotiated rates:")
        out.append(table(rows, ["Payer group", "Plans", "Setting", "Sample amount", "File", "Dated"]))
    if len(trend):
        out.append("Sample Medicare Part B volume (made in CMS's layout; not CMS's figures):")
        out.append(
            table(
                [
                    [
                        int(r["data_year"]),
                        number(r["service_count"])
                        if not missing(r["service_count"])
                        else reason(r["availability_reason"]),
                        number(r["beneficiary_count"])
                        if not missing(r["beneficiary_count"])
                        else reason(r["availability_reason"]),
                    ]
                    for _, r in trend.iterrows()
                ],
                ["Year", "Sample services", "Sample beneficiaries"],
            )
        )
    return "\n\n".join(out)


SECTIONS = [
    section_summary,
    section_code_overview,
    section_clinical,
    section_coverage,
    section_medicare,
    section_commercial,
    section_utilization,
    section_billing,
    section_availability,
    section_sources,
    section_demonstration,
]
