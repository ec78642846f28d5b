"""One settings module: project-relative defaults, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR, from_env


def test_defaults_are_project_relative() -> None:
    s = from_env({})
    assert s.raw_dir == PROJECT_DIR / "raw"
    assert s.duckdb_path == PROJECT_DIR / "warehouse" / "payerbench.duckdb"
    assert s.sql_dir == PROJECT_DIR / "warehouse" / "sql"


def test_environment_overrides(tmp_path: Path) -> None:
    s = from_env({"PAYERBENCH_WAREHOUSE_DIR": str(tmp_path / "wh"), "PAYERBENCH_RAW_DIR": str(tmp_path / "raw"),
                  "PAYERBENCH_CHUNK_ROWS": "10"})
    assert s.duckdb_path == tmp_path / "wh" / "payerbench.duckdb"
    assert s.payer_alias_file == tmp_path / "raw" / "reference" / "payer_aliases.csv"
    assert s.chunk_rows == 10
    assert s.sql_dir == PROJECT_DIR / "warehouse" / "sql"  # code stays with the project


def test_bad_number_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="PAYERBENCH_CHUNK_ROWS='ten' is not a number"):
        from_env({"PAYERBENCH_CHUNK_ROWS": "ten"})
