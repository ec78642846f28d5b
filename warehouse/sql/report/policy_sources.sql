-- Each policy document behind the code's coverage rows: payer, policy, URL, confidence, retrieved date.
select payer_group, payer_name, plan_type, policy_id, policy_title, policy_url, source_confidence, retrieved_date
from stg_payer_policy
where billing_code = $code and policy_url is not null
order by payer_group, payer_name, policy_id
