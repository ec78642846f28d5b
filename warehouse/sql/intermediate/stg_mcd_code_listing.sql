-- One row per billing code of interest x current local coverage document (article or LCD) x code
-- group x contractor (MAC) that issued it: how the document's code group lists the code
-- (listing_class covered / non_covered / other, read from the group's paragraph, which is kept as
-- evidence). Current = the highest version of each document in the latest loaded article (LCD)
-- table, not retired and not ended by the as-of date (today when it is later or unset: the table
-- says what is current, not what will be). A document with no contractor row keeps its row with NULL
-- contractor columns. is_synthetic is true when any file behind the row is synthetic (stg_source_file).
with article_snapshot as (
    select *, max(article_version) over (partition by article_id) as newest_version
    from stg_mcd_article
),
lcd_snapshot as (
    select *, max(lcd_version) over (partition by lcd_id) as newest_version
    from stg_mcd_lcd
),
documents as (
    select 'article' as document_type, article_id as document_id, article_version as document_version,
           'A' || regexp_replace(coalesce(display_id, article_id::varchar), '^[A-Za-z]+', '') as document_display_id,
           title as document_title, article_eff_date as document_effective_date, source_file as document_file
    from article_snapshot
    where article_version = newest_version
      and date_retired is null
      and (article_end_date is null or article_end_date > least(as_of_date(), current_date))
    qualify row_number() over (partition by article_id order by loaded_at desc, source_record) = 1
    union all
    select 'lcd', lcd_id, lcd_version,
           'L' || regexp_replace(coalesce(display_id, lcd_id::varchar), '^[A-Za-z]+', ''),
           title, coalesce(rev_eff_date, orig_det_eff_date), source_file
    from lcd_snapshot
    where lcd_version = newest_version
      and date_retired is null
      and (rev_end_date is null or rev_end_date > least(as_of_date(), current_date))
      and (ent_det_end_date is null or ent_det_end_date > least(as_of_date(), current_date))
    qualify row_number() over (partition by lcd_id order by loaded_at desc, source_record) = 1
),
codes as (
    select 'article' as document_type, article_id as document_id, article_version as document_version,
           hcpc_code_group, hcpc_code_id as billing_code, source_file as code_file
    from stg_mcd_article_hcpc_code
    union all
    select 'lcd', lcd_id, lcd_version, hcpc_code_group, hcpc_code_id, source_file
    from stg_mcd_lcd_hcpc_code
),
code_groups as (
    select 'article' as document_type, article_id as document_id, article_version as document_version, hcpc_code_group,
           listing_class, listing_class_phrase, paragraph_text, source_file as group_file
    from stg_mcd_article_hcpc_code_group
    union all
    select 'lcd', lcd_id, lcd_version, hcpc_code_group, listing_class, listing_class_phrase, paragraph_text, source_file
    from stg_mcd_lcd_hcpc_code_group
),
issuers as (
    select 'article' as document_type, article_id as document_id, article_version as document_version,
           contractor_id, contractor_type_id, contractor_version, source_file as issuer_file
    from stg_mcd_article_contractor
    union all
    select 'lcd', lcd_id, lcd_version, contractor_id, contractor_type_id, contractor_version, source_file
    from stg_mcd_lcd_contractor
),
listings as (
    select
        c.billing_code,
        d.document_type,
        d.document_id,
        d.document_version,
        d.document_display_id,
        d.document_title,
        d.document_effective_date,
        c.hcpc_code_group,
        g.listing_class,
        g.listing_class_phrase,
        g.paragraph_text,
        i.contractor_id,
        i.contractor_type_id,
        i.contractor_version,
        m.contract_number,
        m.contractor_name,
        list_filter([d.document_file, g.group_file, c.code_file], lambda f: f is not null) as document_files,
        list_filter([i.issuer_file, m.source_file], lambda f: f is not null) as contractor_files
    from codes c
    join documents d using (document_type, document_id, document_version)
    left join code_groups g using (document_type, document_id, document_version, hcpc_code_group)
    left join issuers i using (document_type, document_id, document_version)
    left join stg_mcd_contractor m
        on m.contractor_id = i.contractor_id
        and m.contractor_version = i.contractor_version
        and (m.contractor_type_id is null or i.contractor_type_id is null or m.contractor_type_id = i.contractor_type_id)
)
select
    * exclude (document_files, contractor_files),
    list_sort(list_distinct(list_concat(document_files, contractor_files))) as source_files,
    list_has_any(list_concat(document_files, contractor_files), (select coalesce(list(source_file), []) from stg_source_file where is_synthetic))
        as is_synthetic,
    -- A synthetic document has no page on cms.gov: no link rather than a broken one.
    case
        when list_has_any(document_files, (select coalesce(list(source_file), []) from stg_source_file where is_synthetic)) then null
        when document_type = 'article'
            then 'https://www.cms.gov/medicare-coverage-database/view/article.aspx?articleid=' || document_id || '&ver=' || document_version
        else 'https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=' || document_id || '&ver=' || document_version
    end as document_url
from listings
order by billing_code, document_type, document_id, hcpc_code_group, contractor_name, contractor_type_id
