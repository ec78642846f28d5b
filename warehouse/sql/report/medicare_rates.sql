-- Medicare's national answer for the code by setting and release period (periods up to the as-of date).
select setting, release_period, release_year, release_quarter, period_start_date, payment_usd, availability_reason,
       availability_note, rate_source, rate_label, status_indicator, status_meaning, apc, relative_weight, total_rvu, conversion_factor_usd,
       asc_multiple_procedure_discounting, ff_opps_payment_rate_usd, global_days, source_file
from medicare_rate
where billing_code = $code and locality_id = 'national' and period_start_date <= $as_of
order by case setting when 'physician_nonfacility' then 1 when 'physician_facility' then 2
                      when 'hopd_opps' then 3 else 4 end, period_start_date
