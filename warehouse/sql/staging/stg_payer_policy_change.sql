-- One row per new version of a policy page seen before, fetched on or before the as-of date, newest
-- first: the previous and new text sha256, the stance before and after, and the diff of the relevant
-- passages (dates, codes found, stance sentences). A snapshot file loaded twice counts once.
select
    fetched_at,
    payer_name,
    policy_id,
    url,
    previous_fetched_at,
    previous_sha256,
    new_sha256,
    previous_stance,
    new_stance,
    stance_changed,
    relevant_changed,
    diff,
    draft_path,
    source_file,
    load_id
from payer__policy_change
where cast(fetched_at as date) <= as_of_date()
qualify row_number() over (partition by url, fetched_at order by loaded_at desc, load_id desc) = 1
order by fetched_at desc, url
