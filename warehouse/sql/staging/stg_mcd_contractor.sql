-- One row per Medicare contractor (MAC) contract: contractor id, type and version, with its contract
-- number and business name, from the most recent load that listed it (MCD article and LCD exports
-- both carry the contractor table).
select * exclude (row_rank)
from (
    select *,
        row_number() over (
            partition by contractor_id, contractor_type_id, contractor_version
            order by loaded_at desc, load_id desc, source_record
        ) as row_rank
    from cms__mcd_contractor
)
where row_rank = 1
