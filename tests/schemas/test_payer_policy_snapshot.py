"""Rules of payer__policy_snapshot and payer__policy_change: each with a row that passes and one that fails.

The rows are SYNTHETIC (example.org-style URLs, invented stances)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.steps.validate import DatasetValidator
from schemas.payer_policy_snapshot import PolicyChange, PolicySnapshot

URL = "https://providers.anthem.example/dam/medpolicies/abc/active/policies/mp_pw_e000359.html"
SNAPSHOT = {
    "url": URL,
    "final_url": URL,
    "payer_name": "Anthem",
    "policy_id": "SURG.00155",
    "policy_title": "Cryoneurolysis",
    "fetch_id": "20260105T060000Z-abc123",
    "fetched_at": "2026-01-05T06:00:00+00:00",
    "http_status": "200",
    "content_type": "html",
    "text_sha256": "a" * 64,
    "text_chars": "1520",
    "last_reviewed_date": "2024-05-09",
    "effective_date": None,
    "published_date": "2024-06-28",
    "codes_checked": "0440T,0441T,0442T",
    "codes_listed": "0440T,0441T",
    "stance": "experimental_investigational",
    "stance_sentences": "Cryoneurolysis is considered investigational and not medically necessary.",
    "previous_sha256": None,
    "landed_path": "payer_policy_snapshot/fetched/anthem/surg-00155/2026-01-05T060000Z.json",
    "source_record": "$.snapshot",
}
CHANGE = {
    "url": URL,
    "payer_name": "Anthem",
    "policy_id": "SURG.00155",
    "previous_fetched_at": "2026-01-05T06:00:00+00:00",
    "fetched_at": "2026-02-02T06:00:00+00:00",
    "previous_sha256": "a" * 64,
    "new_sha256": "b" * 64,
    "previous_stance": "experimental_investigational",
    "new_stance": "covered_with_criteria",
    "stance_changed": True,
    "relevant_changed": True,
    "diff": "-stance: experimental_investigational\n+stance: covered_with_criteria",
    "draft_path": "payer_policy_drafts/2026-02-02_draft.csv",
    "source_record": "$.change",
}


def check(model: type, good: dict[str, object], *changes: dict[str, object]):  # type: ignore[no-untyped-def]
    frame = pd.DataFrame([dict(good, **c) for c in changes] or [good], dtype=object)
    return DatasetValidator(model).check(frame, Path("2026-01-05T060000Z.json"))


def failed(result) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(str(r.column), str(r.check).split("(")[0]) for r in result.failures.itertuples()]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"codes_listed": None, "stance": None, "stance_sentences": None, "last_reviewed_date": None},
        {"content_type": "pdf", "final_url": None, "policy_id": None, "policy_title": None},
        {"previous_sha256": "c" * 64, "stance": "covered;experimental_investigational"},
    ],
)
def test_good_snapshots_load(changes: dict[str, object]) -> None:
    result = check(PolicySnapshot, SNAPSHOT, changes)
    assert len(result.valid) == 1 and result.failures.empty, result.failures


@pytest.mark.parametrize(
    ("changes", "column", "check_name"),
    [
        ({"url": "ftp://example.org/policy.pdf"}, "url", "str_matches"),
        ({"final_url": "not a url"}, "final_url", "str_matches"),
        ({"payer_name": "A"}, "payer_name", "str_length"),
        ({"fetch_id": "two words"}, "fetch_id", "str_matches"),
        ({"fetched_at": "last week"}, "fetched_at", "coerce_dtype"),
        ({"http_status": "304"}, "http_status", "less_than_or_equal_to"),
        ({"http_status": "199"}, "http_status", "greater_than_or_equal_to"),
        ({"content_type": "docx"}, "content_type", "isin"),
        ({"text_sha256": "ABC"}, "text_sha256", "str_matches"),
        ({"text_chars": "-1"}, "text_chars", "greater_than_or_equal_to"),
        ({"last_reviewed_date": "05/09/2024"}, "last_reviewed_date", "coerce_dtype"),
        ({"effective_date": "soon"}, "effective_date", "coerce_dtype"),
        ({"published_date": "2024-13-01"}, "published_date", "coerce_dtype"),
        ({"codes_checked": "0440T, 0441T"}, "codes_checked", "str_matches"),
        ({"codes_listed": "0440t"}, "codes_listed", "str_matches"),
        ({"codes_listed": "0440T,64640"}, "codes_listed_were_checked", "codes_listed_were_checked"),
        ({"stance": "probably_fine"}, "stance_known", "stance_known"),
        ({"stance": "covered;no_policy_found"}, "stance_known", "stance_known"),
        ({"stance_sentences": None}, "stance_needs_sentences", "stance_needs_sentences"),
        ({"previous_sha256": "a" * 64}, "new_version_differs", "new_version_differs"),
        ({"previous_sha256": "xyz"}, "previous_sha256", "str_matches"),
        ({"landed_path": "/etc/passwd"}, "landed_path", "str_matches"),
        ({"landed_path": "payer_policy_snapshot/../../secret"}, "landed_path", "str_matches"),
    ],
)
def test_snapshot_rules_fail_on_the_named_column(changes: dict[str, object], column: str, check_name: str) -> None:
    result = check(PolicySnapshot, SNAPSHOT, changes)
    assert result.valid.empty
    assert any(c in (column, "nan") and check_name in k for c, k in failed(result)), failed(result)  # nan: a row check


def test_a_review_date_after_the_fetch_is_advisory_and_the_row_loads() -> None:
    result = check(PolicySnapshot, SNAPSHOT, {"last_reviewed_date": "2026-03-01"})
    assert len(result.valid) == 1 and result.failures.empty
    assert [a.check for a in result.advisories.itertuples()] == ["reviewed_after_fetch"]
    assert check(PolicySnapshot, SNAPSHOT).advisories.empty


def test_the_same_url_fetched_at_the_same_time_twice_is_a_duplicate() -> None:
    result = check(PolicySnapshot, SNAPSHOT, {}, {"source_record": "$.snapshot[2]"})
    assert result.failures["check"].tolist() == ["unique_key (first seen at $.snapshot)"]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"relevant_changed": False, "diff": None, "draft_path": None, "stance_changed": False,
         "new_stance": "experimental_investigational"},
        {"previous_stance": None, "new_stance": None, "stance_changed": False, "policy_id": None},
    ],
)  # fmt: skip
def test_good_changes_load(changes: dict[str, object]) -> None:
    result = check(PolicyChange, CHANGE, changes)
    assert len(result.valid) == 1 and result.failures.empty, result.failures


@pytest.mark.parametrize(
    ("changes", "column", "check_name"),
    [
        ({"url": "policy.html"}, "url", "str_matches"),
        ({"payer_name": ""}, "payer_name", "str_length"),
        ({"previous_fetched_at": "then"}, "previous_fetched_at", "coerce_dtype"),
        ({"fetched_at": None}, "fetched_at", "not_nullable"),
        ({"previous_sha256": "A" * 64}, "previous_sha256", "str_matches"),
        ({"new_sha256": "b" * 63}, "new_sha256", "str_matches"),
        ({"stance_changed": None}, "stance_changed", "not_nullable"),
        ({"relevant_changed": None}, "relevant_changed", "not_nullable"),
        ({"draft_path": "/tmp/draft.csv"}, "draft_path", "str_matches"),
        ({"new_sha256": "a" * 64}, "sha256_differs", "sha256_differs"),
        ({"previous_fetched_at": "2026-02-02T06:00:00+00:00"}, "previous_before_new", "previous_before_new"),
        ({"new_stance": "maybe"}, "stances_known", "stances_known"),
        ({"previous_stance": "covered;what"}, "stances_known", "stances_known"),
        ({"stance_changed": False}, "stance_changed_agrees", "stance_changed_agrees"),
        ({"new_stance": "experimental_investigational"}, "stance_changed_agrees", "stance_changed_agrees"),
        ({"diff": None}, "relevant_change_has_diff", "relevant_change_has_diff"),
    ],
)
def test_change_rules_fail_on_the_named_column(changes: dict[str, object], column: str, check_name: str) -> None:
    result = check(PolicyChange, CHANGE, changes)
    assert result.valid.empty
    assert any(c in (column, "nan") and check_name in k for c, k in failed(result)), failed(result)  # nan: a row check


def test_the_same_change_twice_is_a_duplicate() -> None:
    result = check(PolicyChange, CHANGE, {}, {"source_record": "$.change[2]"})
    assert result.failures["check"].tolist() == ["unique_key (first seen at $.change)"]
