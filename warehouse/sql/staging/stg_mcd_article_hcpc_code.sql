-- One row per article version, code group and CPT/HCPCS code of interest that the group lists, from the
-- most recent load that listed it.
select *
from cms__mcd_article_hcpc_code
qualify row_number() over (partition by article_id, article_version, hcpc_code_group, hcpc_code_id
                           order by loaded_at desc, load_id desc) = 1
