"""Payer policy pages, watched for change: every policy URL of the reviewed extract, fetched, hashed, diffed.

The extract (raw/payer_policy/, read with its own adapter) is the reviewed truth and names the pages: each
distinct `policy_url` is asked once per run, with a conditional GET (the ETag / Last-Modified of its last
answer in the fetch manifest) and at least `policy_fetch_interval` seconds (PAYERBENCH_POLICY_FETCH_INTERVAL,
default 5, as OpenOnco's payer crawler does) between two pages of one host, on top of the fetcher's own
per-host interval. A page is HTML (text by selectolax, site navigation, scripts and styles removed) or a PDF
(text by pypdf); its text is normalised (blanks collapsed, empty lines dropped) and hashed (sha256 of UTF-8).

- 304, or the same text sha256 as the URL's last snapshot: nothing lands (`not_modified` / `unchanged`).
- New text: a snapshot file lands at
      raw/payer_policy_snapshot/fetched/<payer>/<policy>/<fetched_at: YYYY-MM-DDTHHMMSSZ>.json
  holding the `payer__policy_snapshot` row (dates found on the page, which codes of interest it names,
  the stance sentences about cryoablation / cryoneurolysis / the codes and what they say), the normalised
  text, and, when the URL had a snapshot before, the `payer__policy_change` row: the previous and new
  sha256 and fetch time, whether the stance changed, and a unified diff of the RELEVANT passages only.
- A change in those passages also drafts the extract rows of that URL, updated from the page, into
  raw/payer_policy_drafts/<YYYY-MM-DD>_draft.csv (the extract's own columns). That folder belongs to no
  source, so nothing loads a draft: a person reviews it and copies the rows into the extract.

The snapshot files are a source of their own (`payer_policy_snapshot`, flows/sources/payer_policy_snapshot.py)
so the extract's adapter never sees them. The manifest's `sha256` of a policy page is its normalised text's.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flows.fetch.http import FetchError
from flows.fetch.manifest import ManifestRow
from flows.sources import payer_policy as extract_adapter
from flows.sources.base import FileRejected, ReadContext
from schemas.payer_policy import DATASET as EXTRACT_DATASET

if TYPE_CHECKING:
    from flows.fetch.http import Page
    from flows.fetch.run import FetchContext
    from flows.settings import Settings

SOURCE = "payer_policy_snapshot"  # where snapshots land: raw/payer_policy_snapshot/fetched/
EXTRACT_SOURCE = "payer_policy"
STEP = "payer_policy_pages"
DRAFTS = "payer_policy_drafts"  # raw/payer_policy_drafts/: no source's folder, so never loaded
FORMAT = "payerbench.policy_snapshot/1"
MAX_PAGE = 50 * 1000**2  # a long policy PDF is a few MB
HOME = "raw/payer_policy/ (the policy_url column of the reviewed extract)"
DISCOVERY = (
    "The policy_url of every row of the reviewed extract (raw/payer_policy/), one conditional GET per distinct "
    "URL, at least PAYERBENCH_POLICY_FETCH_INTERVAL (5) seconds apart per host; HTML text by selectolax, PDF text "
    "by pypdf; a page whose normalised text is new lands a snapshot under raw/payer_policy_snapshot/fetched/ and, "
    "when its dates, codes or stance changed, draft extract rows under raw/payer_policy_drafts/."
)
EVERY = "weekly (Mondays, before the extract's review): one conditional GET per policy page"

SUBJECT = re.compile(r"cryo-?(?:ablation|neurolysis|analgesia|therapy)|iovera|cold therap", re.IGNORECASE)
STANCE_WORDS = re.compile(
    r"investigational|experimental|unproven|not proven|medically necessary|reasonable and necessary|"
    r"not covered|non-?covered|covered|case[- ]by[- ]case|case[- ]to[- ]case|individual consideration",
    re.IGNORECASE,
)
_MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
DATE = rf"(\d{{1,2}}/\d{{1,2}}/\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|(?:{_MONTHS})\.? \d{{1,2}},? \d{{4}})"
DATE_LABELS = {  # column -> the label phrasings policies use (first match on the page wins)
    "last_reviewed_date": r"(?<!next )(?:last review(?:ed)? date|date of last review|last reviewed|last review|reviewed(?: on)?|review date)",
    "effective_date": r"(?:original )?effective(?: date)?",
    "published_date": r"(?:publish(?:ed)?|publication|approval|posted)(?: date)?",
}
BLOCK_TAGS = "p,div,li,ul,ol,tr,table,h1,h2,h3,h4,h5,h6,br,section,article,dd,dt,title,caption,blockquote,pre"
CHROME = "script,style,noscript,template,nav,footer,iframe,svg,form,button,body > header,[role=navigation],[role=banner],[role=contentinfo]"


class PolicyPageError(FetchError):
    """A policy page whose text cannot be read (a broken PDF, an empty body)."""


@dataclass
class Policy:
    """One distinct policy URL of the extract, with the extract rows that cite it."""

    url: str
    payer_name: str
    policy_id: str | None
    policy_title: str | None
    rows: list[dict[str, object]] = field(default_factory=list)  # the extract's rows, its columns

    @property
    def codes(self) -> set[str]:
        return {str(r["billing_code"]) for r in self.rows if r.get("billing_code")}


@dataclass(frozen=True)
class Reading:
    """What a page says, as far as the watch is concerned."""

    content_type: str  # html, pdf, text
    text: str  # normalised
    sha256: str
    dates: dict[str, str | None]  # last_reviewed_date, effective_date, published_date (ISO)
    codes_checked: tuple[str, ...]
    codes_listed: tuple[str, ...]
    sentences: tuple[str, ...]  # stance sentences, in page order
    stance: str | None  # ';'-joined distinct stances, sorted

    def passages(self) -> list[str]:
        """The lines the change diff compares: dates, codes found, stance and its sentences."""
        lines = [f"{name.replace('_', ' ')}: {value or '(none found)'}" for name, value in self.dates.items()]
        for code in self.codes_checked:
            lines.append(f"code {code}: {'listed' if code in self.codes_listed else 'not on the page'}")
        lines.append(f"stance: {self.stance or '(none found)'}")
        lines += [f"sentence: {s}" for s in self.sentences]
        return lines


def now() -> dt.datetime:
    """The fetch time stamped on a snapshot (tests pin it)."""
    return dt.datetime.now(dt.UTC)


# --- the step ----------------------------------------------------------------------------------------------------
def watch_policy_pages(context: FetchContext) -> list[ManifestRow]:
    """Every policy URL of the extract: one manifest row each (downloaded, unchanged, not_modified, refused, failed)."""
    policies = read_extract(context.settings)
    interval = 0.0 if context.fetcher._folder is not None else context.settings.policy_fetch_interval
    gate = _Gate(interval)
    rows = []
    for policy in policies:
        rows.append(_watch(context, policy, gate))
    changed = [r for r in rows if r.message.startswith("CHANGED")]
    if changed:
        context.say(f"{STEP}: {len(changed)} policy page(s) changed; draft extract rows in raw/{DRAFTS}/")
    return rows


def read_extract(settings: Settings) -> list[Policy]:
    """The distinct policy URLs of the extract files under raw/payer_policy/ (read with the extract's adapter)."""
    folder = settings.source_dir(EXTRACT_SOURCE)
    policies: dict[str, Policy] = {}
    if not folder.is_dir():
        return []
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for path in files:
        if not extract_adapter.detect(path):
            continue
        try:
            batches = list(extract_adapter.read(path, ReadContext(settings)))
        except FileRejected:
            continue  # the load reports a broken extract; the watch reads what it can
        for batch in batches:
            if batch.dataset != EXTRACT_DATASET:
                continue
            for record in batch.frame.to_dict("records"):
                url = record.get("policy_url")
                if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                    continue
                row = {c: _text(record.get(c)) for c in extract_adapter.FILE_COLUMNS}
                policy = policies.setdefault(
                    url,
                    Policy(url, str(row["payer_name"]), row["policy_id"], row["policy_title"]),  # type: ignore[arg-type]
                )
                policy.rows.append(row)
    return list(policies.values())


def _watch(context: FetchContext, policy: Policy, gate: _Gate) -> ManifestRow:
    url = policy.url
    key = f"{STEP}:{url}"
    conditional = context.conditional(url)

    def row(outcome: str, **fields: object) -> ManifestRow:
        return ManifestRow(context.fetch_id, SOURCE, key, fields.pop("release", None), url, outcome, **fields)  # type: ignore[arg-type]

    if context.offline:
        return row("offline", message=f"would {'conditional ' if conditional else ''}GET {url}")
    gate.wait(urlsplit(url).netloc)
    try:
        page = context.fetcher.get(url, conditional=conditional, max_bytes=MAX_PAGE)
    except FetchError as exc:
        return row("failed", http_status=exc.status, message=str(exc))
    fetched_at = now().replace(microsecond=0)
    got: dict[str, object] = {
        "final_url": page.final_url,
        "http_status": page.status,
        "etag": _header(page, "etag"),
        "last_modified": _header(page, "last-modified"),
        "bytes_received": len(page.content),
        "fetched_at": fetched_at.isoformat(),
    }
    if page.status == 304:
        return row("not_modified", **got, message="not modified since the last fetch")
    codes = sorted(context.codes | policy.codes)
    try:
        reading = read_page(url, page.content, _header(page, "content-type"), codes)
    except PolicyPageError as exc:
        return row("refused", **got, message=str(exc))
    got |= {"sha256": reading.sha256, "release": reading.dates["last_reviewed_date"]}
    folder = context.landing_dir(SOURCE, _slug(policy.payer_name), _slug(policy.policy_id or "no-policy-id"))
    previous = last_snapshot(folder, url)
    if previous is not None and previous["snapshot"]["text_sha256"] == reading.sha256:
        landed = context.relative(Path(previous["_path"]))
        return row("unchanged", **got, landed_path=landed, message=f"same text as the snapshot at {landed}")
    path = folder / f"{fetched_at.strftime('%Y-%m-%dT%H%M%SZ')}.json"
    snapshot = _snapshot_row(context, policy, page, reading, fetched_at, context.relative(path), previous)
    change = None
    message = f"first snapshot of {url}"
    if previous is not None:
        change = _change_row(context, policy, previous, snapshot, reading)
        if change["relevant_changed"]:
            change["draft_path"] = context.relative(write_draft(context.settings, policy, reading, snapshot, previous))
        stance = (
            f"stance {change['previous_stance']} -> {change['new_stance']}"
            if change["stance_changed"]
            else ("dates or codes changed" if change["relevant_changed"] else "only other text changed")
        )
        message = f"CHANGED: {stance} ({policy.payer_name} {policy.policy_id or ''})".replace(" )", ")")
    _write_json(path, {"format": FORMAT, "snapshot": snapshot, "change": change, "text": reading.text})
    return row("downloaded", **got, landed_path=context.relative(path), message=message)


# --- reading a page ------------------------------------------------------------------------------------------------
def read_page(url: str, content: bytes, content_type: str | None, codes: Iterable[str]) -> Reading:
    """The page's normalised text and what it says (dates, codes, stance sentences)."""
    kind = _kind(content, content_type)
    if kind == "pdf":
        text = pdf_text(url, content)
    elif kind == "html":
        text = html_text(content)
    else:
        text = content.decode("utf-8", errors="replace")
    text = normalise(text)
    if not text:
        raise PolicyPageError(url, f"no text in the {kind} page", "open it in a browser; nothing landed")
    return analyse(text, kind, codes)


def analyse(text: str, kind: str, codes: Iterable[str]) -> Reading:
    checked = tuple(sorted(set(codes)))
    listed = tuple(c for c in checked if re.search(rf"(?<![0-9A-Z]){re.escape(c)}(?![0-9A-Z])", text, re.IGNORECASE))
    sentences = tuple(stance_sentences(text, checked))
    stances = sorted({s for s in (classify(x) for x in sentences) if s})
    return Reading(
        kind,
        text,
        hashlib.sha256(text.encode("utf-8")).hexdigest(),
        find_dates(text),
        checked,
        listed,
        sentences,
        ";".join(stances) or None,
    )


def html_text(content: bytes) -> str:
    """The visible text of an HTML page, one block element per line (navigation, scripts, styles removed)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(content.decode("utf-8", errors="replace"))
    for node in tree.css(CHROME):
        node.decompose()
    for node in tree.css("td,th"):
        node.insert_after(" ")
    for node in tree.css(BLOCK_TAGS):
        node.insert_after("\n")
    root = tree.body or tree.root
    return root.text(separator="") if root is not None else ""


def pdf_text(url: str, content: bytes) -> str:
    """The text of every page of a PDF (pypdf), pages one after another."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise PolicyPageError(
            url, f"the PDF cannot be read ({type(exc).__name__}: {exc})", "open it in a viewer; nothing landed"
        ) from exc


def normalise(text: str) -> str:
    """Blanks (non-breaking and zero-width ones too) collapsed within a line, empty lines dropped."""
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\r", "\n")
    return "\n".join(line for line in (" ".join(part.split()) for part in text.split("\n")) if line)


def stance_sentences(text: str, codes: Iterable[str]) -> list[str]:
    """Sentences naming the service (cryoablation, cryoneurolysis ...) or a code, and saying how it is covered."""
    code_re = [re.compile(rf"(?<![0-9A-Z]){re.escape(c)}(?![0-9A-Z])", re.IGNORECASE) for c in codes]
    found: list[str] = []
    for line in text.split("\n"):
        for sentence in re.split(r"(?<=[.;!?])\s+(?=[A-Z(\"“])", line):
            about = SUBJECT.search(sentence) or any(r.search(sentence) for r in code_re)
            if about and STANCE_WORDS.search(sentence) and sentence not in found:
                found.append(sentence)
    return found


def classify(sentence: str) -> str | None:
    """What one stance sentence says, in the extract's coverage_status terms (None: it does not say)."""
    s = sentence.lower()
    if re.search(r"investigational|experimental|unproven|not proven", s):
        return "experimental_investigational"
    if re.search(r"not (?:medically|reasonable and) necessary", s):
        return "not_medically_necessary"
    if re.search(r"not covered|non-?covered|excluded from coverage", s):
        return "not_covered"
    if re.search(r"case[- ](?:by|to)[- ]case|individual consideration", s):
        return "case_by_case"
    if re.search(r"medically necessary|reasonable and necessary|\bcovered\b", s):
        return "covered_with_criteria" if re.search(r"\bwhen\b|\bif\b|criteria|following", s) else "covered"
    return None


def find_dates(text: str) -> dict[str, str | None]:
    """last_reviewed_date, effective_date, published_date: the first date after each label (ISO), or None."""
    found: dict[str, str | None] = {}
    for name, label in DATE_LABELS.items():
        found[name] = None
        for match in re.finditer(rf"\b{label}\s*[:\-–]?\s*{DATE}", text, re.IGNORECASE):
            iso = _iso(match.group(1))
            if iso:
                found[name] = iso
                break
    return found


# --- the snapshot files -----------------------------------------------------------------------------------------
def last_snapshot(folder: Path, url: str) -> dict | None:  # type: ignore[type-arg]
    """The newest snapshot file of `url` in its folder (None when there is none), with its path as `_path`."""
    best = None
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        snapshot = data.get("snapshot") if isinstance(data, dict) else None
        if not snapshot or snapshot.get("url") != url:
            continue
        if best is None or snapshot["fetched_at"] >= best["snapshot"]["fetched_at"]:
            best = data | {"_path": str(path)}
    return best


def _snapshot_row(
    context: FetchContext,
    policy: Policy,
    page: Page,
    reading: Reading,
    fetched_at: dt.datetime,
    landed: str,
    previous: dict | None,  # type: ignore[type-arg]
) -> dict[str, object]:
    return {
        "url": policy.url,
        "final_url": page.final_url,
        "payer_name": policy.payer_name,
        "policy_id": policy.policy_id,
        "policy_title": policy.policy_title,
        "fetch_id": context.fetch_id,
        "fetched_at": fetched_at.isoformat(),
        "http_status": page.status,
        "content_type": reading.content_type,
        "text_sha256": reading.sha256,
        "text_chars": len(reading.text),
        **reading.dates,
        "codes_checked": ",".join(reading.codes_checked),
        "codes_listed": ",".join(reading.codes_listed) or None,
        "stance": reading.stance,
        "stance_sentences": "\n".join(reading.sentences) or None,
        "previous_sha256": previous["snapshot"]["text_sha256"] if previous else None,
        "landed_path": landed,
    }


def _change_row(
    context: FetchContext,
    policy: Policy,
    previous: dict,  # type: ignore[type-arg]
    snapshot: dict[str, object],
    reading: Reading,
) -> dict[str, object]:
    before = previous["snapshot"]
    old = analyse(previous.get("text") or "", before["content_type"], reading.codes_checked)
    old_lines = old.passages() if previous.get("text") else _passages_of(before, reading.codes_checked)
    diff = list(
        difflib.unified_diff(
            old_lines,
            reading.passages(),
            fromfile=f"{policy.url} fetched {before['fetched_at']} (sha256 {before['text_sha256'][:12]})",
            tofile=f"{policy.url} fetched {snapshot['fetched_at']} (sha256 {reading.sha256[:12]})",
            lineterm="",
            n=1,
        )
    )
    return {
        "url": policy.url,
        "payer_name": policy.payer_name,
        "policy_id": policy.policy_id,
        "previous_fetched_at": before["fetched_at"],
        "fetched_at": snapshot["fetched_at"],
        "previous_sha256": before["text_sha256"],
        "new_sha256": reading.sha256,
        "previous_stance": before.get("stance"),
        "new_stance": reading.stance,
        "stance_changed": (before.get("stance") or "") != (reading.stance or ""),
        "relevant_changed": bool(diff),
        "diff": "\n".join(diff) or None,
        "draft_path": None,
    }


def _passages_of(snapshot: dict, codes: tuple[str, ...]) -> list[str]:  # type: ignore[type-arg]
    """The diffed lines of a snapshot stored without its text (as `Reading.passages` words them)."""
    listed = set((snapshot.get("codes_listed") or "").split(","))
    lines = [f"{n.replace('_', ' ')}: {snapshot.get(n) or '(none found)'}" for n in DATE_LABELS]
    lines += [f"code {c}: {'listed' if c in listed else 'not on the page'}" for c in codes]
    lines.append(f"stance: {snapshot.get('stance') or '(none found)'}")
    return lines + [f"sentence: {s}" for s in (snapshot.get("stance_sentences") or "").split("\n") if s]


def write_draft(
    settings: Settings,
    policy: Policy,
    reading: Reading,
    snapshot: dict[str, object],
    previous: dict,  # type: ignore[type-arg]
) -> Path:
    """Append the extract rows citing this URL, updated from the page, to raw/payer_policy_drafts/<date>_draft.csv.

    Updated: coverage_status (when the page states one stance), effective and last-reviewed dates (when found),
    retrieved_date (the fetch day), evidence (the first stance sentence); notes say what changed and that a
    person must review the row. Everything else is the reviewed row as it was (source_confidence included).
    """
    day = str(snapshot["fetched_at"])[:10]
    path = settings.raw_dir / DRAFTS / f"{day}_draft.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    single = reading.stance if reading.stance and ";" not in reading.stance else None
    before = previous["snapshot"]
    note = (
        f"DRAFT from fetch {snapshot['fetch_id']}: page text changed since {str(before['fetched_at'])[:10]} "
        f"(stance {before.get('stance') or 'none found'} -> {reading.stance or 'none found'}; "
        f"snapshot {snapshot['landed_path']}); review against the page before copying into the extract"
    )
    new = not path.exists()
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, extract_adapter.FILE_COLUMNS)
        if new:
            writer.writeheader()
        for row in policy.rows:
            draft = dict(row)
            if single:
                draft["coverage_status"] = single
            for column in ("effective_date", "last_reviewed_date"):
                if reading.dates.get(column):
                    draft[column] = reading.dates[column]
            draft["retrieved_date"] = day
            if reading.sentences:
                draft["evidence"] = reading.sentences[0][:500]
            draft["notes"] = note + (f" | was: {row['notes']}" if row.get("notes") else "")
            writer.writerow({k: ("" if v is None else v) for k, v in draft.items()})
    return path


# --- what status and the run summary show ---------------------------------------------------------------------------
def policy_changes(settings: Settings, since: dt.datetime | None = None) -> list[str]:
    """One line per policy page change fetched at or after `since` (all when None), oldest first, e.g.

    'policy change 2026-12-07: Anthem SURG.00155 https://...: stance experimental_investigational ->
     covered_with_criteria; draft rows in raw/payer_policy_drafts/2026-12-07_draft.csv'

    Read from the landed snapshot files, so it answers right after a fetch, before any load.
    """
    folder = settings.source_dir(SOURCE) / "fetched"
    lines: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        change = data.get("change") if isinstance(data, dict) else None
        if not change:
            continue
        when = dt.datetime.fromisoformat(change["fetched_at"])
        if since is not None and when < since:
            continue
        what = (
            f"stance {change['previous_stance'] or 'none found'} -> {change['new_stance'] or 'none found'}"
            if change["stance_changed"]
            else ("dates or codes changed" if change["relevant_changed"] else "page text changed, stance and dates not")
        )
        draft = f"; draft rows in raw/{change['draft_path']}" if change.get("draft_path") else ""
        who = " ".join(x for x in (change["payer_name"], change.get("policy_id")) if x)
        lines.append(
            (change["fetched_at"], f"policy change {change['fetched_at'][:10]}: {who} {change['url']}: {what}{draft}")
        )
    return [line for _, line in sorted(lines)]


# --- helpers -----------------------------------------------------------------------------------------------------------
class _Gate:
    """At least `interval` seconds between the starts of two policy pages of one host (a slower pace than files)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: dict[str, float] = {}

    def wait(self, host: str) -> None:
        if self.interval > 0 and host in self.last:
            due = self.last[host] + self.interval - time.monotonic()
            if due > 0:
                time.sleep(due)
        self.last[host] = time.monotonic()


def _kind(content: bytes, content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if kind == "application/pdf" or head.startswith(b"%PDF-"):
        return "pdf"
    if kind in ("text/html", "application/xhtml+xml") or head[:1] == b"<":
        return "html"
    return "text"


def _header(page: Page, name: str) -> str | None:
    for key, value in page.headers.items():
        if key.lower() == name:
            return value
    return None


def _iso(text: str) -> str | None:
    text = text.strip().replace(".", "")
    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%B %d %Y", "%b %d, %Y", "%b %d %Y"):
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    if text.lower().startswith("sept"):
        return _iso("Sep" + text[4:])
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unnamed"


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text if text.strip() and text != "<NA>" else None


def _write_json(path: Path, data: dict[str, object]) -> None:
    """Written whole or not at all: a hidden temporary file beside it, fsynced, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
