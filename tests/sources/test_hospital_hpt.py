"""cms-hpt.txt parsing (flows/sources/hospital_hpt.py): CMS's README example block parses clean; each defect is a
finding on its block, never an exception. Texts are SYNTHETIC (CMS's example shape, invented hospitals)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.sources.hospital_hpt import is_entries_file, looks_like_html, parse_cms_hpt

CMS_EXAMPLE = """location-name: Test Hospital
source-page-url: https://example.com
mrf-url: https://example.com/HPT
contact-name: Jon Snow
contact-email: jsnow@example.com

location-name: Test Hospital 2
source-page-url: https://example2.com
mrf-url: https://example2.com/HPT
contact-name: Jane Doe
contact-email: jdoe@example2.com
"""


def test_the_cms_readme_example_parses_into_two_clean_blocks() -> None:
    blocks = parse_cms_hpt(CMS_EXAMPLE)
    assert [(b.number, b.line, b.mrf_url, b.findings) for b in blocks] == [
        (1, 1, "https://example.com/HPT", []),
        (2, 7, "https://example2.com/HPT", []),
    ]
    assert blocks[1].values["contact-email"] == "jdoe@example2.com"


def test_bom_crlf_key_case_and_blocks_run_together_are_read() -> None:
    text = "\ufeff" + CMS_EXAMPLE.replace("location-name:", "Location-Name :").replace("\n\n", "\n").replace(
        "\n", "\r\n"
    )
    blocks = parse_cms_hpt(text)
    assert [b.values["location-name"] for b in blocks] == ["Test Hospital", "Test Hospital 2"]
    assert all(b.findings == [] for b in blocks)


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        (("mrf-url: https://example.com/HPT\n", ""), "missing_field"),
        (("mrf-url: https://example.com/HPT", "mrf-url: /HPT"), "relative_url"),
        (("mrf-url: https://example.com/HPT", "mrf-url: http://example.com/HPT"), "not_https"),
        (("source-page-url: https://example.com", "source-page-url: example.com/prices"), "relative_url"),
        (("jsnow@example.com", "jsnow at example"), "bad_contact_email"),
        (("contact-name: Jon Snow", "contact-name: Jon Snow\nphone: 555-0100"), "unrecognised_line"),
        (("contact-name: Jon Snow", "contact-name: Jon Snow\ncontact-name: Again"), "unrecognised_line"),
    ],
)
def test_a_defect_is_a_finding_on_its_block(change: tuple[str, str], finding: str) -> None:
    first, second = parse_cms_hpt(CMS_EXAMPLE.replace(*change, 1))
    assert first.findings[0][0] == finding, first.findings
    assert second.findings == []


def test_an_unfetchable_mrf_url_is_not_fetchable() -> None:
    (block,) = parse_cms_hpt("location-name: A\nmrf-url: ftp://example.com/x.csv\n")
    assert not block.fetchable and block.findings[0][0] == "missing_field"
    assert ("not_https", "mrf-url 'ftp://example.com/x.csv' is not https (CMS requires an https URL)") in block.findings


def test_html_is_told_from_text() -> None:
    assert looks_like_html(b"\n  <!DOCTYPE html><html>")
    assert looks_like_html(b"location-name: A", "text/html; charset=utf-8")
    assert not looks_like_html(CMS_EXAMPLE.encode(), "text/plain")


def test_only_the_fetch_steps_entries_file_is_an_entries_file(tmp_path: Path) -> None:
    good = tmp_path / "cms-hpt.csv"
    good.write_text("hospital_name,state_abbrev,web_root,txt_url,entry,mrf_url,finding\n", encoding="utf-8")
    other = tmp_path / "other.csv"
    other.write_text("hospital_name,last_updated_on,version\n", encoding="utf-8")
    assert is_entries_file(good) and not is_entries_file(other) and not is_entries_file(tmp_path / "x.txt")
