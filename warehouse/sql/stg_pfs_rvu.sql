-- One row per HCPCS code and modifier per quarterly PFS release (release_year, release_quarter),
-- from the latest load of that release: a re-downloaded copy or a corrected file of the same
-- release replaces the earlier load instead of adding to it (the CSV and fixed-width editions of
-- one release are one release). Blank modifier (NULL) is the global service.
select * exclude (load_rank)
from (
    select *,
        dense_rank() over (partition by release_year, release_quarter order by loaded_at desc, load_id desc) as load_rank
    from cms__pfs_rvu
)
where load_rank = 1
