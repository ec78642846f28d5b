"""Values as Markdown text: escaping (`text`, `link`) and formatting (money, numbers, dates, reasons, tables).

Every value a query returns reaches the report through one of these functions; each returns `Md`, Markdown this
package wrote, which is never escaped again. A missing value reads "data not available", never a zero.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from urllib.parse import quote, urlsplit

import pandas as pd

from flows.report.labels import CONFIDENCE, NA, REASONS


# --- data as text --------------------------------------------------------------------------------------
# Every value a query returns is data (a payer's policy title, a file name, a URL) and reaches the report only
# as text: `text` is the one place it enters Markdown, and everything this module writes is `Md`. The HTML page
# is made from this Markdown by nbconvert, whose renderer passes raw HTML through, so escaping here is what keeps
# a title such as `<img src=x onerror=...>` a title in the HTML page and in the Markdown twin alike.
class Md(str):
    """Markdown this module wrote: its own wording, or data already passed through `text`. Never escaped again."""

    __slots__ = ()


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# what builds code spans, emphasis, links and images ([ ]) and table cells (|) in nbconvert's Markdown, and the
# backslash that would escape an escape; `<` `>` `&` become HTML entities instead. (`_` and `~` are left: they only
# emphasise or strike through, are common in file names and URLs, and the renderer's bare-URL autolink would show
# a backslash before them.)
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*\[\]|])")


def text(value: object, empty: str = NA) -> Md:
    """A value from data as Markdown text that renders as exactly its characters: `& < >` as HTML entities (no
    tag, comment or entity can form), the Markdown punctuation that builds code, emphasis, links, images and table
    cells backslash-escaped, line breaks and control characters as one space (no new block).
    Quotes need nothing: data never lands inside an attribute (link targets go through `web_address`)."""
    if isinstance(value, Md):
        return value
    if missing(value):
        return Md(empty)
    escaped = _CONTROL.sub(" ", str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Md(_MARKDOWN_PUNCTUATION.sub(r"\\\1", escaped))


def named(words: dict[str, str], value: object, empty: str = NA) -> Md:
    """The words for a value of an enumeration (`GROUPS`, `SETTINGS`, ...), else the value itself as text."""
    return Md(empty) if missing(value) else text(words.get(str(value), value))


_PERCENT_NOT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# what stays as written in a link target; every other character (space, ( ) < > " ' ` \ | [ ] { } ^, non-ASCII)
# is percent-encoded, so the target cannot end the Markdown link early or leave the href attribute
_URL_KEEP = ":/?#@!$&+,;=%*~"


def web_address(url: object) -> str | None:
    """An absolute http(s) URL percent-encoded for a Markdown link target, or None for anything else (missing,
    `javascript:`, `data:`, `vbscript:`, relative, no host, control characters)."""
    if missing(url):
        return None
    raw = str(url).strip()
    if not raw or _CONTROL.search(raw):
        return None
    try:
        parts = urlsplit(raw)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return quote(_PERCENT_NOT_ESCAPE.sub("%25", raw), safe=_URL_KEEP)


def link(label: object, url: object) -> Md:
    """`[label](url)` for an http(s) URL; any other address is shown as text beside the label, never as a link."""
    target = web_address(url)
    if target is not None:
        return Md(f"[{text(label)}]({target})")
    if missing(url) or str(label).strip() == str(url).strip():
        return text(label)
    return Md(f"{text(label)} (address not linked, not http or https: {text(url)})")


# --- formatting ------------------------------------------------------------------------------------
def missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def flag(value: object) -> bool:
    """True only for a true flag: NULL / NA (a column with no answer) is never True and never raises."""
    return not missing(value) and bool(value)


def money(value: object) -> Md:
    return Md(NA if missing(value) else f"${float(value):,.2f}")


def percent(value: object, digits: int = 1) -> Md:
    return Md(NA if missing(value) else f"{float(value):,.{digits}f}%")


def number(value: object) -> Md:
    if missing(value):
        return Md(NA)
    value = float(value)
    return Md(f"{value:,.0f}" if value == math.floor(value) else f"{value:,.1f}")


def date(value: object) -> Md:
    if missing(value):
        return Md(NA)
    if isinstance(value, dt.datetime):  # pandas Timestamps too: a date column read back as midnight
        return Md(value.date().isoformat())
    return Md(value.isoformat()) if isinstance(value, dt.date) else text(str(value)[:10])


def reason(value: object) -> Md:
    return Md(NA) if missing(value) else text(REASONS.get(str(value), str(value).replace("_", " ")))


def confidence(value: object) -> Md:
    """The evidence level in words (verified, verified (third party), inferred, not found)."""
    return named(CONFIDENCE, value)


def listing(values: object, empty: str = NA) -> Md:
    if values is None or (not isinstance(values, (list, tuple)) and missing(values)):
        return Md(empty)
    items = [text(v) for v in list(values) if not missing(v)]
    return Md(", ".join(items) if items else empty)


def cell(value: object) -> Md:
    """One Markdown table cell: `Md` as written (on one line), any other value as `text`."""
    return Md(value.replace("\n", " ")) if isinstance(value, Md) else text(value)


# a cell that is an amount, a count or a percentage as `money`, `number` and `percent` write them ($1,475.61, 1,234,
# 65.0%); a 5-digit code (64450) is a label, not a quantity
_QUANTITY = re.compile(r"-?\$?\d{1,3}(,\d{3})*(\.\d+)?%?")


def _quantities(cells: list[str]) -> bool:
    """True when every filled cell of a column is a quantity (and at least one is): it is right-aligned."""
    filled = [c.strip() for c in cells if c.strip() not in ("", NA)]
    return bool(filled) and all(_QUANTITY.fullmatch(c) for c in filled)


def table(rows: list[list[object]], header: list[str]) -> Md:
    """A Markdown table (every cell that is not already `Md` escaped as text); a column of amounts, counts or
    percentages is right-aligned (`---:`), so digits line up in the HTML page and on GitHub alike."""
    cells = [[cell(v) for v in row] for row in rows]
    align = ["---:" if _quantities([r[i] for r in cells if i < len(r)]) else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return Md("\n".join(lines))


CODE_IN_URL = re.compile(r"(?<![0-9A-Za-z])(\d{4}[A-Za-z]|\d{5})(?![0-9A-Za-z])")


def source_link(url: object, code: str) -> Md:
    """ " ([source](url))", naming the page's code when the page is another code's ("the 0441T page")."""
    if missing(url):
        return Md("")
    other = [c.upper() for c in CODE_IN_URL.findall(str(url)) if c.upper() != code.upper()]
    label = f"source: the {other[0]} page" if other and code.upper() not in str(url).upper() else "source"
    return Md(f" ({link(label, url)})")
