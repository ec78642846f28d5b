-- Every policy row of the payer extract for the code, a search that found nothing included: the plan that
-- publishes it (payer_name), plan type, policy, stance and confidence, so each policy is named with its plan.
select payer_group, payer_name, plan_type, policy_id, coverage_status, source_confidence
from stg_payer_policy
where billing_code = $code
order by payer_group, plan_type, payer_name, policy_id
