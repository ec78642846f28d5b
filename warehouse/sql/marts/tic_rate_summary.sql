-- One row per billing code x payer group x billing class x setting x rate kind (dollars per
-- service, per_diem: dollars per day, percentage of billed charges) over the latest TiC publications: how many negotiated prices,
-- from how many payers, provider groups, TINs and NPIs, and their distribution. A rate is one
-- negotiated price as the file publishes it (file x in_network item x negotiated_rates[i] x
-- negotiated_prices[j]): rate_count and the statistics count it once however many provider groups,
-- TINs or NPIs it applies to (rate_rows counts the staging rows, one per price and provider group /
-- TIN), so a large group never outweighs a small one. Units are in the column names and each kind
-- has its own columns, NULL on the other kinds' rows: *_rate_usd (per-service dollars: negotiated,
-- derived, fee schedule), *_per_diem_usd (dollars per day), *_pct_of_charges (percent of billed
-- charges: 65.0 = 65 %). A per-diem or percentage rate never enters a per-service dollar figure.
-- is_synthetic: a file behind the row is labelled synthetic (stg_source_file).
-- `rates` is read three times: not materialized, each reader streams the staging view for its own columns
-- (materialised, it held every row's NPI lists and price ids: 1 GB TiC file, +130 MB to build the mart).
-- The per-group counts are taken in the pass that finds and numbers the groups (a separate pass for the
-- numbering read the 1 GB TiC file once more: 0.03-0.04 s).
with rates as not materialized (
    select
        *,
        case negotiated_type when 'percentage' then 'percentage' when 'per diem' then 'per_diem' else 'dollars' end
            as rate_kind,
        coalesce(negotiated_rate_usd, negotiated_percentage) as rate_value,  -- unit by rate_kind; split below
        coalesce(setting, 'unspecified') as setting_key,
        -- the price's own path: the source record without its provider-group suffix (no capture group: the same
        -- match, found by RE2's DFA, 3-4x faster); a price is its file and this path, grouped as two columns (one
        -- string joined per row cost 0.07 s over a 1 GB TiC file)
        coalesce(nullif(regexp_extract(source_record, '^.*\.negotiated_prices\[\d+\]'), ''), source_record) as price_record
    from stg_tic_in_network_rate
),
row_stats as materialized (  -- each group once with its row counts, numbered: the aggregates below hash one integer
    -- instead of five strings
    select
        *,
        row_number() over () as key_id
    from (
        select
            r.billing_code,
            r.payer_group,
            r.billing_class,
            r.setting_key,
            r.rate_kind,
            count(*) as rate_rows,
            count(distinct r.payer_name) as payers,
            count(distinct (r.source_file, r.provider_group_id)) filter (where r.provider_group_id is not null) as provider_groups,
            count(distinct r.tin_value) as provider_tins,
            list(distinct r.payer_name order by r.payer_name) as payer_names,
            max(r.last_updated_on) as latest_last_updated_on,
            list(distinct r.source_file order by r.source_file) as source_files,
            bool_or(coalesce(sf.is_synthetic, false)) as is_synthetic
        from rates r
        left join stg_source_file sf on sf.load_id = r.load_id
        group by all
    )
),
keyed as not materialized (  -- a group with a NULL key part drops out here: it has no prices, so no row at the end
    select k.key_id, r.*
    from rates r
    join row_stats k using (billing_code, payer_group, billing_class, setting_key, rate_kind)
),
prices as (  -- one row per negotiated price
    select key_id, source_file, price_record, any_value(rate_value) as rate_value
    from keyed
    group by all
),
price_stats as (
    select key_id,
           count(*) as rate_count,
           count(distinct rate_value) as distinct_rates,
           rate_distribution(rate_value) as dist
    from prices
    group by all
),
npis as (
    select key_id, count(distinct npi) as provider_npis  -- unnested in the select list: no lateral join
    from (select key_id, unnest(npis) as npi from keyed)
    group by all
)

select
    s.billing_code,
    s.payer_group,
    s.billing_class,
    s.setting_key as setting,
    s.rate_kind,
    p.rate_count,
    rate_rows,
    p.distinct_rates,
    payers,
    provider_groups,
    provider_tins,
    coalesce(n.provider_npis, 0) as provider_npis,
    case when s.rate_kind = 'dollars' then p.dist.min end as min_rate_usd,
    case when s.rate_kind = 'dollars' then p.dist.p25 end as p25_rate_usd,
    case when s.rate_kind = 'dollars' then p.dist.median end as median_rate_usd,
    case when s.rate_kind = 'dollars' then p.dist.p75 end as p75_rate_usd,
    case when s.rate_kind = 'dollars' then p.dist.max end as max_rate_usd,
    case when s.rate_kind = 'per_diem' then p.dist.min end as min_per_diem_usd,
    case when s.rate_kind = 'per_diem' then p.dist.median end as median_per_diem_usd,
    case when s.rate_kind = 'per_diem' then p.dist.max end as max_per_diem_usd,
    case when s.rate_kind = 'percentage' then p.dist.min end as min_pct_of_charges,
    case when s.rate_kind = 'percentage' then p.dist.p25 end as p25_pct_of_charges,
    case when s.rate_kind = 'percentage' then p.dist.median end as median_pct_of_charges,
    case when s.rate_kind = 'percentage' then p.dist.p75 end as p75_pct_of_charges,
    case when s.rate_kind = 'percentage' then p.dist.max end as max_pct_of_charges,
    payer_names,
    latest_last_updated_on,
    source_files,
    is_synthetic
from row_stats s
join price_stats p using (key_id)
left join npis n using (key_id)
order by s.billing_code, s.payer_group, s.billing_class, setting, s.rate_kind
