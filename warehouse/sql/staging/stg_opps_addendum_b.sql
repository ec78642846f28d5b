-- One row per HCPCS code per quarterly OPPS release, from the latest load of that release's
-- Addendum B (xlsx or CSV edition): status indicator, APC, relative weight, national rate.
select * exclude (load_rank)
from (
    select *,
        dense_rank() over (partition by release_year, release_quarter order by loaded_at desc, load_id desc) as load_rank
    from cms__opps_addendum_b
)
where load_rank = 1
