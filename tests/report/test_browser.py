"""The HTML report in a real browser (headless Chromium over CDP, tests/report/chromium.py), as a reader opens it
on a laptop (1280 px) and on a phone (390 px), and printed.

Each check is one a reader would notice: the page never scrolls sideways (a wide table scrolls in its own box),
every figure loads, the "At a glance" table's first answer is on the first screen (not off its right edge), and
on paper a table row and a heading stay with what they belong to. Screenshots and a PDF are saved under
reports/screenshots/ (gitignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.report.render import render_report
from flows.settings import Settings, from_env
from tests.report.chromium import Chromium, find_browser

pytestmark = pytest.mark.slow  # a pipeline run (the session's), three renders and a browser

CODES = ("0440T", "0441T", "0442T")
SCREENS = {"1280px": (1280, 800, False), "390px": (390, 844, True)}  # a laptop; a phone (iPhone 12-15's CSS size)

# the first thing after the title a reader needs: the "At a glance" heading, its table, and each row's question with
# where the row and its answer sit on the screen
GLANCE = """(() => {
  const heading = [...document.querySelectorAll('h2')].find(h => /^at a glance/i.test(h.textContent.trim()));
  if (!heading) return null;
  let box = heading.nextElementSibling;
  while (box && !(box.matches('table, .table-scroll') || box.querySelector('table'))) box = box.nextElementSibling;
  const table = box && (box.matches('table') ? box : box.querySelector('table'));
  const cells = table ? [...table.querySelectorAll('tbody tr')].map(tr => [...tr.cells]) : [];
  const rect = el => { const r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  return {heading: rect(heading), table: table && rect(table), rows: cells.length,
          question: cells.length ? cells[0][0].textContent.trim() : null,
          answer: cells.length ? {text: cells[0][1].textContent.trim(), ...rect(cells[0][1])} : null,
          all: cells.map(row => ({question: row[0].textContent.trim(), answer: row[1].textContent.trim(),
                                  ...rect(row[0].parentElement)}))};
})()"""
ANSWERS = {
    "coverage": lambda q: q.startswith("Coverage:"),
    "Medicare payment": lambda q: q.startswith("Medicare, "),
    "commercial evidence": lambda q: q.startswith("Commercial"),
    "volume": lambda q: q == "Medicare Part B volume",
}
"""The four questions the first screen answers, each by the rows whose question it is."""

IMAGES = "[...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth}))"


def screenshots_dir() -> Path:
    """reports/screenshots/ (or under $PAYERBENCH_REPORTS_DIR): build output, gitignored with reports/."""
    return from_env().reports_dir / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Chromium:
    binary = find_browser()
    if binary is None:
        pytest.skip(
            "no Chromium on this machine (install Debian's `chromium` package: `apt-get install -y chromium`, as "
            ".ci/run does, or set PAYERBENCH_CHROMIUM to a Chromium/Chrome binary)"
        )
    chromium = Chromium(binary)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def pages(bundled_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("browser_reports")
    return {code: render_report(bundled_warehouse, code, out_dir=out).html for code in CODES}


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("screen", SCREENS)
def test_the_report_fits_the_screen_loads_its_figures_and_opens_on_the_answer_at_a_glance(
    browser: Chromium, pages: dict[str, Path], code: str, screen: str
) -> None:
    width, height, mobile = SCREENS[screen]
    browser.media("")
    browser.viewport(width, height, mobile=mobile)
    browser.open(pages[code])
    shots = screenshots_dir()
    browser.screenshot(shots / f"{code}_{screen}.png")
    browser.screenshot(shots / f"{code}_{screen}_full.png", full_page=True)
    # laid out at the screen's own width (a phone without the viewport meta tag lays out at 980 px and shrinks)
    assert browser.evaluate("window.innerWidth") == width
    page_width = browser.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width, f"{code} at {screen}: the page is {page_width} px wide (scrolls sideways)"
    images = browser.evaluate(IMAGES)
    assert images and all(i["ok"] for i in images), images
    assert all(len(i["alt"]) > 40 for i in images), images  # said in words, not "png"
    glance = browser.evaluate(GLANCE)
    assert glance is not None, f"{code}: no 'At a glance' heading"
    assert glance["rows"] >= 5, glance  # coverage, Medicare per setting, commercial evidence, volume: not empty
    assert glance["question"].startswith("Coverage:") and glance["answer"]["text"], glance
    # the first row's answer is read on the first screen, without scrolling down or sideways
    answer = glance["answer"]
    assert answer["bottom"] <= height and answer["left"] >= 0 and answer["right"] <= width, (
        f"{code} at {screen}: the first answer ({answer['text']!r}) is at {answer}, outside the {width}x{height} screen"
    )
    # the table begins on the first screen (on a phone, with as many of its cards as fit)
    assert glance["table"]["top"] < height, f"{code} at {screen}: the table starts at {glance['table']['top']} px"
    if screen == "1280px":
        # on a laptop every row answering coverage, Medicare payment, commercial evidence and volume is on the
        # first screen whole, without scrolling
        for question, asks in ANSWERS.items():
            rows = [r for r in glance["all"] if asks(r["question"])]
            assert rows and all(r["answer"] for r in rows), f"{code}: no {question} row with an answer: {glance['all']}"
            below = [(r["question"], round(r["bottom"])) for r in rows if r["bottom"] > height]
            assert not below, f"{code} at {screen}: {question} rows end below the {height} px screen: {below}"


def test_a_wide_table_scrolls_in_its_own_box_with_money_right_aligned(
    browser: Chromium, pages: dict[str, Path]
) -> None:
    browser.media("")
    browser.viewport(*SCREENS["390px"][:2], mobile=True)
    browser.open(pages["0440T"])
    boxes = browser.evaluate(
        "[...document.querySelectorAll('table')].map(t => ({box: t.parentElement.className,"
        " scrolls: getComputedStyle(t.parentElement).overflowX, wide: t.scrollWidth > t.parentElement.clientWidth}))"
    )
    assert boxes and all(b["box"] == "table-scroll" and b["scrolls"] == "auto" for b in boxes), boxes
    assert any(b["wide"] for b in boxes)  # the phone is narrower than some table: that one scrolls in its box
    money = browser.evaluate(
        "[...document.querySelectorAll('td')].filter(td => /^\\$[0-9,]+\\.[0-9]{2}$/.test(td.textContent.trim()))"
        ".map(td => getComputedStyle(td).textAlign)"
    )
    assert money and money.count("right") / len(money) > 0.5, money  # a money column is right-aligned


def test_printed_a_row_and_a_heading_stay_with_what_they_belong_to(browser: Chromium, pages: dict[str, Path]) -> None:
    browser.viewport(*SCREENS["1280px"][:2], mobile=False)
    browser.open(pages["0440T"])
    browser.media("print")
    try:
        styles = browser.evaluate(
            "({row: getComputedStyle(document.querySelector('tbody tr')).breakInside,"
            " head: getComputedStyle(document.querySelector('thead')).display,"
            " heading: getComputedStyle(document.querySelector('h2')).breakAfter,"
            " box: getComputedStyle(document.querySelector('.table-scroll')).overflowX,"
            " anchor: getComputedStyle(document.querySelector('.anchor-link')).display})"
        )
        assert styles == {
            "row": "avoid",
            "head": "table-header-group",
            "heading": "avoid",
            "box": "visible",
            "anchor": "none",
        }, styles
        browser.pdf(screenshots_dir() / "0440T_print.pdf")
    finally:
        browser.media("")
