-- One row per file a loaded table of contents lists: whether a file of that name was loaded, and
-- if so what it held for the codes of interest; `availability_reason` is 'loaded' or
-- 'not_loaded' (listed but no local copy was ingested).
with listed as (
    select distinct reporting_entity_name, file_type, file_location,
           regexp_extract(regexp_replace(file_location, '[?#].*$', ''), '[^/]+$') as file_name,
           source_file as toc_file
    from stg_tic_toc_file
)
select
    l.reporting_entity_name,
    l.toc_file,
    l.file_type,
    l.file_location,
    l.file_name,
    f.source_file as loaded_file,
    f.target_items,
    f.target_codes_found,
    f.last_updated_on,
    case when f.source_file is null then 'not_loaded' else 'loaded' end as availability_reason
from listed l
left join stg_tic_file f
    on f.source_file = l.file_name or f.source_file = l.file_name || '.gz'
order by l.reporting_entity_name, l.file_type, l.file_location
