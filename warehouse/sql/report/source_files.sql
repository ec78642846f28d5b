-- Each file loaded into the warehouse (latest committed load per file name): source, rows, sha256 prefix, load date.
select source, source_file, left(source_sha256, 12) as sha256_prefix, rows_loaded, rows_quarantined,
       cast(ended_at as date) as loaded_on
from load_log
where status in ('loaded', 'loaded_with_quarantine')
qualify row_number() over (partition by source, source_file order by ended_at desc) = 1
order by source, source_file
