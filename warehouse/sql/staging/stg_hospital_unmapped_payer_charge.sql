-- One row per standard-charge row, in every loaded hospital file snapshot, whose payer name the
-- payer reference table (raw/reference/payer_aliases.csv) maps to no payer group (payer_group
-- `other`), with the name of the hospital whose file holds it.
select
    c.*,
    f.hospital_name
from hospital__standard_charge c
left join hospital__file f on f.load_id = c.load_id
where c.payer_group = 'other' and c.payer_name is not null
