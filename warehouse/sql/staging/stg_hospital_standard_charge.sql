-- One row per hospital file x billing code x item x setting x modifiers x payer x plan x terms (and
-- one payer_independent row per item and setting), from the newest snapshot of each hospital file
-- only: a re-published file replaces its earlier snapshot. Carries the hospital facts of
-- stg_hospital_file, and on every row the item's payer-independent charges (item_gross_charge_usd,
-- item_discounted_cash_usd, item_minimum_usd, item_maximum_usd), so a negotiated rate can be read
-- against the gross charge. Percentages stay in negotiated_percent, never in a dollar column.
select
    c.*,
    f.hospital_file_key,
    f.hospital_name,
    f.location_name,
    f.hospital_address,
    f.license_state,
    f.license_number,
    f.type_2_npi,
    f.last_updated_on,
    f.template_version,
    f.template_generation,
    f.file_layout,
    f.attestation_confirmed,
    f.flags as file_flags,
    max(c.gross_charge_usd) over item as item_gross_charge_usd,
    max(c.discounted_cash_usd) over item as item_discounted_cash_usd,
    max(c.minimum_usd) over item as item_minimum_usd,
    max(c.maximum_usd) over item as item_maximum_usd
from hospital__standard_charge c
join stg_hospital_file f on f.load_id = c.load_id and f.is_latest
window item as (
    partition by c.load_id, c.billing_code, c.other_codes, c.description, c.setting, c.modifiers,
                 c.drug_unit_of_measurement, c.drug_type_of_measurement
)
