-- One row per payer name, as hospital files write it, that the payer reference table
-- (raw/reference/payer_aliases.csv) maps to no payer group: its rates are kept under payer group
-- `other`. For the table's upkeep: add an alias row for each name that belongs to one of the five
-- groups (e.g. a plan brand of a Blue plan), then load again. Counts cover every loaded snapshot.
select
    payer_name,
    count(*) as charge_rows,
    count(distinct load_id) as files,
    list(distinct hospital_name order by hospital_name) as hospitals,
    list(distinct plan_name order by plan_name) filter (where plan_name is not null) as plan_names,
    list(distinct billing_code order by billing_code) as billing_codes,
    min(loaded_at) as first_loaded_at,
    max(loaded_at) as last_loaded_at
from stg_hospital_unmapped_payer_charge
group by payer_name
order by charge_rows desc, payer_name
