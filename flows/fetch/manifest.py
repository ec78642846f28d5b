"""The fetch manifest: one row per URL asked or file landed, appended to raw/fetch_manifest/fetch_manifest.csv.

It is a source like any other (catalog entry `fetch_manifest`, schema schemas/fetch_manifest.py, dataset
`fetch__manifest`; view `stg_fetch_manifest`, its latest load: the whole history), so analysts query it and `payerbench status` reads it. The fetch layer also reads it
back: the last row of a URL gives the conditional headers of the next request (ETag, Last-Modified), and
the last sha256 of a logical key tells a re-cut file from an unchanged one.

Outcomes:
- `downloaded`   new content landed under raw/<source>/fetched/
- `reissued`     same release, new sha256: CMS re-cut the file; landed as a new version (advisory)
- `unchanged`    downloaded, same sha256 as the last time: nothing landed
- `not_modified` the server answered 304 to the conditional request: nothing downloaded
- `discovered`   a release seen on a page, not downloaded (the newest one is, or the licence stopped it)
- `licence_required`  a CMS/AMA-gated file not downloaded: PAYERBENCH_ACCEPT_CMS_LICENSE is not set
- `refused`      the body failed a content check (an HTML licence page, a zip with a bad entry): not landed
- `failed`       the request failed (after retries for transient errors)
- `offline`      --offline: what would have been asked
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.fetch.http import Download

from schemas.fetch_manifest import OUTCOMES  # noqa: F401 - the outcomes, declared with the dataset's schema

MANIFEST_DIR = "fetch_manifest"  # raw/fetch_manifest/
MANIFEST_FILE = "fetch_manifest.csv"  # not manifest.csv: that name is the landing record, never loaded


@dataclass
class ManifestRow:
    fetch_id: str  # the fetch run
    source: str  # the catalog source the file is for (one download may feed several: one row each landed file)
    logical_key: (
        str  # what one download is, stable across runs: "cms_pfs_rvu_zip:RVU26A", "cms_mcd:current_article.zip"
    )
    release: str | None  # the release or period it holds: "RVU26A", "2026-01", "2023", None when not known
    url: str  # asked (origin form, before any mirror)
    outcome: str  # one of OUTCOMES
    final_url: str | None = None  # after redirects (origin form)
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_length: int | None = None  # as the server announced it
    bytes_received: int | None = None
    sha256: str | None = None  # of the file landed (a member: of the member)
    fetched_at: str = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    landed_path: str | None = None  # relative to raw/
    license_acknowledged: bool | None = None  # None: the file is not licence-gated
    message: str = ""  # one line for a person: what happened and, if needed, what to do


COLUMNS = [f.name for f in dataclasses.fields(ManifestRow)]


def download_fields(download: Download) -> dict[str, object]:
    """The manifest columns a download fills (what came back, its validators, its size and sha256)."""
    return {
        "final_url": download.final_url,
        "http_status": download.status,
        "etag": download.etag,
        "last_modified": download.last_modified,
        "content_length": download.content_length,
        "bytes_received": download.bytes_received,
        "sha256": download.sha256,
        "fetched_at": download.fetched_at.isoformat(timespec="seconds"),
    }


def manifest_path(raw_dir: Path) -> Path:
    return raw_dir / MANIFEST_DIR / MANIFEST_FILE


def append(raw_dir: Path, rows: list[ManifestRow]) -> None:
    """Append rows (one writer at a time: an exclusive lock on the file while writing)."""
    if not rows:
        return
    path = manifest_path(raw_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            new = handle.tell() == 0
            writer = csv.DictWriter(handle, COLUMNS)
            if new:
                writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in dataclasses.asdict(row).items()})
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read(raw_dir: Path) -> list[ManifestRow]:
    """Every row so far, oldest first (empty when nothing was ever fetched)."""
    path = manifest_path(raw_dir)
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            values: dict[str, object] = {k: (v if v != "" else None) for k, v in record.items() if k in COLUMNS}
            for key in ("http_status", "content_length", "bytes_received"):
                values[key] = int(values[key]) if values.get(key) else None  # type: ignore[arg-type]
            ack = values.get("license_acknowledged")
            values["license_acknowledged"] = None if ack is None else ack == "True"
            values["message"] = values.get("message") or ""
            rows.append(ManifestRow(**values))  # type: ignore[arg-type]
    return rows


class Manifest:
    """The manifest as the fetch steps consult it: the last row per URL and per logical key."""

    def __init__(self, rows: list[ManifestRow]) -> None:
        self.rows = rows

    def last_for_url(self, url: str) -> ManifestRow | None:
        """The newest row of `url` that got an answer with validators (200, 206, 304)."""
        for row in reversed(self.rows):
            if row.url == url and row.http_status in (200, 206, 304):
                return row
        return None

    def last_landed(self, logical_key: str) -> ManifestRow | None:
        """The newest row of `logical_key` whose file landed (downloaded or reissued)."""
        for row in reversed(self.rows):
            if row.logical_key == logical_key and row.outcome in ("downloaded", "reissued"):
                return row
        return None

    def known_sha256s(self, logical_key: str) -> set[str]:
        return {r.sha256 for r in self.rows if r.logical_key == logical_key and r.sha256}
