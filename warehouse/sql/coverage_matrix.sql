-- One row per billing code x payer group (aetna, bcbs, cigna, unitedhealthcare, medicare), always:
-- a group with no policy data still has its row. coverage_status is the stance of the
-- strongest-evidence policies when they agree ('mixed' when they disagree) and NULL when no
-- policy states one; availability_reason says why (reported, no_policy_found, not_loaded).
-- The primary policy (strongest evidence, then commercial / traditional Medicare, then newest)
-- supplies policy_id, policy_title, source_url, effective_date and source_confidence; the lists
-- hold every policy behind the row.
with codes as (
    select billing_code from stg_billing_code
    union
    select billing_code from stg_payer_policy
),
grid as (
    select c.billing_code, g.payer_group, g.payer_group_name, g.sort_order
    from codes c
    cross join enum_payer_group g
    where g.is_named_group
),
best as (
    select billing_code, payer_group, min(confidence_rank) as best_rank
    from stg_payer_policy
    where states_stance
    group by all
),
consensus as (
    select
        p.billing_code,
        p.payer_group,
        case when count(distinct p.coverage_status) = 1 then any_value(p.coverage_status) else 'mixed' end
            as coverage_status,
        case when count(distinct p.coverage_position) = 1 then any_value(p.coverage_position) else 'mixed' end
            as coverage_position
    from stg_payer_policy p
    join best b on p.billing_code = b.billing_code and p.payer_group = b.payer_group and p.confidence_rank = b.best_rank
    where p.states_stance
    group by all
),
primary_policy as (
    select *
    from stg_payer_policy
    where states_stance
    qualify row_number() over (
        partition by billing_code, payer_group
        order by confidence_rank,
                 case when plan_type in ('commercial', 'medicare_ffs') then 0 else 1 end,
                 effective_date desc nulls last,
                 policy_id, payer_name, source_record
    ) = 1
),
summary as (
    select
        billing_code,
        payer_group,
        count(*) filter (where states_stance) as policy_count,
        list(distinct coverage_status order by coverage_status) as statuses_found,
        list(policy_id order by confidence_rank, policy_id) filter (where policy_id is not null) as policy_ids,
        list(policy_title order by confidence_rank, policy_id) filter (where policy_id is not null) as policy_titles,
        list(distinct policy_url order by policy_url) filter (where policy_url is not null) as policy_urls,
        list(distinct plan_type order by plan_type) as plan_types,
        string_agg(
            plan_type || ': ' || coverage_status
                || coalesce(' (' || policy_id || ', ' || source_confidence || ')', ' (' || source_confidence || ')'),
            '; ' order by confidence_rank, plan_type, policy_id
        ) as coverage_detail,
        max(retrieved_date) as retrieved_date,
        list(distinct source_file order by source_file) as source_files
    from stg_payer_policy
    group by all
)
select
    g.billing_code,
    g.payer_group,
    g.payer_group_name,
    c.coverage_status,
    c.coverage_position,
    case
        when s.billing_code is null then 'not_loaded'
        when c.coverage_status is null then 'no_policy_found'
        else 'reported'
    end as availability_reason,
    p.policy_id,
    p.policy_title,
    p.plan_type as policy_plan_type,
    p.effective_date,
    p.source_confidence,
    p.policy_url as source_url,
    p.evidence,
    coalesce(s.policy_count, 0) as policy_count,
    s.policy_ids,
    s.policy_titles,
    s.policy_urls,
    s.statuses_found,
    s.plan_types,
    s.coverage_detail,
    s.retrieved_date,
    s.source_files
from grid g
left join summary s on s.billing_code = g.billing_code and s.payer_group = g.payer_group
left join consensus c on c.billing_code = g.billing_code and c.payer_group = g.payer_group
left join primary_policy p on p.billing_code = g.billing_code and p.payer_group = g.payer_group
order by g.billing_code, g.sort_order
