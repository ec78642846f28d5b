-- Each policy document behind the code's coverage rows: payer, policy, URL, confidence, retrieved date, stance, and
-- for a Medicare contractor (MAC) its jurisdictions as the payer-alias reference notes them (e.g. CGS: J15), so a
-- contractor's instruction is never read as all of Medicare's. A document whose own jurisdiction is curated
-- (raw/reference/medicare_documents.csv, e.g. Noridian's A55681: JF) gives that instead of all the contractor's.
with aliases as (
    select * from stg_payer_alias
)
select p.payer_group, p.payer_name, p.plan_type, p.policy_id, p.policy_title, p.policy_url, p.source_confidence,
       p.retrieved_date, p.coverage_status,
       coalesce((select string_split(d.jurisdictions, ' ') from stg_medicare_document as d
                 where d.billing_code = p.billing_code and d.document_id = p.policy_id and d.jurisdictions is not null
                 limit 1),
       (select list(distinct j order by j)
        from aliases a, unnest(regexp_extract_all(a.notes, '\bJ(?:\d{1,2}|[A-Z])\b')) as t(j)
        where a.payer_group = 'medicare' and a.notes ilike '%Medicare Administrative Contractor%'
          and (lower(p.payer_name) = lower(a.alias)
               or (a.match_type = 'prefix' and lower(p.payer_name) like lower(a.alias) || '%')))) as mac_jurisdictions
from stg_payer_policy p
where p.billing_code = $code and p.policy_url is not null
order by p.payer_group, p.payer_name, p.policy_id
