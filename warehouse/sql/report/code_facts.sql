-- The reference facts about the code (latest reference file), with source and confidence.
select topic, fact, source_url, source_confidence, notes
from stg_code_fact
where billing_code = $code
order by topic, fact
