-- One row per billing code, part (vignette, indications, coding, documentation) and item of the clinical context
-- the report prints, each with its source URL, confidence and whether it is illustrative, from the latest
-- reference file.
select *
from ref__code_clinical_context
qualify is_latest_load(null, loaded_at, load_id)
