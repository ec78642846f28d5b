-- One row per billing code of interest x payer group (aetna, bcbs, cigna, unitedhealthcare,
-- medicare, other) x setting (inpatient, outpatient, both: the CMS settings, as files state them) x
-- plan type (commercial, medicare_advantage, medicare_ffs, medicaid_managed, or not_stated when the
-- payer / plan text does not say), always: Medicare Advantage and traditional Medicare rates never
-- pool into a payer group's commercial figures. From the newest snapshot of every hospital file:
-- negotiated dollar rates (count, min, median, max, hospitals), percentage rates apart in percent
-- (a percentage never enters a dollar figure), and the count of algorithm-only rates.
-- dollar_availability_reason says why the dollar figures are NULL: no_hospital_file_loaded,
-- no_rates_published (files loaded, none for this code, group, setting and plan type) or
-- percentage_or_algorithm_only; 'reported' when they are there. is_synthetic: a file behind the
-- row is labelled synthetic (stg_source_file), so its figures are sample data, not prices.
with grid as (
    select c.billing_code, g.payer_group, g.payer_group_name, g.sort_order, s.setting, s.setting_order,
           t.plan_type, t.plan_type_order
    from stg_billing_code c
    cross join enum_payer_group g
    cross join (values ('inpatient', 1), ('outpatient', 2), ('both', 3)) as s(setting, setting_order)
    cross join (values ('commercial', 1), ('not_stated', 2), ('medicare_ffs', 3), ('medicare_advantage', 4),
                       ('medicaid_managed', 5)) as t(plan_type, plan_type_order)
),
rates as (
    select
        billing_code,
        payer_group,
        setting,
        coalesce(plan_type, 'not_stated') as plan_type,
        count(negotiated_dollar_usd) as dollar_rate_count,
        rate_distribution(negotiated_dollar_usd) as dollar_rates,
        count(distinct hospital_file_key) filter (where negotiated_dollar_usd is not null) as dollar_hospital_count,
        count(negotiated_percent) as percent_rate_count,
        rate_distribution(negotiated_percent) as percent_rates,
        count(*) filter (where negotiated_type = 'algorithm') as algorithm_only_rate_count,
        count(distinct hospital_file_key) as hospital_count,
        list(distinct payer_name order by payer_name) as payer_names,
        list(distinct plan_name order by plan_name) filter (where plan_name is not null) as plan_names,
        bool_or(coalesce(sf.is_synthetic, false)) as is_synthetic
    from stg_hospital_standard_charge
    left join (select load_id, is_synthetic from stg_source_file) sf using (load_id)
    where charge_scope = 'payer_specific'
    group by all
),
loaded as (
    select count(*) > 0 as any_file from stg_hospital_file where is_latest
)
select
    g.billing_code,
    g.payer_group,
    g.payer_group_name,
    g.setting,
    g.plan_type,
    coalesce(r.dollar_rate_count, 0) as dollar_rate_count,
    r.dollar_rates.min as min_negotiated_dollar_usd,
    r.dollar_rates.median as median_negotiated_dollar_usd,
    r.dollar_rates.max as max_negotiated_dollar_usd,
    coalesce(r.dollar_hospital_count, 0) as dollar_hospital_count,
    case
        when not l.any_file then 'no_hospital_file_loaded'
        when r.billing_code is null then 'no_rates_published'
        when r.dollar_rate_count = 0 then 'percentage_or_algorithm_only'
        else 'reported'
    end as dollar_availability_reason,
    coalesce(r.percent_rate_count, 0) as percent_rate_count,
    r.percent_rates.min as min_negotiated_percent,
    r.percent_rates.median as median_negotiated_percent,
    r.percent_rates.max as max_negotiated_percent,
    coalesce(r.algorithm_only_rate_count, 0) as algorithm_only_rate_count,
    coalesce(r.hospital_count, 0) as hospital_count,
    r.payer_names,
    r.plan_names,
    coalesce(r.is_synthetic, false) as is_synthetic
from grid g
cross join loaded l
left join rates r
    on r.billing_code = g.billing_code and r.payer_group = g.payer_group and r.setting = g.setting and r.plan_type = g.plan_type
order by g.billing_code, g.sort_order, g.setting_order, g.plan_type_order
