-- The "latest load" rule, written once: true on the rows of the load that ran last (ties: the
-- larger load_id) among the rows with the same release_key, so a re-downloaded or corrected file
-- replaces the earlier load of its release instead of adding to it. release_key is what one load
-- replaces: a column or a row of columns, e.g. (release_year, release_quarter); NULL when every
-- load is a full snapshot (the latest load replaces all earlier ones). Use in QUALIFY:
-- `select * from cms__opps_cap qualify is_latest_load((release_year, release_quarter), loaded_at, load_id)`.
create macro is_latest_load(release_key, loaded_at, load_id) as
    dense_rank() over (partition by release_key order by loaded_at desc, load_id desc) = 1
