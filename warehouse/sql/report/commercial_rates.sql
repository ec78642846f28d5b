-- Every commercial (non-Medicare-fee-schedule) rate behind the benchmark for the code.
select payer_group, payer_name, setting, source, rate_kind, rate_value, provider_keys, provider_count, as_of_date, source_file,
       is_synthetic
from benchmark_rate
where billing_code = $code and source <> 'medicare_fee_schedule'
order by rate_kind, payer_group, setting, rate_value
