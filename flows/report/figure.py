"""The report's one figure: every commercial negotiated dollar rate by payer group and setting, against Medicare.

Drawn with matplotlib (Agg) as pixels, so its labels are the data as written (not Markdown); its caption is Markdown.
`commercial_figure_image` is what the report shows: a PNG at twice the pixels of the size it is shown at (sharp on
a phone's or a laptop's high-density screen and on paper), with alternative text that says what the figure shows.
"""

from __future__ import annotations

import html
import io
from typing import Any

import pandas as pd

from flows.report.data import ReportContext
from flows.report.labels import COMMERCIAL_PLAN_TYPES, GROUPS, NA, SETTINGS
from flows.report.medicare import MEDICARE_SETTING, latest_medicare
from flows.report.text import missing, money, reason

DOTS_PER_INCH = 96
"""The figure's size in CSS pixels per inch (a browser's and GitHub's 1x)."""
PIXEL_DENSITY = 2  # IPython's `Image(retina=True)` shows a PNG at half its pixels
"""Pixels drawn per CSS pixel shown: a 2x PNG stays sharp on a high-density screen and in print."""
REAL_STYLE = {"color": "#0969da"}
SYNTHETIC_STYLE = {"facecolors": "none", "edgecolors": "#6e7781"}
REAL_LABEL = "negotiated rate from a real payer or hospital file"
SYNTHETIC_LABEL = "synthetic sample (not a real rate)"


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
    import matplotlib.ticker

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
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.9 * len(labels)), dpi=DOTS_PER_INCH)
    synthetic_flags = dollars["is_synthetic"].fillna(False).astype(bool)
    in_legend: set[bool] = set()  # each kind of dot (real, synthetic) named once in the legend
    for i, label in enumerate(labels):
        for is_synthetic, style in ((False, REAL_STYLE), (True, SYNTHETIC_STYLE)):
            mask = (dollars["label"] == label) & (synthetic_flags == is_synthetic)
            values = dollars.loc[mask, "rate_usd"].astype(float).tolist()
            if not values:
                continue
            jitter = [(j % 7 - 3) * 0.04 for j in range(len(values))]
            legend = None if is_synthetic in in_legend else (SYNTHETIC_LABEL if is_synthetic else REAL_LABEL)
            in_legend.add(is_synthetic)
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
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("${x:,.0f}"))  # $1,000, not 1000
    ax.set_title(f"{ctx.code}: commercial negotiated dollar rates by payer group and setting")
    ax.grid(axis="x", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda k: (names[k] != REAL_LABEL, names[k] != SYNTHETIC_LABEL))
    handles, names = [handles[k] for k in order], [names[k] for k in order]  # real dots named first, then synthetic
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


def commercial_figure_alt(ctx: ReportContext) -> str:
    """The figure in words, for whoever cannot see it (screen readers, a Markdown viewer with images off)."""
    rates = _figure_rates(ctx)
    if rates.empty:
        return ""
    synthetic = rates["is_synthetic"].fillna(False).astype(bool)
    real = rates[~synthetic]
    parts = [f"{ctx.code}: strip chart of commercial negotiated dollar rates per service by payer group and setting"]
    if not real.empty:
        low, high = float(real["rate_usd"].min()), float(real["rate_usd"].max())
        span = money(low) if low == high else f"{money(low)} to {money(high)}"
        parts.append(
            f"{len(real)} real rate{'s' if len(real) != 1 else ''} from {real['payer_group'].nunique()} "
            f"payer group{'s' if real['payer_group'].nunique() != 1 else ''}, {span}"
        )
    if synthetic.any():
        parts.append(f"{int(synthetic.sum())} synthetic sample rates drawn hollow (not real)")
    parts.append(
        "each row marked with Medicare's national amount for its own setting; the same numbers are in the "
        "tables of this section"
    )
    return "; ".join(parts) + "."


def commercial_figure_image(ctx: ReportContext) -> Any:  # IPython.display.Image | None
    """The figure as the report shows it: a PNG drawn at `PIXEL_DENSITY` times the size it is shown at, with its
    alternative text (`commercial_figure_alt`); None when there is no commercial dollar rate to draw."""
    import matplotlib.pyplot as plt
    from IPython.display import Image

    fig = commercial_figure(ctx)
    if fig is None:
        return None
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=DOTS_PER_INCH * PIXEL_DENSITY, bbox_inches="tight")
    finally:
        plt.close(fig)  # shown once, as this image (the inline backend would show an open figure again)
    # retina: shown at half its pixel width and height, i.e. at its size in inches at DOTS_PER_INCH
    return Image(data=_whole_css_pixels(buffer.getvalue()), format="png", retina=True, alt=commercial_figure_alt(ctx))


def _whole_css_pixels(png: bytes) -> bytes:
    """The PNG padded with background to a multiple of `PIXEL_DENSITY` pixels each way. A tight bounding box can
    give an odd size (1719 px), which a page shows at 859 CSS px: not quite the density it was drawn at."""
    from PIL import Image as Picture

    picture = Picture.open(io.BytesIO(png))
    width, height = picture.size
    padded_size = (-(-width // PIXEL_DENSITY) * PIXEL_DENSITY, -(-height // PIXEL_DENSITY) * PIXEL_DENSITY)
    if padded_size == picture.size:
        return png
    padded = Picture.new(picture.mode, padded_size, picture.getpixel((0, 0)))  # the figure's own background
    padded.paste(picture, (0, 0))
    out = io.BytesIO()
    padded.save(out, format="png")
    return out.getvalue()
