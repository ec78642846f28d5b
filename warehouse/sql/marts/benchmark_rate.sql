-- One row per negotiated or fee-schedule rate behind the benchmark, in one shape whatever its source:
-- billing code, payer group, plan type, benchmark setting (professional_office,
-- professional_facility, hospital_outpatient, asc), source (medicare_fee_schedule, payer_tic,
-- hospital_mrf), rate kind and the rate in the column of its unit: rate_usd (dollars per service),
-- per_diem_usd (a TiC `per diem` rate: dollars per day, never a per-service amount),
-- rate_pct_of_charges (percent of billed charges, 65.0 = 65 %); exactly one is set, by rate_kind
-- (dollars, per_diem, percentage), except rate_kind formula: a hospital rate the file gives only as
-- a contractual algorithm (no dollar amount or percentage), kept as written in rate_formula (e.g.
-- "110% of the Medicare OPPS payment rate for APC 5431") with every amount column NULL. Who is paid (provider_keys: TINs, provider group ids where a
-- group has no TIN, a hospital) and as of when.
-- plan_type: commercial for TiC rates (the Transparency-in-Coverage rule binds group health plans
-- and individual / group market issuers, not Medicare Advantage or Medicaid); a hospital file's
-- plan_type as its payer / plan text states it (commercial, medicare_advantage, medicare_ffs,
-- medicaid_managed) or not_stated; medicare_ffs for Medicare's fee schedules.
-- A TiC rate is one negotiated price as the file publishes it (rate_id: file and the price's JSON
-- path), counted once however many provider groups or TINs it applies to, so large groups never
-- outweigh small ones. A TiC professional rate listing both office and facility places of service
-- counts in both settings; one with no place of service counts as office. Hospital files'
-- payer-specific charges for outpatient (or both) settings are hospital outpatient rates; a row
-- giving both a dollar amount and a percentage counts once in each kind. As of stg_as_of: Medicare's
-- latest release in effect then, TiC and hospital files dated on or before it. `is_synthetic` marks
-- rates from files labelled synthetic (stg_source_file: sample data, not a real publication).
with tic_rows as (
    select *,
        -- the price's own path: the source record without its provider-group suffix (no capture group: the same
        -- match, found by RE2's DFA, 3-4x faster)
        coalesce(nullif(regexp_extract(source_record, '^.*\.negotiated_prices\[\d+\]'), ''), source_record) as price_record
    from stg_tic_in_network_rate
),
tic as (  -- one row per negotiated price as the file publishes it, not one per provider group or TIN it applies to
    select
        billing_code,
        payer_group,
        any_value(payer_name) as payer_name,
        case any_value(negotiated_type) when 'percentage' then 'percentage' when 'per diem' then 'per_diem' else 'dollars' end
            as rate_kind,
        case when any_value(negotiated_type) not in ('percentage', 'per diem') then any_value(negotiated_rate_usd) end as rate_usd,
        case when any_value(negotiated_type) = 'per diem' then any_value(negotiated_rate_usd) end as per_diem_usd,
        any_value(negotiated_percentage) as rate_pct_of_charges,
        null::varchar as rate_formula,
        -- sorted: the same rates give the same rows, run after run; list_distinct of the list, not list(distinct):
        -- DuckDB's distinct aggregate hashes every row again with its group's long key (1 GB TiC file: +35 MB, +0.06 s)
        list_sort(list_distinct(list(coalesce(tin_value, provider_group_id)) filter (where coalesce(tin_value, provider_group_id) is not null)))
            as provider_keys,
        max(last_updated_on) as as_of_date,
        source_file,
        any_value(load_id) as load_id,
        any_value(billing_class) as billing_class,
        any_value(setting) as tic_setting,
        any_value(coalesce(service_codes, [])) as service_codes,
        source_file || ' ' || price_record as rate_id
    from tic_rows
    group by billing_code, payer_group, source_file, price_record
),
tic_settings as (
    -- each rate once per benchmark setting it counts in, in one pass over `tic`: a union of four filters over it
    -- stored `tic` whole first (1 GB TiC file: +13 MB to build the mart)
    select * from (
        select *, unnest([
            case when billing_class in ('professional', 'both') and (len(service_codes) = 0 or list_contains(service_codes, '11'))
                then 'professional_office' end,
            case when billing_class in ('professional', 'both')
                and list_has_any(service_codes, ['19', '21', '22', '23', '24', '26', '31', '34', '41', '42', '51', '52', '53', '56', '61'])
                then 'professional_facility' end,
            case when billing_class in ('institutional', 'both') and coalesce(tic_setting, 'outpatient') in ('outpatient', 'both')
                and not list_contains(service_codes, '24')
                then 'hospital_outpatient' end,
            case when billing_class in ('institutional', 'both') and list_contains(service_codes, '24') then 'asc' end
        ]) as setting
        from tic
    )
    where setting is not null
),
hospital as (
    select billing_code, payer_group, payer_name, coalesce(plan_type, 'not_stated') as plan_type,
           'dollars' as rate_kind, negotiated_dollar_usd as rate_usd, null::decimal(18, 4) as per_diem_usd,
           null::decimal(12, 4) as rate_pct_of_charges, null::varchar as rate_formula, [hospital_file_key] as provider_keys,
           last_updated_on as as_of_date, source_file, load_id, source_file || ' ' || source_record as rate_id
    from stg_hospital_standard_charge
    where charge_scope = 'payer_specific' and setting in ('outpatient', 'both') and negotiated_dollar_usd is not null
    union all
    select billing_code, payer_group, payer_name, coalesce(plan_type, 'not_stated') as plan_type,
           'percentage' as rate_kind, null::decimal(18, 4) as rate_usd, null::decimal(18, 4) as per_diem_usd,
           negotiated_percent as rate_pct_of_charges, null::varchar as rate_formula, [hospital_file_key] as provider_keys,
           last_updated_on as as_of_date, source_file, load_id, source_file || ' ' || source_record as rate_id
    from stg_hospital_standard_charge
    where charge_scope = 'payer_specific' and setting in ('outpatient', 'both') and negotiated_percent is not null
    union all  -- a rate given only as a formula: listed as written, never in a dollar or percentage figure
    select billing_code, payer_group, payer_name, coalesce(plan_type, 'not_stated') as plan_type,
           'formula' as rate_kind, null::decimal(18, 4) as rate_usd, null::decimal(18, 4) as per_diem_usd,
           null::decimal(12, 4) as rate_pct_of_charges, negotiated_algorithm as rate_formula, [hospital_file_key] as provider_keys,
           last_updated_on as as_of_date, source_file, load_id, source_file || ' ' || source_record as rate_id
    from stg_hospital_standard_charge
    where charge_scope = 'payer_specific' and setting in ('outpatient', 'both') and negotiated_algorithm is not null
      and negotiated_dollar_usd is null and negotiated_percent is null
),
medicare as (
    select
        billing_code,
        'medicare' as payer_group,
        'Medicare (national unadjusted)' as payer_name,
        'medicare_ffs' as plan_type,
        case setting
            when 'physician_nonfacility' then 'professional_office'
            when 'physician_facility' then 'professional_facility'
            when 'hopd_opps' then 'hospital_outpatient'
            else 'asc'
        end as setting,
        'dollars' as rate_kind,
        payment_usd as rate_usd,
        null::decimal(18, 4) as per_diem_usd,
        null::decimal(12, 4) as rate_pct_of_charges,
        null::varchar as rate_formula,
        ['CMS'] as provider_keys,
        period_start_date as as_of_date,
        source_file,
        load_id,
        source_file || ' ' || source_record as rate_id
    from medicare_rate
    where locality_id = 'national' and payment_usd is not null
      and period_start_date <= (select as_of_date from stg_as_of)
    qualify row_number() over (partition by billing_code, setting order by period_start_date desc) = 1
)
select r.* exclude (load_id), len(r.provider_keys) as provider_count, coalesce(sf.is_synthetic, false) as is_synthetic
from (
    select billing_code, payer_group, payer_name, 'commercial' as plan_type, setting, 'payer_tic' as source, rate_kind,
           rate_usd, per_diem_usd, rate_pct_of_charges, rate_formula, provider_keys, as_of_date, source_file, rate_id, load_id
    from tic_settings
    union all
    select billing_code, payer_group, payer_name, plan_type, 'hospital_outpatient' as setting, 'hospital_mrf' as source,
           rate_kind, rate_usd, per_diem_usd, rate_pct_of_charges, rate_formula, provider_keys, as_of_date, source_file, rate_id, load_id
    from hospital
    union all
    select billing_code, payer_group, payer_name, plan_type, setting, 'medicare_fee_schedule' as source, rate_kind,
           rate_usd, per_diem_usd, rate_pct_of_charges, rate_formula, provider_keys, as_of_date, source_file, rate_id, load_id
    from medicare
) r
left join (select load_id, is_synthetic from stg_source_file) sf using (load_id)
