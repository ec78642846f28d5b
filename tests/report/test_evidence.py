"""Issue 17, truth and evidence: real Medicare documents, corrected facts, release changes, device offsets and the
clinical context per code, each read from the bundled data (every test fails on the report before the issue)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from flows.report.data import ReportContext
from flows.report.evidence import CHANGE_THRESHOLD_PCT, release_changes
from flows.report.render import render_report
from flows.settings import Settings
from tests.report.test_sections import sections


@pytest.fixture(scope="module")
def reports(bundled_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reports_evidence")
    return {
        code: render_report(bundled_warehouse, code, out_dir=out).markdown.read_text(encoding="utf-8")
        for code in ("0440T", "0441T", "0442T")
    }


def test_real_coverage_database_documents_are_shown_with_the_caveat(reports: dict[str, str]) -> None:
    # raw/cms_mcd/documents_latest_excerpt.csv (real): Noridian A59752/A59753, WPS L35490/A56902
    coverage = sections(reports["0440T"])["4. Payer coverage"]
    for doc, title, effective in [
        ("A59752", "Billing and Coding: Cryoneurolysis Instructions", "2024-01-01"),
        ("A59753", "Billing and Coding: Cryoneurolysis Instructions", "2024-01-01"),
        ("L35490", "Category III Codes", "2025-06-26"),
        ("A56902", "Billing and Coding: Category III Codes", "2025-01-01"),
    ]:
        assert re.search(
            rf"\| \[{doc}\]\(https://www\.cms\.gov/medicare-coverage-database/view/[^)]+\) \| "
            rf"(Article|LCD) \| {re.escape(title)} \| {effective} \|",
            coverage,
        ), doc
    assert "Noridian Healthcare Solutions, LLC" in coverage and "WPS Insurance Corporation" in coverage
    assert "Their code lists are not loaded" in coverage
    # a conclusion drawn only from the synthetic MCD tables is no conclusion
    assert "no LCD or coverage article lists the code" not in reports["0440T"]
    assert "support no conclusion about which LCDs or articles list the code" in coverage


def test_noridian_a55681_is_a_jurisdiction_jf_article(reports: dict[str, str]) -> None:
    markdown = reports["0440T"]
    assert "Noridian Healthcare Solutions (MAC, JF; A55681, inferred)" in markdown
    assert "JE/JF" not in markdown


def test_modifier_51_says_what_the_loaded_pfs_file_says(reports: dict[str, str]) -> None:
    clinical = sections(reports["0440T"])["3. Clinical and coding specifications"]
    row = next(line for line in clinical.splitlines() if line.startswith("| 51 |"))
    assert "payers apply multiple-procedure reductions" not in row
    # PPRRVU2025_Oct: 0440T multiple-procedure indicator 0, global days YYY
    assert (
        "Medicare PFS 2025-Q4 (PPRRVU2025_Oct_excerpt.csv): multiple-procedure indicator 0 (no multiple-procedure"
        in row
    )
    assert "global days YYY (the Medicare contractor decides" in row
    # section 8's ASC discounting (Addendum AA) is the facility payment's: it says so, and what the PFS file says
    billing = sections(reports["0440T"])["8. Billing considerations"]
    asc = next(line for line in billing.splitlines() if "multiple-procedure discounting" in line)
    assert "That is the facility payment; for the physician's fee the PFS file decides: Medicare PFS 2025-Q4" in asc
    assert "multiple-procedure indicator 0 (no multiple-procedure payment reduction applies)" in asc


def test_modifiers_show_the_definitions_and_the_use_with_the_code_apart(reports: dict[str, str]) -> None:
    clinical = sections(reports["0440T"])["3. Clinical and coding specifications"]
    assert "| Modifier | Description | When to use | Definition: confidence | Use with 0440T: confidence |" in clinical
    for modifier in ("XS", "LT", "RT", "F1", "FA"):
        assert re.search(rf"^\| {modifier} \|.*\| verified \| inferred \|$", clinical, flags=re.M), modifier
    toes = sections(reports["0441T"])["3. Clinical and coding specifications"]
    assert re.search(r"^\| TA \| Left foot, great toe \|.*\| verified \| inferred \|$", toes, flags=re.M)
    assert "| F1 |" not in toes  # hand digits are 0440T's


def test_asc_rows_label_the_apc_as_opps_from_addendum_ff(reports: dict[str, str]) -> None:
    medicare = sections(reports["0440T"])["5. Medicare reimbursement"]
    assert re.search(
        r"\| Ambulatory surgical center \| 2026-Q1 \| \$1,475\.61 \| J8 \| OPPS APC 5431 \(Addendum FF\) \|", medicare
    )
    assert not re.search(r"\| Ambulatory surgical center \|[^\n]*\| J8 \| 5431 \|", medicare)
    assert "ASC payment does not use APCs" in medicare


def test_every_blue_policy_is_named_with_its_plan(reports: dict[str, str]) -> None:
    markdown = reports["0440T"]
    summary, coverage = sections(markdown)["1. Summary"], sections(markdown)["4. Payer coverage"]
    assert "Capital Blue Cross MP 2.376: verified" in summary
    assert "Blue Cross Blue Shield plans MP 2.376" not in markdown
    assert "[Capital Blue Cross MP 2.376](" in coverage
    for plan_policy in (
        "Anthem Blue Cross SURG.00155",
        "Blue Cross and Blue Shield of Alabama MP-626",
        "Blue Cross and Blue Shield of Texas SUR701.035",
        "Blue Cross Blue Shield of Massachusetts (commercial): no policy found",
    ):
        assert plan_policy in coverage, plan_policy


def test_the_extract_date_is_not_called_a_retrieval(reports: dict[str, str]) -> None:
    sources = sections(reports["0440T"])["10. Sources"]
    assert "retrieved 2026-11-26" not in reports["0440T"]
    assert "(verified, recorded 2026-11-26)" in sources
    assert "not the date a live page was read" in sources


def test_0442t_apc_and_amount_changes_are_called_out(reports: dict[str, str]) -> None:
    medicare = sections(reports["0442T"])["5. Medicare reimbursement"]
    # FF/AA October 2025 -> January 2026: APC 5432 -> 5433, ASC $4,626.66 -> $6,353.37, OPPS $5,755.32 -> $7,754.67
    assert (
        "**Ambulatory surgical center, 2025-Q4 → 2026-Q1:** OPPS APC (Addendum FF) 5432 → 5433; $4,626.66 → $6,353.37 (+37%)"
        in medicare
    )
    assert (
        "**Hospital outpatient (OPPS), 2025-Q4 → 2026-Q1:** APC 5432 → 5433; $5,755.32 → $7,754.67 (+35%)" in medicare
    )
    # 0440T: no APC change and every move under the threshold
    assert (
        "no APC change and no amount change of 10% or more" in sections(reports["0440T"])["5. Medicare reimbursement"]
    )


def test_a_called_out_change_reaches_the_first_screen_and_the_summary(reports: dict[str, str]) -> None:
    markdown = reports["0442T"]
    first = markdown[markdown.index("## At a glance") : markdown.index("## 1. Summary")]
    asc = next(line for line in first.splitlines() if "ambulatory surgical center (ASC)" in line)
    assert "| $6,353.37 |" in asc and "up 37% from $4,626.66 in 2025-Q4, OPPS APC (Addendum FF) 5432 → 5433" in asc
    opps = next(line for line in first.splitlines() if "hospital outpatient (OPPS)" in line)
    assert "up 35% from $5,755.32 in 2025-Q4, APC 5432 → 5433" in opps
    summary = sections(markdown)["1. Summary"]
    assert "up 37% from $4,626.66 in 2025-Q4, OPPS APC (Addendum FF) 5432 → 5433)" in summary
    # 0440T's amounts moved less than the threshold with the same APC: nothing to call out
    assert " from $" not in sections(reports["0440T"])["1. Summary"]


def frame_ctx(rates: list[tuple[str, str, str, float, str]]) -> ReportContext:
    frame = pd.DataFrame(rates, columns=["setting", "release_period", "period_start_date", "payment_usd", "apc"])
    return ReportContext(code="0440T", as_of=dt.date(2026, 6, 1), payers=[], frames={"medicare_rates": frame})


def test_an_amount_change_is_called_out_from_the_threshold_up() -> None:
    below = 100 + CHANGE_THRESHOLD_PCT - 0.5
    quiet = frame_ctx(
        [("asc", "2025-Q4", "2025-10-01", 100.0, "5431"), ("asc", "2026-Q1", "2026-01-01", below, "5431")]
    )
    assert "no APC change" in release_changes(quiet)[0]
    loud = frame_ctx([("asc", "2025-Q4", "2025-10-01", 100.0, "5431"), ("asc", "2026-Q1", "2026-01-01", 90.0, "5431")])
    assert "$100.00 → $90.00 (−10%)" in release_changes(loud)[1]
    apc = frame_ctx(
        [("hopd_opps", "2025-Q4", "2025-10-01", 100.0, "5431"), ("hopd_opps", "2026-Q1", "2026-01-01", 101.0, "5432")]
    )
    assert "APC 5431 → 5432; $100.00 → $101.00 (+1%)" in release_changes(apc)[1]


def test_the_asc_device_offset_of_addendum_ff_is_shown(reports: dict[str, str]) -> None:
    medicare = sections(reports["0440T"])["5. Medicare reimbursement"]
    # FF January 2026: 0440T J8, APC 5431, $1,765.76, device offset 64.49 %, $1,138.74
    assert "| 2026-Q1 | J8 | OPPS APC 5431 | $1,765.76 | 64.49% | $1,138.74 | FF_January_2026_excerpt.csv |" in medicare
    assert "device-intensive (payment indicator J8)" in medicare


def test_each_code_has_its_own_clinical_context_with_confidence_and_source(reports: dict[str, str]) -> None:
    c40 = sections(reports["0440T"])["3. Clinical and coding specifications"]
    assert "### Clinical context" in c40
    vignette = next(line for line in c40.splitlines() if "wrist fracture" in line)
    assert "*illustrative, not a clinical fact*" in vignette and "[source](" in vignette
    assert "**Documentation a payer will ask for**" in c40
    assert re.search(
        r"^1\. Medicare: the contractor may request records .*\(verified; \[source\]\(https://www\.cgsmedicare",
        c40,
        flags=re.M,
    )
    c41 = sections(reports["0441T"])["3. Clinical and coding specifications"]
    assert "wrist fracture" not in c41
    assert 'CGS: "Use 0441T for the Iovera system for use in the knee"' in c41
    assert "Knee osteoarthritis and total knee arthroplasty" in c41 and "(TA, T1-T9)" in c41
    c42 = sections(reports["0442T"])["3. Clinical and coding specifications"]
    assert "brachial plexus disorder (ICD-10-CM G54.0)" in c42 and "wrist fracture" not in c42 and "knee" not in c42
