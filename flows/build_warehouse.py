"""Flow: rebuild the analysts' DuckDB file from the committed Parquet and warehouse/sql."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.settings import Settings, from_env
from flows.steps import warehouse


@flow(name="build_warehouse")
def build_warehouse(settings: Settings | None = None) -> warehouse.BuildResult:
    """Views over every committed load, the staging views and the marts, swapped in atomically."""
    settings = settings or from_env()
    result = warehouse.build(settings)
    get_run_logger().info("built %s: %d views over %d Parquet files", result.path, len(result.views), result.files)
    return result
