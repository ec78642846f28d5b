-- One row per HCPCS code, modifier and payment locality (MAC, locality number) per quarterly PFS
-- release where CMS caps the PFS payment at the OPPS amount, from the latest load of that release.
select *
from cms__opps_cap
qualify is_latest_load((release_year, release_quarter), loaded_at, load_id)
