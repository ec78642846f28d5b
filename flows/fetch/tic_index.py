"""The TiC crawl: from each payer's published index to a deduplicated, filtered plan of in-network and
allowed-amount files to read, recorded.

Which payers and how: `raw/reference/payer_indexes.csv` (`ref__payer_index`; acquisition.md section 7), one
row per payer, `index_kind`:
- `uhc_blob_listing`: UnitedHealthcare's listing API, `{"blobs": [{"name", "downloadUrl", "size"}, ...]}`
  (~20 MB), streamed; the first `max_indexes` blobs whose name matches `index_name_pattern` (`_index.json`:
  employer tables of contents of 2-4 KB) are read; the sizes of the other blobs (the in-network files) are kept
  to deduplicate by name and size.
- `toc_json`: one CMS table of contents at a URL (`.json` or `.json.gz`, told by its first bytes), with month
  placeholders (`{YYYY-MM}`, `{YYYY-MM-DD}` = the row's publication_day, `{YYYY-MM-01}`): this month's URL is
  asked, the previous month's when this month's is not out (404) or its day is still to come.
- `aetna_metadata`: Aetna's healthsparq `latest_metadata.json` (its shape is unconfirmed: an object or an array):
  every string value in it whose file name matches `index_name_pattern` is a candidate ToC (a relative path is
  resolved against the listing's URL); the newest by its date prefix is read.
- `azure_container_listing`: an Azure List Blobs answer (XML, streamed, `NextMarker` pages followed): the
  newest blob matching `index_name_pattern` is the ToC (BCBS Texas: its day is not the 1st, so it is
  discovered, not templated).
- `signed_url_required`: Cigna; the operator pastes this month's signed ToC URL.
`PAYERBENCH_TIC_SIGNED_URLS` (`payer=URL`, space-separated) overrides any row's index with a ToC URL the
operator pasted (a signed one, or one a listing could not find); its query string (the signature) is never
written to the manifest.

Every index is streamed (`HttpFetcher.open_stream` -> gzip -> ijson over `json_guard.GuardedJson`), never held
whole. Its in-network and allowed-amount files are gathered and DEDUPLICATED: one file per URL host+path
without the query string (signed URLs change their query), and, where the payer's listing gives sizes, per
file name and size; every plan that lists a file is kept. The row's filter then picks the files to read.

What lands, per payer and index date (`<date>`: the index's own date prefix, else its Last-Modified, else today):
    raw/tic/fetched/<payer>/<date>_<payer>_index.json   a compact CMS table of contents: one reporting
        structure per distinct file with every plan listing it; the tic adapter loads it into tic__toc_file
    raw/tic/fetched/<payer>/<date>_plan.csv             the files chosen: url, file_type, description,
        plan_count, plans, size_bytes, reason (read by the in-network streaming step)
The same content already landed lands nothing (`unchanged`); an index answering 304 is `not_modified`. A listing
that names no ToC, or that refuses the request (Azure's 403), is `failed`, its message saying what to paste in
`PAYERBENCH_TIC_SIGNED_URLS`.
Manifest: one row per index asked; the payer's first row carries the counts (files listed, distinct after
dedupe, chosen) and the landed path.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from xml.etree import ElementTree

import ijson

from flows.engines.json_guard import GuardedJson
from flows.engines.json_guard import items as guarded_items
from flows.engines.tic_stream import Limits
from flows.errors import PayerbenchError
from flows.fetch.http import ByteStream, FetchError, LicencePage
from flows.fetch.manifest import ManifestRow
from flows.sources.base import FileRejected
from schemas.reference import MONTH_PLACEHOLDER

if TYPE_CHECKING:
    from flows.fetch.run import FetchContext
    from flows.settings import Settings

SOURCE = "tic"
STEP = "tic_indexes"
TABLE = "payer_indexes.csv"  # in raw/reference/
SIGNED_URLS_ENV = "PAYERBENCH_TIC_SIGNED_URLS"
HOME = "https://github.com/CMSgov/price-transparency-guide/tree/master/schemas/table-of-contents"
DISCOVERY = (
    "raw/reference/payer_indexes.csv: per payer its index (UnitedHealthcare's blob listing API, Anthem's monthly "
    "gzip ToC on S3, Aetna's healthsparq latest_metadata.json, BCBS Texas' Azure container listing, Cigna's "
    f"signed ToC pasted by the operator in {SIGNED_URLS_ENV}), streamed; in-network and allowed-amount files "
    "deduplicated by URL path (query dropped) and listed name+size; the row's filter picks the files to read. "
    "Lands raw/tic/fetched/<payer>/<date>_<payer>_index.json (a compact ToC, loaded into tic__toc_file) and "
    "<date>_plan.csv (the files chosen)."
)
EVERY = (
    "monthly (payers publish around the 1st; BCBS Texas around the 20th, Aetna the 5th): one conditional GET per index"
)
MAX_LISTING_PAGES = 50  # Azure List Blobs pages (5,000 blobs each) followed at most
HEAD_BYTES = 64 * 1024  # decompressed bytes looked at for the ToC's entity name and type
READ_SIZE = 64 * 1024
PLAN_COLUMNS = ["url", "file_type", "description", "plan_count", "plans", "size_bytes", "reason"]
MAX_PLAN_NAMES = 50  # plan names written per file in the plan CSV (all of them are in the compact ToC)
DATE_PREFIX = re.compile(r"(\d{4}-\d{2}-\d{2})")


class IndexContentError(PayerbenchError):
    """An index whose content is not what its kind promises (HTML, not JSON, a truncated gzip, no ToC found)."""


class NoIndexFound(IndexContentError):
    """A listing read whole that names no table of contents: a `failed` row (its content was fine), not `refused`."""


LISTING_KINDS = ("aetna_metadata", "azure_container_listing")  # a refused listing: the operator pastes the ToC URL


# --- the table -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PayerIndex:
    """One row of raw/reference/payer_indexes.csv (see schemas/reference.py PayerIndex)."""

    payer_group: str
    payer: str
    index_kind: str
    index_url: str | None = None
    publication_day: int | None = None
    index_name_pattern: str | None = None
    max_indexes: int | None = None
    plan_name_pattern: str | None = None
    market_type: str | None = None
    network_pattern: str | None = None
    file_name_pattern: str | None = None
    max_files: int | None = None
    source: str = ""
    source_confidence: str = "unconfirmed"
    notes: str | None = None


def read_payer_indexes(settings: Settings) -> list[PayerIndex]:
    """The rows of raw/reference/payer_indexes.csv, validated by its schema (a bad row is a ConfigurationError)."""
    from flows.errors import ConfigurationError
    from flows.sources.reference import read_file
    from flows.steps.validate import DatasetValidator
    from schemas.reference import PayerIndex as Schema

    path = settings.raw_dir / "reference" / TABLE
    rows: list[PayerIndex] = []
    for batch in read_file(path, settings.chunk_rows):
        frame = batch.frame.assign(source_record=[f"line {i + 2}" for i in range(len(batch.frame))])
        result = DatasetValidator(Schema).check(frame, path)
        if not result.failures.empty:
            first = result.failures.iloc[0]
            raise ConfigurationError(
                f"{path}: {len(result.failures)} invalid value(s), first: row {first['row']} column "
                f"{first['column']} fails {first['check']}; fix the table (schemas/reference.py PayerIndex)"
            )
        for record in result.valid.to_dict("records"):
            values = {
                k: (None if _missing(v) else v) for k, v in record.items() if k in PayerIndex.__dataclass_fields__
            }
            for key in ("publication_day", "max_indexes", "max_files"):
                values[key] = None if values.get(key) is None else int(values[key])
            rows.append(PayerIndex(**values))
    return rows


def _missing(value: object) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def operator_urls(value: str | None) -> dict[str, str]:
    """`PAYERBENCH_TIC_SIGNED_URLS`: "payer=URL payer=URL" -> {payer: URL} (a word without `=` is ignored)."""
    out = {}
    for word in (value or "").split():
        payer, sep, url = word.partition("=")
        if sep and url.startswith(("http://", "https://")):
            out[payer.strip().lower()] = url
    return out


def month_urls(template: str, publication_day: int | None, today: dt.date) -> list[tuple[str, str]]:
    """(URL, index date) to try, newest first: this month's (if its day has come) and the previous month's."""
    if not re.search(MONTH_PLACEHOLDER, template):
        return [(template, "")]
    out = []
    first = today.replace(day=1)
    for month in (first, (first - dt.timedelta(days=1)).replace(day=1)):

        def fill(match: re.Match[str], month: dt.date = month) -> str:
            text = match.group(0)[1:-1]
            if text == "YYYY-MM":
                return month.strftime("%Y-%m")
            day = publication_day or 1 if text.endswith("DD") else int(text[-2:])
            return f"{month:%Y-%m}-{day:02d}"

        url = re.sub(MONTH_PLACEHOLDER, fill, template)
        date = _date_in(url) or month.isoformat()
        if date <= today.isoformat():
            out.append((url, date))
    return out


def _date_in(url: str) -> str | None:
    found = DATE_PREFIX.search(PurePosixPath(urlsplit(url).path).name)
    return found.group(1) if found else None


# --- files and their deduplication ---------------------------------------------------------------------------
def dedupe_key(url: str) -> str:
    """A file's identity: host (lower-case) + path, percent-decoded, without query or fragment."""
    parts = urlsplit(url.strip())
    return parts.netloc.lower() + unquote(parts.path)


def strip_query(url: str) -> str:
    """The URL without its query (a signature) or fragment: what the manifest records of a signed URL."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def file_name(url: str) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).name


@dataclass
class ListedFile:
    """One distinct file of a payer's indexes, with every plan that lists it."""

    key: str
    url: str  # the first URL seen (with its query: a signed URL is needed to read the file)
    file_type: str  # in_network | allowed_amount
    description: str | None
    size: int | None = None  # from the payer's listing, when it gives one
    plans: dict[tuple[object, ...], dict[str, object]] = field(default_factory=dict)
    listings: int = 0  # times it was listed (per reporting structure)


@dataclass
class Crawl:
    """Everything one payer's indexes list, deduplicated as it is read."""

    sizes: dict[str, int] = field(default_factory=dict)  # listed file name -> size (the host's listing)
    files: dict[str, ListedFile] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # "name#size" -> key
    listed: int = 0  # file listings read (one per file per reporting structure)
    entity_name: str | None = None
    entity_type: str | None = None

    def add_structure(self, structure: object) -> None:
        """One `reporting_structure` item: its files, each with its plans."""
        if not isinstance(structure, dict):
            return
        plans = [p for p in structure.get("reporting_plans") or [] if isinstance(p, dict)]
        listed = [("in_network", f) for f in structure.get("in_network_files") or [] if isinstance(f, dict)]
        allowed = structure.get("allowed_amount_file")
        if isinstance(allowed, dict):
            listed.append(("allowed_amount", allowed))
        for file_type, entry in listed:
            location = entry.get("location")
            if not isinstance(location, str) or not location.strip():
                continue
            self.listed += 1
            found = self._find(location.strip(), file_type, entry.get("description"))
            found.listings += 1
            for plan in plans:
                values = {k: _plain(plan.get(k)) for k in ("plan_name", "plan_id_type", "plan_id", "plan_market_type")}
                found.plans.setdefault(tuple(values.values()), values)

    def _find(self, url: str, file_type: str, description: object) -> ListedFile:
        key = dedupe_key(url)
        if key in self.files:
            return self.files[key]
        name = file_name(url)
        size = self.sizes.get(name)
        alias = f"{name}#{size}" if size is not None else None
        if alias is not None and alias in self.aliases:
            return self.files[self.aliases[alias]]
        made = ListedFile(key, url, file_type, _plain(description), size)  # type: ignore[arg-type]
        self.files[key] = made
        if alias is not None:
            self.aliases[alias] = key
        return made


def _plain(value: object) -> object:
    """JSON values as ijson gives them (Decimal ids) made plain: text stays text, numbers become text."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


@dataclass(frozen=True)
class Choice:
    file: ListedFile
    reason: str


def choose(files: list[ListedFile], row: PayerIndex) -> list[Choice]:
    """The files the row's filter keeps, in the order they were first listed, at most `max_files`."""
    conditions = []
    if row.file_name_pattern:
        conditions.append(f"file name ~ /{row.file_name_pattern}/")
    if row.network_pattern:
        conditions.append(f"description ~ /{row.network_pattern}/")
    if row.plan_name_pattern or row.market_type:
        plan_words = [f"plan name ~ /{row.plan_name_pattern}/"] if row.plan_name_pattern else []
        plan_words += [f"market {row.market_type}"] if row.market_type else []
        conditions.append("a plan with " + " and ".join(plan_words))
    name_re = re.compile(row.file_name_pattern, re.I) if row.file_name_pattern else None
    network_re = re.compile(row.network_pattern, re.I) if row.network_pattern else None
    plan_re = re.compile(row.plan_name_pattern, re.I) if row.plan_name_pattern else None
    kept = []
    for f in files:
        if name_re is not None and not name_re.search(file_name(f.url)):
            continue
        if network_re is not None and not network_re.search(f.description or ""):
            continue
        if plan_re is not None or row.market_type:
            matching = [
                p
                for p in f.plans.values()
                if (plan_re is None or plan_re.search(str(p.get("plan_name") or "")))
                and (not row.market_type or str(p.get("plan_market_type") or "").lower() == row.market_type)
            ]
            if not matching:
                continue
        kept.append(f)
    total = len(kept)
    if row.max_files is not None:
        kept = kept[: row.max_files]
    why = "; ".join(conditions) or "no filter"
    cap = f" (max_files {row.max_files})" if row.max_files is not None and total > row.max_files else ""
    return [Choice(f, f"{why}; {i + 1} of {total} matching{cap}") for i, f in enumerate(kept)]


# --- what lands -----------------------------------------------------------------------------------------------
def compact_toc(crawl: Crawl, entity_name: str, entity_type: str) -> dict[str, object]:
    """A CMS table of contents with one reporting structure per distinct file and every plan that lists it."""
    structures = []
    for f in crawl.files.values():
        listed = {"description": f.description or "", "location": f.url}
        structure: dict[str, object] = {"reporting_plans": list(f.plans.values())}
        if f.file_type == "allowed_amount":
            structure["allowed_amount_file"] = listed
        else:
            structure["in_network_files"] = [listed]
        structures.append(structure)
    return {
        "reporting_entity_name": entity_name,
        "reporting_entity_type": entity_type,
        "reporting_structure": structures,
    }


def plan_rows(choices: list[Choice]) -> list[dict[str, object]]:
    rows = []
    for c in choices:
        names = sorted({str(p.get("plan_name")) for p in c.file.plans.values() if p.get("plan_name")})
        shown = "; ".join(names[:MAX_PLAN_NAMES]) + (
            f"; and {len(names) - MAX_PLAN_NAMES} more" if len(names) > MAX_PLAN_NAMES else ""
        )
        rows.append(
            {
                "url": c.file.url,
                "file_type": c.file.file_type,
                "description": c.file.description or "",
                "plan_count": len(c.file.plans),
                "plans": shown,
                "size_bytes": "" if c.file.size is None else c.file.size,
                "reason": c.reason,
            }
        )
    return rows


def read_plan(path: Path) -> list[dict[str, str]]:
    """A plan CSV back (for the in-network streaming step): one dict per chosen file, `url` first."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def planned_urls(settings: Settings) -> list[str]:
    """The URLs the newest plan of each payer chose (raw/tic/fetched/<payer>/<date>_plan.csv), in plan order:
    what a fetching run streams after the crawl (the loader skips those already loaded, by URL path + ETag)."""
    from flows.fetch.run import FETCHED

    root = settings.source_dir("tic") / FETCHED
    urls: list[str] = []
    for folder in sorted(p for p in root.glob("*") if p.is_dir() and not p.name.startswith(".")):
        plans = sorted(folder.glob("*_plan.csv"))
        if plans:
            urls += [row["url"] for row in read_plan(plans[-1]) if row.get("url")]
    return list(dict.fromkeys(urls))


def _plan_bytes(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, PLAN_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _land(folder: Path, name: str, body: bytes) -> tuple[Path, bool]:
    """Write `body` at folder/name atomically unless those very bytes are there: (path, written)."""
    dest = folder / name
    if dest.exists():
        if dest.read_bytes() == body:
            return dest, False
        import hashlib

        stem, _, ext = name.partition(".")
        dest = folder / f"{stem}-{hashlib.sha256(body).hexdigest()[:12]}.{ext}"
        if dest.exists():
            return dest, False
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f".{dest.name}.part"  # hidden: ingest never lists it
    scratch.write_bytes(body)
    os.replace(scratch, dest)
    return dest, True


# --- reading indexes, streamed ----------------------------------------------------------------------------------
class _Chain(io.RawIOBase):
    """`head` bytes, then the rest of `body`."""

    def __init__(self, head: bytes, body: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        view = memoryview(b).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)


def json_body(
    stream: ByteStream, url: str, limits: Limits, opens: tuple[bytes, ...] = (b"{",)
) -> tuple[GuardedJson, bytes]:
    """The JSON text of an index (gunzipped when its first bytes are gzip's), held to the TiC limits, and its
    first HEAD_BYTES (for the entity name). HTML or anything not opening with one of `opens` (`{`: a ToC or a
    listing object; a metadata listing of unconfirmed shape may be an array) is an IndexContentError."""
    raw: BinaryIO = io.BufferedReader(stream, READ_SIZE)  # type: ignore[arg-type]
    if stream.peek(2) == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    head = _read_up_to(raw, HEAD_BYTES)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] not in opens:
        kind = "an HTML page" if start[:1] == b"<" else f"not JSON (it opens with {start[:12]!r})"
        raise IndexContentError(f"{url}: {kind} where a JSON index was expected; nothing landed. Open it in a browser")
    name = PurePosixPath(urlsplit(url).path).name or url
    guarded = GuardedJson(_Chain(head, raw), Path(name), limits, "a Transparency-in-Coverage index")  # type: ignore[arg-type]
    return guarded, head


def _read_up_to(raw: BinaryIO, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        block = raw.read(n - len(out))
        if not block:
            break
        out += block
    return bytes(out)


def entity_of(head: bytes) -> tuple[str | None, str | None]:
    """reporting_entity_name and _type from the first bytes of a ToC (they come first in practice)."""
    import ijson

    found: dict[str, str] = {}
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head)):
            if prefix in ("reporting_entity_name", "reporting_entity_type") and event == "string":
                found[prefix] = value
            if len(found) == 2:
                break
    except ijson.JSONError:  # the head ends mid-value: what was found is kept
        pass
    return found.get("reporting_entity_name"), found.get("reporting_entity_type")


def read_toc(stream: ByteStream, url: str, limits: Limits, crawl: Crawl) -> int:
    """Stream one table of contents into `crawl`: the number of reporting structures read."""
    body, head = json_body(stream, url, limits)
    name, kind = entity_of(head)
    crawl.entity_name = crawl.entity_name or name
    crawl.entity_type = crawl.entity_type or kind
    count = 0
    for structure in guarded_items(body, "reporting_structure.item"):
        crawl.add_structure(structure)
        count += 1
    return count


def uhc_blobs(stream: ByteStream, url: str, limits: Limits) -> Iterator[dict[str, object]]:
    """The blobs of UnitedHealthcare's listing, one at a time."""
    body, _ = json_body(stream, url, limits)
    for blob in guarded_items(body, "blobs.item"):
        if isinstance(blob, dict) and isinstance(blob.get("name"), str):
            yield blob


def metadata_toc_urls(stream: ByteStream, url: str, limits: Limits, pattern: str) -> list[str]:
    """Every string in a metadata listing naming a table of contents (`pattern` on its file name), absolute."""
    import ijson

    body, _ = json_body(stream, url, limits, opens=(b"{", b"["))
    wanted = re.compile(pattern, re.I)
    found = []
    for _, event, value in ijson.parse(body):
        if event == "string" and wanted.search(file_name(value)):
            found.append(urljoin(url, value))
    return found


def azure_blobs(stream: ByteStream) -> tuple[list[tuple[str, str | None, int | None]], str | None]:
    """An Azure List Blobs page: [(name, etag, size)] and its NextMarker (None on the last page)."""
    blobs = []
    marker = None
    try:
        for _, elem in ElementTree.iterparse(io.BufferedReader(stream, READ_SIZE), events=("end",)):  # type: ignore[arg-type]
            if elem.tag == "Blob":
                size = elem.findtext("Properties/Content-Length")
                blobs.append(
                    (
                        elem.findtext("Name") or "",
                        elem.findtext("Properties/Etag"),
                        int(size) if size and size.isdigit() else None,
                    )
                )
                elem.clear()
            elif elem.tag == "NextMarker":
                marker = (elem.text or "").strip() or None
    except ElementTree.ParseError as exc:
        raise IndexContentError(f"{stream.url}: not an Azure blob listing (XML): {exc}") from exc
    return blobs, marker


def newest(urls: list[str]) -> str | None:
    """The URL whose file name carries the latest date prefix (the last listed among equals)."""
    dated = sorted(((_date_in(u) or "", i, u) for i, u in enumerate(urls)))
    return dated[-1][2] if dated else None


# --- the step ----------------------------------------------------------------------------------------------------
@dataclass
class _Asked:
    """One index asked: its manifest fields so far."""

    url: str  # as recorded (a signed URL without its query)
    key: str
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_length: int | None = None
    bytes_received: int | None = None
    sha256: str | None = None
    final_url: str | None = None


class _NotModified(Exception):
    """The payer's gate index answered 304: nothing to read."""


def crawl_indexes(
    context: FetchContext, *, today: dt.date | None = None, rows: list[PayerIndex] | None = None
) -> list[ManifestRow]:
    """Every payer of raw/reference/payer_indexes.csv (or `rows`): manifest rows, one per index asked."""
    today = today or dt.datetime.now(dt.UTC).date()
    rows = read_payer_indexes(context.settings) if rows is None else rows
    pasted = operator_urls(context.settings.tic_signed_urls)
    out: list[ManifestRow] = []
    for row in rows:
        out += crawl_payer(context, row, today, pasted.get(row.payer))
    return out


def crawl_payer(context: FetchContext, row: PayerIndex, today: dt.date, pasted: str | None = None) -> list[ManifestRow]:
    """One payer: read its index(es), dedupe, filter, land the compact ToC and the plan."""
    limits = Limits.of(context.settings)
    crawl = Crawl()
    asked: list[_Asked] = []
    kind = "toc_json" if pasted else row.index_kind
    first_url = pasted or row.index_url or ""

    def manifest_row(a: _Asked, outcome: str, message: str = "", **extra: object) -> ManifestRow:
        return ManifestRow(
            context.fetch_id, SOURCE, a.key, extra.pop("release", None), a.url, outcome, final_url=a.final_url,  # type: ignore[arg-type]
            http_status=a.status, etag=a.etag, last_modified=a.last_modified, content_length=a.content_length,
            bytes_received=a.bytes_received, sha256=a.sha256, message=message, **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    if kind == "signed_url_required" and not first_url:
        a = _Asked(f"{SIGNED_URLS_ENV}:{row.payer}", f"tic_index:{row.payer}")
        return [
            manifest_row(
                a,
                "discovered",
                f"{row.payer}: its table of contents is a signed URL that payerbench cannot mint; nothing fetched. "
                f"Open the payer's machine-readable-files page, copy this month's signed ToC URL and set "
                f"{SIGNED_URLS_ENV}='{row.payer}=<the URL>' (or fill index_url in raw/reference/{TABLE}), then "
                "fetch again",
            )  # fmt: skip
        ]
    if context.offline:
        a = _Asked(strip_query(first_url) if pasted else first_url, f"tic_index:{row.payer}")
        return [manifest_row(a, "offline", f"would read the {kind} index {a.url} of {row.payer}")]

    def open_index(url: str, *, conditional: bool, signed: bool = False):  # type: ignore[no-untyped-def]  # noqa: ANN202
        recorded = strip_query(url) if signed else url
        a = _Asked(recorded, f"tic_index:{row.payer}:{file_name(url) or urlsplit(url).netloc}")
        asked.append(a)
        cond = context.conditional(recorded) if conditional else None
        return a, context.fetcher.open_stream(url, conditional=cond)

    def finish(a: _Asked, stream: ByteStream) -> None:
        a.status, a.etag, a.last_modified = stream.status, stream.etag, stream.last_modified
        a.content_length, a.bytes_received, a.final_url = stream.content_length, stream.received, stream.final_url
        a.sha256 = stream.sha256 if stream.status != 304 else None
        if a.final_url and (pasted or "signature=" in a.final_url.lower()):
            a.final_url = strip_query(a.final_url)

    date = ""
    try:
        if kind == "toc_json":
            candidates = (
                [(pasted, _date_in(pasted) or "")] if pasted else month_urls(first_url, row.publication_day, today)
            )
            for i, (url, url_date) in enumerate(candidates):
                a, opening = open_index(url, conditional=True, signed=bool(pasted))
                try:
                    with opening as stream:
                        if stream.status == 304:
                            finish(a, stream)
                            raise _NotModified
                        read_toc(stream, url, limits, crawl)
                        finish(a, stream)
                    date = url_date or _header_date(a.last_modified, today)
                    break
                except FetchError as exc:
                    if exc.status == 404 and i + 1 < len(candidates):
                        a.status = 404
                        continue  # this month's is not out yet: the previous month's
                    raise
        elif kind == "uhc_blob_listing":
            a, opening = open_index(first_url, conditional=True)
            tocs: list[str] = []
            pattern = re.compile(row.index_name_pattern or r"_index\.json$", re.I)
            with opening as stream:
                if stream.status == 304:
                    finish(a, stream)
                    raise _NotModified
                for blob in uhc_blobs(stream, first_url, limits):
                    name = str(blob["name"])
                    link = blob.get("downloadUrl")
                    if pattern.search(name):
                        if isinstance(link, str) and (row.max_indexes is None or len(tocs) < row.max_indexes):
                            tocs.append(urljoin(first_url, link))
                    elif isinstance(blob.get("size"), (int, float)) or str(blob.get("size", "")).isdigit():
                        crawl.sizes[file_name(name)] = int(blob["size"])  # type: ignore[arg-type,call-overload]
                finish(a, stream)
            if not tocs:
                raise NoIndexFound(f"{first_url}: the listing names no blob matching /{pattern.pattern}/")
            date = max((_date_in(u) or "" for u in tocs), default="") or _header_date(a.last_modified, today)
            for url in tocs:
                b, opening = open_index(url, conditional=False)
                with opening as stream:
                    read_toc(stream, url, limits, crawl)
                    finish(b, stream)
        elif kind in ("aetna_metadata", "azure_container_listing"):
            a, opening = open_index(first_url, conditional=True)
            with opening as stream:
                if stream.status == 304:
                    finish(a, stream)
                    raise _NotModified
                if kind == "aetna_metadata":
                    found = metadata_toc_urls(
                        stream, first_url, limits, row.index_name_pattern or r"_index\.json(\.gz)?$"
                    )
                    finish(a, stream)
                else:
                    found = _azure_tocs(context, stream, first_url, row, a, finish, asked)
            toc = newest(found)
            if toc is None:
                raise NoIndexFound(
                    f"{first_url}: no table of contents found in the {kind.replace('_', ' ')}; paste this month's "
                    f"ToC URL in {SIGNED_URLS_ENV} as {row.payer}=<url> and fetch again"
                )
            b, opening = open_index(toc, conditional=False)
            with opening as stream:
                read_toc(stream, toc, limits, crawl)
                finish(b, stream)
            date = _date_in(toc) or _header_date(b.last_modified, today)
        else:
            raise IndexContentError(f"{row.payer}: unknown index_kind {kind!r}")
    except _NotModified:
        return [manifest_row(a, "not_modified", "not modified since the last crawl: nothing read") for a in asked]
    except (
        LicencePage,
        IndexContentError,
        FileRejected,
        EOFError,
        OSError,
        zlib.error,
        ValueError,
        ijson.JSONError,
    ) as exc:
        if isinstance(exc, FetchError) and not isinstance(exc, LicencePage):
            return _failed(asked, manifest_row, str(exc) + _paste_hint(kind, row), exc.status)
        if isinstance(exc, NoIndexFound):
            return _failed(asked, manifest_row, str(exc), None)
        what = _content_problem(exc)
        return [manifest_row(a, "refused", f"{what}; nothing landed") for a in asked] or [
            manifest_row(_Asked(first_url, f"tic_index:{row.payer}"), "refused", f"{what}; nothing landed")
        ]
    except FetchError as exc:
        return _failed(asked, manifest_row, str(exc) + _paste_hint(kind, row), exc.status)

    entity = crawl.entity_name or row.payer
    toc = compact_toc(crawl, entity, crawl.entity_type or "health insurance issuer")
    choices = choose(list(crawl.files.values()), row)
    folder = context.landing_dir(SOURCE, row.payer)
    toc_path, toc_new = _land(folder, f"{date}_{row.payer}_index.json", json.dumps(toc, indent=1).encode("utf-8"))
    plan_path, plan_new = _land(folder, f"{date}_plan.csv", _plan_bytes(plan_rows(choices)))
    counts = (
        f"{crawl.listed:,} file listings in {len(asked)} index(es), {len(crawl.files):,} distinct after dedupe, "
        f"{len(choices):,} chosen by the filter (plan: {context.relative(plan_path)})"
    )
    outcome = "downloaded" if toc_new or plan_new else "unchanged"
    message = counts if outcome == "downloaded" else f"the same index content already landed: {counts}"
    landed = context.relative(toc_path)
    rows_out = []
    told = False
    for a in asked:
        if a.status == 404:
            rows_out.append(manifest_row(a, "failed", "not out yet (404): the previous month's index was read"))
            continue
        rows_out.append(
            manifest_row(
                a, outcome, f"read for {row.payer} ({landed})" if told else message, landed_path=landed, release=date
            )  # fmt: skip
        )
        told = True
    context.say(f"tic {row.payer}: {counts}")
    return rows_out


def _azure_tocs(context, stream, first_url, row, a, finish, asked) -> list[str]:  # type: ignore[no-untyped-def]
    """The ToC URLs of an Azure container listing (NextMarker pages followed)."""
    pattern = re.compile(row.index_name_pattern or r"_index\.json$", re.I)
    base = strip_query(first_url).rstrip("/")
    found = []
    blobs, marker = azure_blobs(stream)
    finish(a, stream)
    pages = 1
    while True:
        found += [f"{base}/{name}" for name, _, _ in blobs if pattern.search(name)]
        if not marker or pages >= MAX_LISTING_PAGES:
            return found
        page_url = f"{first_url}&marker={marker}"
        b = _Asked(page_url, f"tic_index:{row.payer}:listing-page-{pages + 1}")
        asked.append(b)
        with context.fetcher.open_stream(page_url) as page:
            blobs, marker = azure_blobs(page)
            finish(b, page)
        pages += 1


def _failed(asked, manifest_row, message: str, status: int | None) -> list[ManifestRow]:  # type: ignore[no-untyped-def]
    if not asked:
        return []
    rows = [manifest_row(a, "failed", f"{message}; nothing landed") for a in asked]
    rows[-1].http_status = rows[-1].http_status or status
    return rows


def _paste_hint(kind: str, row: PayerIndex) -> str:
    """What the operator does when a payer's listing refuses anonymous reads (a 403 from Azure, bot protection)."""
    if kind not in LISTING_KINDS:
        return ""
    return (
        f"; if it stays refused, paste this month's ToC URL in {SIGNED_URLS_ENV} as {row.payer}=<url> and fetch again"
    )


def _content_problem(exc: BaseException) -> str:
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        return f"a truncated or corrupt gzip index ({type(exc).__name__}: {exc})"
    if isinstance(exc, ijson.JSONError):
        return f"not valid JSON ({exc})"
    return str(exc)


def _header_date(last_modified: str | None, today: dt.date) -> str:
    if last_modified:
        try:
            return email.utils.parsedate_to_datetime(last_modified).astimezone(dt.UTC).date().isoformat()
        except (TypeError, ValueError):
            pass
    return today.isoformat()
