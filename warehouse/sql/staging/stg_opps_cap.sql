-- One row per HCPCS code, modifier and payment locality (MAC, locality number) per quarterly PFS
-- release where CMS caps the PFS payment at the OPPS amount, from the latest load of that release.
select * exclude (load_rank)
from (
    select *,
        dense_rank() over (partition by release_year, release_quarter order by loaded_at desc, load_id desc) as load_rank
    from cms__opps_cap
)
where load_rank = 1
