"""payerbench: payer-policy and reimbursement pipeline for CPT 0440T-0442T."""
