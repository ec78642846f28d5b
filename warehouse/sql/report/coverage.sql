-- The coverage matrix for the code: one row per payer group, in the payer groups' own order
-- (enum_payer_group.sort_order, from schemas/fields.py).
select c.*
from coverage_matrix as c
inner join enum_payer_group as g on c.payer_group = g.payer_group
where c.billing_code = $code
order by g.sort_order
