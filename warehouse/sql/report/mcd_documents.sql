-- The Medicare contractor documents (LCDs and articles) that bear on the code, as curated in
-- raw/reference/medicare_documents.csv (how each bears on it, with confidence), with the title, type, version,
-- effective date and link of the document's latest version in the loaded real Coverage-database listing
-- (documents_latest.csv; never a synthetic file) in effect on the as-of date. The listing names documents, not the
-- codes they list: nothing here says a document lists the code.
with listing as (
    select d.*
    from stg_mcd_document as d
    where d.source_file not in (select source_file from stg_source_file where is_synthetic)
      and d.effective_date <= $as_of
    qualify row_number() over (partition by d.document_display_id order by d.effective_date desc, d.document_version desc) = 1
)
select r.document_id, r.contractor, r.jurisdictions, r.bears_on, r.source_url, r.source_confidence, r.notes,
       l.document_type, l.title, l.document_version, l.effective_date, l.url, l.contractor_name_type, l.source_file,
       l.is_retired, l.document_id is not null as in_listing
from stg_medicare_document as r
left join listing as l on l.document_display_id = r.document_id
where r.billing_code = $code
order by l.document_id is null, r.contractor, r.document_id
