-- One row per table of contents x reporting plan x listed file (in-network or allowed-amount), in
-- every loaded table of contents.
select *
from tic__toc_file
