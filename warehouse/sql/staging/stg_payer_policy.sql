-- One row per payer, plan type, policy and billing code, from the latest extract snapshot for each
-- payer group and code. A snapshot is one load of one file; for a payer group it is as of the
-- newest retrieved_date among that group's rows in the file (ties: the load that ran last). So
-- one extract per payer works as well as one extract for all, and a newer extract of a payer
-- replaces that payer's older rows only.
with snapshots as (
    select *, max(retrieved_date) over (partition by load_id, payer_group) as snapshot_date
    from payer__policy
),
ranked as (
    select *,
        dense_rank() over (
            partition by payer_group, billing_code
            order by snapshot_date desc, loaded_at desc, load_id desc
        ) as snapshot_rank
    from snapshots
)
select
    r.* exclude (snapshot_rank),
    s.coverage_position,
    c.strength_rank as confidence_rank,
    r.coverage_status <> 'no_policy_found' as states_stance
from ranked r
join enum_coverage_status s using (coverage_status)
join enum_source_confidence c using (source_confidence)
where r.snapshot_rank = 1
