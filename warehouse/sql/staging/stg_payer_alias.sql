-- One row per payer name (or name prefix) as sources write it, mapped to a payer group, from the
-- most recently loaded payer reference table (raw/reference/payer_aliases.csv).
select *
from ref__payer_alias
qualify is_latest_load(null, loaded_at, load_id)
