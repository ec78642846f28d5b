"""The report's first screen and what a reader sees (flows/report/glance.py, and the rendered report's words):
an at-a-glance table before the detail, a qualified headline, "latest loaded" releases, real data by default,
section 9 in words with its CSV, and no snake_case value or mart name anywhere a reader sees."""

from __future__ import annotations

import csv
import datetime as dt
import html as htmllib
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from flows import cli
from flows.report import figure, glance
from flows.report.data import ReportContext, ReportData
from flows.report.medicare import in_effect_note
from flows.report.render import render_report
from flows.settings import Settings

AS_OF = dt.date(2026, 12, 5)
SYNTHETIC_NUMBERS = ("$3,890.00", "$4,210.50", "$5,120.25", "$6,480.00", "$1,750.00", "$1,803.25", "229.4%", "80.0%")
"""Amounts only the bundled synthetic hospital file holds for 0440T."""


@pytest.fixture(scope="module")
def rendered(bundled_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    out = tmp_path_factory.mktemp("glance_0440t")
    result = render_report(bundled_warehouse, "0440T", as_of=AS_OF, out_dir=out)
    return result.html.read_text(encoding="utf-8"), result.markdown.read_text(encoding="utf-8"), out


@pytest.fixture(scope="module")
def context(bundled_warehouse: Settings) -> ReportContext:
    data = ReportData(bundled_warehouse, "0440T", AS_OF)
    try:
        return ReportContext.load(data)
    finally:
        data.close()


def part(markdown: str, start: str, end: str) -> str:
    return markdown[markdown.index(start) : markdown.index(end)]


def test_the_first_screen_answers_coverage_medicare_commercial_and_volume_before_the_detail(
    rendered: tuple[str, str, Path],
) -> None:
    html, markdown, _ = rendered
    assert markdown.index("## At a glance") < markdown.index("## 1. Summary")
    # a one-line intro: descriptor, as-of date, real data only; what "as of" means is said under the table
    intro = part(markdown, "# 0440T reimbursement benchmark", "## At a glance").split("\n\n")[1].strip()
    assert intro == (
        "Percutaneous cryoablation, upper extremity distal/peripheral nerve, imaging guidance included · "
        "data as of 2026-12-05 · real data only"
    )
    glance = part(markdown, "## At a glance", "## 1. Summary")
    first, below = glance.split("\n\nData as of 2026-12-05: the latest loaded Medicare release of each payment system")
    assert "Rendered on" in below and "synthetic demonstration files are set apart in the appendix" in below
    rows = [line for line in first.splitlines() if line.startswith("| ") and not line.startswith("| Question")]
    # compact: one row for commercial coverage, one for Medicare's, one per Medicare payment system (the PFS's office
    # and facility answers are the same: one row), the commercial evidence, the volume
    assert [r.split(" | ")[0] for r in rows] == [
        "| Coverage: commercial plans",
        "| Coverage: traditional Medicare",
        "| Medicare, if covered: facility fee, hospital outpatient (OPPS)",
        "| Medicare, if covered: facility fee, ambulatory surgical center (ASC)",
        "| Medicare, if covered: professional fee, office or in a facility (PFS)",
        "| Commercial negotiated rate: professional fee, office",
        "| Commercial, percentage of billed charges: professional fee, office or in a facility",
        "| Medicare Part B volume",
    ]
    # each policy with the plan that publishes it (MP 2.376 is Capital Blue Cross's, not every Blue plan's)
    assert rows[0] == (
        "| Coverage: commercial plans | not covered (experimental / investigational): 3 of 4 payer groups; "
        "UnitedHealthcare: no policy found | Aetna CPB 0297, verified; Capital Blue Cross MP 2.376, verified; "
        "Cigna 0525, inferred |"
    )
    # the contractors in short, and the real Coverage-database documents by count (not a conclusion from the
    # synthetic code lists): section 4 names each
    assert rows[1] == (
        "| Coverage: traditional Medicare | case by case | CGS (J15, verified), Noridian (JF, inferred) instructions, "
        "not a national policy; 4 Coverage-database documents bear on the code (code lists not loaded; section 4) |"
    )
    assert re.search(
        r"\| Medicare, if covered: facility fee, hospital outpatient \(OPPS\) \| \$1,765\.76 \| CMS OPPS 2026-Q1, national unadjusted \(latest loaded; 2026-Q4 not loaded\) \|",
        rows[2],
    )
    assert "| $1,475.61 | CMS ASC 2026-Q1, national unadjusted (latest loaded; 2026-Q4 not loaded) |" in rows[3]
    assert rows[4].endswith(
        "| contractor-priced: no national amount | CMS PFS 2025-Q4, national (latest loaded; 2026-Q4 not loaded) |"
    )
    assert rows[5] == (
        "| Commercial negotiated rate: professional fee, office | $596.75–$702.83 | 3 negotiated prices from 1 payer "
        "(UnitedHealthcare Insurance Company of New York), TiC file dated 2022-09-01 |"
    )
    assert rows[6].endswith("| 65.0% of charges | 1 payer (HealthSCOPE Benefits, Inc.), TiC file dated 2023-02-01 |")
    assert rows[7] == (
        "| Medicare Part B volume | data not available: no real Medicare Part B file covering 0440T is loaded | "
        "only synthetic demonstration files are loaded (see the appendix) |"
    )
    for number in SYNTHETIC_NUMBERS:
        assert number not in glance
    assert html.index("At a glance") < html.index(">1. Summary<")
    # the detail the first screen leaves out is in the sections: each payer group's stance and policy, the contractors'
    # documents by id, the full words of a contractor-priced fee and of a release not loaded
    coverage = part(markdown, "## 4. Payer coverage", "## 5.")
    for group, policy in (("Aetna", "Aetna CPB 0297"), ("Blue Cross Blue Shield plans", "Capital Blue Cross MP 2.376")):
        assert re.search(rf"^\| {group} \| commercial plans \| \[{policy}\]", coverage, flags=re.M), group
    assert re.search(r"^\| UnitedHealthcare \| commercial plans \| .* \| no policy found \|", coverage, flags=re.M)
    assert "CGS Administrators, LLC (MAC, J15; cope24853, verified)" in coverage
    assert "Noridian Healthcare Solutions (MAC, JF; A55681, inferred)" in coverage
    for document in ("A59752", "A59753", "A56902", "L35490"):
        assert f"| [{document}](" in coverage, document
    assert "**Their code lists are not loaded**" in coverage
    medicare = part(markdown, "## 5. Medicare reimbursement", "## 6.")
    assert "contractor-priced: no national amount (each Medicare contractor sets the payment)" in medicare
    assert "the 2026-Q4 release in effect on 2026-12-05 is not loaded" in medicare


def coverage_ctx(rows: list[tuple[str, str, object, object, str, object]]) -> ReportContext:
    """Coverage rows (payer group, line of business, stance, policy id, confidence, reason) with the plan behind each
    policy; no Medicare contractor policy and no Coverage-database document."""
    columns = ["payer_group", "line_of_business", "coverage_status", "policy_id", "source_confidence"]
    coverage = pd.DataFrame(rows, columns=[*columns, "availability_reason"])
    policies = pd.DataFrame(
        [("aetna", "CPB 0297", "Aetna"), ("bcbs", "MP 2.376", "Capital Blue Cross"), ("cigna", "0525", "Cigna")],
        columns=["payer_group", "policy_id", "payer_name"],
    )
    frames = {"coverage": coverage, "coverage_policies": policies, "policy_sources": pd.DataFrame()}
    return ReportContext(code="0440T", as_of=AS_OF, payers=[], frames=frames)


def test_commercial_coverage_is_one_row_that_keeps_every_stance_apart_with_its_policies() -> None:
    ctx = coverage_ctx(
        [
            ("aetna", "commercial", "experimental_investigational", "CPB 0297", "verified", None),
            ("bcbs", "commercial", "covered_with_criteria", "MP 2.376", "verified", None),
            ("cigna", "commercial", "experimental_investigational", "0525", "inferred", None),
            ("unitedhealthcare", "commercial", None, None, None, "not_loaded"),
            ("medicare", "medicare_ffs", "case_by_case", "A55681", "inferred", None),
        ]
    )
    rows = glance.coverage_rows(ctx)
    assert [str(r[0]) for r in rows] == ["Coverage: commercial plans", "Coverage: traditional Medicare"]
    answer, basis = str(rows[0][1]), str(rows[0][2])
    # the stated stances first, then the group whose stance is not loaded, with its reason
    assert answer == (
        "not covered (experimental / investigational): 2 of 4 payer groups; covered with criteria: 1 of 4 payer groups; "
        "UnitedHealthcare: data not available: no file of this source is loaded for the period"
    )
    assert basis == "Aetna CPB 0297, verified; Cigna 0525, inferred; Capital Blue Cross MP 2.376, verified"
    # no contractor policy and no document listed: Medicare's row names its policy (the id alone: no plan behind it)
    assert str(rows[1][1]) == "case by case" and str(rows[1][2]) == "A55681, inferred"


def test_settings_sharing_one_answer_are_named_with_their_kind_of_fee_once() -> None:
    assert glance.fee_words(["professional_office", "professional_facility"]) == (
        "professional fee, office or in a facility"
    )
    assert glance.fee_words(["professional_office", "asc"]) == (
        "professional fee, office; facility fee, ambulatory surgical center"
    )


def test_a_contractor_is_named_short_without_its_corporate_tail() -> None:
    from flows.report.medicare import short_contractor

    assert short_contractor("CGS Administrators, LLC") == "CGS"
    assert short_contractor("Noridian Healthcare Solutions, LLC") == "Noridian"
    assert short_contractor("WPS Insurance Corporation") == "WPS"
    assert short_contractor("First Coast Service Options, Inc.") == "First Coast"  # not "First"
    assert short_contractor("National Government Services, Inc.") == "National Government"
    assert short_contractor("Palmetto GBA") == "Palmetto GBA"


def test_the_headline_qualifies_the_commercial_range_and_reads_medicare_as_if_covered(
    rendered: tuple[str, str, Path],
) -> None:
    _, markdown, _ = rendered
    headline = next(line for line in part(markdown, "## 1. Summary", "## 2.").splitlines() if line.startswith("**"))
    assert "commercial negotiated rates run" not in headline  # the old headline: one unqualified range
    assert "decides coverage case by case; if covered, it pays" in headline
    sentences = headline.split(". ")
    commercial = [s for s in sentences if "$596.75" in s]
    assert len(commercial) == 1
    # one payer, one setting, the file's date; no Medicare facility amount in the same comparison
    assert all(
        w in commercial[0] for w in ("1 payer", "professional fee, office", "2022-09-01", "professional fee only")
    )
    assert "$1,765.76" not in commercial[0] and "$1,475.61" not in commercial[0]
    assert "Medicare pays $" not in headline


def test_releases_are_the_latest_loaded_and_a_release_in_effect_but_not_loaded_is_said(
    rendered: tuple[str, str, Path],
) -> None:
    _, markdown, _ = rendered
    assert "Medicare releases in effect on" not in markdown  # the old title
    assert "latest in effect on the as-of date" not in markdown  # the old comparator column
    assert "Release (latest loaded up to the as-of date)" in markdown
    missing_release = "the 2026-Q4 release in effect on 2026-12-05 is not loaded"
    assert re.search(r"\| CMS PFS 2025-Q4, national \(latest loaded; " + re.escape(missing_release), markdown)
    summary = part(markdown, "## 1. Summary", "## 2.")
    assert "CMS PFS 2025-Q4; latest loaded; " + missing_release in summary
    assert "the 2026-Q4 ASC / OPPS / PFS releases in effect on 2026-12-05 are not loaded" in summary


def test_a_release_in_effect_on_the_as_of_date_gets_no_note(context: ReportContext) -> None:
    row = pd.Series({"release_year": 2026, "release_quarter": 1})
    early = ReportContext(code="0440T", as_of=dt.date(2026, 2, 1), payers=[])
    assert in_effect_note(early, row) == ""
    assert in_effect_note(context, row) == "latest loaded; the 2026-Q4 release in effect on 2026-12-05 is not loaded"


def test_by_default_synthetic_rows_appear_only_in_the_demonstration_appendix(
    rendered: tuple[str, str, Path], context: ReportContext
) -> None:
    _, markdown, _ = rendered
    body, appendix = markdown.split("## Appendix: Demonstration data (synthetic)")
    for number in SYNTHETIC_NUMBERS[:6]:
        assert number not in body and number in appendix, number
    assert "synthetic sample" not in body  # no synthetic row inline, so no marker either
    # the only hospital file is synthetic and lists Medicare Advantage rates: "no loaded hospital file" would be false
    assert "no loaded real hospital file lists one for 0440T" in part(body, "## 6.", "## 7.")
    assert "not published by CMS" not in markdown  # the Part B files are synthetic: CMS suppressed nothing in them
    assert "left out of the synthetic sample file" in appendix
    # the figure and the % of Medicare figures are given real rows only
    assert not figure._figure_rates(context)["is_synthetic"].any()
    assert not context["benchmark"]["includes_synthetic"].fillna(False).astype(bool).any()
    sources = part(markdown, "### Files loaded", "### Policy documents")
    assert "| Real or synthetic |" in sources
    kinds = re.findall(r"\| (real|synthetic \(demonstration\)) \|$", sources, flags=re.M)
    assert kinds == sorted(kinds, key=lambda k: k != "real") and "real" in kinds and len(set(kinds)) == 2


def test_include_synthetic_shows_the_rows_inline_marked(bundled_warehouse: Settings, tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(["report", "--code", "0440T", "--include-synthetic"])
    assert args.include_synthetic is True
    assert cli.build_parser().parse_args(["report"]).include_synthetic is False
    result = render_report(bundled_warehouse, "0440T", as_of=AS_OF, out_dir=tmp_path, include_synthetic=True)
    markdown = result.markdown.read_text(encoding="utf-8")
    commercial = part(markdown, "## 6. Commercial reimbursement", "## 7.")
    assert re.search(
        r"\| Aetna \| not stated in the file \| Hospital outpatient \| Hospital price files — \*\*synthetic", commercial
    )
    first = part(markdown, "## At a glance", "## 2.")  # the first screen and the summary state facts: real only
    assert "· data as of 2026-12-05 · real data, with synthetic demonstration rows inline, marked" in markdown
    assert "## At a glance\n\nReal data only (the sections below show synthetic rows inline, marked)." in first
    for number in SYNTHETIC_NUMBERS:
        assert number not in first


def test_data_availability_counts_by_reason_lists_cells_in_a_details_block_and_writes_a_csv(
    rendered: tuple[str, str, Path],
) -> None:
    html, markdown, out = rendered
    section = part(markdown, "## 9. Data availability", "## 10. Sources")
    assert "| Area | Reason | Empty or partial values |" in section
    assert "<details><summary>Every empty value, one row each (" in section and "</details>" in section
    assert section.index("| Area | Reason |") < section.index("<details>")
    assert "<details>" in html and "<summary>" in html
    path = out / "0440T_data_availability.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    shown = int(re.search(r"one row each \((\d+)\)", section)[1])
    assert len(rows) == shown and list(rows[0]) == ["Area", "Where", "Value", "Reason"]
    assert {"Payer coverage", "Medicare payment", "Negotiated rates"} <= {r["Area"] for r in rows}
    assert not any("_" in value for r in rows for value in r.values() if value)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


FILE_OR_URL = re.compile(r"https?://\S+|\S+\.(?:csv|json|gz|xlsx|txt|zip|png|html|md)\b|\(\S+\)")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def reader_words(text: str) -> str:
    """What a reader reads as words: without URLs, link targets and file names (whose underscores are the file's)."""
    return FILE_OR_URL.sub(" ", htmllib.unescape(text))


def test_no_snake_case_value_or_mart_name_anywhere_a_reader_sees(
    rendered: tuple[str, str, Path], bundled_warehouse: Settings
) -> None:
    html, markdown, _ = rendered
    parser = _Text()
    parser.feed(html)
    marts = {p.stem for p in (bundled_warehouse.sql_dir / "marts").glob("*.sql")}
    for name, text in (("Markdown", markdown), ("HTML", " ".join(parser.parts))):
        words = reader_words(text)
        assert SNAKE.findall(words) == [], f"{name}: {sorted(set(SNAKE.findall(words)))[:10]}"
        assert not {m for m in marts if re.search(rf"\b{m}\b", words)}, name
        assert "the marts give" not in words and "the marts" not in words
