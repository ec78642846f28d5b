-- The coverage matrix for the code: one row per payer group.
select * from coverage_matrix where billing_code = $code order by case payer_group
    when 'aetna' then 1 when 'bcbs' then 2 when 'cigna' then 3 when 'unitedhealthcare' then 4 else 5 end
