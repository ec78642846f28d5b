"""What every ingest resolves against, read strictly from raw/reference/: the codes of interest
and the payer directory.

Reading one of these tables wires three layers together (the reference adapter parses, the
catalog names its schema, a step validates it), so it happens here, above them, and the steps and
adapters receive the results from their caller (`ReadContext.payers`, `codes=`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from flows.settings import Settings
from flows.sources import reference
from flows.steps.payer_directory import PayerDirectory, validated_table
from schemas.reference import TABLES

_READ: dict[tuple[Path, str], tuple[tuple[int, int, int], pd.DataFrame]] = {}
"""Reference tables read by this process, with the (size, mtime, inode) of the file they were read from."""


def read_reference(path: Path, dataset: str, chunk_rows: int = 20_000) -> pd.DataFrame:
    """Read and validate a reference CSV; any invalid row stops the run (mappings must be clean).

    Read once per process while the file stays the same (its size, mtime and inode, as the load log's parts):
    a run resolves every source against the same tables (18 reads and validations of each before)."""
    key = (Path(path).resolve(), dataset)
    info = os.stat(key[0])
    stamp = (info.st_size, info.st_mtime_ns, info.st_ino)
    known = _READ.get(key)
    if known is None or known[0] != stamp:
        known = stamp, validated_table(reference.read_file(path, chunk_rows), path, dataset, TABLES[dataset])
        _READ[key] = known
    return known[1].copy()


def codes_of_interest(settings: Settings) -> frozenset[str]:
    """The billing codes adapters keep from large files (targets and comparators)."""
    codes = read_reference(settings.billing_code_file, "ref__billing_code", settings.chunk_rows)
    return frozenset(codes["billing_code"])


def payer_directory(path: Path, chunk_rows: int = 20_000) -> PayerDirectory:
    """The payer directory from a validated payer alias CSV (settings.payer_alias_file)."""
    return PayerDirectory.from_frame(read_reference(path, "ref__payer_alias", chunk_rows), source_file=path.name)
