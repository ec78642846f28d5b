-- One row per LCD version and contractor (MAC) that issued it, from the most recent load that listed it.
select *
from cms__mcd_lcd_contractor
qualify row_number() over (partition by lcd_id, lcd_version, contractor_id, contractor_type_id, contractor_version
                           order by loaded_at desc, load_id desc) = 1
