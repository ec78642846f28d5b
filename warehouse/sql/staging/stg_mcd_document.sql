-- One row per local coverage document (LCD or article) version in the most recently loaded Coverage
-- API report listing (documents_latest.csv): its MAC(s) as CMS writes them, dates, note and URL.
-- is_retired is true when CMS gives a retirement date.
select * exclude (snapshot_rank), retirement_date is not null as is_retired
from (
    select *, dense_rank() over (order by loaded_at desc, load_id desc) as snapshot_rank
    from cms__mcd_document
)
where snapshot_rank = 1
