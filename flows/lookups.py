"""What every ingest resolves against, read strictly from raw/reference/: the codes of interest
and the payer directory.

Reading one of these tables wires three layers together (the reference adapter parses, the
catalog names its schema, a step validates it), so it happens here, above them, and the steps and
adapters receive the results from their caller (`ReadContext.payers`, `codes=`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flows.settings import Settings
from flows.sources import reference
from flows.steps.payer_directory import PayerDirectory, validated_table
from schemas.reference import TABLES


def read_reference(path: Path, dataset: str, chunk_rows: int = 20_000) -> pd.DataFrame:
    """Read and validate a reference CSV; any invalid row stops the run (mappings must be clean)."""
    return validated_table(reference.read_file(path, chunk_rows), path, dataset, TABLES[dataset])


def codes_of_interest(settings: Settings) -> frozenset[str]:
    """The billing codes adapters keep from large files (targets and comparators)."""
    codes = read_reference(settings.billing_code_file, "ref__billing_code", settings.chunk_rows)
    return frozenset(codes["billing_code"])


def payer_directory(path: Path, chunk_rows: int = 20_000) -> PayerDirectory:
    """The payer directory from a validated payer alias CSV (settings.payer_alias_file)."""
    return PayerDirectory.from_frame(read_reference(path, "ref__payer_alias", chunk_rows), source_file=path.name)
