"""The snapshot-file adapter: a file is one snapshot row and, when it records one, one change row; anything
else is rejected whole with a message naming what is wrong. SYNTHETIC rows (tests/schemas/test_payer_policy_snapshot.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.settings import Settings
from flows.sources import payer_policy_snapshot as adapter
from flows.sources.base import FileRejected, ReadContext
from tests.schemas.test_payer_policy_snapshot import CHANGE, SNAPSHOT


def snapshot_file(tmp_path: Path, data: object, name: str = "2026-02-02T060000Z.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def columns(record: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in record.items() if k != "source_record"}


def read(path: Path) -> list:  # type: ignore[type-arg]
    return list(adapter.read(path, ReadContext(Settings(raw_dir=path.parent))))


def test_a_first_snapshot_is_one_row_and_a_change_adds_a_change_row(tmp_path: Path) -> None:
    first = snapshot_file(
        tmp_path, {"format": adapter.FORMAT, "snapshot": columns(SNAPSHOT), "change": None, "text": "x"}, "a.json"
    )
    changed = snapshot_file(
        tmp_path,
        {"format": adapter.FORMAT, "snapshot": columns(SNAPSHOT), "change": columns(CHANGE), "text": "y"},
        "b.json",
    )
    assert [(b.dataset, len(b.frame)) for b in read(first)] == [("payer__policy_snapshot", 1)]
    batches = read(changed)
    assert [(b.dataset, b.frame.iloc[0]["source_record"]) for b in batches] == [
        ("payer__policy_snapshot", "$.snapshot"),
        ("payer__policy_change", "$.change"),
    ]
    assert batches[1].frame.iloc[0]["new_stance"] == "covered_with_criteria"
    assert "text" not in batches[0].frame.columns  # kept in the file for audit, not loaded
    assert adapter.detect(first) and adapter.detect(changed)


def test_other_json_and_the_extract_are_not_snapshots(tmp_path: Path) -> None:
    assert not adapter.detect(snapshot_file(tmp_path, {"policies": []}))
    extract = tmp_path / "extract.csv"
    extract.write_text("payer_name,coverage_status,billing_code\n", encoding="utf-8")
    assert not adapter.detect(extract)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"format": "payerbench.policy_snapshot/9", "snapshot": {}}, "format 'payerbench.policy_snapshot/9'"),
        ([1, 2], "format 'list'"),
        ({"format": adapter.FORMAT, "snapshot": "oops"}, "$snapshot is str"),
        ({"format": adapter.FORMAT, "snapshot": {k: v for k, v in columns(SNAPSHOT).items() if k != "text_sha256"}},
         "no text_sha256"),
        ({"format": adapter.FORMAT, "snapshot": columns(SNAPSHOT), "change": {"url": SNAPSHOT["url"]}}, "no payer_name"),
    ],
)  # fmt: skip
def test_a_malformed_snapshot_file_is_rejected_naming_the_problem(tmp_path: Path, data: object, says: str) -> None:
    with pytest.raises(FileRejected, match=None) as caught:
        read(snapshot_file(tmp_path, data))
    assert says in str(caught.value)


def test_a_file_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "payerbench.policy_snapshot/1", ', encoding="utf-8")
    with pytest.raises(FileRejected, match="not valid JSON"):
        read(path)
