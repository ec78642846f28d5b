"""The benchmark report: rendered from the bundled data, values a person can check in the sources."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flows import cli
from flows.report import render_report, report_codes
from flows.report_text import NA, SECTION_TITLES, money, percent, reason
from flows.run_pipeline import run_pipeline
from flows.settings import Settings
from tests.conftest import BUNDLED_RAW


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("report")
    shutil.copytree(BUNDLED_RAW, root / "raw")
    settings = Settings(raw_dir=root / "raw", warehouse_dir=root / "warehouse", reports_dir=root / "reports",
                        render_reports=False)
    assert run_pipeline(settings).ok
    return settings


@pytest.fixture(scope="module")
def report_0440t(warehouse: Settings) -> tuple[str, str]:
    result = render_report(warehouse, "0440T")
    assert result.html.name == "0440T_benchmark.html" and result.markdown.name == "0440T_benchmark.md"
    return result.html.read_text(encoding="utf-8"), result.markdown.read_text(encoding="utf-8")


def sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_section_heading_is_present_in_order(report_0440t: tuple[str, str]) -> None:
    html, markdown = report_0440t
    assert list(sections(markdown)) == SECTION_TITLES
    positions = [html.index(f">{title}<") for title in SECTION_TITLES]
    assert positions == sorted(positions)


def test_medicare_values_from_the_cms_files(report_0440t: tuple[str, str]) -> None:
    html, markdown = report_0440t
    medicare = sections(markdown)["5. Medicare reimbursement"]
    # ASC Addendum AA, January 2026: 0440T J8 $1,475.61; Addendum B January 2023: J1, APC 5431, $1,797.52
    assert re.search(r"\| Ambulatory surgical center \| 2026-Q1 \| \$1,475\.61 \| J8 \| 5431 \|", medicare)
    assert re.search(r"\| Hospital outpatient \(OPPS\) \| 2023-Q1 \| \$1,797\.52 \| J1 \| 5431 \|", medicare)
    # PFS status C: contractor-priced, never $0.00
    assert re.search(r"\| Physician, office \(non-facility\) \| 2025-Q4 \| contractor-priced: no national amount", medicare)
    assert "$0.00" not in markdown and "$0.00" not in html
    assert "$1,475.61" in html and "5431" in html
    assert "contractor-priced" in sections(markdown)["1. Summary"]


def test_commercial_values_from_the_payer_files(report_0440t: tuple[str, str]) -> None:
    _, markdown = report_0440t
    commercial = sections(markdown)["6. Commercial reimbursement"]
    # UnitedHealthcare Insurance Company of New York TiC file: $596.75 and $702.83, professional, office
    assert re.search(r"\| UnitedHealthcare \| Professional, office \| Payer TiC files \| 4 \| \$596\.75 \| \$702\.83 \| \$702\.83 \|",
                     commercial)
    assert "$596.75–$702.83" in sections(markdown)["1. Summary"]
    # HealthSCOPE: 65.0 is a percentage of billed charges, never dollars
    assert re.search(r"\| Other payers \| Professional, office \| Payer TiC files \| 1 \| 65\.0% \| 65\.0% \|", commercial)
    assert "$65.00" not in markdown and "$65.0" not in markdown
    assert "![png](0440T_benchmark_files/" in commercial  # the figure


def test_html_is_one_self_contained_file(report_0440t: tuple[str, str]) -> None:
    html, _ = report_0440t
    assert "<script" not in html.lower()
    assert not re.search(r'<link[^>]+href="http', html) and not re.search(r'<img[^>]+src="http', html)
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html)


def test_coverage_and_code_facts_come_from_the_data(report_0440t: tuple[str, str]) -> None:
    _, markdown = report_0440t
    coverage = sections(markdown)["4. Payer coverage"]
    assert "[CPB 0297](http://es.aetna.com/cpb/medical/data/200_299/0297.html)" in coverage
    assert "case by case" in coverage
    overview = sections(markdown)["2. Billing code overview"]
    assert "upper extremity distal/peripheral nerve" in overview and "Category III" in overview
    assert " new code" not in markdown.replace("not a new code", "")  # the code dates from the 2017 code set
    clinical = sections(markdown)["3. Clinical and coding specifications"]
    assert "| G90.511 |" in clinical and "| XS |" in clinical and "| FA |" in clinical


def test_a_code_without_data_renders_and_says_not_available(warehouse: Settings, tmp_path: Path) -> None:
    result = render_report(warehouse, "0999T", out_dir=tmp_path)
    markdown = result.markdown.read_text(encoding="utf-8")
    found = sections(markdown)
    assert list(found) == SECTION_TITLES
    for title in SECTION_TITLES[:8]:
        assert NA in found[title] or "No data is available" in found[title], title
    assert "$" not in "".join(found[t] for t in SECTION_TITLES[:8])


def test_report_command_writes_each_target_code(warehouse: Settings, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert report_codes(warehouse) == ["0440T", "0441T", "0442T"]
    code = cli.main(["report", "--code", "0441t", "--out", str(tmp_path), "--warehouse", str(warehouse.warehouse_dir),
                     "--raw-dir", str(warehouse.raw_dir)])
    assert code == 0
    assert (tmp_path / "0441T_benchmark.html").exists() and (tmp_path / "0441T_benchmark.md").exists()
    assert "0441T:" in capsys.readouterr().out


def test_formatting_never_turns_missing_into_zero() -> None:
    assert money(None) == NA and money(float("nan")) == NA and money(1475.61) == "$1,475.61"
    assert percent(65) == "65.0%"
    assert reason("contractor_priced").startswith("contractor-priced: no national amount")
    assert reason(None) == NA


def test_rates_from_synthetic_files_are_labelled_and_kept_out_of_the_summary(report_0440t: tuple[str, str]) -> None:
    _, markdown = report_0440t
    commercial = sections(markdown)["6. Commercial reimbursement"]
    assert "Hospital price files — **synthetic sample**" in commercial  # the bundled synthetic hospital file
    summary = sections(markdown)["1. Summary"]
    assert "labelled synthetic" in summary and "synthetic_v3_tall_0440T-0442T.csv" in summary
    assert "$596.75–$702.83" in summary  # the real (UHC) range only
