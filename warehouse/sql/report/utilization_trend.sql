-- Medicare Part B services and beneficiaries by year, national, with small-cell reasons.
select * from medicare_utilization_trend where billing_code = $code order by data_year
