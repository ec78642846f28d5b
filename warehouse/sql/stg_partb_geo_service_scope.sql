-- One row per data year and billing code for which a Part B geography-and-service file was
-- scanned: the latest load that scanned a file of that year for the code (a newer load of the
-- same year replaces an older one code by code), with how many rows it held for the code
-- (0 = CMS published no cell for it that year).
select * exclude (row_rank)
from (
    select *,
        row_number() over (partition by data_year, billing_code order by loaded_at desc, load_id desc) as row_rank
    from cms__partb_geo_service_scope
)
where row_rank = 1
