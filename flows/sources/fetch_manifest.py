"""The fetch manifest `payerbench fetch` appends to (raw/fetch_manifest/fetch_manifest.csv; flows/fetch/manifest.py).

Publisher: this pipeline. Cadence: every fetch run appends rows; the file is loaded whole each time it
changes (the warehouse keeps the latest load). Format: CSV with the header of `ManifestRow`'s fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flows.engines.readers import detect_format, peek_header, read_csv_chunks, sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from schemas.fetch_manifest import DATASET, FetchManifest
from schemas.fields import blank_to_null, column_names

COLUMNS = column_names(FetchManifest)


def detect(path: Path) -> bool:
    """True for the manifest's header (fetch_id, logical_key, outcome, landed_path ...)."""
    try:
        if detect_format(path, sniff(path)) != "csv":
            return False
        return {"fetch_id", "logical_key", "outcome", "landed_path", "license_acknowledged"} <= set(peek_header(path))
    except FileRejected:
        return False


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Parse the manifest into `fetch__manifest` batches (values as written; the schema types them)."""
    header = peek_header(path)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise FileRejected(path, f"no column for {', '.join(missing)} in the header", ", ".join(COLUMNS), "line 1")
    for chunk in read_csv_chunks(path, required=COLUMNS, chunk_rows=ctx.settings.chunk_rows):
        raw = chunk.frame[[*COLUMNS, RECORD_COLUMN]]
        frame = blank_to_null(raw)
        frame["license_acknowledged"] = frame["license_acknowledged"].map(
            {"True": True, "False": False}, na_action="ignore"
        )
        yield Batch(DATASET, frame, chunk.rejects, raw=raw)
