-- One row per billing code x negotiated price x provider group from each payer's latest monthly
-- publication: per payer, plan (plan_id, else plan_name) and billing code, the files with the
-- newest last_updated_on. A file loaded more than once (a re-download) counts once: its latest load.
-- Files dated after the as-of date (stg_as_of; unset: none) are left out.
-- The two rankings run over the distinct keys they read (file x load x payer x plan x code x date),
-- a few hundred rows, and the wide rows are kept by a semi-join on the surviving keys: a window over
-- `select *` buffered every column of every rate (1 GB TiC file: +500 MB to build a mart).
with rate_key as (
    select distinct
        source_file, loaded_at, load_id, payer_name, coalesce(plan_id, plan_name, '') as plan_key,
        billing_code, last_updated_on
    from tic__in_network_rate
    where last_updated_on is null or last_updated_on <= as_of_date()
),
latest_load as (
    select *
    from rate_key
    qualify is_latest_load(source_file, loaded_at, load_id)
),
latest_key as (
    select *
    from latest_load
    qualify dense_rank() over (
        partition by payer_name, plan_key, billing_code
        order by last_updated_on desc nulls last
    ) = 1
)
select r.*
from tic__in_network_rate as r
semi join latest_key as k
    on r.source_file is not distinct from k.source_file
    and r.loaded_at is not distinct from k.loaded_at
    and r.load_id is not distinct from k.load_id
    and r.payer_name is not distinct from k.payer_name
    and coalesce(r.plan_id, r.plan_name, '') = k.plan_key
    and r.billing_code is not distinct from k.billing_code
    and r.last_updated_on is not distinct from k.last_updated_on
