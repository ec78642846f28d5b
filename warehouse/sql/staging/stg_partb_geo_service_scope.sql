-- One row per data year and billing code for which a Part B geography-and-service file was
-- scanned: the latest load that scanned a file of that year for the code (a newer load of the
-- same year replaces an older one code by code), with how many rows it held for the code
-- (0 = CMS published no cell for it that year). release_year is the year CMS released the file:
-- from CMS's file name (MUP_PHY_R25_..._D23 = released 2025), else data year + 2 (CMS releases a
-- data year about two years after it). Years released after the as-of year (stg_as_of; unset:
-- none) are left out.
select * exclude (row_rank)
from (
    select *,
        coalesce(2000 + try_cast(nullif(regexp_extract(source_file, '_R(\d{2})_', 1), '') as integer), data_year + 2)
            as release_year,
        row_number() over (partition by data_year, billing_code order by loaded_at desc, load_id desc) as row_rank
    from cms__partb_geo_service_scope
)
where row_rank = 1 and release_year <= year(as_of_date())
