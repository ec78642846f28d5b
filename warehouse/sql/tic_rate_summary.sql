-- One row per billing code x payer group x billing class x setting x rate kind (dollars or
-- percentage of billed charges) over the latest TiC publications: how many negotiated rates, from
-- how many payers, provider TINs and NPIs, and their distribution. Dollar statistics are computed
-- over dollar rates only; percentages have their own rows (rate_kind = 'percentage'), never mixed.
-- is_synthetic: a file behind the row is labelled synthetic (stg_source_file).
with rates as (
    select
        *,
        case when negotiated_type = 'percentage' then 'percentage' else 'dollars' end as rate_kind,
        coalesce(negotiated_rate_usd, negotiated_percentage) as rate_value
    from stg_tic_in_network_rate
),
npis as (
    select billing_code, payer_group, billing_class, coalesce(setting, 'unspecified') as setting, rate_kind,
           count(distinct npi) as provider_npis
    from rates, unnest(coalesce(npis, [])) as t(npi)
    group by all
)
select
    r.billing_code,
    r.payer_group,
    r.billing_class,
    coalesce(r.setting, 'unspecified') as setting,
    r.rate_kind,
    count(*) as rate_rows,
    count(distinct r.rate_value) as distinct_rates,
    count(distinct r.payer_name) as payers,
    count(distinct r.tin_value) as provider_tins,
    coalesce(any_value(n.provider_npis), 0) as provider_npis,
    min(r.rate_value) as min_rate,
    quantile_cont(r.rate_value, 0.25) as p25_rate,
    median(r.rate_value) as median_rate,
    quantile_cont(r.rate_value, 0.75) as p75_rate,
    max(r.rate_value) as max_rate,
    list(distinct r.payer_name order by r.payer_name) as payer_names,
    max(r.last_updated_on) as latest_last_updated_on,
    list(distinct r.source_file order by r.source_file) as source_files,
    bool_or(coalesce(sf.is_synthetic, false)) as is_synthetic
from rates r
left join stg_source_file sf on sf.load_id = r.load_id
left join npis n
    on n.billing_code = r.billing_code and n.payer_group = r.payer_group and n.billing_class = r.billing_class
   and n.setting = coalesce(r.setting, 'unspecified') and n.rate_kind = r.rate_kind
group by all
order by r.billing_code, r.payer_group, r.billing_class, setting, r.rate_kind
