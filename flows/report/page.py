"""The HTML report as a page: its head (viewport, Content-Security-Policy, the style sheet page.css) around the body
nbconvert exported, each table wrapped in a box of its own that scrolls sideways on a narrow screen.

The body is nbconvert's rendering of Markdown this package wrote (flows/report/text.py escapes every value from
data), so a `<table>` tag in it is one the Markdown renderer made, never a value: wrapping by pattern is safe.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

STYLE_SHEET = Path(__file__).with_name("page.css")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)
"""What the page may load: its inline CSS and its embedded (data: URI) figures, nothing else; no script of any kind
runs, even one a value from data might carry past the escaping in flows/report/text.py."""

VIEWPORT = "width=device-width, initial-scale=1"
"""A phone lays the page out at its own width (without it, at 980 px, then shrinks the text to fit)."""

TEMPLATES = Path(__file__).with_name("templates")
MARKDOWN_TEMPLATE = {"extra_template_basedirs": [str(TEMPLATES)], "template_name": "markdown_described"}
"""nbconvert's MarkdownExporter options for the Markdown twin: its template with each figure's alternative text
(templates/markdown_described/) instead of "png"."""

_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S)


@cache
def style() -> str:
    """The report's CSS (page.css), read once per process."""
    return STYLE_SHEET.read_text(encoding="utf-8")


def scrolling_tables(body: str) -> str:
    """Each table inside `<div class="table-scroll">`: a table wider than the screen scrolls in its box, not the
    page (focusable, so a keyboard can scroll it too)."""
    return _TABLE.sub(lambda m: f'<div class="table-scroll" tabindex="0">{m.group(0)}</div>', body)


def page(code: str, body: str) -> str:
    """A self-contained HTML page: inline CSS, figures already embedded as data URIs, scripts forbidden by its
    Content-Security-Policy. Every value from data in `body` is already text (escaped by flows.report.text.text)."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f'<meta name="viewport" content="{VIEWPORT}">'
        f"<title>{html.escape(code)} reimbursement benchmark</title>"
        f"<style>{style()}</style></head><body>\n{scrolling_tables(body)}\n</body></html>\n"
    )
