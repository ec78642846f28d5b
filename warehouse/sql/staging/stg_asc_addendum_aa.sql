-- One row per HCPCS code on the ASC covered surgical procedures list per quarterly release, from
-- the latest load of that release's Addendum AA: payment indicator, weight, national ASC rate.
select * exclude (load_rank)
from (
    select *,
        dense_rank() over (partition by release_year, release_quarter order by loaded_at desc, load_id desc) as load_rank
    from cms__asc_addendum_aa
)
where load_rank = 1
