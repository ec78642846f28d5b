-- One row per billing code x negotiated price x provider group from each payer's latest monthly
-- publication: per payer, plan (plan_id, else plan_name) and billing code, the files with the
-- newest last_updated_on. A file loaded more than once (a re-download) counts once: its latest load.
-- Files dated after the as-of date (stg_as_of; unset: none) are left out.
with latest_load as (
    select *
    from tic__in_network_rate
    where last_updated_on is null or last_updated_on <= as_of_date()
    qualify is_latest_load(source_file, loaded_at, load_id)
),
keyed as (
    select *, coalesce(plan_id, plan_name, '') as plan_key
    from latest_load
)
select * exclude (plan_key)
from keyed
qualify dense_rank() over (
    partition by payer_name, plan_key, billing_code
    order by last_updated_on desc nulls last
) = 1
