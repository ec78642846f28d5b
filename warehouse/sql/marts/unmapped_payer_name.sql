-- One row per payer name, as hospital files write it, that the payer reference table
-- (raw/reference/payer_aliases.csv) maps to no payer group: its rates are kept under payer group
-- `other`. For the table's upkeep: add an alias row for each name that belongs to one of the five
-- groups (e.g. a plan brand of a Blue plan), then load again. Counts cover every loaded snapshot.
select
    c.payer_name,
    count(*) as charge_rows,
    count(distinct c.load_id) as files,
    list(distinct f.hospital_name order by f.hospital_name) as hospitals,
    list(distinct c.plan_name order by c.plan_name) filter (where c.plan_name is not null) as plan_names,
    list(distinct c.billing_code order by c.billing_code) as billing_codes,
    min(c.loaded_at) as first_loaded_at,
    max(c.loaded_at) as last_loaded_at
from hospital__standard_charge c
left join hospital__file f on f.load_id = c.load_id
where c.payer_group = 'other' and c.payer_name is not null
group by c.payer_name
order by charge_rows desc, c.payer_name
