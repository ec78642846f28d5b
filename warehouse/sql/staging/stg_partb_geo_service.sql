-- One row per data year x geography (national or one state) x billing code x place of service as
-- CMS published it, from the latest load that scanned that year's file for the code. geo_key
-- joins it to the geography grid: 'US' for national rows, the reference FIPS code for states
-- (matched on the file's code, else its state name), else 'other:<name>' (e.g. Foreign Country).
select
    d.*,
    case
        when d.geo_level = 'national' then 'US'
        else coalesce(by_code.geo_fips, by_name.geo_fips, 'other:' || d.geo_name)
    end as geo_key
from cms__partb_geo_service d
join stg_partb_geo_service_scope s
    on s.data_year = d.data_year and s.billing_code = d.billing_code and s.load_id = d.load_id
left join stg_geography by_code on d.geo_level = 'state' and by_code.geo_fips = d.geo_code
left join stg_geography by_name on d.geo_level = 'state' and lower(by_name.geo_name) = lower(d.geo_name)
