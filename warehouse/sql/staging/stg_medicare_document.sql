-- One row per billing code and Medicare contractor document (LCD or article) that bears on it, with how it
-- bears on the code, the jurisdictions the document gives and the confidence, from the latest reference file.
select *
from ref__medicare_document
qualify is_latest_load(null, loaded_at, load_id)
