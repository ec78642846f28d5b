"""Hospital `cms-hpt.txt` files and the entries payerbench records from them (dataset `hospital__hpt_entry`).

Publisher: every US hospital, at the root of the domain that hosts its machine-readable file (MRF):
`https://<domain>/cms-hpt.txt`, required since 2024-01-01 (CMSgov/hpt-tool txt-generator/README.md).
Format: plain text, one block per location, blocks separated by a blank line:

    location-name: Test Hospital
    source-page-url: https://example.com
    mrf-url: https://example.com/HPT
    contact-name: Jon Snow
    contact-email: jsnow@example.com

Cadence: changed when the hospital moves or renames its MRF (polled monthly with a conditional GET).
Quirks handled: a BOM, CRLF line endings, keys in any case and with spaces around the colon, values holding
colons (URLs), blocks run together without the blank line (a repeated `location-name:` starts a new block),
comment lines starting with `#`. What is wrong is a finding, never an exception: an HTML page instead of the
text, a missing or blank key, a relative or non-https URL, an e-mail without `@`, a line that is no
`key: value` (see schemas/hospital_hpt.py FINDINGS).

Two things live here: `parse_cms_hpt` (the text -> blocks with findings; the fetch step uses it) and the
adapter of the entries file the fetch step writes (`raw/hospital_mrf/fetched/<root>/cms-hpt.csv`, one row per
entry with its finding), which the `hospital_mrf` source loads through `read_entries`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flows.engines.readers import peek_header, read_csv_chunks
from flows.sources.base import Batch, FileRejected, ReadContext
from schemas.fields import blank_to_null, column_names
from schemas.hospital_hpt import CMS_HPT_FIELDS, DATASET, HptEntry

ENTRIES_FILE = "cms-hpt.csv"  # raw/hospital_mrf/fetched/<root>/cms-hpt.csv
ENTRY_COLUMNS = column_names(HptEntry)
KEY_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z _-]*?)\s*:\s?(.*)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class HptBlock:
    """One location's block of a cms-hpt.txt: its values by CMS key, and what is wrong with it."""

    number: int  # 1, 2, ... in file order
    line: int  # its first line
    values: dict[str, str] = field(default_factory=dict)
    findings: list[tuple[str, str]] = field(default_factory=list)  # (finding, detail), first = the main one

    @property
    def mrf_url(self) -> str | None:
        return self.values.get("mrf-url") or None

    @property
    def fetchable(self) -> bool:
        """The mrf-url is an absolute https URL: the fetch may ask it."""
        return _url_problem(self.mrf_url) is None


def looks_like_html(content: bytes, content_type: str | None = None) -> bool:
    """An HTML page (a soft 404, a WAF challenge, the home page) where a text or data file was expected."""
    if (content_type or "").split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    start = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return start.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml"))


def parse_cms_hpt(text: str) -> list[HptBlock]:
    """The blocks of a cms-hpt.txt, each with its findings (missing keys, bad URLs, stray lines)."""
    blocks: list[HptBlock] = []
    current: HptBlock | None = None
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if not line:
                current = None
            continue
        match = KEY_LINE.match(line)
        key = re.sub(r"[\s_]+", "-", match.group(1).strip().lower()) if match else None
        if current is None or (key == "location-name" and key in current.values):
            current = HptBlock(len(blocks) + 1, number)
            blocks.append(current)
        if match is None or key not in CMS_HPT_FIELDS:
            current.findings.append(("unrecognised_line", f"line {number}: {line[:80]!r} is not one of CMS's keys"))
            continue
        if key in current.values:
            current.findings.append(("unrecognised_line", f"line {number}: {key} given twice in one block"))
            continue
        current.values[key] = match.group(2).strip()  # type: ignore[union-attr]
    for block in blocks:
        _check_block(block)
    return [b for b in blocks if any(b.values.values()) or b.findings]


def _check_block(block: HptBlock) -> None:
    """Order the block's findings: a missing key first, then its URLs, then the e-mail, then stray lines."""
    found: list[tuple[str, str]] = []
    missing = [key for key in CMS_HPT_FIELDS if not block.values.get(key)]
    if missing:
        found.append(("missing_field", f"no {', '.join(missing)} (line {block.line}'s block)"))
    for key in ("mrf-url", "source-page-url"):
        problem = _url_problem(block.values.get(key)) if block.values.get(key) else None
        if problem:
            found.append((problem, f"{key} {block.values[key]!r} is {FINDING_WORDS[problem]}"))
    email = block.values.get("contact-email")
    if email and not EMAIL.match(email):
        found.append(("bad_contact_email", f"contact-email {email!r} is not an e-mail address"))
    block.findings = found + block.findings


FINDING_WORDS = {"relative_url": "not an absolute URL", "not_https": "not https (CMS requires an https URL)"}


def _url_problem(url: str | None) -> str | None:
    """None for an absolute https URL; else the finding (relative_url, not_https)."""
    if not url:
        return "relative_url"
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "relative_url"
    if parts.scheme.lower() != "https":
        return "not_https"
    return None


# --- the entries file the fetch step writes -------------------------------------------------------------------
def is_entries_file(path: Path) -> bool:
    """True for an entries file written by the fetch step (its header is the dataset's columns)."""
    if path.suffix.lower() != ".csv":
        return False
    try:
        header = peek_header(path)
    except FileRejected:
        return False
    return {"web_root", "entry", "mrf_url", "finding"} <= set(header)


def read_entries(path: Path, ctx: ReadContext) -> Iterator[Batch]:
    """Adapter of `cms-hpt.csv`: one `hospital__hpt_entry` row per line."""
    for chunk in read_csv_chunks(path, required=ENTRY_COLUMNS, chunk_rows=ctx.settings.chunk_rows):
        yield Batch(DATASET, blank_to_null(chunk.frame), chunk.rejects)
