-- One row per US state, the District of Columbia and each territory (by FIPS code), from the most
-- recently loaded reference file. State-level grids (medicare_utilization) are built over it.
select *
from ref__geography
qualify is_latest_load(null, loaded_at, load_id)
