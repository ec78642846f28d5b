"""Reference tables curated in `raw/reference/` (payer aliases, codes of interest, US geographies,
and the code facts, modifiers and diagnoses the benchmark report prints).

Publisher: this project's analysts. Format: UTF-8 CSV with a header row; which table a file holds
is told by its header, not its name. Cadence: edited when a new payer name or code turns up
(the load report lists unknown payer names). Quirks: none; they are our own files, and a bad row
in the alias table stops the run rather than silently dropping a mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flows.engines.readers import peek_header, read_csv_chunks
from flows.sources.base import Batch, FileRejected, ReadContext
from schemas.fields import blank_to_null

# dataset -> (columns that identify the table, columns the file must have)
TABLES: dict[str, tuple[set[str], list[str]]] = {
    "ref__payer_alias": ({"alias", "match_type"}, ["alias", "match_type", "payer_group"]),
    "ref__billing_code": (
        {"billing_code", "role"},
        ["billing_code", "code_type", "code_category", "role", "code_family", "label"],
    ),
    "ref__geography": ({"geo_fips", "state_abbrev"}, ["geo_fips", "state_abbrev", "geo_name", "geo_type"]),
    "ref__code_fact": (
        {"billing_code", "topic", "fact"},
        ["billing_code", "topic", "fact", "source_url", "source_confidence"],
    ),
    "ref__code_modifier": (
        {"modifier", "when_to_use"},
        ["modifier", "description", "when_to_use", "applies_to", "source", "source_confidence"],
    ),
    "ref__code_diagnosis": (
        {"icd10_code", "diagnosis_group"},
        ["billing_code", "icd10_code", "description", "diagnosis_group", "source", "source_confidence"],
    ),
    "ref__code_clinical_context": (
        {"part", "item_order"},
        ["billing_code", "part", "item_order", "text", "source_url", "source_confidence", "illustrative"],
    ),
    "ref__medicare_document": (
        {"document_id", "bears_on"},
        ["billing_code", "document_id", "contractor", "jurisdictions", "bears_on", "source_url", "source_confidence"],
    ),
    "ref__hospital": (
        {"hospital_name", "web_root"},
        ["hospital_name", "state_abbrev", "web_root", "source", "source_confidence"],
    ),
    "ref__payer_index": ({"payer", "index_kind"}, ["payer_group", "payer", "index_kind", "index_url", "source"]),
}


def table_of(path: Path) -> str | None:
    """Which reference table a file holds, from its header."""
    header = set(peek_header(path))
    for dataset, (marks, _) in TABLES.items():
        if marks <= header:
            return dataset
    return None


def detect(path: Path) -> bool:
    """True when the file's header is one of the reference tables'."""
    try:
        return path.suffix.lower() == ".csv" and table_of(path) is not None
    except FileRejected:
        return False


def read_file(path: Path, chunk_rows: int) -> Iterator[Batch]:
    """Parse one reference CSV into batches of its table."""
    dataset = table_of(path)
    if dataset is None:
        raise FileRejected(
            path, "header matches no reference table", "the header of payer_aliases.csv or billing_codes.csv", "line 1"
        )
    for chunk in read_csv_chunks(path, required=TABLES[dataset][1], chunk_rows=chunk_rows):
        frame = blank_to_null(chunk.frame)
        for column in ("billing_code", "icd10_code", "modifier"):
            if column in frame:
                frame[column] = frame[column].str.upper()
        if "web_root" in frame:  # host names are case-insensitive: compare and fetch them lower-case
            frame["web_root"] = frame["web_root"].str.lower()
        yield Batch(dataset, frame, chunk.rejects)


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Adapter entry point."""
    yield from read_file(path, ctx.settings.chunk_rows)
