"""The report's one figure: every commercial negotiated dollar rate by payer group and setting, against Medicare.

Drawn with matplotlib (Agg) as pixels, so its labels are the data as written (not Markdown); its caption is Markdown.
"""

from __future__ import annotations

import html

import pandas as pd

from flows.report.data import ReportContext
from flows.report.labels import COMMERCIAL_PLAN_TYPES, GROUPS, NA, SETTINGS
from flows.report.medicare import MEDICARE_SETTING, latest_medicare
from flows.report.text import missing, money, reason


def _figure_rates(ctx: ReportContext) -> pd.DataFrame:
    rates = ctx["commercial_rates"]
    return rates[
        (rates["rate_kind"] == "dollars")
        & rates["plan_type"].isin(COMMERCIAL_PLAN_TYPES)
        & (rates["payer_group"] != "medicare")
    ]


def commercial_figure(ctx: ReportContext):  # type: ignore[no-untyped-def]
    """Strip plot of every commercial negotiated dollar rate by payer group and setting, each row marked with
    Medicare's national amount for the same setting (a professional fee is never drawn against a facility rate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dollars = _figure_rates(ctx)
    if dollars.empty:
        return None
    # the figure is drawn as pixels (its words are not Markdown or HTML), so its labels are the data as written
    dollars = dollars.assign(
        label=[f"{GROUPS.get(g, g)}\n{SETTINGS.get(s, s)}" for g, s in zip(dollars["payer_group"], dollars["setting"])]
    )
    order = dollars.sort_values(["setting", "payer_group"]).drop_duplicates("label")
    labels, row_settings = list(order["label"]), list(order["setting"])
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.9 * len(labels)))
    synthetic_flags = dollars["is_synthetic"].fillna(False).astype(bool)
    legend_done = False
    for i, label in enumerate(labels):
        for is_synthetic, style in (
            (False, {"color": "#0969da"}),
            (True, {"facecolors": "none", "edgecolors": "#6e7781"}),
        ):
            mask = (dollars["label"] == label) & (synthetic_flags == is_synthetic)
            values = dollars.loc[mask, "rate_usd"].astype(float).tolist()
            if not values:
                continue
            jitter = [(j % 7 - 3) * 0.04 for j in range(len(values))]
            legend = "synthetic sample (not real rates)" if is_synthetic and not legend_done else None
            legend_done = legend_done or is_synthetic
            ax.scatter(values, [i + d for d in jitter], s=36, alpha=0.8, zorder=3, label=legend, **style)
    latest = latest_medicare(ctx)
    marked: set[str] = set()
    for i, setting in enumerate(row_settings):
        medicare_setting = MEDICARE_SETTING[setting]
        if medicare_setting in latest.index and not missing(latest.loc[medicare_setting, "payment_usd"]):
            row = latest.loc[medicare_setting]
            value = float(row["payment_usd"])
            release = row.get("rate_label") if not missing(row.get("rate_label")) else row["release_period"]
            label = (
                f"Medicare, {SETTINGS.get(medicare_setting, medicare_setting)}: {money(value)} "
                f"({str(release).split(': ')[0]})"
                if medicare_setting not in marked
                else None
            )
            marked.add(medicare_setting)
            ax.vlines(
                value, i - 0.35, i + 0.35, colors="#cf222e", linestyles="--", linewidth=1.8, zorder=2, label=label
            )
        else:
            why = (
                html.unescape(reason(latest.loc[medicare_setting, "availability_reason"])).split(":")[0]
                if medicare_setting in latest.index
                else NA
            )
            ax.annotate(
                f"Medicare {SETTINGS.get(medicare_setting, medicare_setting).lower()}: {why}",
                (1.0, i),
                xycoords=("axes fraction", "data"),
                xytext=(-4, 10),
                textcoords="offset points",
                ha="right",
                fontsize=7,
                color="#57606a",
            )
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlabel("Negotiated rate per service (USD)")
    ax.set_title(f"{ctx.code}: commercial negotiated dollar rates by payer group and setting")
    ax.grid(axis="x", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    height = fig.get_figheight()
    bottom = (0.15 + 0.2 * len(names)) / height if names else 0
    if names:  # below the axes and its label, so it never hides a rate
        fig.legend(handles, names, loc="lower center", ncol=1, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def commercial_figure_caption(ctx: ReportContext) -> str:
    """What the figure compares, in words (shown under it)."""
    rates = _figure_rates(ctx)
    if rates.empty:
        return ""
    hollow = " (hollow: synthetic sample, not real)" if rates["is_synthetic"].fillna(False).astype(bool).any() else ""
    return (
        f"*Figure:* each dot is one commercial negotiated price per service{hollow}. The dashed tick "
        "on each row is Medicare's national unadjusted amount for that row's own setting: the physician fee schedule "
        "for professional rows, the OPPS for hospital outpatient, the ASC rate for ASC rows. A professional fee is "
        "paid on top of a facility payment and is never compared with a facility rate; where Medicare has no "
        "national amount for the setting (e.g. a contractor-priced physician fee) the row says so instead."
    )
