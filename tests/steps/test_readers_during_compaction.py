"""Readers of the load log (DuckDB sessions on it and on marts that read it, `load_log.read`) never
fail, never go backwards and never see a row twice while a writer merges, rebuilds and prunes; a
report being rewritten is never seen half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.soak_load_log_readers import soak
from flows.settings import Settings


@pytest.mark.slow
def test_readers_never_fail_through_many_compactions_and_builds(tmp_path: Path) -> None:
    result = soak(tmp_path, seconds=6, readers=1, at=4, grace=1.5, build_every=2.0, min_builds=2, min_pruned=1)
    print(result.summary())
    assert result.compactions >= 10 and result.builds >= 2 and result.generations_pruned >= 1, result.summary()
    assert all(r.reads >= 10 for r in result.readers), result.summary()
    assert result.errors == 0, result.summary()
    assert not any(r.backwards or r.duplicates for r in result.readers), result.summary()


def test_a_report_being_rewritten_is_never_seen_half_written(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat

    from flows.report import execute
    from flows.report import render as report

    def executed(text: str):  # type: ignore[no-untyped-def]
        def run_notebook(notebook: Path, parameters: object, **_: object) -> nbformat.NotebookNode:  # not executed
            cell = nbformat.v4.new_code_cell(
                "", outputs=[nbformat.v4.new_output("display_data", data={"text/markdown": text, "text/plain": text})]
            )
            return nbformat.v4.new_notebook(cells=[cell])

        return run_notebook

    out = tmp_path / "reports"
    monkeypatch.setattr(execute, "run_notebook", executed("first rendering " * 2000))
    html = report.render_report(settings, "0440T", out_dir=out).html
    with html.open(encoding="utf-8") as reader:  # a browser or a web server in the middle of reading it
        monkeypatch.setattr(execute, "run_notebook", executed("second rendering"))
        report.render_report(settings, "0440T", out_dir=out)
        assert reader.read().count("first rendering") == 2000  # the old file, whole, not truncated under it
    assert "second rendering" in html.read_text(encoding="utf-8")

    def killed(source: object, dest: object) -> None:
        raise KeyboardInterrupt("killed while publishing")

    monkeypatch.setattr(execute, "run_notebook", executed("third rendering"))
    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        report.render_report(settings, "0440T", out_dir=out)
    monkeypatch.undo()
    assert "second rendering" in html.read_text(encoding="utf-8") and "</html>" in html.read_text(encoding="utf-8")
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and ".tmp-" in p.name] == []
