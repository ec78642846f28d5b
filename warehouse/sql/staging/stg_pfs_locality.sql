-- One row per Medicare payment locality (MAC, locality number) per calendar year, from the latest
-- load of that year's locality-county crosswalk (25LOCCO): its state, fee schedule area and counties.
select *
from cms__pfs_locality
qualify is_latest_load(release_year, loaded_at, load_id)
