-- Where the loaded Medicare payment files list the code, configured or not: one row per file kind and release in
-- effect on the as-of date, with the short descriptor and status / payment indicator CMS prints and the file.
-- Ordered by the file whose short descriptor the report cites first (ASC Addendum AA, OPPS Addendum B, PFS PPRRVU,
-- ASC Addendum FF), newest release first.
with listed as (
    select 'asc_addendum_aa' as rate_source, 1 as source_order, release_year, release_quarter, short_descriptor,
           payment_indicator as status_indicator, source_file
    from stg_asc_addendum_aa where billing_code = $code
    union all
    select 'opps_addendum_b', 2, release_year, release_quarter, short_descriptor, status_indicator, source_file
    from stg_opps_addendum_b where billing_code = $code
    union all
    select 'pfs_rvu', 3, release_year, release_quarter, description, status_code, source_file
    from stg_pfs_rvu where billing_code = $code and coalesce(modifier, '') = ''
    union all
    select 'asc_addendum_ff', 4, release_year, release_quarter, short_descriptor, payment_indicator, source_file
    from stg_asc_addendum_ff where billing_code = $code
)
select distinct rate_source, source_order, release_year, release_quarter,
       release_year || '-Q' || release_quarter as release_period, short_descriptor, status_indicator, source_file
from listed
where make_date(release_year, (release_quarter - 1) * 3 + 1, 1) <= $as_of
order by source_order, release_year desc, release_quarter desc, source_file
