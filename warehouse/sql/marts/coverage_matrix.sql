-- One row per billing code x payer group (aetna, bcbs, cigna, unitedhealthcare, medicare), always:
-- a group with no policy data still has its row. coverage_status is the stance, for the row's
-- line_of_business (commercial plans for the four commercial groups, traditional Medicare for
-- medicare), of that line's strongest-evidence policies when they agree ('mixed' when they
-- disagree), and NULL when none of that line's policies states one; availability_reason says why
-- (reported; no_policy_found: the extract records a search that found none; not_in_extract: the
-- extract has rows for the group but none for the line; not_loaded). A Medicare Advantage policy never sets a commercial
-- stance: the medicare_advantage_* columns hold it apart (not_applicable on the medicare row).
-- The primary policy (the line's strongest evidence, then newest) supplies policy_id,
-- policy_title, source_url, effective_date and source_confidence; the lists (policy_ids,
-- plan_types, coverage_detail) hold every policy behind the row, whatever its plan type. The mcd_* columns add, on the medicare row, what the loaded
-- Medicare Coverage Database says: which MACs' current articles / LCDs list the code and how
-- (mcd_listing_status covered / non_covered / other / mixed), or mcd_availability
-- no_lcd_or_article when the code lists were loaded and none names the code (not_loaded,
-- partially_loaded otherwise; not_applicable on the commercial rows). is_synthetic: a file behind the
-- row (policy extract or, on the medicare row, MCD tables) is labelled synthetic (stg_source_file).
with codes as (
    select billing_code from stg_billing_code
    union
    select billing_code from stg_payer_policy
    union
    select billing_code from stg_mcd_code_listing
),
grid as (
    select c.billing_code, g.payer_group, g.payer_group_name, g.sort_order,
           -- the line of business the row's stance is for: a commercial payer group's commercial
           -- plans; traditional Medicare for the medicare group. Medicare Advantage is apart.
           case when g.payer_group = 'medicare' then 'medicare_ffs' else 'commercial' end as line_of_business
    from codes c
    cross join enum_payer_group g
    where g.is_named_group
),
lined as (  -- each policy row, with the line of business it speaks for
    select p.*,
           case when p.plan_type = 'medicare_advantage' then 'medicare_advantage'
                when p.plan_type = case when p.payer_group = 'medicare' then 'medicare_ffs' else 'commercial' end
                    then 'primary'
                else 'other' end as line
    from stg_payer_policy p
),
best as (
    select billing_code, payer_group, line, min(confidence_rank) as best_rank
    from lined
    where states_stance
    group by all
),
consensus as (  -- per line: the stance of its strongest-evidence policies ('mixed' when they disagree)
    select
        p.billing_code,
        p.payer_group,
        p.line,
        case when count(distinct p.coverage_status) = 1 then any_value(p.coverage_status) else 'mixed' end
            as coverage_status,
        case when count(distinct p.coverage_position) = 1 then any_value(p.coverage_position) else 'mixed' end
            as coverage_position,
        any_value(p.source_confidence) as source_confidence,
        list(distinct p.policy_id order by p.policy_id) filter (where p.policy_id is not null) as policy_ids
    from lined p
    join best b
        on p.billing_code = b.billing_code and p.payer_group = b.payer_group and p.line = b.line
        and p.confidence_rank = b.best_rank
    where p.states_stance
    group by all
),
line_searched as (  -- lines with any policy row, a stance or a search that found none
    select distinct billing_code, payer_group, line from lined
),
primary_policy as (
    select *
    from lined
    where states_stance and line = 'primary'
    qualify row_number() over (
        partition by billing_code, payer_group
        order by confidence_rank, effective_date desc nulls last, policy_id, payer_name, source_record
    ) = 1
),
summary as (
    select
        billing_code,
        payer_group,
        count(*) filter (where states_stance) as policy_count,
        list(distinct coverage_status order by coverage_status) as statuses_found,
        list(policy_id order by confidence_rank, policy_id) filter (where policy_id is not null) as policy_ids,
        list(policy_title order by confidence_rank, policy_id) filter (where policy_id is not null) as policy_titles,
        list(distinct policy_url order by policy_url) filter (where policy_url is not null) as policy_urls,
        list(distinct plan_type order by plan_type) as plan_types,
        string_agg(
            plan_type || ': ' || coverage_status
                || coalesce(' (' || policy_id || ', ' || source_confidence || ')', ' (' || source_confidence || ')'),
            '; ' order by confidence_rank, plan_type, policy_id
        ) as coverage_detail,
        max(retrieved_date) as retrieved_date,
        list(distinct source_file order by source_file) as source_files,
        bool_or(coalesce(sf.is_synthetic, false)) as is_synthetic
    from stg_payer_policy
    left join (select load_id, is_synthetic from stg_source_file) sf using (load_id)
    group by all
),
mcd_listing as (
    select
        billing_code,
        count(distinct (document_type, document_id, document_version, hcpc_code_group)) as listing_count,
        case when count(distinct listing_class) = 1 then any_value(listing_class) else 'mixed' end as listing_status,
        list(distinct contractor_name order by contractor_name) filter (where contractor_name is not null) as contractors,
        list(distinct document_display_id || ' v' || document_version order by document_display_id || ' v' || document_version)
            as documents,
        string_agg(distinct listing_detail, '; ' order by listing_detail) as detail,
        list(distinct paragraph_text order by paragraph_text) filter (where paragraph_text is not null) as paragraphs,
        list_sort(list_distinct(flatten(list(source_files)))) as source_files,
        bool_or(is_synthetic) as is_synthetic
    from (
        select *,
            coalesce(contractor_name || coalesce(' (' || contract_number || ')', ''), 'contractor not listed')
                || ': ' || document_display_id || ' v' || document_version || ' "' || document_title || '" group '
                || hcpc_code_group || ' ' || coalesce(listing_class, 'unclassified') as listing_detail
        from stg_mcd_code_listing
    )
    group by billing_code
),
mcd_scope as (
    select
        billing_code,
        bool_or(code_table = 'article_x_hcpc_code') as articles_read,
        bool_or(code_table = 'lcd_x_hcpc_code') as lcds_read,
        list(distinct source_file order by source_file) as source_files,
        bool_or(coalesce(sf.is_synthetic, false)) as is_synthetic
    from stg_mcd_code_scope
    left join (select load_id, is_synthetic from stg_source_file) sf using (load_id)
    group by billing_code
),
mcd as (
    select
        c.billing_code,
        case
            when l.billing_code is not null then 'listed'
            when s.articles_read and s.lcds_read then 'no_lcd_or_article'
            when s.articles_read or s.lcds_read then 'partially_loaded'
            else 'not_loaded'
        end as mcd_availability,
        l.listing_status as mcd_listing_status,
        case when l.billing_code is not null then l.listing_count when s.billing_code is not null then 0 end as mcd_listing_count,
        l.contractors as mcd_contractors,
        l.documents as mcd_documents,
        case when coalesce(l.is_synthetic, s.is_synthetic) then 'SYNTHETIC DATA: ' else '' end || case
            when l.billing_code is not null then l.detail
            when s.articles_read and s.lcds_read
                then 'no current LCD or article in the loaded MCD code lists names ' || c.billing_code
            when s.articles_read
                then 'no current article in the loaded MCD code lists names ' || c.billing_code || '; LCD code lists not loaded'
            when s.lcds_read
                then 'no current LCD in the loaded MCD code lists names ' || c.billing_code || '; article code lists not loaded'
            else 'no MCD article or LCD code list loaded'
        end as mcd_detail,
        l.paragraphs as mcd_paragraphs,
        coalesce(l.source_files, s.source_files) as mcd_source_files,
        coalesce(l.is_synthetic, s.is_synthetic) as mcd_is_synthetic
    from codes c
    left join mcd_listing l using (billing_code)
    left join mcd_scope s using (billing_code)
)
select
    g.billing_code,
    g.payer_group,
    g.payer_group_name,
    g.line_of_business,
    c.coverage_status,
    c.coverage_position,
    case
        when s.billing_code is null then 'not_loaded'
        when c.coverage_status is not null then 'reported'
        when lp.line is null then 'not_in_extract'
        else 'no_policy_found'
    end as availability_reason,
    p.policy_id,
    p.policy_title,
    p.plan_type as policy_plan_type,
    p.effective_date,
    p.source_confidence,
    p.policy_url as source_url,
    p.evidence,
    coalesce(s.policy_count, 0) as policy_count,
    s.policy_ids,
    s.policy_titles,
    s.policy_urls,
    s.statuses_found,
    s.plan_types,
    s.coverage_detail,
    s.retrieved_date,
    s.source_files,
    case when g.payer_group = 'medicare' then m.mcd_availability else 'not_applicable' end as mcd_availability,
    case when g.payer_group = 'medicare' then m.mcd_listing_status end as mcd_listing_status,
    case when g.payer_group = 'medicare' then m.mcd_listing_count end as mcd_listing_count,
    case when g.payer_group = 'medicare' then m.mcd_contractors end as mcd_contractors,
    case when g.payer_group = 'medicare' then m.mcd_documents end as mcd_documents,
    case when g.payer_group = 'medicare' then m.mcd_detail end as mcd_detail,
    case when g.payer_group = 'medicare' then m.mcd_paragraphs end as mcd_paragraphs,
    case when g.payer_group = 'medicare' then m.mcd_source_files end as mcd_source_files,
    case when g.payer_group = 'medicare' then m.mcd_is_synthetic end as mcd_is_synthetic,
    case when g.payer_group <> 'medicare' then ma.coverage_status end as medicare_advantage_coverage_status,
    case when g.payer_group <> 'medicare' then ma.coverage_position end as medicare_advantage_coverage_position,
    case when g.payer_group <> 'medicare' then ma.source_confidence end as medicare_advantage_source_confidence,
    case when g.payer_group <> 'medicare' then ma.policy_ids end as medicare_advantage_policy_ids,
    case
        when g.payer_group = 'medicare' then 'not_applicable'
        when s.billing_code is null then 'not_loaded'
        when ma.coverage_status is not null then 'reported'
        when lm.line is null then 'not_in_extract'
        else 'no_policy_found'
    end as medicare_advantage_availability_reason,
    coalesce(s.is_synthetic, false) or (g.payer_group = 'medicare' and coalesce(m.mcd_is_synthetic, false)) as is_synthetic
from grid g
left join summary s on s.billing_code = g.billing_code and s.payer_group = g.payer_group
left join consensus c on c.billing_code = g.billing_code and c.payer_group = g.payer_group and c.line = 'primary'
left join consensus ma on ma.billing_code = g.billing_code and ma.payer_group = g.payer_group and ma.line = 'medicare_advantage'
left join line_searched lp on lp.billing_code = g.billing_code and lp.payer_group = g.payer_group and lp.line = 'primary'
left join line_searched lm on lm.billing_code = g.billing_code and lm.payer_group = g.payer_group and lm.line = 'medicare_advantage'
left join primary_policy p on p.billing_code = g.billing_code and p.payer_group = g.payer_group
left join mcd m on m.billing_code = g.billing_code
order by g.billing_code, g.sort_order
