-- The reimbursement benchmark rows for the code (every payer group x plan type x setting x source).
select * from reimbursement_benchmark where billing_code = $code
order by payer_order, plan_type_order, setting_order, source_order
