-- The empty (and incomplete) values behind the report, each with its reason: coverage stances and policy effective
-- dates, Medicare Advantage stances, Medicare national payments, benchmark cells (per payer group, plan type, setting
-- and source), and Part B utilization (national services, beneficiaries, average allowed, each setting's services;
-- totals that are lower bounds because a setting is missing). payer_group: the row's payer group, NULL for Medicare
-- payment and utilization rows.
select 'coverage_matrix' as mart, payer_group_name as subject, 'coverage status' as measure, availability_reason as reason,
       payer_group
from coverage_matrix where billing_code = $code and coverage_status is null
union all
select 'coverage_matrix', payer_group_name || ' ' || policy_id, 'policy effective date', 'effective_date_not_stated', payer_group
from coverage_matrix where billing_code = $code and policy_id is not null and effective_date is null
union all
select 'coverage_matrix', payer_group_name, 'Medicare Advantage stance', medicare_advantage_availability_reason, payer_group
from coverage_matrix where billing_code = $code and medicare_advantage_coverage_status is null
  and medicare_advantage_availability_reason is distinct from 'not_applicable'
union all
select 'medicare_rate', setting || ' ' || release_period, 'national payment', availability_reason, null
from medicare_rate where billing_code = $code and locality_id = 'national' and payment_usd is null
  and period_start_date <= $as_of
union all
select 'reimbursement_benchmark', payer_group || ' / ' || plan_type || ' / ' || setting || ' / ' || source, 'dollar rates',
       availability_reason, payer_group
from reimbursement_benchmark where billing_code = $code and median_usd is null and availability_reason <> 'not_applicable'
union all
select 'medicare_utilization_trend', cast(data_year as varchar), m.measure, m.reason, null
from medicare_utilization_trend t,
     (values ('national services', t.service_count is null, t.availability_reason),
             ('national beneficiaries', t.beneficiary_count is null, t.availability_reason),
             ('national average allowed amount', t.avg_medicare_allowed_usd is null, t.availability_reason),
             ('facility services', t.facility_service_count is null, t.facility_reason),
             ('office services', t.office_service_count is null, t.office_reason),
             ('national services and beneficiaries: lower bounds (a setting is missing)',
              coalesce(t.totals_are_lower_bounds, false), t.availability_reason)) as m(measure, is_empty, reason)
where t.billing_code = $code and m.is_empty
order by 1, 2, 3
