-- One row per TiC file name (its latest load): what kind of file it is, whose, dated when, how many
-- items it holds for the codes of interest, and how it was read (fast path or ijson fallback).
select *
from tic__file
qualify row_number() over (partition by source_file order by loaded_at desc, load_id desc) = 1
