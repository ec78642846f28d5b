"""Medicare Coverage Database exports: `current_article.zip` and `current_lcd.zip`, fetched weekly.

CMS publishes them at stable URLs under downloads.cms.gov (no licence interstitial), refreshed weekly
(data captured through Sunday, published Thursday). Each is asked with a conditional GET (the ETag /
Last-Modified of the last answer): 304 -> nothing downloaded. A 200 is streamed to a hidden scratch
file beside its landing folder, checked (a zip, `PK\\x03\\x04`, not CMS's HTML licence or error page;
its nested zips walked by `flows.fetch.archive.check_zip`: no entry outside its folder, no zip bomb),
and compared with the sha256 of the last export landed under the same name: the same bytes land
nothing (`unchanged`). New bytes land AS DOWNLOADED (the adapter flows/sources/cms_mcd.py reads the
export zip, nested zips included; each zip is a release of its own, so an article zip and an LCD zip
in one folder are read independently) under

    raw/cms_mcd/fetched/<YYYY-MM-DD>/current_article.zip     (<date>: the export's Last-Modified,
    raw/cms_mcd/fetched/<YYYY-MM-DD>/current_lcd.zip          else the day it was fetched)

never replacing a different file (a second export of the same day lands as `current_article-<sha12>.zip`).
The staging views keep the latest load of each table, so a newer week replaces the older one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import os
from pathlib import Path
from typing import TYPE_CHECKING

from flows.fetch.archive import UnsafeArchive, check_zip
from flows.fetch.http import FetchError, LicencePage
from flows.fetch.manifest import ManifestRow, download_fields

if TYPE_CHECKING:
    from flows.fetch.run import FetchContext

SOURCE = "cms_mcd"
STEP = "cms_mcd_exports"
BASE = "https://downloads.cms.gov/medicare-coverage-database/downloads/exports/"
EXPORTS = ("current_article.zip", "current_lcd.zip")
MAX_DOWNLOAD = 2 * 1000**3  # the exports are ~100-500 MB (unconfirmed: Content-Length is recorded)
MAX_UNPACKED = 20 * 1000**3  # everything inside, nested zips included
ZIP_MAGIC = b"PK\x03\x04"

DISCOVERY = (
    "Stable URLs https://downloads.cms.gov/medicare-coverage-database/downloads/exports/current_article.zip "
    "and current_lcd.zip, asked with a conditional GET; a new export (new sha256) lands as downloaded, nested "
    "zips checked, under raw/cms_mcd/fetched/<Last-Modified date>/."
)
EVERY = "weekly (Fridays, after CMS's Thursday refresh): one conditional GET per export zip"


def export_url(name: str) -> str:
    return BASE + name


def logical_key(name: str) -> str:
    return f"{SOURCE}:{name}"


def fetch_mcd_exports(context: FetchContext) -> list[ManifestRow]:
    """Both export zips: one manifest row each (downloaded, reissued, unchanged, not_modified, refused, failed)."""
    return [_fetch_export(context, name) for name in EXPORTS]


def export_date(last_modified: str | None, fetched_at: dt.datetime) -> str:
    """YYYY-MM-DD of the export: its Last-Modified (an HTTP date), else the day it was fetched (UTC)."""
    if last_modified:
        try:
            return email.utils.parsedate_to_datetime(last_modified).astimezone(dt.UTC).date().isoformat()
        except (TypeError, ValueError):
            pass
    return fetched_at.astimezone(dt.UTC).date().isoformat()


def _row(context: FetchContext, name: str, outcome: str, **fields: object) -> ManifestRow:
    return ManifestRow(context.fetch_id, SOURCE, logical_key(name), fields.pop("release", None), export_url(name),
                       outcome, **fields)  # type: ignore[arg-type]  # fmt: skip


def _fetch_export(context: FetchContext, name: str) -> ManifestRow:
    url = export_url(name)
    conditional = context.conditional(url)
    if context.offline:
        how = "conditional GET" if conditional else "GET"
        return _row(context, name, "offline", message=f"would {how} {url}")
    folder = context.landing_dir(SOURCE)
    scratch = folder / f".{name}.download"  # hidden: ingest never lists it; same filesystem as the landing folder
    try:
        try:
            download = context.fetcher.download(
                url, scratch, expect="zip", max_bytes=MAX_DOWNLOAD, conditional=conditional
            )
        except LicencePage as exc:
            return _row(context, name, "refused", http_status=exc.status, message=str(exc))
        except FetchError as exc:
            return _row(context, name, "failed", http_status=exc.status, message=str(exc))
        fields = download_fields(download)
        if download.status == 304 or download.path is None:
            return _row(context, name, "not_modified", **fields, message="not modified since the last fetch")
        release = export_date(download.last_modified, download.fetched_at)
        fields["release"] = release
        with scratch.open("rb") as handle:
            head = handle.read(len(ZIP_MAGIC))
        if head != ZIP_MAGIC:
            kind = "an HTML page (CMS's licence or error page)" if head.lstrip()[:1] == b"<" else "not a zip"
            return _row(context, name, "refused", **fields,
                        message=f"{url}: {kind} where the export zip was expected; nothing landed. Open the URL in "
                        "a browser to see what CMS serves, then fetch again")  # fmt: skip
        try:
            check_zip(scratch, max_bytes=MAX_UNPACKED)
        except UnsafeArchive as exc:
            return _row(context, name, "refused", **fields, message=f"{url}: {exc}; nothing landed")
        last = context.manifest.last_landed(logical_key(name))
        if last is not None and last.sha256 == download.sha256:
            return _row(context, name, "unchanged", **fields, landed_path=last.landed_path,
                        message=f"same sha256 as the export landed at {last.landed_path}: nothing landed")  # fmt: skip
        dest = folder / release / name
        if dest.exists():
            dest = dest.with_name(f"{Path(name).stem}-{download.sha256[:12]}.zip")  # type: ignore[index]
        if dest.exists():  # these very bytes already sit there (the manifest lost track of them)
            return _row(context, name, "unchanged", **fields, landed_path=context.relative(dest),
                        message=f"the same export is already at {context.relative(dest)}: nothing landed")  # fmt: skip
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(scratch, dest)
        reissued = last is not None and last.release == release
        message = (
            f"re-issued: CMS re-cut the {release} export (sha256 {last.sha256[:12]} -> {download.sha256[:12]})"  # type: ignore[index,union-attr]
            if reissued
            else f"export of {release} landed"
        )
        return _row(context, name, "reissued" if reissued else "downloaded", **fields,
                    landed_path=context.relative(dest), message=message)  # fmt: skip
    finally:
        scratch.unlink(missing_ok=True)
        scratch.with_name(scratch.name + ".part").unlink(missing_ok=True)
