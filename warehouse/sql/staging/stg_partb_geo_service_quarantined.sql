-- One row per data year x billing code x geography (geo_key, as stg_partb_geo_service keys it) x
-- place of service whose row the Part B file held but failed validation (it sits in quarantine),
-- in the load stg_partb_geo_service_scope reads for that year and code.
select distinct
    s.data_year, s.billing_code,
    case when lower(trim(json_extract_string(q.raw_record, '$.geo_level'))) = 'national' then 'US'
         else coalesce(by_code.geo_fips, by_name.geo_fips,
                       'other:' || trim(json_extract_string(q.raw_record, '$.geo_name'))) end as geo_key,
    upper(trim(json_extract_string(q.raw_record, '$.place_of_service'))) as place_of_service
from quarantine q
join stg_partb_geo_service_scope s
    on s.load_id = q.load_id
    and s.billing_code = upper(trim(json_extract_string(q.raw_record, '$.billing_code')))
    and s.data_year = try_cast(trim(json_extract_string(q.raw_record, '$.data_year')) as integer)
left join stg_geography by_code on by_code.geo_fips = trim(json_extract_string(q.raw_record, '$.geo_code'))
left join stg_geography by_name on lower(by_name.geo_name) = lower(trim(json_extract_string(q.raw_record, '$.geo_name')))
where q.dataset = 'cms__partb_geo_service' and json_valid(q.raw_record) and q.raw_record like '{%'
