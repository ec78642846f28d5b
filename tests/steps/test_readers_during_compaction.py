"""Readers of the load log (DuckDB sessions on it and on marts that read it, `load_log.read`) never
fail, never go backwards and never see a row twice while a writer merges, rebuilds and prunes."""

from __future__ import annotations

from pathlib import Path

from benchmarks.soak_load_log_readers import soak


def test_readers_never_fail_through_many_compactions_and_builds(tmp_path: Path) -> None:
    result = soak(tmp_path, seconds=6, readers=1, at=4, grace=1.5, build_every=1.5, min_builds=2, min_pruned=1)
    print(result.summary())
    assert result.compactions >= 10 and result.builds >= 2 and result.generations_pruned >= 1, result.summary()
    assert all(r.reads >= 10 for r in result.readers), result.summary()
    assert result.errors == 0, result.summary()
    assert not any(r.backwards or r.duplicates for r in result.readers), result.summary()
