-- ICD-10-CM diagnoses listed as clinical context for the code (latest reference file).
select diagnosis_group, icd10_code, description, source, source_confidence, notes
from stg_code_diagnosis
where billing_code = $code
order by diagnosis_group, icd10_code
