"""The report's cache key: it covers every file of the package, of its SQL and the notebook, whatever their names."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from flows.report import render
from flows.settings import PROJECT_DIR, Settings

DAY = dt.date(2026, 1, 15)


@pytest.fixture
def code_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings over a copy of the report's code (package, SQL, notebook), the key's package folder pointed at it."""
    project = tmp_path / "project"
    shutil.copytree(render.PACKAGE_DIR, project / "flows" / "report", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_DIR / "warehouse" / "sql" / "report", project / "warehouse" / "sql" / "report")
    (project / "notebooks").mkdir()
    shutil.copy(PROJECT_DIR / "notebooks" / render.NOTEBOOK, project / "notebooks")
    monkeypatch.setattr(render, "PACKAGE_DIR", project / "flows" / "report")
    return Settings(project_dir=project, warehouse_dir=tmp_path / "warehouse")


def key(settings: Settings) -> str:
    return render.inputs_key(settings, "0440T", as_of=DAY)


def test_the_key_covers_every_file_of_the_package_and_its_sql() -> None:
    files = render.code_files(Settings())
    modules = {f"flows/report/{p.name}" for p in render.PACKAGE_DIR.glob("*.py")}
    queries = {f"warehouse/sql/report/{p.name}" for p in (PROJECT_DIR / "warehouse" / "sql" / "report").glob("*.sql")}
    assert len(modules) >= 9 and len(queries) >= 16
    # the page's style sheet and the Markdown twin's template are the report's code too: a change re-renders it
    modules |= {"flows/report/page.css", "flows/report/templates/markdown_described/index.md.j2"}
    modules |= {"flows/report/templates/markdown_described/conf.json"}
    assert set(files) == modules | queries | {"notebooks/benchmark_report.ipynb"}
    assert all(path.is_file() for path in files.values())


def test_changing_any_module_of_the_package_changes_the_key(code_copy: Settings) -> None:
    before = key(code_copy)
    assert key(code_copy) == before  # the same code: the same key
    modules = sorted(render.PACKAGE_DIR.glob("*.py"))
    assert {p.stem for p in modules} >= {"labels", "text", "data", "medicare", "sections", "figure", "render", "flow"}
    seen = {before}
    for module in modules:
        original = module.read_bytes()
        module.write_bytes(original + b"\n# edited\n")
        changed = key(code_copy)
        assert changed not in seen, f"editing {module.name} left the key as it was"
        seen.add(changed)
        module.write_bytes(original)
        assert key(code_copy) == before
    (render.PACKAGE_DIR / "new_section.py").write_text("WORDS = 1\n", encoding="utf-8")  # a module split off
    assert key(code_copy) not in seen
    (render.PACKAGE_DIR / "new_section.py").unlink()
    # a module renamed with the same bytes is a different package
    (render.PACKAGE_DIR / "text.py").rename(render.PACKAGE_DIR / "words.py")
    assert key(code_copy) not in seen


def test_changing_the_sql_or_the_notebook_changes_the_key(code_copy: Settings) -> None:
    before = key(code_copy)
    sql = code_copy.sql_dir / "report" / "coverage.sql"
    sql.write_text(sql.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    after_sql = key(code_copy)
    assert after_sql != before
    (code_copy.sql_dir / "report" / "extra.sql").write_text("select 1\n", encoding="utf-8")
    after_new = key(code_copy)
    assert after_new not in (before, after_sql)
    notebook = code_copy.project_dir / "notebooks" / render.NOTEBOOK
    notebook.write_bytes(notebook.read_bytes() + b"\n")
    assert key(code_copy) not in (before, after_sql, after_new)


def test_compiled_files_are_not_part_of_the_key(code_copy: Settings) -> None:
    before = key(code_copy)
    cache = render.PACKAGE_DIR / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "text.cpython-312.pyc").write_bytes(b"\0compiled")
    assert key(code_copy) == before


def _build_state(settings: Settings, **state: object) -> None:
    import json

    from flows.steps.warehouse import STATE_NAME

    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    settings.duckdb_path.write_bytes(b"a build")
    (settings.warehouse_dir / STATE_NAME).write_text(json.dumps(state), encoding="utf-8")


def test_a_build_that_only_followed_the_load_log_to_a_new_generation_keeps_the_key(code_copy: Settings) -> None:
    """A merge of the load log (every other `payerbench run` with nothing new) moves no row: no query is asked."""
    inputs = {"tic__file": "d1", "load_log": "l1"}
    _build_state(code_copy, schema="s", inputs=inputs, log_generation=4, log_generation_since=1.0)
    before = key(code_copy)
    _build_state(code_copy, schema="s", inputs=inputs, log_generation=5, log_generation_since=2.0)
    assert key(code_copy) == before
    _build_state(code_copy, schema="s", inputs={**inputs, "tic__file": "d2"}, log_generation=5, log_generation_since=2)
    assert key(code_copy) != before  # a new load: asked again
    _build_state(code_copy, schema="s2", inputs=inputs, log_generation=5, log_generation_since=2.0)
    assert key(code_copy) != before  # a schema change: asked again
    code_copy.duckdb_path.unlink()
    assert key(code_copy) != before  # no build
