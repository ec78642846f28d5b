-- One row per watched hospital web root and cms-hpt.txt entry (block), from that web root's latest load fetched
-- on or before the as-of date (as_of_date(): every load when unset): the location, source-page-url, mrf-url and
-- contact as the hospital wrote them, the landed mrf_file, and the finding (null: a clean entry); entry 0 is a
-- row about the whole file when it could not be read (unreachable, HTML, empty). is_clean: no finding.
select
    *,
    finding is null as is_clean
from hospital__hpt_entry
where cast(fetched_at as date) <= as_of_date()
qualify is_latest_load(web_root, loaded_at, load_id)
