-- One row per committed load of one file (load_id): source, file name, sha256, when it loaded, and
-- is_synthetic, the project's one rule for sample data that is not a real publication: the file
-- name starts with `synthetic` (case-insensitive), the convention every raw/ README documents.
-- Every mart that shows values takes is_synthetic from here (by load_id, or by file name for lists
-- of files), so the rule is written once.
select
    load_id,
    source,
    source_file,
    source_sha256,
    status,
    ended_at as loaded_at,
    lower(source_file) like 'synthetic%' as is_synthetic
from load_log
where status in ('loaded', 'loaded_with_quarantine')
