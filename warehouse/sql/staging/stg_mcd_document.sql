-- One row per local coverage document (LCD or article) version in the most recently loaded Coverage
-- API report listing (documents_latest.csv): its MAC(s) as CMS writes them, dates, note and URL.
-- is_retired is true when CMS gives a retirement date.
select *, retirement_date is not null as is_retired
from cms__mcd_document
qualify is_latest_load(null, loaded_at, load_id)
