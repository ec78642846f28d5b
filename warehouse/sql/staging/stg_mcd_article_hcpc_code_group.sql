-- One row per article version and CPT/HCPCS code group, from the most recent load that listed it: the
-- paragraph that says what the group means and the listing class read from it.
select *
from cms__mcd_article_hcpc_code_group
qualify row_number() over (partition by article_id, article_version, hcpc_code_group order by loaded_at desc, load_id desc) = 1
