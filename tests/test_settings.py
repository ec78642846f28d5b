"""One settings module: project-relative defaults, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.errors import ConfigurationError
from flows.settings import ENV_VARS, PROJECT_DIR, from_env


def test_defaults_are_project_relative() -> None:
    s = from_env({})
    assert s.raw_dir == PROJECT_DIR / "raw"
    assert s.duckdb_path == PROJECT_DIR / "warehouse" / "payerbench.duckdb"
    assert s.sql_dir == PROJECT_DIR / "warehouse" / "sql"


def test_environment_overrides(tmp_path: Path) -> None:
    s = from_env(
        {
            "PAYERBENCH_WAREHOUSE_DIR": str(tmp_path / "wh"),
            "PAYERBENCH_RAW_DIR": str(tmp_path / "raw"),
            "PAYERBENCH_CHUNK_ROWS": "10",
        }
    )
    assert s.duckdb_path == tmp_path / "wh" / "payerbench.duckdb"
    assert s.payer_alias_file == tmp_path / "raw" / "reference" / "payer_aliases.csv"
    assert s.chunk_rows == 10
    assert s.sql_dir == PROJECT_DIR / "warehouse" / "sql"  # code stays with the project


def test_bad_number_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="PAYERBENCH_CHUNK_ROWS='ten' is not a number"):
        from_env({"PAYERBENCH_CHUNK_ROWS": "ten"})


def test_tic_expansion_limit_comes_from_the_environment() -> None:
    assert from_env({}).tic_max_expansion == 500
    assert from_env({"PAYERBENCH_TIC_MAX_EXPANSION": "2000"}).tic_max_expansion == 2000
    with pytest.raises(ConfigurationError, match="PAYERBENCH_TIC_MAX_EXPANSION='abc' is not a number"):
        from_env({"PAYERBENCH_TIC_MAX_EXPANSION": "abc"})
    with pytest.raises(ConfigurationError, match="PAYERBENCH_TIC_MAX_EXPANSION='0' must be greater than 0"):
        from_env({"PAYERBENCH_TIC_MAX_EXPANSION": "0"})


def test_size_limits_come_from_the_environment_with_units() -> None:
    assert from_env({}).max_uncompressed_bytes == 500 * 1000**3 and from_env({}).max_item_bytes == 256 * 1024**2
    s = from_env({"PAYERBENCH_MAX_UNCOMPRESSED_BYTES": "2TB", "PAYERBENCH_MAX_ITEM_BYTES": "64MiB"})
    assert (s.max_uncompressed_bytes, s.max_item_bytes) == (2 * 1000**4, 64 * 1024**2)
    assert from_env({"PAYERBENCH_MAX_ITEM_BYTES": "1048576"}).max_item_bytes == 1024**2
    with pytest.raises(
        ConfigurationError, match="PAYERBENCH_MAX_ITEM_BYTES='lots' is not a size; set it to e.g. 500GB"
    ):
        from_env({"PAYERBENCH_MAX_ITEM_BYTES": "lots"})
    with pytest.raises(ConfigurationError, match="PAYERBENCH_MAX_UNCOMPRESSED_BYTES='0' must be greater than 0"):
        from_env({"PAYERBENCH_MAX_UNCOMPRESSED_BYTES": "0"})


def test_every_environment_variable_is_in_the_readme() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    missing = [var for var in ENV_VARS if f"`{var}`" not in readme]
    assert missing == []


def test_the_load_writer_thread_is_off_unless_the_environment_turns_it_on() -> None:
    assert from_env({}).load_writer_thread is False
    assert from_env({"PAYERBENCH_LOAD_WRITER_THREAD": "1"}).load_writer_thread is True
    with pytest.raises(ConfigurationError, match="PAYERBENCH_LOAD_WRITER_THREAD='maybe': use 1 or 0"):
        from_env({"PAYERBENCH_LOAD_WRITER_THREAD": "maybe"})


def test_the_build_memory_limit_and_threads_come_from_the_environment() -> None:
    assert (from_env({}).build_memory_limit, from_env({}).build_threads) == (112 * 1000**2, 2)
    s = from_env({"PAYERBENCH_BUILD_MEMORY_LIMIT": "1GiB", "PAYERBENCH_BUILD_THREADS": "4"})
    assert (s.build_memory_limit, s.build_threads) == (1024**3, 4)
    unlimited = from_env({"PAYERBENCH_BUILD_MEMORY_LIMIT": "0", "PAYERBENCH_BUILD_THREADS": "0"})
    assert (unlimited.build_memory_limit, unlimited.build_threads) == (0, 0)  # DuckDB's defaults
    with pytest.raises(ConfigurationError, match="PAYERBENCH_BUILD_MEMORY_LIMIT='some' is not a size"):
        from_env({"PAYERBENCH_BUILD_MEMORY_LIMIT": "some"})
    with pytest.raises(ConfigurationError, match="PAYERBENCH_BUILD_THREADS='-1' must be 0 or more"):
        from_env({"PAYERBENCH_BUILD_THREADS": "-1"})
