"""Flow: move files dropped in the inbox into raw/<source>/ (source told by content), with a manifest."""

from __future__ import annotations

from pathlib import Path

from flows import catalog
from flows.ops import run_summary
from flows.orchestration import NO_CACHE, flow, run_logger, task
from flows.settings import Settings, with_folders
from flows.steps import land
from flows.steps.lock import warehouse_lock
from flows.steps.names import safe_name
from flows.steps.retries import BACKOFF_SECONDS, retry_transient_io


@task(
    name="land_files",
    cache_policy=NO_CACHE,
    retries=len(BACKOFF_SECONDS),
    retry_delay_seconds=BACKOFF_SECONDS,
    retry_condition_fn=retry_transient_io,
)
def land_files(settings: Settings, inbox: Path, settle_seconds: float) -> list[land.Landing]:
    """Detect and move every inbox file. File-system I/O (an inbox on a network share) may fail
    transiently and is retried; landing again is safe, since files already moved are gone from the inbox."""
    return land.land(settings, inbox, list(catalog.SOURCES.values()), settle_seconds=settle_seconds)


@flow(name="land_inbox")
def land_inbox(
    settings: Settings | None = None,
    inbox_dir: str | None = None,
    raw_dir: str | None = None,
    settle_seconds: float = 10.0,
) -> list[land.Landing]:
    """Land the inbox (default PAYERBENCH_INBOX_DIR) into raw/; files it cannot place stay, with the reason."""
    settings = with_folders(settings, inbox_dir=inbox_dir, raw_dir=raw_dir)
    logger = run_logger()
    with run_summary.tracking("land_inbox", settings) as run:
        # under the writer lock: a run never discovers a drop folder half moved
        with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
            landings = land_files(settings, settings.inbox_dir, settle_seconds)
        run.landings += landings
    for item in landings:  # names are data: escaped before they reach a log line or terminal
        if item.status in ("landed", "duplicate"):
            logger.info("%s %s -> %s", item.status, safe_name(item.inbox_path), safe_name(item.target_path))
        elif item.status in ("left", "refused"):
            logger.warning("%s in the inbox: %s: %s", item.status, safe_name(item.inbox_path), safe_name(item.message))
        else:
            logger.info("not yet: %s: %s", safe_name(item.inbox_path), safe_name(item.message))
    return landings
