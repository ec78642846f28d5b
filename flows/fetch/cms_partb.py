"""Part B "by Geography and Service": data.json -> data year -> dataset version -> the data API's rows.

1. `https://data.cms.gov/data.json` (conditional GET) lists the dataset "Medicare Physician & Other
   Practitioners - by Geography and Service" (matched on its title, dashes and case normalised, or on
   its landing page / identifier slug) and, per data year, one distribution with `format: "API"`
   whose `temporal` ("2023-01-01/2023-12-31") gives the year and whose `accessURL`
   (`https://data.cms.gov/data-api/v1/dataset/<version uuid>/data`) the version. No UUID is hard-coded.
2. A year whose distribution `modified` and whose codes of interest are those of the file landed for
   it last time is not asked again (`unchanged`). A code added to raw/reference/billing_codes.csv makes
   every year asked again on the next run (even when data.json answers 304).
3. Otherwise, per code: `<accessURL>/stats?filter[HCPCS_Cd]=<code>` (`found_rows`), then
   `<accessURL>?filter[HCPCS_Cd]=<code>&size=5000&offset=...` until a short page; the rows got must
   number `found_rows`, else the year fails and nothing lands.
4. The rows of all codes are written as ONE CSV per data year, CMS's 15 columns under CMS's names
   (the layout flows/sources/cms_partb_geo_service.py reads), to
   `raw/cms_partb_geo_service/fetched/<year>/MUP_PHY_API_D<yy>_Geo.csv` (the D<yy> token and the folder
   give the adapter the data year), via a hidden `.part` renamed into place. Its first line,
   `# payerbench: HCPCS_Cd scanned: 0440T 0441T ...; ...`, tells the adapter which codes the file was
   scanned for (its scope rows). A year with no row for any code lands nothing (the adapter reads no
   header-only file): its row says so.

Manifest rows: one for data.json (`discovered` with the years listed, or `not_modified`), one per data
year (release = the year; url = the version's data URL; last_modified = the distribution's `modified`
in data.json, the change signal; sha256 and landed_path of the CSV; message: the requests made).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flows.fetch.http import FetchError
from flows.fetch.manifest import ManifestRow
from flows.sources.cms_partb_geo_service import SCANNED_MARK, scanned_codes

if TYPE_CHECKING:
    from flows.fetch.run import FetchContext

SOURCE = "cms_partb_geo_service"
STEP = "cms_partb_geo_service_api"
DATA_JSON = "https://data.cms.gov/data.json"
TITLE = "Medicare Physician & Other Practitioners - by Geography and Service"
SLUG = "medicare-physician-other-practitioners-by-geography-and-service"
PAGE_SIZE = 5000  # the data API's largest page
DATA_JSON_LIMIT = 500 * 1000**2  # the whole catalog of data.cms.gov
CODE_FILTER = "filter[HCPCS_Cd]"
COLUMNS = (  # as CMS names them, in CMS's order
    "Rndrng_Prvdr_Geo_Lvl",
    "Rndrng_Prvdr_Geo_Cd",
    "Rndrng_Prvdr_Geo_Desc",
    "HCPCS_Cd",
    "HCPCS_Desc",
    "HCPCS_Drug_Ind",
    "Place_Of_Srvc",
    "Tot_Rndrng_Prvdrs",
    "Tot_Benes",
    "Tot_Srvcs",
    "Tot_Bene_Day_Srvcs",
    "Avg_Sbmtd_Chrg",
    "Avg_Mdcr_Alowd_Amt",
    "Avg_Mdcr_Pymt_Amt",
    "Avg_Mdcr_Stdzd_Amt",
)
TEMPORAL = re.compile(r"^\s*(\d{4})-\d{2}-\d{2}\s*/\s*(\d{4})-\d{2}-\d{2}\s*$")

DISCOVERY = (
    'https://data.cms.gov/data.json (conditional GET): the dataset titled "Medicare Physician & Other '
    "Practitioners - by Geography and Service\", its API distributions' `temporal` giving each data year's "
    "dataset version; per year whose `modified` or codes of interest changed, the data API filtered to each "
    "code (filter[HCPCS_Cd], size/offset pages, /data/stats counts), written as one CSV per data year."
)
EVERY = "monthly: one conditional GET of data.json; the data API only for a year that changed or a code added"


@dataclass(frozen=True)
class Version:
    """One data year's dataset version, as data.json lists it."""

    year: int
    data_url: str  # https://data.cms.gov/data-api/v1/dataset/<uuid>/data
    modified: str | None


def _normal(text: str) -> str:
    """'Medicare Physician & Other Practitioners – by Geography and Service' -> 'medicare physician ...'."""
    return " ".join(re.sub(r"[^a-z0-9&]+", " ", html.unescape(text).lower()).split())


def find_dataset(catalog: object) -> dict[str, object] | None:
    """The geography-and-service dataset of data.json: by title (normalised), else landing page / identifier."""
    datasets = catalog.get("dataset", []) if isinstance(catalog, dict) else []
    datasets = [d for d in datasets if isinstance(d, dict)]
    for dataset in datasets:
        if _normal(str(dataset.get("title", ""))) == _normal(TITLE):
            return dataset
    for dataset in datasets:
        where = f"{dataset.get('landingPage', '')} {dataset.get('identifier', '')}".lower()
        if SLUG in where:
            return dataset
    return None


def versions(dataset: dict[str, object]) -> list[Version]:
    """One version per data year (the first API distribution listed for a year: CMS lists newest first)."""
    found: dict[int, Version] = {}
    for dist in dataset.get("distribution", []) or []:  # type: ignore[union-attr]
        if not isinstance(dist, dict) or str(dist.get("format", "")).strip().upper() != "API":
            continue
        match = TEMPORAL.match(str(dist.get("temporal") or ""))
        url = str(dist.get("accessURL") or "")
        if not match or match.group(1) != match.group(2) or "/data-api/" not in url:
            continue  # the undated "latest" entry, a multi-year span, or not the data API
        year = int(match.group(1))
        found.setdefault(year, Version(year, url.split("?", 1)[0].rstrip("/"), dist.get("modified")))  # type: ignore[arg-type]
    return [found[y] for y in sorted(found)]


def file_name(year: int) -> str:
    return f"MUP_PHY_API_D{year % 100:02d}_Geo.csv"


def logical_key(year: int) -> str:
    return f"{SOURCE}:{year}"


def fetch_partb_geo_service(context: FetchContext) -> list[ManifestRow]:
    """data.json, then each data year that changed: manifest rows for data.json and for each year."""
    codes = frozenset(c.strip().upper() for c in context.codes if c.strip())
    conditional = context.conditional(DATA_JSON)
    if context.offline:
        how = "conditional GET" if conditional else "GET"
        return [_row(context, "data.json", None, DATA_JSON, "offline", message=f"would {how} {DATA_JSON}")]
    if conditional is not None and _codes_changed(context, codes):
        conditional = None  # a code was added: every year is asked again, so the list of years is needed
    page = context.fetcher.get(DATA_JSON, conditional=conditional, max_bytes=DATA_JSON_LIMIT)
    headers = {k.lower(): v for k, v in page.headers.items()}
    seen = {
        "final_url": page.final_url,
        "http_status": page.status,
        "etag": headers.get("etag"),
        "last_modified": headers.get("last-modified"),
        "bytes_received": len(page.content),
    }
    if page.status == 304:
        return [_row(context, "data.json", None, DATA_JSON, "not_modified", **seen,
                     message="data.json not modified; codes of interest unchanged: nothing asked")]  # fmt: skip
    try:
        catalog = page.json()
    except ValueError as exc:
        raise FetchError(DATA_JSON, f"not JSON ({exc})", "check the URL or the mirror") from None
    dataset = find_dataset(catalog)
    if dataset is None:
        raise FetchError(DATA_JSON, f"lists no dataset titled {TITLE!r}",
                         "CMS may have renamed it: find its new title on data.cms.gov and update flows/fetch/cms_partb.py")  # fmt: skip
    found = versions(dataset)
    if not found:
        raise FetchError(DATA_JSON, f"the dataset {TITLE!r} has no API distribution with a one-year `temporal`",
                         "check the dataset's distributions on data.cms.gov")  # fmt: skip
    rows = [_row(context, "data.json", None, DATA_JSON, "discovered", **seen,
                 message=f"data years listed: {', '.join(str(v.year) for v in found)}")]  # fmt: skip
    for version in found:
        rows.append(_fetch_year(context, version, codes))
    return rows


def _row(context: FetchContext, key: str, release: str | None, url: str, outcome: str, **fields: object) -> ManifestRow:
    return ManifestRow(context.fetch_id, SOURCE, f"{SOURCE}:{key}", release, url, outcome, **fields)  # type: ignore[arg-type]


def _landed_codes(context: FetchContext, row: ManifestRow | None) -> frozenset[str] | None:
    """The codes the file a manifest row landed was scanned for (its first line); None if it is gone."""
    if row is None or not row.landed_path:
        return None
    path = context.settings.raw_dir / row.landed_path
    try:
        with path.open("rb") as handle:
            return scanned_codes(handle.read(64 * 1024))
    except OSError:
        return None


def _last_state(context: FetchContext, key: str) -> ManifestRow | None:
    """The newest row of a year that names its file (landed, or found unchanged): the state to compare with."""
    for row in reversed(context.manifest.rows):
        if row.logical_key == key and row.outcome in ("downloaded", "reissued", "unchanged") and row.landed_path:
            return row
    return None


def _codes_changed(context: FetchContext, codes: frozenset[str]) -> bool:
    """True when a year fetched before was fetched for other codes than `codes` (or its file is gone)."""
    keys = {r.logical_key for r in context.manifest.rows if r.source == SOURCE and r.release}
    states = [_last_state(context, key) for key in keys]
    return any(_landed_codes(context, state) != codes for state in states if state is not None)


def _fetch_year(context: FetchContext, version: Version, codes: frozenset[str]) -> ManifestRow:
    year = version.year
    key = str(year)
    last = _last_state(context, logical_key(year))
    if last is not None and last.last_modified == version.modified and _landed_codes(context, last) == codes:
        return _row(context, key, key, version.data_url, "unchanged", last_modified=version.modified,
                    sha256=last.sha256, landed_path=last.landed_path,
                    message=f"data year {year}: version modified {version.modified} and codes unchanged: nothing asked")  # fmt: skip
    if not codes:
        return _row(context, key, key, version.data_url, "failed", last_modified=version.modified,
                    message="no codes of interest: raw/reference/billing_codes.csv lists none")  # fmt: skip
    asked: list[str] = []
    got: list[dict[str, object]] = []
    try:
        for code in sorted(codes):
            got += _rows_of_code(context, version, code, asked)
    except FetchError as exc:
        return _row(context, key, key, version.data_url, "failed", http_status=exc.status,
                    last_modified=version.modified, message=f"{exc}; nothing landed for {year}")  # fmt: skip
    requests = f"{len(asked)} requests ({', '.join(sorted(codes))}; stats then pages of {PAGE_SIZE})"
    if not got:
        return _row(context, key, key, version.data_url, "discovered", http_status=200, last_modified=version.modified,
                    message=f"data year {year}: CMS publishes no row for {', '.join(sorted(codes))}; nothing landed "
                    f"(asked {requests})")  # fmt: skip
    missing = [c for c in COLUMNS if not all(c in r for r in got)]
    if missing:
        return _row(context, key, key, version.data_url, "failed", http_status=200, last_modified=version.modified,
                    message=f"{version.data_url}: rows lack column(s) {', '.join(missing)}; nothing landed for "
                    f"{year}: CMS may have changed the layout (compare with flows/sources/cms_partb_geo_service.py)")  # fmt: skip
    dest = context.landing_dir(SOURCE, key, file_name(year))
    sha, size = _write_csv(dest, got, codes, version)
    outcome = "unchanged" if last is not None and last.sha256 == sha else "downloaded"
    return _row(context, key, key, version.data_url, outcome, final_url=version.data_url, http_status=200,
                last_modified=version.modified, bytes_received=size, sha256=sha, landed_path=context.relative(dest),
                fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                message=f"data year {year}: {len(got)} rows from {requests}")  # fmt: skip


def _rows_of_code(context: FetchContext, version: Version, code: str, asked: list[str]) -> list[dict[str, object]]:
    """Every row of one code (stats first, then pages until a short one); the count must match the stats."""
    stats_url = f"{version.data_url}/stats?{urlencode({CODE_FILTER: code})}"
    asked.append(stats_url)
    stats = context.fetcher.get(stats_url).json()
    expected = stats.get("found_rows") if isinstance(stats, dict) else None
    if expected is None or not str(expected).isdigit():
        raise FetchError(stats_url, f"no found_rows in the stats answer ({str(stats)[:200]})",
                         "check the data API (its /stats endpoint may have changed)")  # fmt: skip
    expected = int(expected)
    rows: list[dict[str, object]] = []
    offset = 0
    while True:
        url = f"{version.data_url}?{urlencode({CODE_FILTER: code, 'size': PAGE_SIZE, 'offset': offset})}"
        asked.append(url)
        page = context.fetcher.get(url).json()
        if not isinstance(page, list) or not all(isinstance(r, dict) for r in page):
            raise FetchError(url, "not a JSON list of rows", "check the data API")
        rows += page
        if len(page) < PAGE_SIZE or len(rows) > expected:
            break
        offset += PAGE_SIZE
    if len(rows) != expected:
        raise FetchError(url, f"got {len(rows):,} rows for {code}, the stats said {expected:,} (found_rows)",
                         "the dataset may have changed during the fetch: fetch again")  # fmt: skip
    wrong = {str(r.get("HCPCS_Cd", "")).strip().upper() for r in rows} - {code}
    if wrong:
        raise FetchError(url, f"the filter on {code} returned rows of {', '.join(sorted(wrong))}",
                         "the data API ignored filter[HCPCS_Cd]: check its filter syntax")  # fmt: skip
    return rows


def _write_csv(dest: Path, rows: list[dict[str, object]], codes: frozenset[str], version: Version) -> tuple[str, int]:
    """The rows as CMS's CSV (a first line naming the codes scanned), via a hidden .part: (sha256, bytes)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.part")  # hidden: ingest never lists a half-written file
    try:
        with part.open("w", encoding="utf-8", newline="") as handle:
            handle.write(f"{SCANNED_MARK} {' '.join(sorted(codes))}; data.cms.gov data API, data year "
                         f"{version.year}, {version.data_url}, modified {version.modified}\n")  # fmt: skip
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
            handle.flush()
            os.fsync(handle.fileno())
        data = part.read_bytes()
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest(), len(data)
