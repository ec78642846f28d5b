-- The PFS payment-policy indicators for the code (global service, no modifier) in each loaded PFS release in
-- effect by the as-of date: multiple-procedure, bilateral-surgery indicators and global days, as the file prints
-- them. What Medicare's physician fee does with modifier 51 is read here, not typed in.
select release_year, release_quarter, effective_date, mult_proc_indicator, bilat_surg_indicator, global_days,
       status_code, source_file
from stg_pfs_rvu
where billing_code = $code and modifier is null and effective_date <= $as_of
order by effective_date desc
