-- One row per modifier the report explains (what it means, when to use it with these codes), from
-- the most recently loaded reference file.
select *
from ref__code_modifier
qualify is_latest_load(null, loaded_at, load_id)
