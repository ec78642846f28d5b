-- One row per HCPCS code per quarterly OPPS release, from the latest load of that release's
-- Addendum B (xlsx or CSV edition): status indicator, APC, relative weight, national rate.
select *
from cms__opps_addendum_b
qualify is_latest_load((release_year, release_quarter), loaded_at, load_id)
