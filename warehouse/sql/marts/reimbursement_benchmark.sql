-- One row per billing code x payer group (aetna, bcbs, cigna, unitedhealthcare, medicare, other) x
-- plan type x setting (professional_office, professional_facility, hospital_outpatient, asc) x
-- source (medicare_fee_schedule, payer_tic, hospital_mrf), always, for the plan types each source
-- can have: medicare_ffs for Medicare's fee schedules, commercial for TiC files, and for hospital
-- files commercial, medicare_advantage, medicare_ffs (traditional Medicare), medicaid_managed and
-- not_stated (the file does not say). Commercial figures are the commercial rows; Medicare
-- Advantage and traditional Medicare never pool into them.
-- Dollar rates: count, min, p25, median, p75, max (USD per service); percentage-of-charges rates
-- in their own columns, never mixed into dollars, and per-diem (per day) rates only counted
-- (per_diem_rate_count), and hospital rates given only as a formula counted with their text
-- (formula_rate_count, rate_formulas: "110% of the Medicare OPPS payment rate for APC 5431");
-- the Medicare national unadjusted rate for the same setting (latest loaded
-- release with an answer, in effect on the as-of date of stg_as_of; medicare_rate_label names the release and file, e.g. "CMS OPPS 2026-Q1,
-- national unadjusted") and the dollar median as a percent of it, with
-- medicare_release_lag_quarters (rates' newest as-of quarter minus the Medicare release quarter)
-- and medicare_release_mismatch (more than 4 quarters apart: the percent compares different
-- years); providers the figures rest on; as-of dates and source files. A combination without
-- data keeps its row with NULLs and `availability_reason`: reported, percentage_only,
-- formula_only (only rates given as a formula), no_rates_found, source_not_loaded, not_applicable (Medicare's fee schedules are not a
-- commercial payer's; Medicare publishes no TiC files; traditional Medicare is only the medicare
-- group's and the medicare group has no other plan type), or Medicare's own reason
-- (contractor_priced, not_payable, packaged, not_in_release, not_loaded). `includes_synthetic`
-- flags a row resting on files labelled synthetic (stg_source_file).
with rates as (  -- benchmark_rate named once: bound once, computed once (it is read five times below)
    select * from benchmark_rate
),
codes as (
    select billing_code from stg_billing_code
    union
    select billing_code from rates
),
settings(setting, setting_order, medicare_setting, setting_label) as (
    values ('professional_office', 1, 'physician_nonfacility', 'Professional, office (non-facility)'),
           ('professional_facility', 2, 'physician_facility', 'Professional, facility'),
           ('hospital_outpatient', 3, 'hopd_opps', 'Hospital outpatient'),
           ('asc', 4, 'asc', 'Ambulatory surgical center')
),
sources(source, source_order, source_label) as (
    values ('medicare_fee_schedule', 1, 'Medicare fee schedules (PFS / OPPS / ASC)'),
           ('payer_tic', 2, 'Payer Transparency-in-Coverage files'),
           ('hospital_mrf', 3, 'Hospital price-transparency files')
),
plan_types(source, plan_type, plan_type_order) as (  -- the plan types each source can carry
    values ('medicare_fee_schedule', 'medicare_ffs', 3),
           ('payer_tic', 'commercial', 1),
           ('hospital_mrf', 'commercial', 1),
           ('hospital_mrf', 'not_stated', 2),
           ('hospital_mrf', 'medicare_ffs', 3),
           ('hospital_mrf', 'medicare_advantage', 4),
           ('hospital_mrf', 'medicaid_managed', 5)
),
grid as (
    select c.billing_code, g.payer_group, g.payer_group_name, g.sort_order as payer_order,
           s.setting, s.setting_order, s.medicare_setting, s.setting_label,
           src.source, src.source_order, src.source_label, pt.plan_type, pt.plan_type_order
    from codes c
    cross join enum_payer_group g
    cross join settings s
    cross join sources src
    join plan_types pt using (source)
),
loaded_sources as (  -- a source counts as loaded once a file of it, dated by the as-of date, committed
    select 'payer_tic' as source from stg_tic_file
    where last_updated_on is null or last_updated_on <= (select as_of_date from stg_as_of)
    union
    select 'hospital_mrf' from stg_hospital_file where is_latest
    union
    select 'medicare_fee_schedule' from medicare_rate
    where availability_reason is distinct from 'not_loaded' and period_start_date <= (select as_of_date from stg_as_of)
),
medicare_reference as (  -- the latest loaded national Medicare answer per code and setting
    select billing_code, setting as medicare_setting, payment_usd, availability_reason, status_indicator,
           release_period, release_year, release_quarter, period_start_date, apc, rate_label, source_file
    from medicare_rate
    where locality_id = 'national' and period_start_date <= (select as_of_date from stg_as_of)
    qualify row_number() over (
        partition by billing_code, setting
        order by (coalesce(availability_reason, 'reported') = 'not_loaded'), period_start_date desc
    ) = 1
),
dollars as (
    select billing_code, payer_group, plan_type, setting, source,
           count(*) as rate_count,
           count(distinct rate_usd) as distinct_rates,
           rate_distribution(rate_usd) as usd,
           len(list_distinct(flatten(list(provider_keys)))) as providers,
           count(distinct payer_name) as payers,
           list(distinct payer_name order by payer_name) as payer_names,
           min(as_of_date) as earliest_as_of,
           max(as_of_date) as latest_as_of,
           list(distinct source_file order by source_file) as source_files,
           bool_or(is_synthetic) as synthetic
    from rates
    where rate_kind = 'dollars'
    group by all
),
percentages as (
    select billing_code, payer_group, plan_type, setting, source,
           count(*) as pct_rate_count,
           rate_distribution(rate_pct_of_charges) as pct_of_charges,
           len(list_distinct(flatten(list(provider_keys)))) as pct_providers,
           list(distinct payer_name order by payer_name) as pct_payer_names,
           max(as_of_date) as pct_latest_as_of,
           list(distinct source_file order by source_file) as pct_source_files,
           bool_or(is_synthetic) as pct_synthetic
    from rates
    where rate_kind = 'percentage'
    group by all
),
formulas as (  -- rates given only as a formula: counted and listed as written, never in a figure
    select billing_code, payer_group, plan_type, setting, source,
           count(*) as formula_rate_count,
           list(distinct rate_formula order by rate_formula) as rate_formulas,
           max(as_of_date) as formula_latest_as_of,
           list(distinct source_file order by source_file) as formula_source_files,
           bool_or(is_synthetic) as formula_synthetic
    from rates
    where rate_kind = 'formula'
    group by all
),
per_diem as (  -- per-day rates: counted, never in a per-service dollar figure
    select billing_code, payer_group, plan_type, setting, source, count(*) as per_diem_rate_count
    from rates
    where rate_kind = 'per_diem'
    group by all
)
select
    g.billing_code,
    g.payer_group,
    g.payer_group_name,
    g.plan_type,
    g.setting,
    g.setting_label,
    g.source,
    g.source_label,
    case
        when g.source = 'medicare_fee_schedule' and g.payer_group <> 'medicare' then 'not_applicable'
        when g.source = 'payer_tic' and g.payer_group = 'medicare' then 'not_applicable'
        when d.rate_count > 0 then 'reported'
        when p.pct_rate_count > 0 then 'percentage_only'
        when f.formula_rate_count > 0 then 'formula_only'
        when (g.payer_group = 'medicare') <> (g.plan_type = 'medicare_ffs') then 'not_applicable'
        when g.source = 'medicare_fee_schedule' then coalesce(m.availability_reason, 'not_loaded')
        when ls.source is null then 'source_not_loaded'
        else 'no_rates_found'
    end as availability_reason,
    coalesce(d.rate_count, 0) as rate_count,
    d.distinct_rates,
    d.usd.min as min_usd,
    d.usd.p25 as p25_usd,
    d.usd.median as median_usd,
    d.usd.p75 as p75_usd,
    d.usd.max as max_usd,
    coalesce(d.providers, 0) as providers,
    coalesce(d.payers, 0) as payers,
    d.payer_names,
    coalesce(pd.per_diem_rate_count, 0) as per_diem_rate_count,
    coalesce(p.pct_rate_count, 0) as pct_rate_count,
    p.pct_of_charges.min as min_pct_of_charges,
    p.pct_of_charges.median as median_pct_of_charges,
    p.pct_of_charges.max as max_pct_of_charges,
    coalesce(p.pct_providers, 0) as pct_providers,
    p.pct_payer_names,
    coalesce(f.formula_rate_count, 0) as formula_rate_count,
    f.rate_formulas,
    m.payment_usd as medicare_rate_usd,
    coalesce(m.availability_reason, case when m.payment_usd is not null then 'reported' end, 'not_loaded')
        as medicare_availability_reason,
    m.status_indicator as medicare_status_indicator,
    m.release_period as medicare_release_period,
    m.rate_label as medicare_rate_label,
    m.source_file as medicare_source_file,
    -- quarters from the Medicare release to the newest rate it is compared with (positive: the
    -- Medicare release is older); more than 4 either way and the comparison is out of step
    case when g.source <> 'medicare_fee_schedule' and m.payment_usd is not null and d.latest_as_of is not null
         then (year(d.latest_as_of) * 4 + quarter(d.latest_as_of)) - (m.release_year * 4 + m.release_quarter)
    end as medicare_release_lag_quarters,
    coalesce(abs(medicare_release_lag_quarters) > 4, false) as medicare_release_mismatch,
    case when g.source <> 'medicare_fee_schedule' and d.usd.median is not null and m.payment_usd > 0
         then round(d.usd.median / m.payment_usd * 100, 1) end as median_pct_of_medicare,
    coalesce(d.latest_as_of, p.pct_latest_as_of, f.formula_latest_as_of) as latest_as_of,
    d.earliest_as_of,
    list_distinct(list_concat(coalesce(d.source_files, []), coalesce(p.pct_source_files, []),
                              coalesce(f.formula_source_files, []))) as source_files,
    coalesce(d.synthetic, false) or coalesce(p.pct_synthetic, false) or coalesce(f.formula_synthetic, false)
        as includes_synthetic,
    g.payer_order,
    g.plan_type_order,
    g.setting_order,
    g.source_order
from grid g
left join dollars d
    on d.billing_code = g.billing_code and d.payer_group = g.payer_group and d.plan_type = g.plan_type
   and d.setting = g.setting and d.source = g.source
left join percentages p
    on p.billing_code = g.billing_code and p.payer_group = g.payer_group and p.plan_type = g.plan_type
   and p.setting = g.setting and p.source = g.source
left join medicare_reference m
    on m.billing_code = g.billing_code and m.medicare_setting = g.medicare_setting
left join formulas f
    on f.billing_code = g.billing_code and f.payer_group = g.payer_group and f.plan_type = g.plan_type
   and f.setting = g.setting and f.source = g.source
left join per_diem pd
    on pd.billing_code = g.billing_code and pd.payer_group = g.payer_group and pd.plan_type = g.plan_type
   and pd.setting = g.setting and pd.source = g.source
left join loaded_sources ls
    on ls.source = g.source
order by g.billing_code, g.payer_order, g.plan_type_order, g.setting_order, g.source_order
