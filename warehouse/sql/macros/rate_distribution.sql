-- The rate-distribution statistics, written once (an aggregate over one rate column, NULLs left
-- out): a struct of min, p25, median, p75 and max, in the column's own type and unit. The marts
-- that summarise rates (tic_rate_summary, reimbursement_benchmark, hospital_rate_summary) read
-- their figures from it, e.g. `rate_distribution(rate_usd) as usd` then `usd.median`.
create macro rate_distribution(rate) as {
    'min': min(rate),
    'p25': quantile_cont(rate, 0.25),
    'median': median(rate),
    'p75': quantile_cont(rate, 0.75),
    'max': max(rate)
}
