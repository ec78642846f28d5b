-- One row: as_of_date, the date the marts answer as of. Unset, they answer with everything loaded
-- (9999-12-31: the latest release and the newest publication of every file). In a DuckDB session,
-- `SET VARIABLE as_of = DATE '2025-11-15'` makes the marts' views (live.benchmark_rate,
-- live.reimbursement_benchmark, ...; the tables of the plain names hold the build's date's rows,
-- see mart_as_of) and the staging views answer as of that date: Medicare
-- releases in effect then (period start on or before it), payer and hospital files dated on or
-- before it (last_updated_on). The report sets it to its --as-of date.
select as_of_date() as as_of_date
