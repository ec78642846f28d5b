-- One row per US state, the District of Columbia and each territory (by FIPS code), from the most
-- recently loaded reference file. State-level grids (medicare_utilization) are built over it.
select * exclude (snapshot_rank)
from (
    select *, dense_rank() over (order by loaded_at desc, load_id desc) as snapshot_rank
    from ref__geography
)
where snapshot_rank = 1
