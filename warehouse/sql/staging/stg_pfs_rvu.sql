-- One row per HCPCS code and modifier per quarterly PFS release (release_year, release_quarter),
-- from the payment track Medicare's standard amounts use: from CY 2026 CMS publishes two files per
-- release, one per conversion factor (PPRRVU2026_Jan_nonQPP and PPRRVU2026_Jan_QPP, for qualifying
-- APM participants), so payment_track is non_qpp when that file is loaded, else single (the one file
-- of a release before CY 2026), else qpp (only the QPP file is loaded). Per release and track the
-- latest load is kept: a re-downloaded copy or a corrected file replaces the earlier load instead of
-- adding to it (the CSV and fixed-width editions of one release and track are one). Blank modifier
-- (NULL) is the global service.
with tracked as (
    -- Rows loaded before payment_track existed have it NULL: their track is read from the file name
    -- they were loaded from, as the adapter reads it now (no QPP in the name: single).
    select * replace (coalesce(payment_track,
        case when regexp_matches(source_file, '(?i)non[ _-]?qpp') then 'non_qpp'
             when regexp_matches(source_file, '(?i)qpp') then 'qpp'
             else 'single' end) as payment_track)
    from cms__pfs_rvu
),
latest as (
    select *
    from tracked
    qualify is_latest_load((release_year, release_quarter, payment_track), loaded_at, load_id)
)
select * exclude (track_rank)
from (
    select *,
        dense_rank() over (partition by release_year, release_quarter
                           order by case payment_track when 'non_qpp' then 1 when 'single' then 2 else 3 end) as track_rank
    from latest
)
where track_rank = 1
