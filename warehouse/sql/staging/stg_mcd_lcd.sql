-- One row per local coverage determination (LCD) version in the latest loaded LCD table (every load
-- is a full export: the latest replaces the earlier ones).
select *
from cms__mcd_lcd
qualify is_latest_load(null, loaded_at, load_id)
