"""Values from data stay text in the benchmark report (issue 12.1, stored XSS): in the HTML page and in the Markdown twin.

A policy title `<img src=x onerror=alert(2)>` must read as that title, never become an element; a URL from data becomes a
link only when it is http(s), and cannot break out of the link; the page forbids scripts by its Content-Security-Policy.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from html.parser import HTMLParser

import pandas as pd
import pytest

from flows.report import figure, glance, sections
from flows.report import text as rt
from flows.report.data import ReportContext, ReportData
from flows.report.render import CONTENT_SECURITY_POLICY, render_report
from flows.run_pipeline import run_pipeline
from flows.settings import Settings
from tests.conftest import BUNDLED_RAW

IMG = "<img src=x onerror=alert(2)>"
ANCHOR = '<a href="javascript:alert(14)">click</a>'
FILE_NAME = "<img src=x onerror=alert(77)>.csv"
# passes the schema's `^https?://\S+$` yet, written as it is into `[title](url)`, closes the link and opens another
BREAKOUT_URL = "https://example.org/policy)[click](javascript:alert(15)"


# --- an HTML reader that lists whatever could run ------------------------------------------------------------
class Elements(HTMLParser):
    """Every start tag with its attributes, and the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_html(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


def active_content(html: str) -> list[str]:
    """What in this HTML could run or navigate somewhere other than an http(s) page: script-like elements, on*
    attributes, href / src / action targets other than http(s), `#fragment` or an embedded image."""
    found = []
    for tag, attrs in read_html(html).tags:
        if tag in ("script", "iframe", "object", "embed", "form", "base", "svg", "math", "frame", "link"):
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            value = (value or "").strip().lower()
            if name.startswith("on"):
                found.append(f"<{tag} {name}>")
            elif name in ("href", "src", "action", "formaction", "xlink:href", "srcset"):
                ok = (
                    value.startswith(("http://", "https://", "#"))
                    if name == "href"
                    else tag == "img" and name == "src" and value.startswith("data:image/")
                )
                if not ok:
                    found.append(f"<{tag} {name}={value!r}>")
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            found.append("<meta refresh>")
    return found


def markdown_to_html(markdown: str) -> str:
    """What nbconvert's HTML exporter makes of a notebook's Markdown output (the same renderer, raw HTML passed)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(markdown)


# --- the helpers -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, shown",
    [
        (IMG, IMG),
        (ANCHOR, ANCHOR),
        ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
        ("![x](x.png)", "![x](x.png)"),
        ("`code` and **bold** *it*", "`code` and **bold** *it*"),
        ("a | b", "a | b"),
        (
            "&lt;img src=x onerror=alert(1)&gt;",
            "&lt;img src=x onerror=alert(1)&gt;",
        ),  # an entity in data is its characters
        ("back\\slash \\<b>", "back\\slash \\<b>"),
        ("Blue Cross & Blue Shield ≥ 11 <em>", "Blue Cross & Blue Shield ≥ 11 <em>"),
    ],
)
def test_text_renders_as_exactly_its_characters(value: str, shown: str) -> None:
    html = markdown_to_html(f"| a | b |\n|---|---|\n| {rt.text(value)} | x |\n\n- {rt.text(value)}")
    assert active_content(html) == []
    tags = [tag for tag, _ in read_html(html).tags]
    assert not {"img", "a", "code", "strong", "em", "script"} & set(tags), tags
    assert tags.count("td") == 2  # the table kept its two cells
    assert "".join(read_html(html).text).count(shown) == 2


def test_text_keeps_a_value_on_one_line_and_marks_nothing_missing_as_a_value() -> None:
    assert rt.text("line one\n\n<script>alert(1)</script>\rtwo") == "line one &lt;script&gt;alert(1)&lt;/script&gt; two"
    assert rt.text(None) == rt.NA and rt.text(float("nan")) == rt.NA
    assert rt.text(rt.Md("**kept**")) == "**kept**"  # this module's own Markdown is not escaped twice
    assert rt.text("UnitedHealthcare Insurance Company of New York") == "UnitedHealthcare Insurance Company of New York"
    assert rt.cell(IMG) == "&lt;img src=x onerror=alert(2)&gt;" and rt.cell(rt.Md("a\nb")) == "a b"


@pytest.mark.parametrize(
    "url, target",
    [
        (
            "http://es.aetna.com/cpb/medical/data/200_299/0297.html",
            "http://es.aetna.com/cpb/medical/data/200_299/0297.html",
        ),
        ("https://example.org/a?b=1&c=2#d", "https://example.org/a?b=1&c=2#d"),
        ("  HTTPS://Example.org/x%20y ", "HTTPS://Example.org/x%20y"),
        ("https://example.org/a b", "https://example.org/a%20b"),
        (BREAKOUT_URL, "https://example.org/policy%29%5Bclick%5D%28javascript:alert%2815%29"),
        (
            'https://example.org/"><img src=x onerror=alert(1)>',
            "https://example.org/%22%3E%3Cimg%20src=x%20onerror=alert%281%29%3E",
        ),
        ("https://example.org/100%", "https://example.org/100%25"),
        ("https://example.org/é|`", "https://example.org/%C3%A9%7C%60"),
    ],
)
def test_web_address_keeps_http_links_and_escapes_their_target(url: str, target: str) -> None:
    assert rt.web_address(url) == target
    html = markdown_to_html(rt.link("policy", url))
    links = [attrs["href"] for tag, attrs in read_html(html).tags if tag == "a"]
    assert len(links) == 1 and active_content(html) == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(14)",
        " JavaScript:alert(14)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "/relative/path.html",
        "www.example.org/policy",
        "//example.org/x",
        "http://",
        "https:///x",
        "http://[bad",
        "mailto:a@example.org",
        "file:///etc/passwd",
        None,
        float("nan"),
        "",
    ],
)
def test_anything_but_an_http_address_is_shown_as_text_not_a_link(url: object) -> None:
    assert rt.web_address(url) is None
    shown = rt.link("Policy <b>title</b>", url)
    html = markdown_to_html(shown)
    # (the renderer may still autolink an http address or www. name shown as text: that is an http link)
    assert not [tag for tag, _ in read_html(html).tags if tag == "b"] and active_content(html) == []
    assert not [attrs for tag, attrs in read_html(html).tags if tag == "a" and not attrs["href"].startswith("http")]
    assert "Policy <b>title</b>" in "".join(read_html(html).text)
    if isinstance(url, str) and url.strip():
        # the address is still there to read (mistune's autolink of a bare http address keeps the escaping backslash)
        assert url.replace("\t", " ").strip() in "".join(read_html(html).text).replace("\\", "")
    assert rt.source_link(url, "0440T") in (
        "",
        rt.Md(f" (source (address not linked, not http or https: {rt.text(url)}))"),
    )


def test_source_link_names_another_codes_page_and_links_only_http() -> None:
    assert rt.source_link("https://case2code.codingahead.com/cpt/codes/0441T", "0440T") == (
        " ([source: the 0441T page](https://case2code.codingahead.com/cpt/codes/0441T))"
    )
    assert "](" not in rt.source_link("javascript:alert(1)//0441T", "0440T")


# --- every section, with every value of every query carrying markup ------------------------------------------
PAYLOAD = f" {IMG}[x](javascript:alert(3))`c`|\n\n<script>alert(4)</script>&lt;i&gt;"


@pytest.fixture(scope="module")
def bundled_context(bundled_warehouse: Settings) -> ReportContext:
    data = ReportData(bundled_warehouse, "0440T")
    try:
        return ReportContext.load(data)
    finally:
        data.close()


def hostile(ctx: ReportContext, columns: set[tuple[str, str]] | None) -> ReportContext:
    """A copy of the context whose string values (of the given (frame, column) pairs; None: all) end in PAYLOAD, and
    whose URL columns are `javascript:` when every value is hostile."""
    frames = {}
    for name, frame in ctx.frames.items():
        frame = frame.copy()
        for column in frame.columns if not frame.empty else ():  # an empty frame holds no text to make hostile
            if columns is not None and (name, column) not in columns:
                continue
            values = frame[column]
            if values.map(lambda v: isinstance(v, str)).any():
                frame[column] = values.map(lambda v: v + PAYLOAD if isinstance(v, str) else v)
            elif values.map(lambda v: hasattr(v, "__len__") and not isinstance(v, str) and len(v) > 0).any():
                frame[column] = values.map(lambda v: [str(x) + PAYLOAD for x in v] if hasattr(v, "__len__") else v)
        frames[name] = frame
    return ReportContext(code=ctx.code, as_of=ctx.as_of, payers=ctx.payers, frames=frames, rendered_on=ctx.rendered_on)


def string_columns(ctx: ReportContext) -> list[tuple[str, str]]:
    return [
        (name, column)
        for name, frame in ctx.frames.items()
        for column in frame.columns
        if not frame.empty  # an empty frame holds no text (and pandas refuses .any() on an empty datetime column)
        and frame[column].map(lambda v: isinstance(v, str) or (hasattr(v, "__len__") and len(v) > 0)).any()
    ]


def is_enumeration(values: pd.Series) -> bool:
    """A column of snake_case words the SQL decides (`payer_tic`, `hopd_opps`, `case_by_case`): the report branches on
    them, so making them hostile takes other branches (done too, in the all-at-once pass)."""
    words = values.dropna()
    return (
        len(words) > 0 and words.map(lambda v: isinstance(v, str) and re.fullmatch(r"[a-z0-9_]+", v) is not None).all()
    )


def render_all(ctx: ReportContext) -> str:
    markdown = "\n\n".join(
        [
            sections.title(ctx),
            glance.at_a_glance(ctx),
            sections.as_of_note(ctx),
            *(section(ctx) for section in sections.SECTIONS),
            figure.commercial_figure_caption(ctx),
        ]
    )
    return markdown


def test_every_value_in_every_section_stays_text(bundled_context: ReportContext) -> None:
    """Every free-text value of every report query ends in markup (the enumerations the report branches on kept, so
    every branch the real data takes is taken), then every string value at once; nothing renders as an element, and
    the markup reads as text."""
    columns = string_columns(bundled_context)
    free_text = {(name, column) for name, column in columns if not is_enumeration(bundled_context.frames[name][column])}
    # the queries' text: policy titles and URLs, payer names, file names, facts, notes, labels, ...
    assert len(columns) > 40 and len(free_text) > 20
    for hostile_columns in (free_text, None):
        markdown = render_all(hostile(bundled_context, hostile_columns))
        html = markdown_to_html(markdown)
        assert active_content(html) == []
        assert "<img" not in markdown and "<script" not in markdown  # the Markdown twin has no tag either
        assert not re.search(r"(?<!\\)\]\(javascript", markdown)  # nor a link to a script
        page_text = "".join(read_html(html).text)
        assert page_text.count(IMG) > 50  # the values are shown: as text
        assert "<script>alert(4)</script>&lt;i&gt;" in page_text  # the whole value, as written, on one line


def test_javascript_urls_in_the_data_are_never_links(bundled_context: ReportContext) -> None:
    frames = {name: frame.copy() for name, frame in bundled_context.frames.items()}
    for frame in frames.values():
        for column in frame.columns:
            if column.endswith("_url"):
                frame[column] = frame[column].map(lambda v: "javascript:alert(14)" if isinstance(v, str) else v)
    ctx = ReportContext(
        code=bundled_context.code,
        as_of=bundled_context.as_of,
        payers=bundled_context.payers,
        frames=frames,
        rendered_on=bundled_context.rendered_on,
    )
    html = markdown_to_html(render_all(ctx))
    assert active_content(html) == []
    assert "javascript:alert(14)" in "".join(read_html(html).text)
    assert not [
        attrs for tag, attrs in read_html(html).tags if tag == "a" and "javascript" in (attrs.get("href") or "")
    ]


# --- the rendered report, from a warehouse loaded with hostile values ------------------------------------------
POLICY_HEADER = (
    "payer_name,plan_type,policy_id,policy_title,policy_url,billing_code,code_type,coverage_status,"
    "prior_authorization,effective_date,last_reviewed_date,retrieved_date,evidence,source_confidence,notes"
)


def policy_row(payer: str, policy_id: str, title: str, url: str, status: str = "not_covered") -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    return ",".join(
        [
            quoted(payer),
            "commercial",
            quoted(policy_id),
            quoted(title),
            quoted(url),
            "0440T",
            "CPT",
            status,
            "unknown",
            "",
            "",
            "2026-01-05",
            quoted(f"evidence {IMG}"),
            "verified",
            quoted(f"note {ANCHOR}"),
        ]
    )


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Settings]:
    """A warehouse whose payer-policy extract carries markup in titles, ids, evidence and notes and a URL that breaks out
    of a Markdown link, and
    whose inbox held a policy file named `<img src=x onerror=alert(77)>.csv`; the 0440T report rendered from it."""
    from flows import catalog
    from flows.steps.land import land

    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(BUNDLED_RAW / "reference", root / "raw" / "reference")
    (root / "raw" / "payer_policy").mkdir()
    (root / "raw" / "payer_policy" / "policies.csv").write_text(
        "\n".join(
            [
                POLICY_HEADER,
                policy_row("Aetna", "CPB <b>0297</b>", IMG, BREAKOUT_URL),
                policy_row("Cigna", "0525", ANCHOR, "https://example.org/cigna?a=1&b=2"),
                policy_row(
                    "Blue Cross & Blue Shield of Nowhere",
                    "BCBS-1",
                    "Cold therapy ≥ 2 sessions",
                    "https://example.org/bcbs",
                ),
                # the schema asks for `^https?://` (the unit tests above cover such URLs reaching the report)
                policy_row("Aetna", "CPB 0298", "Scripted", "javascript:alert(14)"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    settings = Settings(
        raw_dir=root / "raw",
        warehouse_dir=root / "warehouse",
        reports_dir=root / "reports",
        inbox_dir=root / "inbox",
        render_reports=False,
    )
    settings.inbox_dir.mkdir()
    dropped = settings.inbox_dir / FILE_NAME
    dropped.write_text(
        POLICY_HEADER + "\n" + policy_row("UnitedHealthcare", "MPG-9", "Plain title", "https://example.org/uhc") + "\n",
        encoding="utf-8",
    )
    past = dt.datetime.now().timestamp() - 3600
    os.utime(dropped, (past, past))
    assert [
        landing.status
        for landing in land(settings, settings.inbox_dir, list(catalog.SOURCES.values()), settle_seconds=0)
    ] == ["landed"]
    summary = run_pipeline(settings)
    assert summary.ok, [r.error for r in summary.records]
    result = render_report(settings, "0440T")
    return result.html.read_text(encoding="utf-8"), result.markdown.read_text(encoding="utf-8"), settings


def test_the_html_report_shows_hostile_values_as_text_and_runs_nothing(
    hostile_report: tuple[str, str, Settings],
) -> None:
    html, _, _ = hostile_report
    assert active_content(html) == []
    page = read_html(html)
    assert not [tag for tag, _ in page.tags if tag in ("b", "i")]  # not even harmless markup from data
    shown = "".join(page.text)
    assert IMG in shown and ANCHOR in shown and "CPB <b>0297</b>" in shown  # the title, as its publisher wrote it
    assert FILE_NAME in shown  # the landed file, by its name, in the sources table
    assert "Blue Cross & Blue Shield of Nowhere" in shown and "≥ 2 sessions" in shown
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and not attrs["href"].startswith("#")]
    assert (
        "https://example.org/policy%29%5Bclick%5D%28javascript:alert%2815%29" in links
    )  # one link, its target escaped
    assert "https://example.org/cigna?a=1&b=2" in links
    assert all(href.startswith(("http://", "https://")) for href in links), links


def test_the_html_report_forbids_scripts(hostile_report: tuple[str, str, Settings]) -> None:
    html, _, _ = hostile_report
    metas = [
        attrs
        for tag, attrs in read_html(html).tags
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert [m["content"] for m in metas] == [CONTENT_SECURITY_POLICY]
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["default-src"] == "'none'" and "script-src" not in policy  # scripts fall back to 'none'
    assert policy["img-src"] == "data:"  # the embedded figures, nothing fetched
    assert html.index("Content-Security-Policy") < html.index("<title>")  # before anything the page shows


def test_the_markdown_report_keeps_hostile_values_as_text(hostile_report: tuple[str, str, Settings]) -> None:
    _, markdown, _ = hostile_report
    assert "<img" not in markdown and "<a " not in markdown and "<b>" not in markdown
    assert not re.search(r"(?<!\\)\]\(javascript", markdown)
    assert "&lt;img src=x onerror=alert(2)&gt;" in markdown
    assert "&lt;img src=x onerror=alert(77)&gt;.csv" in markdown
    assert "[Cold therapy ≥ 2 sessions](https://example.org/bcbs)" in markdown  # a legitimate link stays one
    assert "Blue Cross &amp; Blue Shield of Nowhere" in markdown  # an `&` is an entity: a viewer shows "&"
    html = markdown_to_html(markdown)  # the twin rendered by a Markdown viewer
    assert active_content(html) == [] and IMG in "".join(read_html(html).text)
