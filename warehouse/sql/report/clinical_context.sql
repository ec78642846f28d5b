-- The clinical context the report prints for the code (raw/reference/code_clinical_context.csv): vignette,
-- indications, coding and documentation items, each with source, confidence and whether it is illustrative.
select part, item_order, text, source_url, source_confidence, illustrative, notes
from stg_code_clinical_context
where billing_code = $code
order by case part when 'vignette' then 1 when 'indications' then 2 when 'coding' then 3 else 4 end, item_order
