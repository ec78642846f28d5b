-- One row per policy page (url): its newest snapshot fetched on or before the as-of date (as_of_date():
-- everything when unset), so the report's --as-of shows a policy's page as it read then. A snapshot file
-- loaded twice counts once (its latest load). codes_listed_list splits the comma-joined codes for joins to
-- stg_payer_policy on policy_url and billing_code (`list_contains(codes_listed_list, billing_code)`).
with snapshots as (
    select *
    from payer__policy_snapshot
    qualify row_number() over (partition by url, fetched_at order by loaded_at desc, load_id desc) = 1
),

as_of as (
    select *
    from snapshots
    where cast(fetched_at as date) <= as_of_date()
    qualify row_number() over (partition by url order by fetched_at desc) = 1
)

select
    url,
    final_url,
    payer_name,
    policy_id,
    policy_title,
    fetched_at,
    fetch_id,
    content_type,
    text_sha256,
    last_reviewed_date,
    effective_date,
    published_date,
    codes_checked,
    codes_listed,
    stance,
    stance_sentences,
    previous_sha256,
    landed_path,
    source_file,
    load_id,
    string_split(codes_checked, ',') as codes_checked_list,
    coalesce(string_split(codes_listed, ','), []) as codes_listed_list
from as_of
order by payer_name, policy_id, url
