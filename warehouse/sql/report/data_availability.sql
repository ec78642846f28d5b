-- Every NULL behind the report, with its reason: coverage, Medicare rates, benchmark cells, utilization.
select 'coverage_matrix' as mart, payer_group_name as subject, 'coverage status' as measure, availability_reason as reason
from coverage_matrix where billing_code = $code and coverage_status is null
union all
select 'medicare_rate', setting || ' ' || release_period, 'national payment', availability_reason
from medicare_rate where billing_code = $code and locality_id = 'national' and payment_usd is null
  and period_start_date <= $as_of
union all
select 'reimbursement_benchmark', payer_group || ' / ' || setting || ' / ' || source, 'dollar rates', availability_reason
from reimbursement_benchmark where billing_code = $code and median_usd is null and availability_reason <> 'not_applicable'
union all
select 'medicare_utilization_trend', cast(data_year as varchar), 'national services', availability_reason
from medicare_utilization_trend where billing_code = $code and service_count is null
order by 1, 2
