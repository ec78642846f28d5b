-- ICD-10-CM diagnoses listed as clinical context for the code (latest reference file).
select diagnosis_group, icd10_code, description, source, source_confidence, notes
from ref__code_diagnosis
where billing_code = $code
qualify dense_rank() over (order by loaded_at desc, load_id desc) = 1
order by diagnosis_group, icd10_code
