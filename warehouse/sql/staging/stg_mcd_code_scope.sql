-- One row per MCD code table read from a file (article or LCD code list) and billing code of
-- interest, in every load: which code lists were searched for the code, found or not.
select *
from cms__mcd_code_scope
