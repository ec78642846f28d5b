-- ASC Addendum FF for the code per loaded release in effect by the as-of date: the OPPS APC CMS lists it in and
-- that APC's OPPS rate (ASC payment does not use APCs: the FF columns are OPPS's), the device offset percentage
-- and the device portion that ASC payment for a device-intensive (J8) procedure carries.
select release_year, release_quarter, effective_date, payment_indicator, apc, opps_payment_rate_usd, device_offset_pct,
       device_portion_usd, source_file
from stg_asc_addendum_ff
where billing_code = $code and effective_date <= $as_of
order by effective_date
