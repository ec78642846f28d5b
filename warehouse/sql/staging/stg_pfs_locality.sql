-- One row per Medicare payment locality (MAC, locality number) per calendar year, from the latest
-- load of that year's locality-county crosswalk (25LOCCO): its state, fee schedule area and counties.
select * exclude (load_rank)
from (
    select *, dense_rank() over (partition by release_year order by loaded_at desc, load_id desc) as load_rank
    from cms__pfs_locality
)
where load_rank = 1
