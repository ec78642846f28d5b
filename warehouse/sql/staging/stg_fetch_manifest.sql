-- One row per URL asked or file landed by `payerbench fetch`, from the most recently loaded fetch
-- manifest (raw/fetch_manifest/fetch_manifest.csv: every fetch run appends, and each load holds the whole
-- file, so the latest load is the whole history), newest first.
select
    fetched_at,
    fetch_id,
    source,
    release,
    outcome,
    logical_key,
    url,
    final_url,
    http_status,
    etag,
    last_modified,
    content_length,
    bytes_received,
    sha256,
    landed_path,
    license_acknowledged,
    message
from fetch__manifest
qualify is_latest_load(null, loaded_at, load_id)
order by fetched_at desc, fetch_id, source_record
