-- One row per billing code x data year from the first to the last loaded year, national: Part B
-- services and beneficiaries in facility and office settings and combined (for the report).
-- availability_reason: reported (both settings published), partial_small_cell (one setting not
-- published: the combined figures are the published setting's only, so the true totals are at
-- least them; totals_are_lower_bounds is true), not_published_small_cell (neither published),
-- not_loaded (no file of that year scanned for the code, e.g. a gap year). Beneficiaries are
-- summed over settings: one treated in both counts twice, so beneficiary_count can exceed the
-- number of people (CMS publishes no national count across settings).
with span as (
    select unnest(range(min(data_year), max(data_year) + 1)) as data_year
    from stg_partb_geo_service_scope
),
codes as (
    select distinct billing_code from medicare_utilization
),
national as (
    select * from medicare_utilization where geo_level = 'national'
),
by_year as (
    select
        c.billing_code,
        y.data_year,
        any_value(f.service_count) as facility_service_count,
        any_value(o.service_count) as office_service_count,
        any_value(f.beneficiary_count) as facility_beneficiary_count,
        any_value(o.beneficiary_count) as office_beneficiary_count,
        any_value(f.availability_reason) as facility_reason,
        any_value(o.availability_reason) as office_reason,
        any_value(f.avg_medicare_allowed_usd) as facility_avg_allowed_usd,
        any_value(o.avg_medicare_allowed_usd) as office_avg_allowed_usd,
        bool_or(coalesce(f.source_is_synthetic, false) or coalesce(o.source_is_synthetic, false)) as source_is_synthetic
    from codes c
    cross join span y
    left join national f on f.billing_code = c.billing_code and f.data_year = y.data_year and f.place_of_service = 'F'
    left join national o on o.billing_code = c.billing_code and o.data_year = y.data_year and o.place_of_service = 'O'
    group by all
)
select
    billing_code,
    data_year,
    case
        when facility_reason is null or office_reason is null or 'not_loaded' in (facility_reason, office_reason) then 'not_loaded'
        when facility_reason = 'reported' and office_reason = 'reported' then 'reported'
        when 'reported' in (facility_reason, office_reason) then 'partial_small_cell'
        else 'not_published_small_cell'
    end as availability_reason,
    facility_service_count,
    office_service_count,
    case when facility_service_count is not null or office_service_count is not null
         then coalesce(facility_service_count, 0) + coalesce(office_service_count, 0) end as service_count,
    facility_beneficiary_count,
    office_beneficiary_count,
    case when facility_beneficiary_count is not null or office_beneficiary_count is not null
         then coalesce(facility_beneficiary_count, 0) + coalesce(office_beneficiary_count, 0) end as beneficiary_count,
    -- services-weighted national average allowed amount over the published settings
    case when facility_service_count is not null or office_service_count is not null then
        round((coalesce(facility_avg_allowed_usd * facility_service_count, 0) + coalesce(office_avg_allowed_usd * office_service_count, 0))
              / (coalesce(facility_service_count, 0) + coalesce(office_service_count, 0)), 4)::decimal(18, 4)
    end as avg_medicare_allowed_usd,
    -- the combined counts leave out a suppressed setting: read them as "at least"
    case when facility_service_count is not null or office_service_count is not null
         then coalesce(facility_reason, '') <> 'reported' or coalesce(office_reason, '') <> 'reported' end
        as totals_are_lower_bounds,
    facility_reason,
    office_reason,
    source_is_synthetic
from by_year
order by billing_code, data_year
