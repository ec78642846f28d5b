"""Hospital price-transparency files found through each watched hospital's `cms-hpt.txt`.

The hospitals watched are a reference table a person edits (raw/reference/hospitals.csv, `ref__hospital`:
name, state, web root). For each web root the step asks `https://<root>/cms-hpt.txt`, then
`https://www.<root>/cms-hpt.txt` when the first does not answer with the text (acquisition.md section 8: some
sites serve it only on www), each with a conditional GET (the ETag / Last-Modified of its last answer). The
text is parsed (flows/sources/hospital_hpt.py) and every listed mrf-url that is an absolute https URL is
fetched once per run, however many locations list it: conditional GET, a size cap, a content check (CSV or
JSON, never an HTML page), landing AS DOWNLOADED at

    raw/hospital_mrf/fetched/<root>/<file name of the mrf-url>        (a second URL with the same name at one
                                                                       root: <stem>-<sha12 of the URL><suffix>)
    raw/hospital_mrf/fetched/<root>/cms-hpt.csv                        the entries, one row per block + finding
    raw/hospital_mrf/fetched/<root>/.cms-hpt.txt                       the text as last fetched (hidden: never
                                                                       loaded; re-read when the server says 304)

where the `hospital_mrf` adapter loads them (a newer file of a URL replaces the older one at the same path; the
lake keeps every load). The same bytes as the last landing land nothing (`unchanged`); a 304 downloads nothing
(`not_modified`). The entries file is rewritten only when what it says changes (fetched_at aside), so a run
with nothing new upstream lands nothing. Bad contents (HTML, missing keys, relative or non-https URLs, an MRF
that fails) are findings in the entries file and manifest rows, never exceptions: the step goes on with the
next entry and the next hospital.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import pandas as pd

from flows.errors import ConfigurationError
from flows.fetch.http import FetchError, LicencePage
from flows.fetch.manifest import ManifestRow, download_fields
from flows.sources.hospital_hpt import ENTRIES_FILE, ENTRY_COLUMNS, HptBlock, looks_like_html, parse_cms_hpt
from schemas.hospital_hpt import FINDINGS
from schemas.reference import Hospital

if TYPE_CHECKING:
    from flows.fetch.run import FetchContext

SOURCE = "hospital_mrf"
STEP = "hospital_cms_hpt"
HOSPITALS_FILE = "hospitals.csv"  # raw/reference/hospitals.csv
TXT_NAME = "cms-hpt.txt"
TXT_COPY = ".cms-hpt.txt"  # the text as last fetched, beside the entries (hidden: ingest never lists it)
TXT_LIMIT = 1000**2  # a cms-hpt.txt is a few KB; a MB is an HTML site or worse
MAX_MRF = 10 * 1000**3  # hospital MRFs run to a few GB (large systems' JSON); above this, raise the cap knowingly
DATA_SUFFIXES = {".json": "json"}  # anything else is checked as CSV-or-not-HTML; zips are refused after download

DISCOVERY = (
    "Each hospital web root in raw/reference/hospitals.csv: https://<root>/cms-hpt.txt (then https://www.<root>/"
    "cms-hpt.txt), CMS's required index of a hospital's machine-readable files (one block per location: "
    "location-name, source-page-url, mrf-url, contact-name, contact-email); every https mrf-url is fetched "
    "once with a conditional GET and lands under raw/hospital_mrf/fetched/<root>/, with the entries and their "
    "findings in cms-hpt.csv (dataset hospital__hpt_entry)."
)
HOME = "https://github.com/CMSgov/hpt-tool/blob/main/txt-generator/README.md"
EVERY = "monthly (the 15th): one conditional GET per hospital's cms-hpt.txt and per listed mrf-url"


@dataclass(frozen=True)
class WatchedHospital:
    name: str
    state: str
    root: str


@dataclass
class _Txt:
    """What asking a hospital's cms-hpt.txt gave: the text (fetched or kept), the URL that answered, findings."""

    url: str | None = None
    text: str | None = None
    finding: tuple[str, str] | None = None


def hospitals(context: FetchContext) -> list[WatchedHospital]:
    """The watched hospitals (raw/reference/hospitals.csv), validated by the reference table's schema."""
    import pandera.errors

    path = context.settings.source_dir("reference") / HOSPITALS_FILE
    if not path.exists():
        return []
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
    if "web_root" in frame:
        frame["web_root"] = frame["web_root"].str.strip().str.lower()
    try:
        valid = Hospital.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases[["column", "check", "failure_case"]].head(5).to_dict("records")
        raise ConfigurationError(
            f"{path}: {len(exc.failure_cases)} problem(s) in the hospitals table, e.g. {cases}; fix the rows "
            "(web_root is a bare host name such as examplehealth.org, state a two-letter code)"
        ) from exc
    return [WatchedHospital(r.hospital_name, r.state_abbrev, r.web_root) for r in valid.itertuples()]


def fetch_hospital_files(context: FetchContext) -> list[ManifestRow]:
    """Every watched hospital's cms-hpt.txt and the files it lists: manifest rows; entries in cms-hpt.csv."""
    rows: list[ManifestRow] = []
    seen: dict[str, tuple[str | None, str | None]] = {}  # mrf-url -> (landed path, finding) this run
    watched = hospitals(context)
    if not watched:
        context.say(f"hospital_mrf: no hospitals in raw/reference/{HOSPITALS_FILE}: nothing to fetch")
    for hospital in watched:
        rows += _fetch_hospital(context, hospital, seen)
    return rows


def txt_urls(root: str) -> list[str]:
    """Where a web root's cms-hpt.txt is looked for, in order."""
    urls = [f"https://{root}/{TXT_NAME}"]
    if not root.startswith("www."):
        urls.append(f"https://www.{root}/{TXT_NAME}")
    return urls


def _row(context: FetchContext, key: str, url: str, outcome: str, **fields: object) -> ManifestRow:
    return ManifestRow(context.fetch_id, SOURCE, f"{STEP}:{key}", fields.pop("release", None), url, outcome,
                       **fields)  # type: ignore[arg-type]  # fmt: skip


def _fetch_hospital(
    context: FetchContext, hospital: WatchedHospital, seen: dict[str, tuple[str | None, str | None]]
) -> list[ManifestRow]:
    folder = context.landing_dir(SOURCE, hospital.root)
    rows: list[ManifestRow] = []
    if context.offline:
        return [_row(context, f"{hospital.root}:{TXT_NAME}", url, "offline", message=f"would GET {url}")
                for url in txt_urls(hospital.root)]  # fmt: skip
    txt = _fetch_txt(context, hospital, folder, rows)
    blocks = parse_cms_hpt(txt.text) if txt.text is not None else []
    if txt.text is not None and not blocks:
        txt.finding = ("cms_hpt_empty", f"{txt.url}: {FINDINGS['cms_hpt_empty']}")
    for block in blocks:
        url = block.mrf_url
        if url is None or not block.fetchable:
            continue
        if url not in seen:
            seen[url] = _fetch_mrf(context, hospital, folder, url, rows)
        landed, finding = seen[url]
        block.values["_mrf_file"] = landed or ""
        if finding:
            block.findings.append((finding.split(":", 1)[0], finding.split(":", 1)[1].strip()))
    entries = _entries(hospital, txt, blocks)
    written = _write_entries(folder / ENTRIES_FILE, entries)
    if written:
        findings = sum(1 for e in entries if e["finding"])
        rows.append(_row(context, f"{hospital.root}:entries", txt.url or txt_urls(hospital.root)[0], "downloaded",
                         landed_path=context.relative(written), release=None,
                         message=f"{len(entries)} cms-hpt.txt entr{'y' if len(entries) == 1 else 'ies'} recorded "
                         f"({findings} with a finding) for {hospital.name}"))  # fmt: skip
    short = ", ".join(sorted({e["finding"] for e in entries if e["finding"]})) or "no findings"
    context.say(f"hospital_mrf: {hospital.root}: {len(blocks)} entr{'y' if len(blocks) == 1 else 'ies'}, {short}")
    return rows


def _fetch_txt(context: FetchContext, hospital: WatchedHospital, folder: Path, rows: list[ManifestRow]) -> _Txt:
    """The root's cms-hpt.txt, trying the www host when the bare one does not answer with text."""
    key = f"{hospital.root}:{TXT_NAME}"
    copy = folder / TXT_COPY
    problems: list[tuple[str, str]] = []
    for url in txt_urls(hospital.root):
        try:
            page = context.fetcher.get(url, conditional=context.conditional(url) if copy.exists() else None,
                                       max_bytes=TXT_LIMIT)  # fmt: skip
        except FetchError as exc:
            rows.append(_row(context, key, url, "failed", http_status=exc.status, message=str(exc)))
            problems.append(("cms_hpt_unreachable", str(exc)))
            continue
        fields = {
            "final_url": page.final_url, "http_status": page.status, "etag": page.headers.get("etag"),
            "last_modified": page.headers.get("last-modified"), "bytes_received": len(page.content),
        }  # fmt: skip
        if page.status == 304:
            rows.append(_row(context, key, url, "not_modified", **fields, message="not modified since the last fetch"))
            return _Txt(url, copy.read_text(encoding="utf-8", errors="replace"))
        if looks_like_html(page.content, page.headers.get("content-type")):
            message = f"{url}: {FINDINGS['cms_hpt_is_html']} (a soft 404, a bot challenge or the home page)"
            rows.append(_row(context, key, url, "refused", **fields, message=message))
            problems.append(("cms_hpt_is_html", message))
            continue
        sha = hashlib.sha256(page.content).hexdigest()
        fields["sha256"] = sha
        unchanged = copy.exists() and hashlib.sha256(copy.read_bytes()).hexdigest() == sha
        if not unchanged:
            folder.mkdir(parents=True, exist_ok=True)
            scratch = folder / f"{TXT_COPY}.part"
            scratch.write_bytes(page.content)
            os.replace(scratch, copy)
        rows.append(_row(context, key, url, "unchanged" if unchanged else "downloaded", **fields,
                         message="same text as the last fetch" if unchanged else "cms-hpt.txt read"))  # fmt: skip
        return _Txt(url, page.content.decode("utf-8", errors="replace"))
    # neither answered with text: HTML is the more telling finding; a copy from an earlier run is not reused
    html = [p for p in problems if p[0] == "cms_hpt_is_html"]
    finding, detail = (html or problems)[0]
    urls = " or ".join(txt_urls(hospital.root))
    return _Txt(None, None, (finding, f"{detail} (asked {urls}); check the hospital's web root in {HOSPITALS_FILE}"))


def mrf_name(url: str) -> str:
    """The landed file's name: the URL path's last segment, made safe (a name-less URL: mrf-<sha12>)."""
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")[:150]
    return name or f"mrf-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _dest(context: FetchContext, folder: Path, url: str) -> Path:
    """Where `url` lands: its name, unless another URL landed under that name at this root already."""
    dest = folder / mrf_name(url)
    relative = context.relative(dest) if dest.exists() else None
    others = {r.url for r in context.manifest.rows if relative and r.landed_path == relative}
    if relative and others - {url}:
        stem, suffix = os.path.splitext(dest.name)
        dest = dest.with_name(f"{stem}-{hashlib.sha256(url.encode()).hexdigest()[:12]}{suffix}")
    return dest


def _fetch_mrf(
    context: FetchContext, hospital: WatchedHospital, folder: Path, url: str, rows: list[ManifestRow]
) -> tuple[str | None, str | None]:
    """One listed file: (where it sits, relative to raw/, or None; 'finding: detail' or None)."""
    key = f"mrf:{url}"
    last = context.manifest.last_landed(f"{STEP}:{key}")
    dest = _dest(context, folder, url)
    scratch = folder / f".{dest.name}.download"
    expect = DATA_SUFFIXES.get(PurePosixPath(urlsplit(url).path).suffix.lower(), "csv")
    conditional = context.conditional(url) if last is not None and dest.exists() else None
    try:
        try:
            got = context.fetcher.download(url, scratch, expect=expect, max_bytes=MAX_MRF, conditional=conditional)
        except LicencePage as exc:
            rows.append(_row(context, key, url, "refused", http_status=exc.status, message=str(exc)))
            return None, f"mrf_not_data: {exc}"
        except FetchError as exc:
            too_big = "cap of" in exc.problem
            rows.append(_row(context, key, url, "refused" if too_big else "failed", http_status=exc.status,
                             message=str(exc)))  # fmt: skip
            return (last.landed_path if last else None), f"{'mrf_too_large' if too_big else 'mrf_unreachable'}: {exc}"
        fields = download_fields(got)
        if got.status == 304 or got.path is None:
            rows.append(_row(context, key, url, "not_modified", **fields, landed_path=last.landed_path if last else None,
                             message="not modified since the last fetch"))  # fmt: skip
            return (last.landed_path if last else context.relative(dest)), None
        with scratch.open("rb") as handle:
            head = handle.read(4)
        if head.startswith((b"PK\x03\x04", b"\x1f\x8b")):
            message = (f"{url}: a zip or gzip archive; the hospital_mrf adapter reads uncompressed CSV or JSON: "
                       "unpack it by hand into raw/hospital_mrf/, nothing landed")  # fmt: skip
            rows.append(_row(context, key, url, "refused", **fields, message=message))
            return None, f"mrf_not_data: {message}"
        if last is not None and last.sha256 == got.sha256 and dest.exists():
            rows.append(_row(context, key, url, "unchanged", **fields, landed_path=last.landed_path,
                             message=f"same sha256 as the file landed at {last.landed_path}: nothing landed"))  # fmt: skip
            return last.landed_path, None
        os.replace(scratch, dest)
        relative = context.relative(dest)
        rows.append(_row(context, key, url, "downloaded", **fields, landed_path=relative,
                         message=f"{hospital.name}: hospital file landed"))  # fmt: skip
        return relative, None
    finally:
        scratch.unlink(missing_ok=True)


def _entries(hospital: WatchedHospital, txt: _Txt, blocks: list[HptBlock]) -> list[dict[str, object]]:
    """The rows of cms-hpt.csv: one per block, or one row about the file when it could not be read."""
    base = {"hospital_name": hospital.name, "state_abbrev": hospital.state, "web_root": hospital.root,
            "txt_url": txt.url}  # fmt: skip
    if txt.finding is not None:
        finding, detail = txt.finding
        return [dict.fromkeys(ENTRY_COLUMNS) | base | {"entry": 0, "finding": finding, "finding_detail": detail}]
    out = []
    for block in blocks:
        v = block.values
        out.append(dict.fromkeys(ENTRY_COLUMNS) | base | {
            "entry": block.number, "txt_line": block.line, "location_name": v.get("location-name"),
            "source_page_url": v.get("source-page-url"), "mrf_url": v.get("mrf-url"),
            "contact_name": v.get("contact-name"), "contact_email": v.get("contact-email"),
            "mrf_file": v.get("_mrf_file") or None,
            "finding": block.findings[0][0] if block.findings else None,
            "finding_detail": "; ".join(d for _, d in block.findings) or None,
        })  # fmt: skip
    return out


def _write_entries(path: Path, entries: list[dict[str, object]]) -> Path | None:
    """Write cms-hpt.csv when what it says changed (fetched_at aside); the path written, or None."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def render(rows: list[dict[str, object]]) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, ENTRY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in ENTRY_COLUMNS})
        return out.getvalue()

    if path.exists():
        with path.open(encoding="utf-8", newline="") as handle:
            old = [{k: v for k, v in r.items() if k != "fetched_at"} for r in csv.DictReader(handle)]
        new = list(csv.DictReader(io.StringIO(render(entries))))
        if old == [{k: v for k, v in r.items() if k != "fetched_at"} for r in new]:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.part")
    scratch.write_text(render([e | {"fetched_at": now} for e in entries]), encoding="utf-8")
    os.replace(scratch, path)
    return path
