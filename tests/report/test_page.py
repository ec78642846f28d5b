"""The HTML page and its Markdown twin as a reader gets them: on a phone and on paper (flows/report/page.py,
page.css), money right-aligned (flows/report/text.py `table`), and a Markdown twin that GitHub renders as written:
no `<Mon>`-style placeholder taken for an HTML tag, every figure described in words (templates/markdown_described).

The browser's own view of the same page is tests/report/test_browser.py.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from flows.report import page
from flows.report import text as rt
from flows.report.render import render_report
from flows.settings import Settings
from tests.report.test_text import markdown_to_html

CODES = ("0440T", "0441T", "0442T")
EMITTED_TAGS = {"details", "summary"}
"""HTML the report writes into its Markdown on purpose (a collapsible block); any other `<word>` is a placeholder
or a value a Markdown viewer would swallow as an unknown tag."""

# `<word ...>` or `</word>` as a Markdown viewer would take it for an HTML tag (an autolink `<https://...>` aside)
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?![A-Za-z0-9-]*:)[^<>\n]*>")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)  # code spans and fences show `<` as written


def pseudo_tags(markdown: str) -> list[str]:
    """Every `<word>` in Markdown prose that a viewer would render as an HTML tag, except `EMITTED_TAGS`."""
    prose = _CODE.sub("", markdown)
    return [m.group(0) for m in _TAG.finditer(prose) if m.group(1).lower() not in EMITTED_TAGS]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def rendered(bundled_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str, Path]]:
    """Every target code's report: (HTML, Markdown, its folder)."""
    out = tmp_path_factory.mktemp("page_reports")
    results = {code: render_report(bundled_warehouse, code, out_dir=out) for code in CODES}
    return {
        code: (r.html.read_text(encoding="utf-8"), r.markdown.read_text(encoding="utf-8"), out)
        for code, r in results.items()
    }


# --- the page, without a report ------------------------------------------------------------------------------
def test_the_page_lays_out_at_the_phones_width_and_keeps_its_policy() -> None:
    html = page.page("0440T", "<p>x</p>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert f'<meta http-equiv="Content-Security-Policy" content="{page.CONTENT_SECURITY_POLICY}">' in html
    assert html.index("Content-Security-Policy") < html.index("viewport") < html.index("<title>")
    assert page.style() in html and "@media print" in page.style()


def test_every_table_scrolls_in_its_own_box_and_a_value_is_never_taken_for_one() -> None:
    body = "<p>&lt;table&gt; is text</p><table>\n<tr><td>1</td></tr>\n</table><p>x</p><table><tr></tr></table>"
    wrapped = page.scrolling_tables(body)
    assert wrapped.count('<div class="table-scroll" tabindex="0"><table>') == 2
    assert wrapped.count("</table></div>") == 2
    assert "<p>&lt;table&gt; is text</p>" in wrapped  # escaped data stays as it was


def test_print_css_keeps_a_row_its_header_and_a_heading_with_their_content() -> None:
    css = page.style()
    printed = css[css.index("@media print") :]
    assert re.search(r"\btr\b[^{]*\{[^}]*break-inside:\s*avoid", printed)
    assert re.search(r"\bthead\s*\{[^}]*display:\s*table-header-group", printed)  # repeated on each page
    assert re.search(r"\bh2\b[^{]*\{[^}]*break-after:\s*avoid", printed)
    assert re.search(r"\.table-scroll\s*\{[^}]*overflow:\s*visible", printed)  # paper does not scroll: all of it
    assert re.search(r"\.anchor-link\s*\{[^}]*display:\s*none", printed)  # no "¶" after each printed heading
    screen = css[: css.index("@media print")]
    assert re.search(r"\.table-scroll\s*\{[^}]*overflow-x:\s*auto", screen)


def test_a_column_of_amounts_counts_or_percentages_is_right_aligned_and_a_column_of_words_or_codes_is_not() -> None:
    md = rt.table(
        [
            ["Aetna", rt.money(1475.61), rt.number(12345), rt.percent(65), "64450", "2 sessions"],
            ["Cigna", rt.money(None), rt.number(3), rt.percent(7.5), "64451", "none"],
        ],
        ["Payer", "Min", "Rates", "Share", "Code", "Note"],
    )
    assert md.splitlines()[1] == "|---|---:|---:|---:|---|---|"
    html = markdown_to_html(md)
    assert '<td style="text-align:right">$1,475.61</td>' in html and "<td>64450</td>" in html
    assert rt.table([[rt.NA]], ["Only missing"]).splitlines()[1] == "|---|"  # nothing to align


def test_a_placeholder_in_prose_is_found_and_escaped_text_code_and_emitted_html_are_not() -> None:
    # the defect: a catalog label written by rt.Md instead of rt.text, which GitHub shows as "OPPSCAP_.csv"
    assert pseudo_tags("| CMS PFS OPPS payment cap (OPPSCAP_<Mon>.csv) |") == ["<Mon>"]
    assert pseudo_tags("GPCI<YYYY>.csv and <YY>LOCCO.csv") == ["<YYYY>", "<YY>"]
    assert pseudo_tags(f"| {rt.text('OPPSCAP_<Mon>.csv')} | `PPRRVU<YYYY>_<Mon>.csv` | <https://www.cms.gov/> |") == []
    assert pseudo_tags("<details><summary>42 cells</summary>\n\n| a |\n</details>") == []
    assert "OPPSCAP_&lt;Mon&gt;.csv" in markdown_to_html(rt.text("OPPSCAP_<Mon>.csv"))  # shown as written


# --- the rendered reports ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", CODES)
def test_the_markdown_twin_has_no_placeholder_a_viewer_would_swallow(
    rendered: dict[str, tuple[str, str, Path]], code: str
) -> None:
    _, markdown, _ = rendered[code]
    assert pseudo_tags(markdown) == []
    # the file-name patterns of the Sources table read as CMS writes them once rendered
    shown = markdown_to_html(markdown)
    assert "OPPSCAP_&lt;Mon&gt;.csv" in shown and "GPCI&lt;YYYY&gt;.csv" in shown


@pytest.mark.parametrize("code", CODES)
def test_the_figure_is_described_in_words_and_drawn_at_twice_its_size(
    rendered: dict[str, tuple[str, str, Path]], code: str
) -> None:
    html, markdown, folder = rendered[code]
    images = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", markdown)
    assert len(images) == 1, images
    alt, target = images[0]
    assert alt.startswith(f"{code}: strip chart of commercial negotiated dollar rates") and "Medicare" in alt
    assert alt not in ("png", "figure")
    width_px, height_px = png_size((folder / target).read_bytes())
    tag = re.search(r"<img ([^>]+)>", html)
    assert tag is not None
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag.group(1)))
    assert attrs["alt"].startswith(f"{code}: strip chart")
    assert int(attrs["width"]) * 2 == width_px and int(attrs["height"]) * 2 == height_px  # 2 pixels per CSS pixel


def test_the_reports_html_wraps_every_table_and_right_aligns_its_money(
    rendered: dict[str, tuple[str, str, Path]],
) -> None:
    html, markdown, _ = rendered["0440T"]
    assert '<meta name="viewport"' in html
    tables = html.count("<table")
    assert tables > 5 and html.count('<div class="table-scroll" tabindex="0"><table') == tables
    header = next(line for line in markdown.splitlines() if line.startswith("| Payer group | Plans | Setting |"))
    separator = markdown.splitlines()[markdown.splitlines().index(header) + 1]
    columns = dict(zip([c.strip() for c in header.strip("|").split("|")], separator.strip("|").split("|")))
    assert columns["Min"] == columns["Median"] == columns["Max"] == "---:" and columns["Payer group"] == "---"
