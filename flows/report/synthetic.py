"""Real evidence apart from synthetic demonstration data: what the report shows by default, and what it sets aside.

A file whose name starts with `synthetic` is sample data made to show how payerbench reads that kind of file (the
rule of warehouse/sql/intermediate/stg_source_file.sql, which the marts carry as `is_synthetic`). Its numbers are
not facts: by default `wall_off` takes every synthetic row out of the frames the summary, the figure, the
percent-of-Medicare figures and the tables read, and keeps them under `DEMO_*` names for the report's one
"Demonstration data (synthetic)" appendix. With `include_synthetic` the rows stay inline, marked as today.

Either way a synthetic Part B cell is never "not published by CMS": CMS did not suppress anything in a file it did
not publish, so its reasons are re-worded (`SYNTHETIC_REASONS`).
"""

from __future__ import annotations

import pandas as pd

DEMO_RATES = "demo_rates"
DEMO_UTILIZATION = "demo_utilization_trend"
DEMO_UTILIZATION_CELLS = "demo_utilization_cells"
DEMO_BENCHMARK = "demo_benchmark"

SYNTHETIC_REASONS = {
    "not_published_small_cell": "synthetic_small_cell",
    "partial_small_cell": "synthetic_partial_small_cell",
}
"""A synthetic Part B row's reasons: the sample leaves a cell out, CMS did not suppress it (labels.REASONS words them)."""

SOURCE_OF = {"payer_tic": "tic", "hospital_mrf": "hospital_mrf"}
"""The load log's source behind each benchmark `source` (Medicare's fee schedule is always real CMS files)."""


def is_synthetic_file(name: object) -> bool:
    """The project's one rule (stg_source_file.sql): a file whose name starts with `synthetic`, any case."""
    return isinstance(name, str) and name.strip().lower().startswith("synthetic")


def _flags(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(False, index=frame.index)
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _reword(frame: pd.DataFrame, synthetic: pd.Series) -> pd.DataFrame:
    """Synthetic rows' small-cell reasons as the sample's, not CMS's."""
    frame = frame.copy()
    for column in [c for c in frame.columns if c in ("availability_reason", "reason") or c.endswith("_reason")]:
        frame.loc[synthetic, column] = frame.loc[synthetic, column].replace(SYNTHETIC_REASONS)
    return frame


def real_sources(files: pd.DataFrame) -> set[str]:
    """The load-log sources with at least one real (not synthetic) file loaded."""
    if files.empty:
        return set()
    return {s for s, f in zip(files["source"], files["source_file"]) if not is_synthetic_file(f)}


def real_benchmark(bench: pd.DataFrame, rates: pd.DataFrame, loaded_real: set[str]) -> pd.DataFrame:
    """The benchmark cells recomputed from real rates only: a cell that held synthetic rates keeps its real ones (its
    counts, range, median and percent of Medicare recomputed) or, with none, reads `only_synthetic_loaded` when its
    source has no real file loaded, else `no_rates_found`."""
    if bench.empty or "includes_synthetic" not in bench:
        return bench
    bench = bench.copy()
    keys = ["payer_group", "plan_type", "setting", "source"]
    for i in bench.index[_flags(bench, "includes_synthetic")]:
        cell = bench.loc[i]
        mine = rates[(rates[keys] == cell[keys].values).all(axis=1)] if len(rates) else rates
        dollars = mine[mine["rate_kind"] == "dollars"] if len(mine) else mine
        pct = mine[mine["rate_kind"] == "percentage"] if len(mine) else mine
        formulas = mine[mine["rate_kind"] == "formula"] if len(mine) else mine
        usd = dollars["rate_usd"].astype(float) if len(dollars) else pd.Series(dtype=float)
        median = float(usd.median()) if len(usd) else None
        medicare = cell.get("medicare_rate_usd")
        bench.loc[i, ["rate_count", "pct_rate_count", "formula_rate_count"]] = [len(dollars), len(pct), len(formulas)]
        bench.loc[i, ["min_usd", "median_usd", "max_usd"]] = (
            [usd.min(), median, usd.max()] if len(usd) else [None, None, None]
        )
        for column in ("p25_usd", "p75_usd"):
            if column in bench:
                bench.loc[i, column] = usd.quantile(0.25 if column == "p25_usd" else 0.75) if len(usd) else None
        bench.loc[i, "providers"] = len({k for ks in dollars["provider_keys"] for k in list(ks)}) if len(usd) else 0
        bench.loc[i, "median_pct_of_medicare"] = (
            round(median / float(medicare) * 100, 1)
            if median is not None and not pd.isna(medicare) and float(medicare) > 0
            else None
        )
        bench.loc[i, ["min_pct_of_charges", "max_pct_of_charges"]] = (
            [pct["rate_pct_of_charges"].min(), pct["rate_pct_of_charges"].max()] if len(pct) else [None, None]
        )
        if "pct_providers" in bench:
            bench.loc[i, "pct_providers"] = len({k for ks in pct["provider_keys"] for k in list(ks)}) if len(pct) else 0
        bench.at[i, "pct_payer_names"] = sorted(set(pct["payer_name"])) if len(pct) else None
        bench.loc[i, "latest_as_of"] = mine["as_of_date"].max() if len(mine) else None
        bench.loc[i, "includes_synthetic"] = False
        if not len(mine):
            bench.loc[i, "availability_reason"] = (
                "no_rates_found" if SOURCE_OF.get(str(cell["source"])) in loaded_real else "only_synthetic_loaded"
            )
    # a source whose only loaded files are synthetic proves no absence: "no rate" there is the sample's, not a fact
    sample_only = bench["source"].map(SOURCE_OF).notna() & ~bench["source"].map(SOURCE_OF).isin(loaded_real)
    bench.loc[sample_only & bench["availability_reason"].eq("no_rates_found"), "availability_reason"] = (
        "only_synthetic_loaded"
    )
    return bench


def wall_off(frames: dict[str, pd.DataFrame], include_synthetic: bool = False) -> dict[str, pd.DataFrame]:
    """The frames a report shows: real rows only (synthetic ones kept under the `DEMO_*` names for the appendix), or
    every row when `include_synthetic`. Synthetic Part B reasons are re-worded in both cases."""
    frames = dict(frames)
    trend = frames.get("utilization_trend", pd.DataFrame())
    fake_trend = _flags(trend, "source_is_synthetic")
    frames["utilization_trend"] = trend = _reword(trend, fake_trend)
    cells = frames.get("utilization_cells", pd.DataFrame())
    fake_cells = _flags(cells, "synthetic")
    frames["utilization_cells"] = cells = _reword(cells, fake_cells)
    rates = frames.get("commercial_rates", pd.DataFrame())
    fake_rates = _flags(rates, "is_synthetic")
    bench = frames.get("benchmark", pd.DataFrame())
    frames[DEMO_RATES] = rates[fake_rates].reset_index(drop=True)
    frames[DEMO_UTILIZATION] = trend[fake_trend].reset_index(drop=True)
    frames[DEMO_UTILIZATION_CELLS] = cells[fake_cells].reset_index(drop=True)
    frames[DEMO_BENCHMARK] = bench[_flags(bench, "includes_synthetic")].reset_index(drop=True)
    files = frames.get("source_files", pd.DataFrame())
    if len(files):
        files = files.assign(is_synthetic=[is_synthetic_file(f) for f in files["source_file"]])
        # real files first, everywhere
        frames["source_files"] = files.sort_values("is_synthetic", kind="stable").reset_index(drop=True)
    availability = frames.get("data_availability", pd.DataFrame())
    fake_years = {str(y) for y in frames[DEMO_UTILIZATION].get("data_year", [])}
    if len(availability) and fake_years:
        # a synthetic Part B year's empty cells are the sample's, never "not published by CMS" (section 9 included)
        sample = availability["mart"].eq("medicare_utilization_trend") & availability["subject"].isin(fake_years)
        frames["data_availability"] = availability = _reword(availability, sample)
    if include_synthetic:
        return frames
    real_rates = rates[~fake_rates].reset_index(drop=True)
    frames["commercial_rates"] = real_rates
    frames["benchmark"] = real_benchmark(bench, real_rates, real_sources(files))
    frames["utilization_trend"] = trend[~fake_trend].reset_index(drop=True)
    frames["utilization_cells"] = cells[~fake_cells].reset_index(drop=True)
    if len(availability):
        years = availability["mart"].eq("medicare_utilization_trend") & availability["subject"].isin(fake_years)
        # the benchmark's empty cells are listed again from the recomputed benchmark
        keep = ~availability["mart"].eq("reimbursement_benchmark") & ~years
        frames["data_availability"] = (
            pd.concat([availability[keep], benchmark_gaps(frames["benchmark"])], ignore_index=True)
            .sort_values(["mart", "subject", "measure"], kind="stable")
            .reset_index(drop=True)
        )
    return frames


def benchmark_gaps(bench: pd.DataFrame) -> pd.DataFrame:
    """The empty dollar-rate cells of a (recomputed) benchmark, in data_availability.sql's shape."""
    columns = ["mart", "subject", "measure", "reason", "payer_group"]
    if bench.empty:
        return pd.DataFrame(columns=columns)
    empty = bench[bench["median_usd"].isna() & (bench["availability_reason"] != "not_applicable")]
    return pd.DataFrame(
        {
            "mart": "reimbursement_benchmark",
            "subject": [f"{r.payer_group} / {r.plan_type} / {r.setting} / {r.source}" for r in empty.itertuples()],
            "measure": "dollar rates",
            "reason": list(empty["availability_reason"]),
            "payer_group": list(empty["payer_group"]),
        },
        columns=columns,
    )
