-- One row per article version and contractor (MAC) that issued it, from the most recent load that listed it.
select *
from cms__mcd_article_contractor
qualify row_number() over (partition by article_id, article_version, contractor_id, contractor_type_id, contractor_version
                           order by loaded_at desc, load_id desc) = 1
