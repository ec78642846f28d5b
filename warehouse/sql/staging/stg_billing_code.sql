-- One row per billing code of interest (targets and comparators), from the most recently loaded
-- reference file. This is the code configuration every mart's grid is built over.
select *
from ref__billing_code
qualify is_latest_load(null, loaded_at, load_id)
