-- The comparator codes configured for the target codes, and what Medicare pays for them (national,
-- latest release per setting in effect on the as-of date); none for a code that is not a configured target.
select b.billing_code, b.label, r.setting, r.release_period, r.release_year, r.release_quarter, r.rate_label, r.payment_usd, r.availability_reason,
       r.status_indicator, r.apc
from stg_billing_code b
left join medicare_rate r on r.billing_code = b.billing_code and r.locality_id = 'national' and r.period_start_date <= $as_of
where b.role = 'comparator'
  and exists (select 1 from stg_billing_code t where t.billing_code = $code and t.role = 'target')
qualify row_number() over (
    partition by b.billing_code, r.setting
    order by (coalesce(r.availability_reason, 'reported') = 'not_loaded'), r.period_start_date desc
) = 1
order by b.billing_code, case r.setting when 'physician_nonfacility' then 1 when 'physician_facility' then 2
                                        when 'hopd_opps' then 3 else 4 end
