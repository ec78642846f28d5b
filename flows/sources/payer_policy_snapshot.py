"""Payer policy page snapshots, as `payerbench fetch payer_policy` lands them (flows/fetch/policy_pages.py).

Publisher: this pipeline, from the payers' policy pages the reviewed extract cites. Cadence: a file per new
page version (a URL's first fetch, and each fetch whose normalised text is new), under
raw/payer_policy_snapshot/fetched/<payer>/<policy>/<YYYY-MM-DDTHHMMSSZ>.json.
Format (version 1): a JSON object `{"format": "payerbench.policy_snapshot/1", "snapshot": {...},
"change": {...} | null, "text": "..."}`; `snapshot` holds the `payer__policy_snapshot` columns, `change` the
`payer__policy_change` columns when the URL had a snapshot before, `text` the page's normalised text (kept for
audit and the next diff; not loaded). Values as written; the schemas type them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from flows.engines.readers import sniff
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext
from schemas.fields import column_names
from schemas.payer_policy_snapshot import CHANGE_DATASET, SNAPSHOT_DATASET, PolicyChange, PolicySnapshot

FORMAT = "payerbench.policy_snapshot/1"
MAX_FILE = 100 * 1000**2  # the text of a long policy PDF is a few MB
SNAPSHOT_COLUMNS = column_names(PolicySnapshot)
CHANGE_COLUMNS = column_names(PolicyChange)


def detect(path: Path) -> bool:
    """True for a snapshot file (a JSON object naming the snapshot format near its start)."""
    try:
        head = sniff(path)
    except FileRejected:
        return False
    return head.lstrip()[:1] == b"{" and b'"payerbench.policy_snapshot/' in head


def read(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """One `payer__policy_snapshot` row, and one `payer__policy_change` row when the file records a change."""
    if path.stat().st_size > MAX_FILE:
        raise FileRejected(path, f"{path.stat().st_size:,} bytes, more than a snapshot file holds", f"≤ {MAX_FILE:,}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise FileRejected(path, "not UTF-8 text", "a snapshot file as the fetch writes it") from exc
    except ValueError as exc:
        raise FileRejected(path, f"not valid JSON ({exc})", "a snapshot file as the fetch writes it") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise FileRejected(path, f"format {found!r}", f"an object with format {FORMAT!r}", "$.format")
    for key, dataset, columns in (
        ("snapshot", SNAPSHOT_DATASET, SNAPSHOT_COLUMNS),
        ("change", CHANGE_DATASET, CHANGE_COLUMNS),
    ):
        record = data.get(key)
        if record is None and key == "change":
            continue
        if not isinstance(record, dict):
            raise FileRejected(
                path, f"${key} is {type(record).__name__}", "an object of the dataset's columns", f"${key}"
            )
        missing = [c for c in columns if c not in record]
        if missing:
            raise FileRejected(path, f"no {', '.join(missing)}", ", ".join(columns), f"${key}")
        frame = pd.DataFrame([{c: record[c] for c in columns} | {RECORD_COLUMN: f"$.{key}"}], dtype=object)
        yield Batch(dataset, frame, raw=frame.copy())
