-- The reimbursement benchmark rows for the code (every payer group x setting x source).
select * from reimbursement_benchmark where billing_code = $code
order by payer_order, setting_order, source_order
