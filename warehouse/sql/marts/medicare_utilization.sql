-- One row per billing code x data year x geography (national, each state, DC and territory) x place
-- of service (F facility, O office) for every loaded data year, always: the Part B counts and
-- average amounts CMS published for the cell, or NULLs with availability_reason
-- not_published_small_cell (the loaded file has no row: CMS publishes no cell with fewer than 11
-- beneficiaries) or not_loaded (no loaded file of that year was scanned for the code, or its row
-- for the cell failed validation and sits in quarantine). Money is exact (DECIMAL(18,4)) USD.
with years as (
    select distinct data_year from stg_partb_geo_service_scope
),
codes as (
    select billing_code from stg_billing_code
    union
    select billing_code from stg_partb_geo_service_scope
),
geographies as (
    select 'US' as geo_key, 'national' as geo_level, null::varchar as geo_fips, null::varchar as state_abbrev,
           'National' as geo_name, 'national' as geo_type, 0 as geo_sort
    union all
    select geo_fips, 'state', geo_fips, state_abbrev, geo_name, geo_type, 1
    from stg_geography
    union all  -- geographies CMS reports that the reference does not list (kept, never dropped)
    select distinct geo_key, 'state', geo_code, null, geo_name, 'other', 2
    from stg_partb_geo_service
    where geo_key like 'other:%'
),
places as (
    select * from (values ('F', 'facility'), ('O', 'office')) as p(place_of_service, place_of_service_name)
),
grid as (
    select c.billing_code, y.data_year, g.*, p.*
    from codes c cross join years y cross join geographies g cross join places p
)
select
    g.billing_code,
    b.label as billing_code_label,
    g.data_year,
    g.geo_level,
    g.geo_fips,
    g.state_abbrev,
    g.geo_name,
    g.geo_type,
    g.place_of_service,
    g.place_of_service_name,
    case
        when d.billing_code is not null then 'reported'
        when s.billing_code is null or q.billing_code is not null then 'not_loaded'
        else 'not_published_small_cell'
    end as availability_reason,
    d.rendering_provider_count,
    d.beneficiary_count,
    d.service_count,
    d.beneficiary_day_service_count,
    d.avg_submitted_charge_usd,
    d.avg_medicare_allowed_usd,
    d.avg_medicare_payment_usd,
    d.avg_medicare_standardized_usd,
    d.drug_indicator,
    s.source_file,
    d.source_record,
    s.load_id,
    coalesce(sf.is_synthetic, false) as source_is_synthetic
from grid g
left join stg_billing_code b on b.billing_code = g.billing_code
left join stg_partb_geo_service_scope s on s.data_year = g.data_year and s.billing_code = g.billing_code
left join stg_source_file sf on sf.load_id = s.load_id
left join stg_partb_geo_service d
    on d.data_year = g.data_year and d.billing_code = g.billing_code and d.geo_key = g.geo_key
    and d.place_of_service = g.place_of_service
left join stg_partb_geo_service_quarantined q
    on q.data_year = g.data_year and q.billing_code = g.billing_code and q.geo_key = g.geo_key
    and q.place_of_service = g.place_of_service
order by g.billing_code, g.data_year, g.geo_sort, g.geo_name, g.place_of_service
