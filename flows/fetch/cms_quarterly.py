"""CMS's quarterly payment files: the PFS relative value zip (PPRRVU, GPCI, LOCCO, OPPSCAP), the ASC
Addenda AA/FF and OPPS Addendum B, fetched the way a person would: landing page -> release page -> the
zip it links -> the members the adapters read, landed under names that keep the release.

CMS's zip names are not predictable (`rvu25a-updated-01/10/2025.zip`, `rvu24ar.zip`,
`cy-2026-april-opps-addendum-b.zip`): every zip URL is taken from a link on a CMS page, matched by
pattern, never built from a template. Links through the AMA licence interstitial
(`/license/ama?file=/files/zip/<slug>.zip`, older `/apps/ama/license.asp?file=...`) are followed to the
file they name; downloading it needs the operator's acknowledgement of CMS's AMA CPT licence
(`Settings.accept_cms_license`), recorded in every manifest row.

Which releases: RELEASE_WINDOW. Per release the manifest gets one row for the zip (logical key
`<step>:<release>`, e.g. `cms_pfs_rvu_zip:RVU26A`) and one per member landed (`<step>:<release>:<member>`,
the member's own source and sha256). A release whose zip URL is unchanged is asked with the previous
answer's validators (304: `not_modified`); a zip with a sha256 seen before is `unchanged` and lands
nothing; a new sha256 for a release already landed is CMS re-cutting it: `reissued`, landed beside the
first version in `<release folder>-reissued-<yyyymmdd>/` (a name the adapters still read as the same
release; the warehouse's staging keeps the latest load per release).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from flows.fetch.archive import UnsafeArchive, ZipEntry, check_zip, extract_member
from flows.fetch.http import FetchError, LicencePage
from flows.fetch.manifest import ManifestRow, download_fields
from flows.sources import (
    cms_asc_addenda,
    cms_opps_addendum_b,
    cms_opps_cap,
    cms_pfs_gpci,
    cms_pfs_locality,
    cms_pfs_rvu,
)
from flows.sources.cms_common import MONTH_WORD, MONTHS, month_year_in

if TYPE_CHECKING:
    from flows.fetch.run import FetchContext

PFS_LANDING = "https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files"
ASC_LANDING = (
    "https://www.cms.gov/medicare/payment/prospective-payment-systems/ambulatory-surgical-center-asc/"
    "asc-payment-rates-addenda"
)
OPPS_LANDING = (
    "https://www.cms.gov/medicare/payment/prospective-payment-systems/hospital-outpatient-pps/quarterly-addenda-updates"
)
RELEASE_WINDOW = (
    "the releases of the current and the previous calendar year that the landing page lists "
    "(so year-over-year comparisons have both years)"
)
WINDOW_YEARS = 2  # RELEASE_WINDOW: this year and the year before
PFS_DISCOVERY = (
    f"{PFS_LANDING}: each `rvu<YY><a-d>` release page of the current and the previous calendar year (PAYERBENCH_FETCH_YEARS) is read, and "
    "the `.zip` it links (AMA licence prefix stripped) is opened for PPRRVU (CSV, else TXT, both QPP and non-QPP), "
    "GPCI, LOCCO and OPPSCAP, which land in `raw/<source>/fetched/RVU<YY><A-D>/`"
)
ASC_DISCOVERY = (
    f"{ASC_LANDING}: each quarter zip of the current and the previous calendar year (PAYERBENCH_FETCH_YEARS) is found by the month and year "
    "in its link, and the CSV members the adapter recognises as Addendum AA or FF land in "
    "`raw/cms_asc_addenda/fetched/<YYYYMM01>/`"
)
OPPS_DISCOVERY = (
    f"{OPPS_LANDING}: each `<month>-<yyyy>-addendum-b` page of the current and the previous calendar year (PAYERBENCH_FETCH_YEARS) is read, "
    "and the Addendum B member (CSV, else XLSX) of the zip it links lands in "
    "`raw/cms_opps_addendum_b/fetched/<YYYYMM01>/` under a name carrying the release's month and year"
)
EVERY = (
    "on the 1st and 15th of each quarter's first month (the deployment): the landing page and release pages; a "
    "zip already landed is asked again only under its known link, conditionally"
)
LICENCE_URL = "https://www.cms.gov/license/ama"
LICENCE_MESSAGE = (
    f"CMS's AMA CPT licence is not acknowledged: read {LICENCE_URL}, then accept it with "
    "PAYERBENCH_ACCEPT_CMS_LICENSE=yes or --accept-cms-license; nothing downloaded"
)
ZIP_LIMIT = 500 * 1000**2  # a quarterly zip (RVU zips are ~10-30 MB)
UNPACKED_LIMIT = 2 * 1000**3  # everything inside it
MEMBER_LIMIT = 1000**3  # one member landed
ZIP_MAGIC = b"PK\x03\x04"
DOWNLOADS = ".downloads"  # raw/<source>/fetched/.downloads/: the zip while its members land (hidden: never read)
AGREEMENT = "agree=yes&next=Accept"
"""What CMS's AMA licence form submits: public downloaders append it to a zip's URL when the plain URL answers with
the licence page (acquisition notes, section 0.2). Asked only after the operator accepted the licence."""


def agreed(url: str) -> str:
    """The zip's URL with the licence form's answer appended (`?agree=yes&next=Accept`)."""
    return url + ("&" if "?" in url else "?") + AGREEMENT


LICENCE_PATHS = ("/license/ama", "/apps/ama/license.asp")
MONTH_NAMES = [
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


# --- pages --------------------------------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._flush()
            self._href = next((v for k, v in attrs if k == "href" and v), None)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._flush()

    def _flush(self) -> None:
        if self._href is not None:
            self.links.append((self._href.strip(), " ".join("".join(self._text).split())))
        self._href = None

    def close(self) -> None:
        super().close()
        self._flush()


def links(html: str, base: str) -> list[tuple[str, str]]:
    """Every <a href> of a page as (absolute URL, link text), in page order."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    return [(urljoin(base, href), text) for href, text in parser.links if not href.startswith(("#", "mailto:"))]


def strip_licence(url: str) -> str:
    """`https://www.cms.gov/license/ama?file=/files/zip/x.zip` (or the older `/apps/ama/license.asp?file=`)
    -> `https://www.cms.gov/files/zip/x.zip`; any other URL unchanged."""
    parts = urlsplit(url)
    if parts.path.rstrip("/").lower().endswith(LICENCE_PATHS):
        target = parse_qs(parts.query).get("file")
        if target:
            return urljoin(url, unquote(target[0]))
    return url


def zip_slug(url: str) -> str:
    """What follows /files/zip/ (or the last path segment), unquoted: `rvu25a-updated-01/10/2025.zip`."""
    path = unquote(urlsplit(url).path)
    return path.split("/files/zip/", 1)[1] if "/files/zip/" in path else path.rsplit("/", 1)[-1]


def is_zip(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".zip")


def month_year(text: str) -> tuple[int, int] | None:
    """(year, month) from a slug or link text: 'january-2025-...', 'march-9-2024-...', 'cy-2026-april-...'."""
    text = unquote(text).replace("_", " ")
    found = re.search(rf"(?i)(?<![a-z])({MONTH_WORD})[\s,-]+(?:(\d{{1,2}})[\s,-]+)?((?:19|20)\d\d)(?!\d)", text)
    if found:
        return int(found.group(3)), MONTHS[found.group(1).lower()]
    found = re.search(rf"(?i)(?<!\d)((?:19|20)\d\d)[\s,-]+({MONTH_WORD})(?![a-z])", text)
    if found:
        return int(found.group(1)), MONTHS[found.group(2).lower()]
    return None


def _slug_date(slug: str) -> dt.date | None:
    """The date a re-posted zip's name carries: 'updated-01/10/2025', '-03-10-2026', '01312020', 'march-9-2024'."""
    for pattern in (  # month, day, year
        r"(?<!\d)(\d{1,2})[/-](\d{1,2})[/-]((?:19|20)\d\d)(?!\d)",
        r"(?i)updated-?(\d{2})(\d{2})((?:19|20)\d\d)(?!\d)",
    ):
        found = re.search(pattern, slug)
        if found:
            try:
                return dt.date(int(found.group(3)), int(found.group(1)), int(found.group(2)))
            except ValueError:
                continue
    found = re.search(rf"(?i)(?<![a-z])({MONTH_WORD})[\s-]+(\d{{1,2}})[\s-]+((?:19|20)\d\d)(?!\d)", slug)
    if found:
        try:
            return dt.date(int(found.group(3)), MONTHS[found.group(1).lower()], int(found.group(2)))
        except ValueError:
            return None
    return None


def newest(urls: list[str]) -> str:
    """Of several zips one page links for one release, the re-post: the latest date in its name, else the
    longest name (a suffix such as `r` or `-0` marks a re-post), else the first listed."""
    ranked = sorted(
        enumerate(urls),
        key=lambda item: (_slug_date(zip_slug(item[1])) or dt.date.min, len(zip_slug(item[1])), -item[0]),
    )
    return ranked[-1][1]


# --- releases -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Offer:
    """One release a landing page lists, and the zip it links."""

    label: str  # manifest `release`: "RVU26A", "2026-01"
    folder: str  # landed under raw/<source>/fetched/<folder>/: "RVU26A", "20260101"
    year: int
    url: str | None  # the zip (origin form, licence prefix stripped); None when its page failed
    page: str  # the page it was found on
    note: str = ""  # other zips the page linked for the release (superseded)
    error: FetchError | None = None  # the release page could not be read


@dataclass(frozen=True)
class Candidate:
    """A zip member one adapter reads, and where it lands."""

    member: str  # name in the zip
    source: str
    name: str  # landed file name
    detect: Callable[[Path], bool]
    required: bool = True  # False: dropped silently when `detect` says it is not this source's (ASC's BB, EE)


class NothingToLand(Exception):
    """The zip holds no member an adapter reads (the message says what it holds)."""


@dataclass(frozen=True)
class Step:
    key: str  # "cms_pfs_rvu_zip"
    source: str  # the source the zip row is recorded for
    landing: str
    discover: Callable[[FetchContext, dt.date], list[Offer]]
    pick: Callable[[Offer, list[ZipEntry]], list[Candidate]]
    would: str  # offline: what would have been asked


def in_window(year: int, today: dt.date, years: int = WINDOW_YEARS) -> bool:
    """RELEASE_WINDOW: the current and the previous calendar year (`years` calendar years back to this one:
    PAYERBENCH_FETCH_YEARS, e.g. 5 to backfill five years)."""
    return today.year - years < year <= today.year


def _page_links(context: FetchContext, url: str) -> list[tuple[str, str]]:
    page = context.fetcher.get(url)
    return links(page.text, page.final_url or url)


def _discover_pfs(context: FetchContext, today: dt.date) -> list[Offer]:
    releases: dict[str, str] = {}
    for url, _ in _page_links(context, PFS_LANDING):
        found = re.search(r"(?i)/pfs-relative-value-files/(rvu(\d{2})([a-d]))(?:-[^/]*)?/?$", urlsplit(url).path)
        if found and found.group(1).upper() not in releases:
            releases[found.group(1).upper()] = url
    offers = []
    for label, page in releases.items():
        year = 2000 + int(label[3:5])
        if not in_window(year, today, context.settings.fetch_years):
            continue
        try:
            zips = [z for u, _ in _page_links(context, page) if is_zip(z := strip_licence(u))]
        except FetchError as exc:
            offers.append(Offer(label, label, year, None, page, error=exc))
            continue
        named = [z for z in zips if label.lower() in zip_slug(z).lower()] or zips
        offers.append(_offer(label, label, year, page, named))
    return offers


def _offer(label: str, folder: str, year: int, page: str, zips: list[str]) -> Offer:
    zips = list(dict.fromkeys(zips))
    if not zips:
        return Offer(label, folder, year, None, page, error=FetchError(page, "no .zip link on the page",
                                                                      "check the page; CMS may have moved the file"))  # fmt: skip
    chosen = newest(zips)
    others = [zip_slug(z) for z in zips if z != chosen]
    note = f"; also linked for {label} (older): {', '.join(others)}" if others else ""
    return Offer(label, folder, year, chosen, page, note)


def _label(year: int, month: int) -> tuple[str, str]:
    """A quarterly release (any month of its quarter): ('2026-01', '20260101')."""
    first = (month - 1) // 3 * 3 + 1
    return f"{year}-{first:02d}", f"{year}{first:02d}01"


def _discover_asc(context: FetchContext, today: dt.date) -> list[Offer]:
    grouped: dict[str, list[str]] = {}
    for url, text in _page_links(context, ASC_LANDING):
        url = strip_licence(url)
        if not is_zip(url):
            continue
        found = month_year(zip_slug(url)) or month_year(text)  # the NPRM/final-rule addenda name no month
        if found and in_window(found[0], today, context.settings.fetch_years):
            grouped.setdefault(_label(*found)[0], []).append(url)
    return [_offer(label, label.replace("-", "") + "01", int(label[:4]), ASC_LANDING, zips)
            for label, zips in grouped.items()]  # fmt: skip


def _discover_opps(context: FetchContext, today: dt.date) -> list[Offer]:
    pages: dict[str, str] = {}
    for url, _ in _page_links(context, OPPS_LANDING):
        found = re.search(rf"(?i)/quarterly-addenda-updates/({MONTH_WORD})-((?:19|20)\d\d)-addendum-b[^/]*/?$",
                          urlsplit(url).path)  # fmt: skip
        if found:
            year, month = int(found.group(2)), MONTHS[found.group(1).lower()]
            pages.setdefault(_label(year, month)[0], url)
    offers = []
    for label, page in pages.items():
        year, folder = int(label[:4]), label.replace("-", "") + "01"
        if not in_window(year, today, context.settings.fetch_years):
            continue
        try:
            zips = [z for u, _ in _page_links(context, page) if is_zip(z := strip_licence(u))]
        except FetchError as exc:
            offers.append(Offer(label, folder, year, None, page, error=exc))
            continue
        named = [z for z in zips if re.search(r"(?i)addendum[\s_-]*b", zip_slug(z))] or zips
        exact = [z for z in named if month_year(zip_slug(z)) in _same_quarter(label)]
        own = exact or [z for z in named if month_year(zip_slug(z)) is None] or named  # a final rule's: last
        offers.append(_offer(label, folder, year, page, own))
    return offers


def _same_quarter(label: str) -> list[tuple[int, int]]:
    year, first = int(label[:4]), int(label[5:])
    return [(year, m) for m in range(first, first + 3)]


# --- members ------------------------------------------------------------------------------------------
PFS_MEMBERS = (  # source, basename pattern, extensions in order of preference, detect
    ("cms_pfs_rvu", r"^pprrvu\d{2,4}.*", ("csv", "txt"), cms_pfs_rvu.detect),
    ("cms_pfs_gpci", r"^gpci\d{4}.*", ("csv",), cms_pfs_gpci.detect),
    ("cms_pfs_locality", r"^\d{2}locco.*", ("csv",), cms_pfs_locality.detect),
    ("cms_opps_cap", r"^oppscap.*", ("csv",), cms_opps_cap.detect),
)


def _files(entries: list[ZipEntry]) -> list[ZipEntry]:
    return [e for e in entries if " > " not in e.chain and not e.name.endswith("/")]


def _base(entry: ZipEntry) -> str:
    return PurePosixPath(entry.name).name


def _pick_pfs(offer: Offer, entries: list[ZipEntry]) -> list[Candidate]:
    picked = []
    files = _files(entries)
    for source, pattern, extensions, detect in PFS_MEMBERS:
        editions: dict[str, dict[str, ZipEntry]] = {}
        for entry in files:
            stem, _, ext = _base(entry).rpartition(".")
            if re.match(pattern, stem, re.IGNORECASE) and ext.lower() in extensions:
                editions.setdefault(stem.lower(), {})[ext.lower()] = entry
        for versions in editions.values():  # e.g. PPRRVU2026_Jan_nonQPP and PPRRVU2026_Jan_QPP: both tracks
            entry = next(versions[ext] for ext in extensions if ext in versions)
            picked.append(Candidate(entry.name, source, _base(entry), detect))
    if not picked:
        raise NothingToLand(f"no PPRRVU, GPCI, LOCCO or OPPSCAP CSV member (members: {_names(files)})")
    return picked


def _pick_asc(offer: Offer, entries: list[ZipEntry]) -> list[Candidate]:
    files = _files(entries)
    csvs = [e for e in files if _base(e).lower().endswith(".csv")]
    if not csvs:
        xlsx = [e for e in files if _base(e).lower().endswith((".xlsx", ".xls"))]
        kind = "only Excel members" if xlsx else "no CSV member"
        raise NothingToLand(
            f"{kind} ({_names(files)}); cms_asc_addenda reads the CSV edition of Addenda AA and FF: nothing landed "
            f"(save the AA and FF sheets as CSV into raw/cms_asc_addenda/{offer.folder}/ by hand)"
        )
    return [Candidate(e.name, "cms_asc_addenda", _base(e), cms_asc_addenda.detect, required=False) for e in csvs]


def _pick_opps(offer: Offer, entries: list[ZipEntry]) -> list[Candidate]:
    files = _files(entries)
    found = [e for e in files if re.search(r"(?i)addendum[\s_-]*b", _base(e))]
    for ext in (".csv", ".xlsx"):  # the CSV edition reads faster; both carry the same rows
        editions = sorted((e for e in found if _base(e).lower().endswith(ext)), key=lambda e: (len(e.name), e.name))
        if editions:
            entry = editions[0]
            name = _base(entry)
            year, month = int(offer.label[:4]), int(offer.label[5:])
            if month_year_in(PurePosixPath(name).stem) is None:
                name = f"{year}_{MONTH_NAMES[month]}_{name}"  # the CSV's release month is read from its name
            return [Candidate(entry.name, "cms_opps_addendum_b", name, cms_opps_addendum_b.detect)]
    raise NothingToLand(f"no Addendum B .csv or .xlsx member ({_names(files)})")


def _names(entries: Iterable[ZipEntry]) -> str:
    names = [_base(e) for e in entries]
    return ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "") or "empty"


# --- the steps ----------------------------------------------------------------------------------------
PFS = Step(
    "cms_pfs_rvu_zip", "cms_pfs_rvu", PFS_LANDING, _discover_pfs, _pick_pfs,
    "the PFS relative value files page and its rvu<YY><a-d> release pages",
)  # fmt: skip
ASC = Step(
    "cms_asc_addenda_zip", "cms_asc_addenda", ASC_LANDING, _discover_asc, _pick_asc,
    "the ASC payment rates addenda page",
)  # fmt: skip
OPPS = Step(
    "cms_opps_addendum_b_zip", "cms_opps_addendum_b", OPPS_LANDING, _discover_opps, _pick_opps,
    "the OPPS quarterly addenda updates page and its <month>-<yyyy>-addendum-b pages",
)  # fmt: skip


def fetch_pfs_rvu_zip(context: FetchContext, *, today: dt.date | None = None) -> list[ManifestRow]:
    """PFS relative value files: the landing page
    https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files -> each release
    page it links (`.../rvu<YY><a-d>`) -> the `.zip` that page links -> PPRRVU<YYYY>_<Mon>[_nonQPP|_QPP]
    (CSV, else TXT), GPCI<YYYY>.csv, <YY>LOCCO.csv and OPPSCAP_<Mon>.csv, landed in
    raw/<source>/fetched/RVU<YY><A-D>/ (the folder gives OPPSCAP and PPRRVU their release).
    Releases: the current and the previous calendar year that the landing page lists."""
    return _run(context, PFS, today or dt.date.today())


def fetch_asc_addenda(context: FetchContext, *, today: dt.date | None = None) -> list[ManifestRow]:
    """ASC Addenda AA and FF: the landing page
    https://www.cms.gov/medicare/payment/prospective-payment-systems/ambulatory-surgical-center-asc/asc-payment-rates-addenda
    -> the quarter zips it links (release from the month and year in the link) -> the CSV members
    cms_asc_addenda recognises as Addendum AA or FF, landed in raw/cms_asc_addenda/fetched/<YYYYMM01>/.
    A zip with only Excel members is recorded as refused. Releases: the current and the previous
    calendar year that the landing page lists."""
    return _run(context, ASC, today or dt.date.today())


def fetch_opps_addendum_b(context: FetchContext, *, today: dt.date | None = None) -> list[ManifestRow]:
    """OPPS Addendum B: the landing page
    https://www.cms.gov/medicare/payment/prospective-payment-systems/hospital-outpatient-pps/quarterly-addenda-updates
    -> each `<month>-<yyyy>-addendum-b` page -> the Addendum B `.zip` it links -> the Addendum B member
    (CSV, else XLSX) landed in raw/cms_opps_addendum_b/fetched/<YYYYMM01>/ under a name carrying the
    release month and year. Releases: the current and the previous calendar year that the landing page
    lists."""
    return _run(context, OPPS, today or dt.date.today())


@dataclass
class _Rows:
    context: FetchContext
    step: Step
    out: list[ManifestRow] = field(default_factory=list)

    def add(self, source: str, key: str, release: str | None, url: str, outcome: str, **values: object) -> ManifestRow:
        values.setdefault("license_acknowledged", self.context.settings.accept_cms_license)
        row = ManifestRow(self.context.fetch_id, source, key, release, url, outcome, **values)  # type: ignore[arg-type]
        self.out.append(row)
        return row


def _run(context: FetchContext, step: Step, today: dt.date) -> list[ManifestRow]:
    rows = _Rows(context, step)
    if context.offline:
        rows.add(step.source, f"{step.key}:landing", None, step.landing, "offline", license_acknowledged=None,
                 message=f"--offline: would read {step.would} ({step.landing}), then download the zips of "
                 f"{RELEASE_WINDOW} not already landed")  # fmt: skip
        return rows.out
    try:
        offers = step.discover(context, today)
    except FetchError as exc:
        rows.add(step.source, f"{step.key}:landing", None, step.landing, "failed", http_status=exc.status,
                 license_acknowledged=None, message=str(exc))  # fmt: skip
        return rows.out
    if not offers:
        rows.add(step.source, f"{step.key}:landing", None, step.landing, "failed", license_acknowledged=None,
                 message=f"no release of {today.year - context.settings.fetch_years + 1}-{today.year} linked from the page; "
                 "check it (CMS may have changed its layout)")  # fmt: skip
    for offer in offers:
        key = f"{step.key}:{offer.label}"
        if offer.url is None:
            error = offer.error
            rows.add(step.source, key, offer.label, offer.page, "failed",
                     http_status=error.status if error else None, message=str(error))  # fmt: skip
            continue
        if not context.settings.accept_cms_license:
            rows.add(step.source, key, offer.label, offer.url, "licence_required", license_acknowledged=False,
                     message=LICENCE_MESSAGE)  # fmt: skip
            continue
        _fetch_offer(rows, offer, key, today)
    return rows.out


@dataclass(frozen=True)
class _Past:
    landed: ManifestRow | None  # the last zip row whose members landed
    intact: bool  # ... and every member it landed is still there
    good: set[str]  # zip sha256s landed or found unchanged before
    refused: dict[str, str]  # zip sha256 -> why it was refused
    members: dict[str, set[str]]  # source -> sha256s of members landed for this release (still on disk)


def _past(context: FetchContext, key: str) -> _Past:
    rows = [r for r in context.manifest.rows if r.logical_key == key]
    member_rows = [r for r in context.manifest.rows if r.logical_key.startswith(key + ":")]
    landed = next((r for r in reversed(rows) if r.outcome in ("downloaded", "reissued")), None)
    raw = context.settings.raw_dir

    def there(row: ManifestRow) -> bool:
        return bool(row.landed_path) and (raw / str(row.landed_path)).is_file()

    intact = False
    if landed is not None:
        mine = [r for r in member_rows if r.fetch_id == landed.fetch_id and r.outcome in ("downloaded", "reissued")]
        intact = bool(mine) and all(there(r) for r in mine)
    members: dict[str, set[str]] = {}
    for r in member_rows:
        if r.outcome in ("downloaded", "reissued") and r.sha256 and there(r):
            members.setdefault(r.source, set()).add(r.sha256)
    good = {r.sha256 for r in rows if r.sha256 and r.outcome in ("downloaded", "reissued", "unchanged")}
    refused = {r.sha256: r.message for r in rows if r.sha256 and r.outcome == "refused"}
    return _Past(landed if intact else None, intact, good, refused, members)


def _fetch_offer(rows: _Rows, offer: Offer, key: str, today: dt.date) -> None:
    context, step = rows.context, rows.step
    assert offer.url is not None
    past = _past(context, key)
    last_url = next((r.url for r in reversed(context.manifest.rows) if r.logical_key == key and r.sha256), None)
    asked_before = last_url == offer.url and (past.intact or any(past.refused))
    conditional = context.conditional(offer.url) if asked_before else None
    scratch = context.landing_dir(step.source, DOWNLOADS) / f".{context.fetch_id}-{offer.folder}.zip"
    try:
        try:
            got = context.fetcher.download(
                offer.url, scratch, expect="zip", max_bytes=ZIP_LIMIT, conditional=conditional
            )
        except LicencePage as exc:  # the licence is accepted (gated above): answer the click-through as its form does
            try:
                got = context.fetcher.download(agreed(offer.url), scratch, expect="zip", max_bytes=ZIP_LIMIT)
            except FetchError as again:
                rows.add(step.source, key, offer.label, offer.url, "refused", http_status=exc.status,
                         message=f"{exc} (an HTML page, not the zip: CMS's licence or error page; asked again with "
                         f"?{AGREEMENT}: {again.problem}); nothing landed")  # fmt: skip
                return
        except FetchError as exc:
            rows.add(step.source, key, offer.label, offer.url, "failed", http_status=exc.status, message=str(exc))
            return
        http = download_fields(got)
        if got.status == 304:
            why = "unchanged since the last check" if past.intact else "unchanged since it was refused"
            rows.add(step.source, key, offer.label, offer.url, "not_modified", **http,
                     message=f"{offer.label}: {why} (HTTP 304)")  # fmt: skip
            return
        if not _starts_zip(scratch):
            rows.add(step.source, key, offer.label, offer.url, "refused", **{**http, "sha256": None},
                     message=f"{offer.url}: an HTML or other page came back where the zip was expected (CMS's "
                     f"licence or error page); nothing landed")  # fmt: skip
            return
        sha = got.sha256 or ""
        if sha in past.refused:
            rows.add(step.source, key, offer.label, offer.url, "refused", **http,
                     message=f"the same zip as before (sha256 {sha[:12]}), refused then: {past.refused[sha]}")  # fmt: skip
            return
        if past.intact and sha in past.good:
            rows.add(step.source, key, offer.label, offer.url, "unchanged", **http,
                     message=f"{offer.label}: same sha256 as the zip already landed; nothing landed")  # fmt: skip
            return
        try:
            entries = check_zip(scratch, max_bytes=UNPACKED_LIMIT)
            candidates = step.pick(offer, entries)
        except (UnsafeArchive, NothingToLand) as exc:
            rows.add(
                step.source, key, offer.label, offer.url, "refused", **http, message=f"{zip_slug(offer.url)}: {exc}"
            )
            return
        reissue = past.landed is not None and sha not in past.good
        folder = (
            _free_folder(context, candidates, f"{offer.folder}-reissued-{today:%Y%m%d}") if reissue else offer.folder
        )
        start = len(rows.out)
        try:
            members = _land(rows, scratch, offer, key, folder, candidates, past, reissue)
        except UnsafeArchive as exc:  # a member inflating past its declared size: nothing of the zip lands
            del rows.out[start:]
            rows.add(step.source, key, offer.label, offer.url, "refused", **http,
                     message=f"{zip_slug(offer.url)}: {exc}; nothing landed")  # fmt: skip
            return
        zip_row = rows.add(step.source, key, offer.label, offer.url, "reissued" if reissue else "downloaded", **http)
        rows.out.insert(start, rows.out.pop())  # the zip's row before its members'
        landed = [m for m in members if m.outcome in ("downloaded", "reissued")]
        if not landed:
            zip_row.outcome = "unchanged" if any(m.outcome == "unchanged" for m in members) else "refused"
            zip_row.message = (
                f"{offer.label}: a new zip (sha256 {sha[:12]}) holding the same members as the one landed; nothing landed"
                if zip_row.outcome == "unchanged"
                else f"{zip_slug(offer.url)}: no member an adapter reads; nothing landed "
                f"({'; '.join(m.message for m in members) or 'members: ' + _names(_files(entries))})"
            )
        elif reissue:
            old = past.landed.sha256 if past.landed else ""
            zip_row.message = (
                f"CMS re-cut {offer.label} (new sha256 {sha[:12]}, was {(old or '')[:12]}; {zip_slug(offer.url)}): "
                f"landed in {folder}/ beside the first version; the warehouse keeps the latest load per release"
                + offer.note
            )
        else:
            zip_row.message = (
                f"{offer.label}: {len(landed)} files landed in {folder}/ ({zip_slug(offer.url)})" + offer.note
            )
        context.say(f"{step.key}: {zip_row.message}")
    finally:
        scratch.unlink(missing_ok=True)
        scratch.with_name(scratch.name + ".part").unlink(missing_ok=True)
        _remove_empty(scratch.parent)


def _land(
    rows: _Rows, scratch: Path, offer: Offer, key: str, folder: str, candidates: list[Candidate], past: _Past,
    reissue: bool,
) -> list[ManifestRow]:  # fmt: skip
    """Every candidate extracted beside its destination under a hidden name, checked by its adapter's
    detect, then renamed into place (all checked before any lands); one row per member."""
    context = rows.context
    staged: list[tuple[Candidate, Path, Path, str, int]] = []
    results: list[ManifestRow] = []
    try:
        for candidate in candidates:
            dest = context.landing_dir(candidate.source, folder, candidate.name)
            hidden = dest.with_name(f".{dest.name}.staged")
            sha, size = extract_member(scratch, candidate.member, hidden, max_bytes=MEMBER_LIMIT)
            member_key = f"{key}:{candidate.name}"
            if not candidate.detect(hidden):
                hidden.unlink(missing_ok=True)
                if candidate.required:
                    results.append(rows.add(candidate.source, member_key, offer.label, offer.url or "", "refused",
                                            sha256=sha, bytes_received=size,
                                            message=f"{candidate.member}: not the layout {candidate.source} reads; "
                                            "not landed"))  # fmt: skip
                continue
            if sha in past.members.get(candidate.source, set()):
                hidden.unlink(missing_ok=True)
                results.append(rows.add(candidate.source, member_key, offer.label, offer.url or "", "unchanged",
                                        sha256=sha, bytes_received=size,
                                        message=f"{candidate.member}: same as the copy already landed for {offer.label}"))  # fmt: skip
                continue
            staged.append((candidate, hidden, dest, sha, size))
        for candidate, hidden, dest, sha, size in staged:
            os.replace(hidden, dest)
            results.append(rows.add(candidate.source, f"{key}:{candidate.name}", offer.label, offer.url or "",
                                    "reissued" if reissue else "downloaded", sha256=sha, bytes_received=size,
                                    landed_path=context.relative(dest),
                                    message=f"{candidate.member} from {zip_slug(offer.url or '')}"))  # fmt: skip
        staged = []
    finally:
        for _, hidden, *_ in staged:
            hidden.unlink(missing_ok=True)
    return results


def _free_folder(context: FetchContext, candidates: list[Candidate], folder: str) -> str:
    """`folder`, or `folder-2`, ... when a re-issue already landed there today."""
    name, n = folder, 1
    while any(context.landing_dir(c.source, name).exists() for c in candidates):
        n += 1
        name = f"{folder}-{n}"
    return name


def _starts_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ZIP_MAGIC


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
