-- One row per billing code, topic and fact the report states about the code, each with its source
-- and confidence, from the most recently loaded reference file.
select *
from ref__code_fact
qualify is_latest_load(null, loaded_at, load_id)
