-- The changes seen on the policy pages behind the code's coverage rows, fetched on or before the report's as-of
-- date (stg_payer_policy_change), newest first: one row per page version that differs from the one before, with
-- the payer groups whose extract rows for the code cite the page.
with pages as (
    select
        policy_url,
        min(payer_group) as payer_group
    from stg_payer_policy
    where billing_code = $code and policy_url is not null
    group by policy_url
)

select
    g.payer_group,
    c.payer_name,
    c.policy_id,
    c.url,
    c.previous_fetched_at,
    c.fetched_at,
    c.previous_stance,
    c.new_stance,
    c.stance_changed,
    c.relevant_changed,
    c.diff,
    c.draft_path
from stg_payer_policy_change as c
inner join pages as g on c.url = g.policy_url
order by c.fetched_at desc, c.url
