-- The policy pages behind the code's coverage rows, as of the report's as-of date: one row per payer, plan type and
-- policy of the reviewed extract (stg_payer_policy) whose page has a snapshot fetched by then (its newest:
-- stg_payer_policy_snapshot), with the page's stance and last-reviewed date, whether the page lists the code, and
-- stance_differs when the page states a stance and the extract's coverage_status is not among the page's stances.
select
    p.payer_group,
    p.payer_name,
    p.plan_type,
    p.policy_id,
    p.policy_title,
    p.policy_url,
    p.coverage_status,
    p.retrieved_date,
    p.last_reviewed_date,
    s.fetched_at,
    s.content_type,
    s.stance as page_stance,
    s.last_reviewed_date as page_last_reviewed_date,
    s.effective_date as page_effective_date,
    list_contains(s.codes_checked_list, p.billing_code) as code_checked,
    list_contains(s.codes_listed_list, p.billing_code) as code_listed,
    s.stance is not null
    and not list_contains(string_split(s.stance, ';'), p.coverage_status) as stance_differs
from stg_payer_policy as p
inner join stg_payer_policy_snapshot as s on p.policy_url = s.url
where p.billing_code = $code
order by p.payer_group, p.payer_name, p.policy_id, p.plan_type
