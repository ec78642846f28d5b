-- The reference facts about the code (latest reference file), with source and confidence.
select topic, fact, source_url, source_confidence, notes
from ref__code_fact
where billing_code = $code
qualify dense_rank() over (order by loaded_at desc, load_id desc) = 1
order by topic, fact
