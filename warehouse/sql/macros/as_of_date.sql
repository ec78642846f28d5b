-- The date the marts answer as of: the session variable `as_of` (`SET VARIABLE as_of = DATE
-- '2025-11-15'`), else 9999-12-31 (everything loaded). Staging filters on it through this macro;
-- intermediate/stg_as_of.sql shows it as a view.
create macro as_of_date() as coalesce(try_cast(getvariable('as_of') as date), date '9999-12-31')
