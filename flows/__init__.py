"""payerbench: payer-policy and reimbursement pipeline for CPT 0440T-0442T."""

import os

# Arrow's buffers from the C library's allocator, not mimalloc (Arrow's default): mimalloc kept the pages of
# every batch's buffers after they were freed (60-80 MB of a 1 GB TiC ingest's peak RSS), while malloc's free
# pages can be handed back (flows/steps/warehouse.py trims them before a build). Read by pyarrow when it is
# first imported; a value set in the environment wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
