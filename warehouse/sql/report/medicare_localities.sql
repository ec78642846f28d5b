-- How the physician amounts vary by PFS locality in the latest loaded release (up to the as-of date).
with latest as (
    select setting, max(period_start_date) as period_start_date
    from medicare_rate
    where billing_code = $code and locality_id <> 'national' and period_start_date <= $as_of
      and setting in ('physician_nonfacility', 'physician_facility') and availability_reason is distinct from 'not_loaded'
    group by setting
)
select r.setting, any_value(r.release_period) as release_period, count(*) as localities,
       count(r.payment_usd) as localities_with_amount, min(r.payment_usd) as min_usd,
       median(r.payment_usd) as median_usd, max(r.payment_usd) as max_usd,
       any_value(r.availability_reason) as availability_reason
from medicare_rate r
join latest l using (setting, period_start_date)
where r.billing_code = $code and r.locality_id <> 'national'
group by r.setting
order by r.setting desc
