"""Payer medical-policy extracts: one analyst-maintained row per payer, policy and code.

Publisher: this project's analysts, from payers' and CMS/MAC published policies (each row cites
its policy URL, a short evidence quote and how sure we are: `source_confidence`).
Format: the extract layout documented in raw/payer_policy/README.md, as
  - CSV: UTF-8 (a BOM is fine), header row, one row per record;
  - XLSX: the first worksheet, header on its first non-empty row;
  - JSON: an array of objects, or {"policies": [...]}, keys named as the CSV columns.
The format is told by content (zip magic, a leading '[' or '{'), not by the file name.
Version: 1 (the column set below). Cadence: reviewed weekly.
Quirks handled: Excel BOMs; dates typed as M/D/YYYY (rewritten to ISO); enum values typed with
capitals or spaces ("Experimental Investigational"); lower-case codes ("0440t"); trailing blanks.
Not handled on purpose: non-UTF-8 text (rejected with how to re-save it) and ambiguous dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from flows.engines.readers import (
    detect_format,
    peek_header,
    read_csv_chunks,
    read_json_records,
    read_xlsx_chunks,
    sniff,
)
from flows.engines.tic_stream import Limits
from flows.sources.base import Batch, FileRejected, ReadContext
from schemas.fields import blank_to_null, normalize_dates, normalize_enum
from schemas.payer_policy import DATASET

FILE_COLUMNS = [
    "payer_name",
    "plan_type",
    "policy_id",
    "policy_title",
    "policy_url",
    "billing_code",
    "code_type",
    "coverage_status",
    "prior_authorization",
    "effective_date",
    "last_reviewed_date",
    "retrieved_date",
    "evidence",
    "source_confidence",
    "notes",
]
REQUIRED = [
    "payer_name",
    "plan_type",
    "policy_id",
    "policy_title",
    "policy_url",
    "billing_code",
    "code_type",
    "coverage_status",
    "prior_authorization",
    "effective_date",
    "last_reviewed_date",
    "retrieved_date",
    "source_confidence",
]
ENUM_COLUMNS = ["plan_type", "coverage_status", "prior_authorization", "source_confidence"]
DATE_COLUMNS = ["effective_date", "last_reviewed_date", "retrieved_date"]
EXPECTED_JSON = 'a JSON array of policy objects, or {"policies": [...]}'


def detect(path: Path) -> bool:
    """True when the file looks like a policy extract (CSV header or JSON/XLSX with its columns)."""
    try:
        head = sniff(path)
        fmt = detect_format(path, head)
        if fmt == "csv":
            return {"payer_name", "coverage_status", "billing_code"} <= set(peek_header(path))
        if fmt == "json":
            return b'"coverage_status"' in head and b'"payer_name"' in head
        if fmt == "xlsx":
            first = next(read_xlsx_chunks(path, required=REQUIRED, chunk_rows=1), None)
            return first is not None
        return False
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse a policy extract into `payer__policy` batches of text columns."""
    head = sniff(path)
    fmt = detect_format(path, head)
    rows = ctx.settings.chunk_rows
    if fmt == "xlsx":
        chunks = read_xlsx_chunks(path, required=REQUIRED, chunk_rows=rows, limits=Limits.of(ctx.settings))
    elif fmt == "json":
        chunks = read_json_records(
            path,
            required=REQUIRED,
            chunk_rows=rows,
            array_key="policies",
            expected=EXPECTED_JSON,
            limits=Limits.of(ctx.settings),
        )
    elif fmt == "csv":
        chunks = read_csv_chunks(path, required=REQUIRED, chunk_rows=rows)
    else:
        raise FileRejected(path, f"{fmt} data is not a policy extract", "CSV, XLSX or JSON")
    for chunk in chunks:
        yield Batch(DATASET, _normalize(chunk.frame), chunk.rejects, raw=chunk.frame)


def _normalize(frame: pd.DataFrame) -> pd.DataFrame:
    out = blank_to_null(frame)
    for name in ENUM_COLUMNS:  # "Experimental / Investigational" -> experimental_investigational
        out[name] = normalize_enum(out[name])
    for name in ("billing_code", "code_type"):
        out[name] = out[name].str.upper()
    for name in DATE_COLUMNS:
        out[name] = normalize_dates(out[name])
    return out
