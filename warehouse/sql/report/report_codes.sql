-- The codes a benchmark report is rendered for: every target code of the code configuration, one row each.
select billing_code from stg_billing_code where role = 'target' order by billing_code
