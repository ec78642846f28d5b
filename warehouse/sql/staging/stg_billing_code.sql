-- One row per billing code of interest (targets and comparators), from the most recently loaded
-- reference file. This is the code configuration every mart's grid is built over.
select * exclude (snapshot_rank)
from (
    select *, dense_rank() over (order by loaded_at desc, load_id desc) as snapshot_rank
    from ref__billing_code
)
where snapshot_rank = 1
