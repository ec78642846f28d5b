-- One row per local coverage article (billing and coding article) version in the latest loaded
-- article table (every load is a full export: the latest replaces the earlier ones).
select *
from cms__mcd_article
qualify is_latest_load(null, loaded_at, load_id)
