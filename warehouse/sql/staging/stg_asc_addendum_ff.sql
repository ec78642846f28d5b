-- One row per HCPCS code in ASC Addendum FF per quarterly release, from the latest load of that
-- release: the code's OPPS APC and that APC's OPPS national rate, device offset and device portion.
select * exclude (load_rank)
from (
    select *,
        dense_rank() over (partition by release_year, release_quarter order by loaded_at desc, load_id desc) as load_rank
    from cms__asc_addendum_ff
)
where load_rank = 1
