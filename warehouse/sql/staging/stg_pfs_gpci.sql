-- One row per Medicare payment locality (MAC, locality number) per calendar year, from the latest
-- load of that year's GPCI file. in_locality_crosswalk says whether the locality-county crosswalk
-- of the same year lists it (NULL when no crosswalk is loaded for the year): a GPCI row for a
-- locality CMS's crosswalk does not know is kept, and flagged, not dropped.
with latest as (
    select *
    from cms__pfs_gpci
    qualify is_latest_load(release_year, loaded_at, load_id)
),
crosswalk_years as (
    select distinct release_year from stg_pfs_locality
)
select
    g.*,
    case when y.release_year is null then null else l.mac is not null end as in_locality_crosswalk,
    l.fee_schedule_area,
    l.counties
from latest g
left join crosswalk_years y on y.release_year = g.release_year
left join stg_pfs_locality l
    on l.release_year = g.release_year and l.mac = g.mac and l.locality_number = g.locality_number
