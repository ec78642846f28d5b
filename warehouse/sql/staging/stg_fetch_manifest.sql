-- One row per URL asked or file landed by `payerbench fetch`, from the latest load of the manifest. Every
-- fetch appends to raw/fetch_manifest/fetch_manifest.csv and the file is loaded whole each time it
-- changes, so the dataset `fetch__manifest` holds each earlier load's copy of the same rows too.
select *
from fetch__manifest
qualify is_latest_load(null, loaded_at, load_id)
