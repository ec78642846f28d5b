-- How many year x geography x place-of-service cells CMS published vs suppressed for the code.
select data_year, geo_level, availability_reason, count(*) as cells, bool_or(source_is_synthetic) as synthetic
from medicare_utilization
where billing_code = $code
group by all
order by data_year, geo_level, availability_reason
