-- One row per payer Transparency-in-Coverage index the TiC crawl reads (where, how, with which filter),
-- from the most recently loaded reference file.
select *
from ref__payer_index
qualify is_latest_load(null, loaded_at, load_id)
