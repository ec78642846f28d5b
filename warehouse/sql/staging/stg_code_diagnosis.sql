-- One row per billing code and ICD-10-CM diagnosis the report lists as clinical context, from the
-- most recently loaded reference file.
select *
from ref__code_diagnosis
qualify is_latest_load(null, loaded_at, load_id)
