-- One row per hospital web root watched for cms-hpt.txt (`payerbench fetch hospital_mrf`): name, state, web
-- root and where it comes from, from the most recently loaded reference file.
select *
from ref__hospital
qualify is_latest_load(null, loaded_at, load_id)
