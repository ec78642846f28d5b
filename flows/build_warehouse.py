"""Flow: rebuild the analysts' DuckDB file from the committed Parquet and warehouse/sql."""

from __future__ import annotations

from flows.ops import run_summary
from flows.orchestration import flow, run_logger
from flows.settings import Settings, from_env
from flows.steps import warehouse


@flow(name="build_warehouse")
def build_warehouse(settings: Settings | None = None, if_changed: bool = False) -> warehouse.BuildResult:
    """Views over every committed load, the staging views and the marts, swapped in atomically.

    `if_changed` skips the rebuild when no load committed and no SQL or schema changed since the
    file was built (an incremental run); the result then says `rebuilt=False`.
    """
    from flows import catalog  # pandera and the sources: flows/lean_build.py calls `build_with` without them

    return build_with(settings or from_env(), warehouse.datasets_of(catalog.SCHEMAS), if_changed)


def build_with(settings: Settings, datasets: warehouse.Datasets, if_changed: bool) -> warehouse.BuildResult:
    """`build_warehouse`'s body, given what the build needs of the catalog's schemas (`warehouse.Datasets`)."""
    with run_summary.tracking("build_warehouse", settings) as run:
        result = warehouse.build_if_changed(settings, datasets) if if_changed else warehouse.build(settings, datasets)
        run.add_build(result)
    logger = run_logger()
    if result.rebuilt:
        logger.info(
            "built %s: %d views over %d Parquet files (%s); views whose inputs changed: %s",
            result.path,
            len(result.views),
            result.files,
            result.reason,
            ", ".join(result.marts_rebuilt) or "none",
        )
    else:
        logger.info("%s not rebuilt: %s", result.path, result.reason)
    return result
