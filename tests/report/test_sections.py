"""The benchmark report: rendered from the bundled data, values a person can check in the sources."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flows import cli
from flows.report.data import report_codes
from flows.report.glance import GLANCE_TITLE
from flows.report.labels import NA
from flows.report.render import render_report
from flows.report.sections import SECTION_TITLES
from flows.report.text import money, percent, reason
from flows.run_pipeline import run_pipeline
from flows.settings import Settings
from tests.conftest import BUNDLED_RAW

HEADINGS = [GLANCE_TITLE, *SECTION_TITLES]
"""Every `## ` heading of a report, in order: the at-a-glance table's, then the numbered sections'."""


@pytest.fixture
def warehouse(bundled_run: Settings) -> Settings:
    """The session's bundled run (a copy for a test marked writes_warehouse: a flow run writes its run record)."""
    return bundled_run


@pytest.fixture(scope="module")
def report_0440t(bundled_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Rendered into a folder of its own: the session's warehouse is shared, and other modules (tests/test_cli.py)
    check that nothing renders into its reports folder."""
    warehouse = bundled_warehouse
    result = render_report(warehouse, "0440T", out_dir=tmp_path_factory.mktemp("reports_0440t"))
    assert result.html.name == "0440T_benchmark.html" and result.markdown.name == "0440T_benchmark.md"
    return result.html.read_text(encoding="utf-8"), result.markdown.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report_0440t_with_synthetic(bundled_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`--include-synthetic`: the bundled synthetic rows inline, marked (what the report showed by default before)."""
    out = tmp_path_factory.mktemp("reports_0440t_synthetic")
    result = render_report(bundled_warehouse, "0440T", out_dir=out, include_synthetic=True)
    return result.markdown.read_text(encoding="utf-8")


def body(markdown: str) -> str:
    """The report without its demonstration-data appendix: what states facts."""
    return markdown.split("## Appendix: Demonstration data (synthetic)")[0]


@pytest.fixture(scope="module")
def report_0442t(bundled_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("reports_0442t")
    return render_report(bundled_warehouse, "0442T", out_dir=out).markdown.read_text(encoding="utf-8")


def sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_section_heading_is_present_in_order(report_0440t: tuple[str, str]) -> None:
    html, markdown = report_0440t
    assert list(sections(markdown)) == HEADINGS
    positions = [html.index(f">{title}<") for title in HEADINGS]
    assert positions == sorted(positions)


def test_medicare_values_from_the_cms_files(report_0440t: tuple[str, str]) -> None:
    html, markdown = report_0440t
    medicare = sections(markdown)["5. Medicare reimbursement"]
    # ASC Addendum AA, January 2026: 0440T J8 $1,475.61; Addendum B January 2023: J1, APC 5431, $1,797.52
    assert re.search(
        r"\| Ambulatory surgical center \| 2026-Q1 \| \$1,475\.61 \| J8 \| OPPS APC 5431 \(Addendum FF\) \|", medicare
    )
    assert re.search(r"\| Hospital outpatient \(OPPS\) \| 2023-Q1 \| \$1,797\.52 \| J1 \| 5431 \|", medicare)
    # PFS status C: contractor-priced, never $0.00
    assert re.search(
        r"\| Physician, office \(non-facility\) \| 2025-Q4 \| contractor-priced: no national amount", medicare
    )
    assert "$0.00" not in markdown and "$0.00" not in html
    assert "$1,475.61" in html and "5431" in html
    assert "contractor-priced" in sections(markdown)["1. Summary"]


def test_commercial_values_from_the_payer_files(report_0440t: tuple[str, str]) -> None:
    _, markdown = report_0440t
    commercial = sections(markdown)["6. Commercial reimbursement"]
    # UnitedHealthcare Insurance Company of New York TiC file: three negotiated prices for 0440T, $596.75 (provider
    # group 0) and $702.83 (groups 1 and 2; group 1 has two TINs, so the file expands to 4 rows, but it is 3 prices)
    assert re.search(
        r"\| UnitedHealthcare \| commercial \| Professional, office \| Payer TiC files \| 3 \| \$596\.75 \| \$702\.83 \| "
        r"\$702\.83 \| 3 \|",
        commercial,
    )
    assert "$596.75–$702.83" in sections(markdown)["1. Summary"]
    # HealthSCOPE: 65.0 is a percentage of billed charges, never dollars
    assert re.search(
        r"\| Other payers \| commercial \| Professional, office \| Payer TiC files \| 1 \| 65\.0% \| 65\.0% \|",
        commercial,
    )
    assert "$65.00" not in markdown and "$65.0" not in markdown
    assert "![0440T: strip chart of commercial negotiated dollar rates" in commercial  # the figure, in words


def test_html_is_one_self_contained_file(report_0440t: tuple[str, str]) -> None:
    html, _ = report_0440t
    assert "<script" not in html.lower()
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:;' in html
    )  # the figure is data:
    assert not re.search(r'<link[^>]+href="http', html) and not re.search(r'<img[^>]+src="http', html)
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html)


def test_coverage_and_code_facts_come_from_the_data(report_0440t: tuple[str, str]) -> None:
    _, markdown = report_0440t
    coverage = sections(markdown)["4. Payer coverage"]
    assert "[Aetna CPB 0297](http://es.aetna.com/cpb/medical/data/200_299/0297.html)" in coverage  # the plan named
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
    assert list(found) == HEADINGS
    for title in SECTION_TITLES[:8]:
        assert NA in found[title] or "No data is available" in found[title], title
    assert "$" not in "".join(found[t] for t in SECTION_TITLES[:8])


@pytest.mark.writes_warehouse
def test_report_command_writes_each_target_code(
    warehouse: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_codes(warehouse) == ["0440T", "0441T", "0442T"]
    code = cli.main(
        [
            "report",
            "--code",
            "0441t",
            "--out",
            str(tmp_path),
            "--warehouse",
            str(warehouse.warehouse_dir),
            "--raw-dir",
            str(warehouse.raw_dir),
        ]
    )
    assert code == 0
    assert (tmp_path / "0441T_benchmark.html").exists() and (tmp_path / "0441T_benchmark.md").exists()
    assert "0441T:" in capsys.readouterr().out


def test_formatting_never_turns_missing_into_zero() -> None:
    assert money(None) == NA and money(float("nan")) == NA and money(1475.61) == "$1,475.61"
    assert percent(65) == "65.0%"
    assert reason("contractor_priced").startswith("contractor-priced: no national amount")
    assert reason(None) == NA


def test_rates_from_synthetic_files_are_labelled_and_kept_out_of_the_summary(
    report_0440t: tuple[str, str], report_0440t_with_synthetic: str
) -> None:
    # raw/hospital_mrf/synthetic_v3_tall_0440T-0442T.csv: Cigna Open Access Plus $6,480.00 for 0440T outpatient
    _, markdown = report_0440t
    commercial = sections(markdown)["6. Commercial reimbursement"]
    assert "synthetic sample" not in commercial and "$6,480.00" not in commercial  # by default: the appendix only
    assert "$6,480.00" in sections(markdown)["Appendix: Demonstration data (synthetic)"]
    summary = sections(markdown)["1. Summary"]
    assert (
        "Synthetic demonstration files are loaded too; they state no fact and are left out of this summary" in summary
    )
    assert "$596.75–$702.83" in summary and "$6,480.00" not in summary  # the real (UHC) range only
    # --include-synthetic: inline and marked, still never in the summary
    inline = sections(report_0440t_with_synthetic)
    assert "Hospital price files — **synthetic sample**" in inline["6. Commercial reimbursement"]
    assert "$6,480.00" in inline["6. Commercial reimbursement"] and "$6,480.00" not in inline["1. Summary"]
    assert "(marked *synthetic sample* where shown)" in inline["1. Summary"]


def test_hospital_outpatient_reference_is_the_current_release_named(
    report_0442t: str, bundled_warehouse: Settings, tmp_path: Path
) -> None:
    """No Addendum B for 2026-Q1: ASC Addendum FF January 2026 lists 0442T in APC 5433, OPPS rate $7,754.67."""
    summary = sections(report_0442t)["1. Summary"]
    assert (
        "$7,754.67 in a hospital outpatient department (CMS OPPS 2026-Q1, national unadjusted: APC 5433 rate as "
        "printed in ASC Addendum FF"
    ) in summary
    assert "a facility fee of $7,754.67 (OPPS 2026-Q1) in a hospital outpatient department" in summary  # headline
    assert "$6,178.65" not in summary  # Addendum B 2023-Q1 (APC 5432): history in section 5, not what Medicare pays now
    assert "$6,353.37 in an ambulatory surgical center (CMS ASC 2026-Q1, national unadjusted" in summary
    # the percent of Medicare of a hospital-outpatient rate (only the synthetic hospital file has one) uses it too
    inline = render_report(bundled_warehouse, "0442T", out_dir=tmp_path, include_synthetic=True)
    commercial = sections(inline.markdown.read_text(encoding="utf-8"))["6. Commercial reimbursement"]
    assert "of $7,754.67 (CMS OPPS 2026-Q1, national unadjusted)" in commercial
    medicare = sections(report_0442t)["5. Medicare reimbursement"]
    assert re.search(r"\| Hospital outpatient \(OPPS\) \| 2023-Q1 \| \$6,178\.65 \| J1 \| 5432 \|", medicare)
    assert re.search(
        r"\| Hospital outpatient \(OPPS\) \| 2026-Q1 \| \$7,754\.67 \| .* \| 5433 \| OPPS national unadjusted rate "
        r"of APC 5433 as printed in CMS ASC Addendum FF for 2026-Q1",
        medicare,
    )


def test_an_old_medicare_release_is_flagged_in_words() -> None:
    import datetime as dt

    import pandas as pd

    from flows.report.data import ReportContext
    from flows.report.sections import section_summary

    rates = pd.DataFrame(
        [
            {
                "setting": "hopd_opps",
                "release_period": "2023-Q1",
                "release_year": 2023,
                "release_quarter": 1,
                "period_start_date": dt.date(2023, 1, 1),
                "payment_usd": 6178.65,
                "availability_reason": None,
                "rate_label": "CMS OPPS 2023-Q1, national unadjusted: Addendum B",
                "status_indicator": "J1",
                "apc": "5432",
            },
            {
                "setting": "asc",
                "release_period": "2026-Q1",
                "release_year": 2026,
                "release_quarter": 1,
                "period_start_date": dt.date(2026, 1, 1),
                "payment_usd": 6353.37,
                "availability_reason": None,
                "rate_label": "CMS ASC 2026-Q1, national unadjusted: Addendum AA",
                "status_indicator": "J8",
                "apc": "5433",
            },
        ]
    )
    empty = pd.DataFrame()
    ctx = ReportContext(
        code="0442T",
        as_of=dt.date(2026, 3, 1),
        payers=[],
        frames={
            "medicare_rates": rates,
            "code_profile": pd.DataFrame(
                [{"billing_code": "0442T", "label": "x", "code_category": "category_iii", "code_type": "CPT"}]
            ),
            "code_facts": pd.DataFrame(columns=["topic", "fact", "source_url", "source_confidence"]),
            "coverage": pd.DataFrame(
                columns=["payer_group", "coverage_status", "coverage_position", "availability_reason"]
            ),
            "commercial_rates": pd.DataFrame(
                columns=[
                    "rate_kind",
                    "is_synthetic",
                    "payer_name",
                    "payer_group",
                    "plan_type",
                    "source",
                    "rate_usd",
                    "rate_pct_of_charges",
                    "as_of_date",
                    "source_file",
                ]
            ),
            "benchmark": pd.DataFrame(columns=["rate_count"]),
            "utilization_trend": empty,
        },
    )
    summary = section_summary(ctx)
    assert (
        "$6,178.65 in a hospital outpatient department (CMS OPPS 2023-Q1, national unadjusted: Addendum B; status J1, "
        "APC 5432; latest loaded; the 2026-Q1 release in effect on 2026-03-01 is not loaded; an older release, 12 "
        "quarters before the newest loaded Medicare release (2026-Q1)"
    ) in summary
    assert "an older release" not in summary.split("$6,353.37")[1].split(";")[0]


def test_commercial_claim_counts_commercial_plans_only_and_names_the_evidence(report_0440t: tuple[str, str]) -> None:
    # raw/payer_policy: UHC's only stance is MPG043 (medicare_advantage, inferred); its commercial row is no_policy_found
    _, markdown = report_0440t
    summary = sections(markdown)["1. Summary"]
    assert (
        "3 of 4 commercial payer groups' commercial policies treat it as not covered "
        "(verified: Aetna CPB 0297, Capital Blue Cross MP 2.376; inferred: Cigna 0525); UnitedHealthcare: no policy "
        "found for "
        "commercial plans"
    ) in summary
    assert "4 of 4" not in summary
    assert (
        "Medicare Advantage, shown apart and not counted above: UnitedHealthcare MPG043: not medically necessary (inferred)"
        in summary
    )
    billing = sections(markdown)["8. Billing considerations"]
    commercial_bullet = next(line for line in billing.splitlines() if line.startswith("- Commercial-plan policies of"))
    assert "Aetna (verified), Blue Cross Blue Shield plans (verified), Cigna (inferred)" in commercial_bullet
    assert "UnitedHealthcare" not in commercial_bullet
    assert "- UnitedHealthcare Medicare Advantage plans: not medically necessary under MPG043 (inferred)" in billing
    coverage = sections(markdown)["4. Payer coverage"]
    assert re.search(
        r"\| UnitedHealthcare \| commercial plans \| data not available \| data not available \| no policy found \|"
        r".*\| not medically necessary \(MPG043, inferred\) \|",
        coverage,
    )


def test_medicare_advantage_and_traditional_medicare_never_pool_into_commercial(
    report_0440t: tuple[str, str], report_0440t_with_synthetic: str
) -> None:
    # raw/hospital_mrf/synthetic_v3_tall_0440T-0442T.csv, 0440T outpatient: Cigna Open Access Plus $6,480.00 and
    # Cigna-HealthSpring "Cigna Preferred Medicare (HMO)" $1,780.00; UHC's only dollar row is "AARP Medicare Advantage
    # Choice PPO" $1,803.25; "Medicare Part B" $1,750.00 is traditional Medicare. The file is synthetic, so by default
    # none of them is in the body at all; with --include-synthetic they are inline and must still never pool.
    for amount in ("$1,780.00", "$1,803.25", "$1,750.00", "$6,480.00"):
        assert amount not in body(report_0440t[1])
    markdown = report_0440t_with_synthetic
    commercial_part, _, apart = sections(markdown)["6. Commercial reimbursement"].partition("### Medicare Advantage")
    assert re.search(
        r"\| Cigna \| not stated in the file \| Hospital outpatient \| .* \| 1 \| \$6,480\.00 \| \$6,480\.00 \|",
        commercial_part,
    )
    assert "$4,130.00" not in markdown  # the old pooled Cigna median of $6,480 and $1,780
    for amount in ("$1,780.00", "$1,803.25", "$1,750.00"):
        assert amount not in commercial_part
    assert "| Medicare |" not in commercial_part
    assert re.search(r"\| Cigna \| Medicare Advantage \| Hospital outpatient \| .* \| \$1,780\.00 \|", apart)
    assert re.search(r"\| UnitedHealthcare \| Medicare Advantage \| Hospital outpatient \| .* \| \$1,803\.25 \|", apart)
    medicare = sections(markdown)["5. Medicare reimbursement"]
    assert "Hospital price files also list traditional Medicare amounts" in medicare and "$1,750.00" in medicare


# --- reports render whatever is missing -------------------------------------------------------------------
def copy_raw(root: Path, *, without: tuple[str, ...] = (), ignore: str | None = None) -> Settings:
    """Settings over a copy of the bundled raw/ folder, leaving out whole source folders or files matching a pattern."""
    patterns = shutil.ignore_patterns(ignore) if ignore else None
    shutil.copytree(BUNDLED_RAW, root / "raw", ignore=patterns)
    for name in without:
        shutil.rmtree(root / "raw" / name)
    return Settings(raw_dir=root / "raw", warehouse_dir=root / "warehouse", reports_dir=root / "reports")


@pytest.mark.slow
def test_every_report_renders_without_the_synthetic_files(tmp_path: Path) -> None:
    """The reviewer's second warehouse: no synthetic MCD release, Part B years or hospital file (bool(pd.NA) crashed)."""
    settings = copy_raw(tmp_path, ignore="synthetic_*")
    summary = run_pipeline(settings)
    assert summary.ok, summary.report_errors
    assert sorted(p.name for p in summary.reports) == sorted(
        f"{code}_benchmark.{ext}" for code in ("0440T", "0441T", "0442T") for ext in ("html", "md")
    )
    markdown = (settings.reports_dir / "0440T_benchmark.md").read_text(encoding="utf-8")
    assert list(sections(markdown)) == HEADINGS
    # no synthetic file loaded: no row, no marker and no appendix claim; only the appendix heading and the sources
    # table's column name say the word
    assert "No synthetic file is loaded: everything in this report comes from real files." in markdown
    assert "synthetic" not in body(markdown).replace("| Real or synthetic |", "").lower()
    assert (
        "Medicare Coverage Database code lists (CMS's export): data not available"
        in sections(markdown)["4. Payer coverage"]
    )
    assert "Medicare utilization: data not available" in sections(markdown)["7. Utilization"]


@pytest.mark.slow
def test_a_report_renders_without_the_asc_addenda(tmp_path: Path) -> None:
    settings = copy_raw(tmp_path, without=("cms_asc_addenda",))
    settings = settings.replace(render_reports=False)
    assert run_pipeline(settings).ok
    markdown = render_report(settings, "0440T").markdown.read_text(encoding="utf-8")
    medicare = sections(markdown)["5. Medicare reimbursement"]
    assert re.search(
        r"\| Ambulatory surgical center \| 2025-Q4 \| data not available: no file of this source is loaded", medicare
    )
    assert "multiple-procedure discounting" not in sections(markdown)["8. Billing considerations"]


@pytest.mark.writes_warehouse
def test_a_report_renders_as_of_a_date_before_the_asc_releases(
    warehouse: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [
            "report",
            "--code",
            "0440T",
            "--as-of",
            "2024-06-01",
            "--out",
            str(tmp_path),
            "--warehouse",
            str(warehouse.warehouse_dir),
            "--raw-dir",
            str(warehouse.raw_dir),
        ]
    )
    assert code == 0, capsys.readouterr().err
    markdown = (tmp_path / "0440T_benchmark.md").read_text(encoding="utf-8")
    assert list(sections(markdown)) == HEADINGS


def test_state_cell_counts_leave_out_the_national_cells(
    report_0440t: tuple[str, str], report_0440t_with_synthetic: str
) -> None:
    # raw/cms_partb_geo_service (synthetic): 0440T has one state row, Texas 2023 office; 56 geographies x 2 places x
    # 3 years = 336 state cells, so 335 left out. The national cells (2 of 6 published) are not state cells.
    assert "state × place-of-service" not in sections(report_0440t[1])["7. Utilization"]  # synthetic: not by default
    utilization = sections(report_0440t_with_synthetic)["7. Utilization"]
    assert (
        "Synthetic sample, state level: 335 year × state × place-of-service cells left out of the sample file "
        "(it imitates CMS's small-cell rule; not CMS data)"
    ) in utilization
    assert "not published by CMS" not in report_0440t_with_synthetic  # CMS suppressed nothing in a synthetic file


def test_as_of_applies_to_every_section(warehouse: Settings, tmp_path: Path) -> None:
    import datetime as dt

    markdown = render_report(warehouse, "0442T", as_of=dt.date(2025, 11, 15), out_dir=tmp_path).markdown.read_text(
        encoding="utf-8"
    )
    head = markdown.split("## 1. Summary")[0]
    assert "Data as of 2025-11-15" in head and f"Rendered on {dt.date.today().isoformat()}" in head
    summary = sections(markdown)["1. Summary"]
    # in effect on 2025-11-15: ASC Addenda AA/FF October 2025 (0442T APC 5432, ASC $4,626.66, OPPS rate $5,755.32)
    assert "$5,755.32 in a hospital outpatient department (CMS OPPS 2025-Q4, national unadjusted" in summary
    assert "$4,626.66 in an ambulatory surgical center (CMS ASC 2025-Q4, national unadjusted" in summary
    assert "latest loaded" not in summary  # the 2025-Q4 releases are the ones in effect on 2025-11-15
    assert "$7,754.67" not in markdown and "$6,353.37" not in markdown  # January 2026 releases: after the as-of date
    medicare = sections(markdown)["5. Medicare reimbursement"]
    assert re.search(
        r"\| 64450 \| .* \| Ambulatory surgical center \| CMS ASC 2025-Q4, national unadjusted \| \$45\.29 \|", medicare
    )
    assert "$54.38" not in medicare  # 64450's ASC rate of January 2026
    # the hospital file is dated 2026-07-01: after the as-of date, so none of its rates appears
    commercial = sections(markdown)["6. Commercial reimbursement"]
    assert "$7,850.00" not in markdown and "synthetic sample" not in commercial
    assert (
        "Hospital price files — data not available: no file of this source dated on or before the as-of date"
        in commercial
    )
    early = render_report(
        warehouse, "0440T", as_of=dt.date(2024, 6, 1), out_dir=tmp_path, include_synthetic=True
    ).markdown.read_text(encoding="utf-8")  # the Part B files are synthetic: their years show with them inline
    years = re.findall(r"^\| (20\d\d) \|", sections(early)["7. Utilization"], flags=re.M)
    assert years == ["2021", "2022"]  # data year 2023 was released in 2025 (file name R25)


# --- utilization totals -------------------------------------------------------------------------------------
def test_a_total_with_a_suppressed_setting_reads_as_at_least(
    report_0440t_with_synthetic: str, warehouse: Settings, tmp_path: Path
) -> None:
    # raw/cms_partb_geo_service/synthetic_MUP_PHY_R24_P05_V10_D22_Geo.csv: 0440T national office 13 beneficiaries,
    # 21 services, $300.46 allowed; no national facility row (left out, as CMS would suppress it). 2021: neither
    # setting in the file. The files are synthetic, so the rows show with --include-synthetic, in the sample's words.
    utilization = sections(report_0440t_with_synthetic)["7. Utilization"]
    left_out = reason("synthetic_small_cell")
    assert f"| 2022 | ≥ 21, partial | ≥ 13, partial | {left_out} | 21 | $300.46, office only |" in utilization
    assert "| 2022 | 21 |" not in utilization
    assert f"| 2021 | {' | '.join([left_out] * 5)} |" in utilization  # one reason, the same in every column
    assert "a beneficiary treated in both counts twice" in utilization
    assert f"≥ n, partial (2022, 2023): the facility cell is {left_out}" in utilization
    # 0441T 2022: both settings in the file, so the total is exact
    both = sections(
        render_report(warehouse, "0441T", out_dir=tmp_path, include_synthetic=True).markdown.read_text(encoding="utf-8")
    )["7. Utilization"]
    assert re.search(r"^\| 2022 \| \d[\d,]* \| \d[\d,]* \| \d[\d,]* \| \d[\d,]* \| \$[\d,.]+ \|$", both, flags=re.M)


def test_a_total_with_a_setting_not_loaded_reads_as_at_least_and_names_why() -> None:
    import datetime as dt

    import pandas as pd

    from flows.report.data import ReportContext
    from flows.report.sections import section_utilization

    trend = pd.DataFrame(
        [
            {
                "data_year": 2024,
                "availability_reason": "not_loaded",
                "service_count": 40,
                "beneficiary_count": 20,
                "facility_service_count": None,
                "office_service_count": 40,
                "avg_medicare_allowed_usd": 250.0,
                "totals_are_lower_bounds": True,
                "facility_reason": "not_loaded",
                "office_reason": "reported",
                "source_is_synthetic": False,
            },
            {
                "data_year": 2025,
                "availability_reason": "not_loaded",
                "service_count": None,
                "beneficiary_count": None,
                "facility_service_count": None,
                "office_service_count": None,
                "avg_medicare_allowed_usd": None,
                "totals_are_lower_bounds": None,
                "facility_reason": "not_loaded",
                "office_reason": "not_loaded",
                "source_is_synthetic": False,
            },
        ]
    )
    ctx = ReportContext(
        code="0440T",
        as_of=dt.date(2026, 3, 1),
        payers=[],
        frames={"utilization_trend": trend, "utilization_cells": pd.DataFrame()},
    )
    text = section_utilization(ctx)
    assert "| 2024 | ≥ 40, partial | ≥ 20, partial |" in text and "$250.00, office only" in text
    assert f"| 2025 | {' | '.join([reason('not_loaded')] * 5)} |" in text
    assert f"≥ n, partial (2024): the facility cell is {reason('not_loaded')}" in text


# --- wording (review section B.12) --------------------------------------------------------------------------
def test_the_figure_compares_each_row_with_its_own_setting_and_says_so(
    warehouse: Settings, report_0440t: tuple[str, str]
) -> None:
    import matplotlib.pyplot as plt

    from flows.report.data import ReportContext, ReportData
    from flows.report.figure import commercial_figure

    data = ReportData(warehouse, "0440T")
    try:
        # the hospital-outpatient rows with a Medicare tick are the synthetic file's: shown with --include-synthetic
        ctx = ReportContext.load(data, include_synthetic=True)
    finally:
        data.close()
    figure = commercial_figure(ctx)
    try:
        ax = figure.axes[0]
        rows = [t.get_text() for t in ax.get_yticklabels()]
        office = rows.index("UnitedHealthcare\nProfessional, office")
        # the dashed Medicare ticks: none on the professional (office) row, whose PFS amount is contractor-priced
        ticks = [seg for c in ax.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
        assert ticks and all(abs((seg[0][1] + seg[1][1]) / 2 - office) > 0.5 for seg in ticks)
        assert any("physician, office (non-facility): contractor-priced" in t.get_text() for t in ax.texts)
    finally:
        plt.close(figure)
    _, markdown = report_0440t
    caption = sections(markdown)["6. Commercial reimbursement"]
    assert (
        "A professional fee is paid on top of a facility payment and is never compared with a facility rate" in caption
    )


def test_rates_given_only_as_a_formula_are_listed_as_text(
    report_0440t: tuple[str, str], report_0440t_with_synthetic: str
) -> None:
    # raw/hospital_mrf/synthetic_v3_tall_0440T-0442T.csv line 9: UnitedHealthcare Choice Plus, 0440T outpatient, no
    # dollar amount or percentage, algorithm "110% of the Medicare OPPS payment rate for APC 5431 ..."
    formula = '"110% of the Medicare OPPS payment rate for APC 5431 in effect on the date of service"'
    assert formula not in body(report_0440t[1])  # a synthetic file's: by default in the appendix only
    assert f"formula: {formula}" in sections(report_0440t[1])["Appendix: Demonstration data (synthetic)"]
    commercial = sections(report_0440t_with_synthetic)["6. Commercial reimbursement"]
    assert (
        "- UnitedHealthcare (not stated in the file), Hospital outpatient, Hospital price files — **synthetic sample**: "
        '"110% of the Medicare OPPS payment rate for APC 5431 in effect on the date of service" '
        "(synthetic_v3_tall_0440T-0442T.csv, dated 2026-07-01)"
    ) in commercial


def test_medicare_case_by_case_names_the_contractors_and_jurisdictions(report_0440t: tuple[str, str]) -> None:
    # raw/payer_policy: CGS Administrators (cope24853, verified) and Noridian (A55681, inferred) say case by case;
    # raw/reference/payer_aliases.csv notes CGS as the MAC for J15; medicare_documents.csv A55681 as Noridian's JF article
    _, markdown = report_0440t
    summary = sections(markdown)["1. Summary"]
    assert (
        "Traditional Medicare: case by case according to CGS Administrators, LLC (MAC, J15; cope24853, verified) and "
        "Noridian Healthcare Solutions (MAC, JF; A55681, inferred): Medicare contractors' instructions for their own "
        "jurisdictions, not a national Medicare policy"
    ) in summary
    assert not re.search(r"(?<!Traditional )Medicare: case by case", summary)  # never all of Medicare
    coverage = sections(markdown)["4. Payer coverage"]
    assert re.search(
        r"\| Medicare \| traditional Medicare \| .* \| case by case \(per CGS Administrators, LLC \(MAC, J15;", coverage
    )
    billing = sections(markdown)["8. Billing considerations"]
    assert "- Traditional Medicare where CGS Administrators, LLC (MAC, J15; cope24853, verified) or Noridian" in billing
    assert "- Medicare: coverage is decided case by case" not in billing


def test_data_availability_lists_dates_beneficiaries_and_averages(
    report_0440t: tuple[str, str], report_0440t_with_synthetic: str
) -> None:
    _, markdown = report_0440t
    availability = sections(markdown)["9. Data availability"]
    # payer_policies_0440T-0442T.csv: Aetna CPB 0297 has no effective date
    assert (
        "| Payer coverage | Aetna CPB 0297 | policy effective date | data not available: the policy extract gives no "
        "effective date |"
    ) in availability
    assert "| Medicare Part B volume |" not in availability  # the Part B files are synthetic: not by default
    inline = sections(report_0440t_with_synthetic)["9. Data availability"]
    left_out = reason("synthetic_small_cell")
    for measure in (
        "national beneficiaries",
        "national average allowed amount",
        "national services",
        "office services",
    ):
        assert f"| Medicare Part B volume | 2021 | {measure} | {left_out} |" in inline
    assert "| Medicare Part B volume | 2022 | national services and beneficiaries: lower bounds" in inline
    assert reason("not_published_small_cell") not in inline  # CMS suppressed nothing in a synthetic file
    # benchmark cells name their plan type, so no two lines read the same
    lines = [line for line in availability.splitlines() if line.startswith("| Negotiated rates | ")]
    cells = [line for line in lines if line.count("|") == 5]
    assert cells and len(cells) == len(set(cells))


def test_a_code_the_medicare_files_list_but_not_configured_says_where_it_is_listed(
    warehouse: Settings, tmp_path: Path
) -> None:
    # 0443T is not in raw/reference/billing_codes.csv, but the PPRRVU, Addendum B and ASC AA / FF excerpts list it
    markdown = render_report(warehouse, "0443T", out_dir=tmp_path).markdown.read_text(encoding="utf-8")
    assert "no loaded Medicare fee-schedule file lists 0443T" not in markdown
    assert "no loaded file holds it" not in markdown
    medicare = sections(markdown)["5. Medicare reimbursement"]
    assert "0443T is not a configured code of interest, so payerbench computes no Medicare amount for it" in medicare
    assert (
        "| CMS PFS relative value file (PPRRVU) | 2025-Q4 | C | R-t spctrl alys prst8 tiss | PPRRVU2025_Oct_excerpt.csv |"
        in medicare
    )
    assert (
        "| CMS ASC Addendum AA | 2026-Q1 | N1 | R-t spctrl alys prst8 tiss | AA_January_2026_excerpt.csv |" in medicare
    )
    assert "$" not in medicare
    assert "The loaded Medicare payment files do list it" in sections(markdown)["1. Summary"]


def test_descriptors_cite_the_cms_file_or_name_the_page_they_cite(report_0442t: str) -> None:
    overview = sections(report_0442t)["2. Billing code overview"]
    # AA_January_2026_excerpt.csv line 9: 0442T "Abltj perc plex/trncl nrv"
    assert (
        "| CMS short descriptor | Abltj perc plex/trncl nrv | verified (loaded CMS file: CMS ASC Addendum AA 2026-Q1, "
        "AA_January_2026_excerpt.csv) |"
    ) in overview
    assert (
        "datalilyai.com/cpt/0440t)) |\n| Code set" not in overview
    )  # the 0440T page no longer backs 0442T's short descriptor
    descriptor = next(line for line in overview.splitlines() if line.startswith("| Official descriptor |"))
    assert "[source: the 0441T page](https://case2code.codingahead.com/cpt/codes/0441T)" in descriptor


def test_the_summary_dates_the_negotiated_rate_range(report_0440t: tuple[str, str]) -> None:
    _, markdown = report_0440t
    summary = sections(markdown)["1. Summary"]
    # uhc-ny_TEST_FILE_excerpt.json.gz: last_updated_on 2022-09-01
    assert "commercial negotiated rates run" not in summary  # one unqualified range, as if it were every payer's
    assert (
        "$596.75–$702.83 (3 negotiated prices from 1 payer (UnitedHealthcare Insurance Company of New York), TiC file "
        "dated 2022-09-01)"
    ) in summary


# --- the payers parameter -----------------------------------------------------------------------------------
def test_payers_limit_coverage_and_negotiated_rates_but_keep_medicare_as_the_reference(
    warehouse: Settings, report_0440t: tuple[str, str], tmp_path: Path
) -> None:
    _, everyone = report_0440t
    assert "Cigna" in sections(everyone)["4. Payer coverage"]
    assert "UnitedHealthcare" in sections(everyone)["6. Commercial reimbursement"]
    markdown = render_report(warehouse, "0440T", payers=["aetna"], out_dir=tmp_path).markdown.read_text(
        encoding="utf-8"
    )
    coverage = sections(markdown)["4. Payer coverage"]
    assert "Aetna" in coverage and "Cigna" not in coverage and "UnitedHealthcare" not in coverage
    assert "UnitedHealthcare" not in sections(markdown)["6. Commercial reimbursement"]
    assert "$1,475.61" in sections(markdown)["5. Medicare reimbursement"]  # Medicare ASC, January 2026: the reference


def test_an_unknown_payer_group_is_refused(warehouse: Settings) -> None:
    from flows.report.data import ReportContext, ReportData

    data = ReportData(warehouse, "0440T")
    try:
        with pytest.raises(ValueError, match="unknown payer group.*humana.*use some of aetna"):
            ReportContext.load(data, ["aetna", "humana"])
    finally:
        data.close()


# --- re-render only when something changed --------------------------------------------------------------------
@pytest.mark.writes_warehouse  # touches the build state
def test_an_unchanged_warehouse_and_day_skip_the_queries(
    warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from flows.report import render as report

    first = report.render_report_if_changed(warehouse, "0441T", out_dir=tmp_path)
    assert first.rendered

    def no_queries(*args: object, **kwargs: object) -> str:
        raise AssertionError("the report's queries ran")

    monkeypatch.setattr(report, "fingerprint", no_queries)
    again = report.render_report_if_changed(warehouse, "0441T", out_dir=tmp_path)
    assert not again.rendered  # same build, code, parameters and day: answered from the key alone
    with pytest.raises(AssertionError, match="queries ran"):  # another day: the queries must be asked again
        report.render_report_if_changed(
            warehouse, "0441T", out_dir=tmp_path, as_of=dt.date.today() - dt.timedelta(days=1)
        )
    monkeypatch.undo()
    (warehouse.warehouse_dir / ".build_state.json").touch()  # same bytes: same key
    assert not report.render_report_if_changed(warehouse, "0441T", out_dir=tmp_path).rendered


# --- policy pages as of the report's date --------------------------------------------------------------------------
AETNA_URL = (
    "http://es.aetna.com/cpb/medical/data/200_299/0297.html"  # the bundled extract's CPB 0297 (reviewed 2026-11-26)
)
SHA_OLD, SHA_NEW = "a" * 64, "b" * 64


def write_snapshot(raw: Path, fetched_at: str, sha: str, stance: str, sentence: str, reviewed: str, change) -> Path:  # type: ignore[no-untyped-def]
    """A SYNTHETIC snapshot file in the adapter's format (flows/sources/payer_policy_snapshot.py): CPB 0297 listing
    0440T and 0441T; the stances are invented for the test, not Aetna's."""
    import json

    snapshot = {
        "url": AETNA_URL,
        "final_url": None,
        "payer_name": "Aetna",
        "policy_id": "CPB 0297",
        "policy_title": "Cryoanalgesia and Therapeutic Cold",
        "fetch_id": f"synthetic-{fetched_at[:10]}",
        "fetched_at": fetched_at,
        "http_status": 200,
        "content_type": "html",
        "text_sha256": sha,
        "text_chars": 1000,
        "last_reviewed_date": reviewed,
        "effective_date": None,
        "published_date": None,
        "codes_checked": "0440T,0441T,0442T",
        "codes_listed": "0440T,0441T",
        "stance": stance,
        "stance_sentences": sentence,
        "previous_sha256": change["previous_sha256"] if change else None,
        "landed_path": f"payer_policy_snapshot/fetched/aetna/cpb_0297/{fetched_at[:10]}.json",
    }
    path = raw / "payer_policy_snapshot" / "fetched" / "aetna" / "cpb_0297" / f"{fetched_at[:10]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": "payerbench.policy_snapshot/1", "snapshot": snapshot, "change": change, "text": sentence}
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


@pytest.fixture
def watched_pages(warehouse_copy: Settings) -> Settings:
    """The bundled run plus two SYNTHETIC versions of Aetna's CPB 0297 page: fetched 2026-12-01 saying what the
    extract says (experimental / investigational), and 2026-12-15 saying covered when criteria are met."""
    from flows import catalog
    from flows.steps import warehouse as build
    from tests import cms_loading

    old = "Cryoneurolysis is considered experimental and investigational."
    new = "Cryoneurolysis is considered medically necessary when the following criteria are met."
    change = {
        "url": AETNA_URL,
        "payer_name": "Aetna",
        "policy_id": "CPB 0297",
        "previous_fetched_at": "2026-12-01T06:00:00+00:00",
        "fetched_at": "2026-12-15T06:00:00+00:00",
        "previous_sha256": SHA_OLD,
        "new_sha256": SHA_NEW,
        "previous_stance": "experimental_investigational",
        "new_stance": "covered_with_criteria",
        "stance_changed": True,
        "relevant_changed": True,
        "diff": f"--- before\n+++ after\n@@ -1,2 +1,2 @@\n-stance: experimental_investigational\n+stance: covered_with_criteria\n-sentence: {old}\n+sentence: {new} *bold* [x]",
        "draft_path": None,
    }
    raw = warehouse_copy.raw_dir
    files = [
        write_snapshot(
            raw, "2026-12-01T06:00:00+00:00", SHA_OLD, "experimental_investigational", old, "2025-03-10", None
        ),
        write_snapshot(raw, "2026-12-15T06:00:00+00:00", SHA_NEW, "covered_with_criteria", new, "2026-12-12", change),
    ]
    for path in files:
        assert cms_loading.load(warehouse_copy, "payer_policy_snapshot", path).status == "loaded"
    build.build(warehouse_copy, catalog.SCHEMAS)
    return warehouse_copy


def coverage_as_of(settings: Settings, day: str, out: Path, code: str = "0440T") -> str:
    import datetime as dt

    markdown = render_report(settings, code, as_of=dt.date.fromisoformat(day), out_dir=out).markdown
    return sections(markdown.read_text(encoding="utf-8"))["4. Payer coverage"]


def test_coverage_shows_the_policy_page_as_of_the_report_date_and_flags_a_stance_the_extract_does_not_say(
    watched_pages: Settings, tmp_path: Path
) -> None:
    older = coverage_as_of(watched_pages, "2026-12-05", tmp_path / "older")
    assert "### Policy pages as of 2026-12-05" in older
    row = (
        "| Aetna | commercial | [CPB 0297](http://es.aetna.com/cpb/medical/data/200_299/0297.html) | 2026-12-01 | "
        "experimental / investigational | 2025-03-10 | yes | experimental / investigational (reviewed 2026-11-26) | "
        "agrees |"
    )
    assert row in older
    assert "review it" not in older and "Page changes: none fetched on or before 2026-12-05." in older

    newer = coverage_as_of(watched_pages, "2026-12-20", tmp_path / "newer")
    assert (
        "| 2026-12-15 | covered with criteria | 2026-12-12 | yes | experimental / investigational (reviewed 2026-11-26) | **review** |"
        in newer
    )
    assert (
        "**Aetna CPB 0297 (Aetna, commercial): the page now reads covered with criteria (fetched 2026-12-15); the "
        "extract (reviewed 2026-11-26) says experimental / investigational: review it.**"
    ) in newer
    assert "- 2026-12-15 — Aetna [CPB 0297](http://es.aetna.com/cpb/medical/data/200_299/0297.html): stance " in newer
    assert "experimental / investigational → covered with criteria" in newer
    assert "  - added: stance: covered_with_criteria" in newer
    # diff text is data: escaped like any value from outside
    assert (
        "  - added: sentence: Cryoneurolysis is considered medically necessary when the following criteria are met. \\*bold\\* \\[x\\]"
        in newer
    )
    # the coverage table itself still shows the reviewed extract
    assert "| Aetna | commercial plans | [Aetna CPB 0297]" in newer and "| experimental / investigational |" in newer

    # 0442T is checked on the page but not in its code list
    unlisted = coverage_as_of(watched_pages, "2026-12-20", tmp_path / "unlisted", code="0442T")
    assert "| 2026-12-15 | covered with criteria | 2026-12-12 | no |" in unlisted

    # before the first fetch there is no page to show: the section reads as without snapshots
    before = coverage_as_of(watched_pages, "2026-11-30", tmp_path / "before")
    assert "Policy pages" not in before and "Page changes" not in before


def test_the_bundled_reports_show_no_policy_pages_section(report_0440t: tuple[str, str]) -> None:
    coverage = sections(report_0440t[1])["4. Payer coverage"]
    assert "Policy pages" not in coverage and "Page changes" not in coverage
