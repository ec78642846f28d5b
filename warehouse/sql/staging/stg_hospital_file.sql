-- One row per loaded hospital file (one snapshot of one hospital's machine-readable file), with
-- hospital_file_key naming the hospital file across re-publications (hospital name, licence state
-- and number, locations) and snapshot_rank 1 for its newest snapshot (latest last_updated_on, then
-- the load that ran last). flags lists the file's advisory findings (e.g. attestation_confirmed
-- when the hospital did not confirm the attestation); is_latest marks the snapshot staging uses: the
-- newest one dated on or before the as-of date (stg_as_of; unset: every snapshot counts), so a file
-- first published after the as-of date has no latest snapshot.
with files as (
    select
        *,
        lower(trim(hospital_name)) || '|' || coalesce(upper(trim(license_state)), '') || '|'
            || coalesce(lower(trim(license_number)), '') || '|' || coalesce(lower(trim(location_name)), '')
            as hospital_file_key
    from hospital__file
),
findings as (
    select load_id, list(distinct check_name order by check_name) as flags
    from advisory
    where dataset = 'hospital__file'
    group by load_id
)
select
    f.*,
    coalesce(a.flags, []) as flags,
    row_number() over (
        partition by f.hospital_file_key
        order by f.published_by_as_of desc, f.last_updated_on desc nulls last, f.loaded_at desc, f.load_id desc
    ) as snapshot_rank,
    snapshot_rank = 1 and f.published_by_as_of as is_latest
from (
    select files.*, files.last_updated_on is null or files.last_updated_on <= as_of_date()
        as published_by_as_of
    from files
) f
left join findings a using (load_id)
