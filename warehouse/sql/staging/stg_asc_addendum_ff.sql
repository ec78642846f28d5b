-- One row per HCPCS code in ASC Addendum FF per quarterly release, from the latest load of that
-- release: the code's OPPS APC and that APC's OPPS national rate, device offset and device portion.
select *
from cms__asc_addendum_ff
qualify is_latest_load((release_year, release_quarter), loaded_at, load_id)
