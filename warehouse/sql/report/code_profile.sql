-- The code's configuration row and its sibling codes (same code family, targets first).
select
    b.billing_code, b.code_type, b.code_category, b.role, b.code_family, b.label, b.notes,
    (select list(s.billing_code order by s.role desc, s.billing_code) from stg_billing_code s
      where s.code_family = b.code_family and s.billing_code <> b.billing_code) as siblings,
    (select list(s.billing_code || ': ' || s.label order by s.billing_code) from stg_billing_code s
      where s.code_family = b.code_family and s.billing_code <> b.billing_code) as sibling_labels
from stg_billing_code b
where b.billing_code = $code
