-- Every non-fee-schedule rate behind the benchmark for the code (payer TiC and hospital files; a rate given only as a
-- formula keeps its text in rate_formula), with its plan type:
-- the report counts commercial plans in its commercial figures and shows Medicare Advantage and Medicare apart.
select payer_group, payer_name, plan_type, setting, source, rate_kind, rate_usd, per_diem_usd, rate_pct_of_charges,
       rate_formula, provider_keys, provider_count, as_of_date, source_file, is_synthetic
from benchmark_rate
where billing_code = $code and source <> 'medicare_fee_schedule'
-- a total order (every column that can tell two rates apart), so the report's fingerprint is stable
order by rate_kind, payer_group, plan_type, setting, coalesce(rate_usd, per_diem_usd, rate_pct_of_charges), rate_formula,
         payer_name, source, source_file, as_of_date, list_sort(provider_keys)::varchar
