-- One row per billing code of interest (stg_billing_code) x setting (physician_nonfacility,
-- physician_facility, hopd_opps, asc) x release period (every year-quarter for which any Medicare
-- payment file is loaded) x locality ('national' for every setting, plus every PFS payment locality
-- of that year's GPCI file for the physician settings), always: the grid is complete.
-- payment_usd is what Medicare pays in USD: for the physician settings CMS's formula
-- [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x conversion factor, rounded
-- to cents, national = all GPCIs 1.000, and capped at the OPPS amount where CMS caps it; for
-- hopd_opps the national unadjusted OPPS rate (Addendum B, or, for a quarter without Addendum B,
-- the OPPS rate of the code's APC as ASC Addendum FF prints it); for asc the national unadjusted
-- ASC rate (Addendum AA). rate_source names the file kind (pfs_rvu, opps_addendum_b,
-- asc_addendum_ff, asc_addendum_aa) and rate_label says it in words with the release period. When there is no amount, payment_usd is NULL (never 0.00) and
-- availability_reason says why: contractor_priced, not_payable, packaged, not_in_release (the
-- release is loaded but does not list the code), unknown_indicator (the file's status / payment
-- indicator is not in medicare_indicator, so what it pays is unknown) or not_loaded (no file of that
-- payment system is loaded for the period); availability_note says it in words. is_synthetic: a file behind the amount
-- (the rate file, GPCI or OPPSCAP file) is labelled synthetic (stg_source_file).
-- payment_track (physician settings) is the conversion factor's track of the PPRRVU file used:
-- non_qpp when that file of the release is loaded, else single (before CY 2026), else qpp (stg_pfs_rvu).
with codes as (
    select billing_code, role as code_role, label as code_label
    from stg_billing_code
),
periods as (
    select release_year, release_quarter from stg_pfs_rvu
    union select release_year, release_quarter from stg_opps_addendum_b
    union select release_year, release_quarter from stg_asc_addendum_aa
    union select release_year, release_quarter from stg_asc_addendum_ff
),
settings as (
    select * from (values
        ('physician_nonfacility', 1, 'pfs'),
        ('physician_facility', 2, 'pfs'),
        ('hopd_opps', 3, 'opps'),
        ('asc', 4, 'asc')
    ) as s(setting, setting_order, payment_system)
),
localities as (
    select p.release_year, p.release_quarter, 'national' as locality_id, 0 as locality_order,
           null::varchar as mac, null::varchar as locality_number, null::varchar as state,
           'National (all GPCIs 1.000)' as locality_name,
           1.000::decimal(6, 3) as work_gpci, 1.000::decimal(6, 3) as pe_gpci, 1.000::decimal(6, 3) as mp_gpci,
           null::varchar as gpci_source_file
    from periods p
    union all
    select p.release_year, p.release_quarter, g.mac || '-' || g.locality_number, 1,
           g.mac, g.locality_number, g.state, g.locality_name,
           g.work_gpci, g.pe_gpci, g.mp_gpci, g.source_file
    from periods p
    join stg_pfs_gpci g on g.release_year = p.release_year
),
grid as (
    select c.*, s.setting, s.setting_order, s.payment_system, l.*
    from codes c
    cross join settings s
    cross join localities l
    where s.payment_system = 'pfs' or l.locality_id = 'national'
),
loaded as (  -- which payment system has a file for which period
    select distinct 'pfs' as payment_system, release_year, release_quarter from stg_pfs_rvu
    union all select distinct 'opps', release_year, release_quarter from stg_opps_addendum_b
    union all select distinct 'asc', release_year, release_quarter from stg_asc_addendum_aa
),

-- physician settings -----------------------------------------------------------------------------
physician as (
    select
        g.*,
        r.billing_code is not null as in_release,
        r.status_code as status_indicator,
        r.work_rvu,
        case g.setting when 'physician_nonfacility' then r.nonfacility_pe_rvu else r.facility_pe_rvu end as pe_rvu,
        r.mp_rvu,
        case g.setting when 'physician_nonfacility' then r.nonfacility_total_rvu else r.facility_total_rvu end as total_rvu,
        case g.setting when 'physician_nonfacility' then r.nonfacility_na_indicator else r.facility_na_indicator end
            as pe_not_applicable,
        case g.setting when 'physician_nonfacility' then r.opps_nonfacility_pe_rvu else r.opps_facility_pe_rvu end
            as opps_pe_rvu,
        r.opps_mp_rvu,
        r.conversion_factor_usd,
        r.payment_track,
        r.global_days,
        r.source_file,
        r.source_record,
        r.load_id,
        case g.setting when 'physician_nonfacility' then c.nonfacility_price_usd else c.facility_price_usd end
            as opps_cap_file_usd,
        c.source_file as opps_cap_source_file
    from grid g
    left join stg_pfs_rvu r
        on r.billing_code = g.billing_code and r.modifier is null
        and r.release_year = g.release_year and r.release_quarter = g.release_quarter
    left join stg_opps_cap c
        on c.billing_code = g.billing_code and c.modifier is null and c.mac = g.mac
        and c.locality_number = g.locality_number
        and c.release_year = g.release_year and c.release_quarter = g.release_quarter
    where g.payment_system = 'pfs'
),
physician_priced as (
    select
        p.*,
        round((p.work_rvu * p.work_gpci + p.pe_rvu * p.pe_gpci + p.mp_rvu * p.mp_gpci) * p.conversion_factor_usd, 2)
            as pfs_formula_usd,
        -- CMS's OPPS-capped amount: the same formula on the RVUs CMS uses for the OPPS payment
        -- amount; it equals OPPSCAP's published price wherever OPPSCAP lists the code.
        case when p.opps_pe_rvu + p.opps_mp_rvu > 0 then
            round((p.work_rvu * p.work_gpci + p.opps_pe_rvu * p.pe_gpci + p.opps_mp_rvu * p.mp_gpci)
                  * p.conversion_factor_usd, 2)
        end as opps_cap_computed_usd
    from physician p
),
physician_rows as (
    select
        p.*,
        case
            when l.payment_system is null then 'not_loaded'
            when not p.in_release then 'not_in_release'
            when i.indicator is null then 'unknown_indicator'
            when p.status_indicator = 'R' and p.total_rvu = 0 then 'contractor_priced'
            when not i.is_paid then i.availability_reason
            when p.pe_not_applicable then 'not_payable'
        end as availability_reason,
        i.meaning as status_meaning,
        i.is_paid as status_is_paid,
        case
            when p.opps_cap_file_usd is not null then p.opps_cap_file_usd
            when p.opps_cap_computed_usd < p.pfs_formula_usd then p.opps_cap_computed_usd
        end as opps_cap_usd
    from physician_priced p
    left join loaded l
        on l.payment_system = 'pfs' and l.release_year = p.release_year and l.release_quarter = p.release_quarter
    left join medicare_indicator i on i.payment_system = 'pfs' and i.indicator = p.status_indicator
),
physician_final as (
    select
        p.*,
        case when p.availability_reason is null then least(p.pfs_formula_usd, coalesce(p.opps_cap_usd, p.pfs_formula_usd)) end
            as payment_amount,
        case when p.in_release then 'pfs_rvu' end as rate_source,
        case
            when p.availability_reason = 'not_loaded' then
                'No PFS relative value file (PPRRVU) is loaded for ' || p.release_year || '-Q' || p.release_quarter
            when p.availability_reason = 'not_in_release' then
                'The PPRRVU file for ' || p.release_year || '-Q' || p.release_quarter || ' does not list this code'
            when p.availability_reason = 'unknown_indicator' then
                'PFS status ' || coalesce(p.status_indicator, '(blank)')
                || ' is not in medicare_indicator: what CMS pays under it is unknown, so no amount is shown'
            when p.availability_reason = 'contractor_priced' and p.status_indicator = 'R' then
                'PFS status R without RVUs: contractor-priced if covered, no national amount'
            when p.availability_reason is not null and p.status_is_paid then  -- the NA indicator
                'CMS gives no ' || replace(p.setting, 'physician_', '') || ' PE RVU (NA): not priced in this setting'
                || case when p.setting = 'physician_nonfacility'
                        then '; a MAC that allows it in an office pays the facility amount' else '' end
            when p.availability_reason is not null then
                'PFS status ' || p.status_indicator || ': ' || p.status_meaning
                || coalesce('; the OPPS cap on the MAC''s price here is $' || p.opps_cap_usd::decimal(18, 2), '')
            when p.opps_cap_usd < p.pfs_formula_usd then
                'Capped at the OPPS amount: $' || p.opps_cap_usd::decimal(18, 2) || ' instead of the PFS amount $' || p.pfs_formula_usd
            when p.status_indicator in ('R', 'T') then 'PFS status ' || p.status_indicator || ': ' || p.status_meaning
        end as availability_note
    from physician_rows p
),

-- hospital outpatient (OPPS) ---------------------------------------------------------------------
hopd as (
    select
        g.*,
        b.billing_code is not null as in_release,
        -- No Addendum B for the quarter, but the quarter's ASC Addendum FF prints the OPPS national
        -- rate of the APC the code is assigned to: that is the OPPS amount, labelled as coming from FF.
        l.payment_system is null and f.opps_payment_rate_usd is not null as from_ff,
        b.status_indicator,
        i.meaning as status_meaning,
        case when from_ff then f.apc else b.apc end as apc,
        b.relative_weight,
        case when from_ff then f.opps_payment_rate_usd when i.is_paid then b.payment_rate_usd end as payment_amount,
        case
            when from_ff then null
            when l.payment_system is null then 'not_loaded'
            when b.billing_code is null then 'not_in_release'
            when i.indicator is null then 'unknown_indicator'
            when not i.is_paid then i.availability_reason
        end as availability_reason,
        case when from_ff then 'asc_addendum_ff' when l.payment_system is not null then 'opps_addendum_b' end as rate_source,
        case when from_ff then f.source_file else b.source_file end as source_file,
        case when from_ff then f.source_record else b.source_record end as source_record,
        case when from_ff then f.load_id else b.load_id end as load_id,
        f.apc as ff_apc,
        f.opps_payment_rate_usd as ff_opps_payment_rate_usd
    from grid g
    left join loaded l
        on l.payment_system = 'opps' and l.release_year = g.release_year and l.release_quarter = g.release_quarter
    left join stg_opps_addendum_b b
        on b.billing_code = g.billing_code and b.release_year = g.release_year and b.release_quarter = g.release_quarter
    left join medicare_indicator i on i.payment_system = 'opps' and i.indicator = b.status_indicator
    left join stg_asc_addendum_ff f
        on f.billing_code = g.billing_code and f.release_year = g.release_year and f.release_quarter = g.release_quarter
    where g.setting = 'hopd_opps'
),
hopd_final as (
    select
        h.*,
        case
            when h.from_ff then
                'OPPS national unadjusted rate of APC ' || h.apc || ' as printed in CMS ASC Addendum FF for '
                || h.release_year || '-Q' || h.release_quarter || ' (no OPPS Addendum B is loaded for the quarter, '
                || 'so the OPPS status indicator is not known)'
            when h.availability_reason = 'not_loaded' then
                'No OPPS Addendum B is loaded for ' || h.release_year || '-Q' || h.release_quarter
                || ' and ASC Addendum FF of that quarter gives no OPPS rate for this code'
            when h.availability_reason = 'not_in_release' then
                'OPPS Addendum B for ' || h.release_year || '-Q' || h.release_quarter || ' does not list this code'
            when h.availability_reason = 'unknown_indicator' then
                'OPPS status indicator ' || coalesce(h.status_indicator, '(blank)')
                || ' is not in medicare_indicator: what CMS pays under it is unknown, so no amount is shown'
            else 'OPPS status indicator ' || h.status_indicator || ': ' || h.status_meaning
        end as availability_note
    from hopd h
),

-- ambulatory surgical center ---------------------------------------------------------------------
asc_rows as (
    select
        g.*,
        a.payment_indicator as status_indicator,
        i.meaning as status_meaning,
        f.apc,
        a.payment_weight as relative_weight,
        case when i.is_paid then a.payment_rate_usd end as payment_amount,
        case
            when l.payment_system is null then 'not_loaded'
            when a.billing_code is null then 'not_in_release'
            when i.indicator is null then 'unknown_indicator'
            when not i.is_paid then i.availability_reason
        end as availability_reason,
        case when a.billing_code is not null then 'asc_addendum_aa' end as rate_source,
        a.multiple_procedure_discounting as asc_multiple_procedure_discounting,
        f.device_portion_usd as asc_device_portion_usd,
        f.opps_payment_rate_usd as ff_opps_payment_rate_usd,
        a.source_file,
        a.source_record,
        a.load_id
    from grid g
    left join loaded l
        on l.payment_system = 'asc' and l.release_year = g.release_year and l.release_quarter = g.release_quarter
    left join stg_asc_addendum_aa a
        on a.billing_code = g.billing_code and a.release_year = g.release_year and a.release_quarter = g.release_quarter
    left join stg_asc_addendum_ff f
        on f.billing_code = g.billing_code and f.release_year = g.release_year and f.release_quarter = g.release_quarter
    left join medicare_indicator i on i.payment_system = 'asc' and i.indicator = a.payment_indicator
    where g.setting = 'asc'
),
asc_final as (
    select
        a.*,
        case
            when a.availability_reason = 'not_loaded' then
                'No ASC Addendum AA is loaded for ' || a.release_year || '-Q' || a.release_quarter
            when a.availability_reason = 'not_in_release' then
                'Not on the ASC covered surgical procedures list (Addendum AA) for '
                || a.release_year || '-Q' || a.release_quarter
            when a.availability_reason = 'unknown_indicator' then
                'ASC payment indicator ' || coalesce(a.status_indicator, '(blank)')
                || ' is not in medicare_indicator: what CMS pays under it is unknown, so no amount is shown'
            else 'ASC payment indicator ' || a.status_indicator || ': ' || a.status_meaning
        end as availability_note
    from asc_rows a
),

combined as (
    select
        billing_code, code_role, code_label, setting, setting_order, release_year, release_quarter,
        locality_id, locality_order, mac, locality_number, state, locality_name,
        payment_amount, availability_reason, availability_note, rate_source, status_indicator, status_meaning,
        null::varchar as apc, null::decimal(12, 4) as relative_weight,
        work_rvu, pe_rvu, mp_rvu, total_rvu, work_gpci, pe_gpci, mp_gpci, conversion_factor_usd,
        payment_track,
        case when availability_reason is null then pfs_formula_usd end as pfs_formula_usd,
        case when availability_reason is null or availability_reason = 'contractor_priced' then opps_cap_usd end
            as opps_cap_usd,
        availability_reason is null and opps_cap_usd < pfs_formula_usd as opps_cap_applied,
        global_days, null::boolean as asc_multiple_procedure_discounting, null::decimal(18, 4) as asc_device_portion_usd,
        null::decimal(18, 4) as ff_opps_payment_rate_usd,
        source_file, source_record, load_id, gpci_source_file, opps_cap_source_file
    from physician_final
    union all by name
    select
        billing_code, code_role, code_label, setting, setting_order, release_year, release_quarter,
        locality_id, locality_order, mac, locality_number, state, locality_name,
        payment_amount, availability_reason, availability_note, rate_source, status_indicator, status_meaning,
        apc, relative_weight, ff_opps_payment_rate_usd, source_file, source_record, load_id
    from hopd_final
    union all by name
    select
        billing_code, code_role, code_label, setting, setting_order, release_year, release_quarter,
        locality_id, locality_order, mac, locality_number, state, locality_name,
        payment_amount, availability_reason, availability_note, rate_source, status_indicator, status_meaning,
        apc, relative_weight, asc_multiple_procedure_discounting, asc_device_portion_usd, ff_opps_payment_rate_usd,
        source_file, source_record, load_id
    from asc_final
)
select
    billing_code,
    code_role,
    code_label,
    setting,
    release_year,
    release_quarter,
    release_year || '-Q' || release_quarter as release_period,
    make_date(release_year, (release_quarter - 1) * 3 + 1, 1) as period_start_date,
    last_day(make_date(release_year, release_quarter * 3, 1)) as period_end_date,
    locality_id,
    mac,
    locality_number,
    state,
    locality_name,
    payment_amount::decimal(18, 4) as payment_usd,
    availability_reason,
    availability_note,
    rate_source,
    case rate_source
        when 'pfs_rvu' then 'CMS PFS ' || release_year || '-Q' || release_quarter
            || case when locality_id = 'national' then ', national: all GPCIs 1.000' else ', locality ' || locality_id end
        when 'opps_addendum_b' then 'CMS OPPS ' || release_year || '-Q' || release_quarter || ', national unadjusted: Addendum B'
        when 'asc_addendum_ff' then 'CMS OPPS ' || release_year || '-Q' || release_quarter
            || ', national unadjusted: APC ' || apc || ' rate as printed in ASC Addendum FF'
        when 'asc_addendum_aa' then 'CMS ASC ' || release_year || '-Q' || release_quarter || ', national unadjusted: Addendum AA'
    end as rate_label,
    status_indicator,
    status_meaning,
    apc,
    relative_weight,
    work_rvu,
    pe_rvu,
    mp_rvu,
    total_rvu,
    work_gpci,
    pe_gpci,
    mp_gpci,
    conversion_factor_usd,
    payment_track,
    pfs_formula_usd,
    opps_cap_usd,
    coalesce(opps_cap_applied, false) as opps_cap_applied,
    global_days,
    asc_multiple_procedure_discounting,
    asc_device_portion_usd,
    ff_opps_payment_rate_usd,
    source_file,
    source_record,
    gpci_source_file,
    opps_cap_source_file,
    load_id,
    coalesce(list_has_any(list_filter([source_file, gpci_source_file, opps_cap_source_file], lambda f: f is not null),
                          (select coalesce(list(source_file), []) from stg_source_file where is_synthetic)), false)
        as is_synthetic
from combined
order by billing_code, release_year, release_quarter, setting_order, locality_order, locality_id
