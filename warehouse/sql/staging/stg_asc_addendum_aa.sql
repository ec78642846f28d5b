-- One row per HCPCS code on the ASC covered surgical procedures list per quarterly release, from
-- the latest load of that release's Addendum AA: payment indicator, weight, national ASC rate.
select *
from cms__asc_addendum_aa
qualify is_latest_load((release_year, release_quarter), loaded_at, load_id)
