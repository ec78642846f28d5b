"""Flow: load payers' Transparency-in-Coverage files, from paths or from a table of contents.

Each file is one task (it streams the file and writes its own Parquet parts). With a Dask
scheduler address (`--dask-address` or PAYERBENCH_DASK_ADDRESS) the tasks run on that cluster
through prefect-dask; otherwise one after another in this process. A table of contents is
expanded to the in-network and allowed-amount files it lists; each is taken from a local copy
(next to the table of contents, or in raw/tic/) and only downloaded when asked (`download=True`),
with retries, since a download is the one step here that can fail transiently.
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.build_warehouse import build_warehouse
from flows.engines.tic_scan import extract as tic_extract
from flows.errors import ConfigurationError
from flows.ingest import discover, ingest_source
from flows.ops import run_summary as run_report
from flows.settings import Settings, with_folders
from flows.sources import registry
from flows.steps.load_log import LoadRecord
from flows.steps.lock import warehouse_lock
from flows.steps.names import safe_name
from flows.steps.progress import FileProgress
from flows.steps.retries import BACKOFF_SECONDS, retry_transient_io

DOWNLOAD_TIMEOUT_S = 120


def listed_files(toc: Path) -> list[str]:
    """Locations of the in-network and allowed-amount files a table of contents lists (in order)."""
    result = tic_extract(toc, frozenset())
    if result.kind != "table_of_contents":
        raise ConfigurationError(f"{toc.name} is not a table of contents (it is a {result.kind} file)")
    seen: dict[str, None] = {}
    for _, structure in result.toc:
        for listed in structure.get("in_network_files") or []:
            if isinstance(listed, dict) and listed.get("location"):
                seen.setdefault(str(listed["location"]), None)
        allowed = structure.get("allowed_amount_file")
        if isinstance(allowed, dict) and allowed.get("location"):
            seen.setdefault(str(allowed["location"]), None)
    return list(seen)


def local_copy(location: str, toc: Path, settings: Settings) -> Path | None:
    """A local file for a listed location: the path itself, or its file name next to the table of
    contents or in raw/tic/ (with or without .gz)."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        direct = Path(parsed.path)
        direct = direct if direct.is_absolute() else toc.parent / direct
        if direct.is_file():
            return direct
    name = Path(parsed.path).name
    for folder in (toc.parent, settings.source_dir("tic")):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


@task(
    name="download_tic_file",
    retries=len(BACKOFF_SECONDS),
    retry_delay_seconds=BACKOFF_SECONDS,
    retry_condition_fn=retry_transient_io,
    cache_policy=NO_CACHE,
)
def download(location: str, folder: Path) -> Path:
    """Stream one listed file to raw/tic/ (network I/O: retried with backoff on transient errors only;
    a 404 or a refused request is not retried)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(urlparse(location).path).name
    partial = target.with_name(target.name + ".part")
    with urllib.request.urlopen(location, timeout=DOWNLOAD_TIMEOUT_S) as response, partial.open("wb") as out:  # noqa: S310
        expected = int(response.headers.get("Content-Length") or 0) or None
        with FileProgress(partial, "downloading", total=expected):  # on a terminal: bytes, rate, time left
            shutil.copyfileobj(response, out, length=4 * 1024 * 1024)
    partial.replace(target)
    return target


@flow(name="ingest_tic")
def ingest_tic(
    paths: list[Path] | None = None,
    toc: Path | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    dask_address: str | None = None,
    download_missing: bool = False,
    force: bool = False,
    raw_dir: str | None = None,
    build: bool = False,
) -> list[LoadRecord]:
    """Load TiC files (default: raw/tic/), or the files a table of contents lists, plus the TOC itself.

    `raw_dir` (a deployment parameter) is the raw folder root; `build` rebuilds DuckDB if a file loaded.
    """
    settings = with_folders(settings, raw_dir=raw_dir)
    with run_report.tracking("ingest_tic", settings, run_id) as run:
        files = tic_files(paths, toc, settings, download_missing)  # downloads happen outside the writer lock
        address = dask_address or settings.dask_address
        with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
            if address:
                from prefect_dask import DaskTaskRunner

                runner = DaskTaskRunner(address=address)
                records = ingest_source.with_options(task_runner=runner)(
                    "tic", files, settings, run_id or run.run_id, force, parallel=True
                )
            else:
                records = ingest_source("tic", files, settings, run_id or run.run_id, force)
            if build:
                build_warehouse(settings, if_changed=True)
        return records


def tic_files(paths: list[Path] | None, toc: Path | None, settings: Settings, download_missing: bool) -> list[Path]:
    """The files to load: the paths given, else raw/tic/; with a table of contents, it and what it lists."""
    logger = get_run_logger()
    files = [Path(p) for p in paths] if paths else ([] if toc else discover(settings, registry.get("tic")))
    if toc is not None:
        toc = Path(toc)
        files.append(toc)
        for location in listed_files(toc):
            found = local_copy(location, toc, settings)
            if found is None and download_missing and urlparse(location).scheme in ("http", "https"):
                found = download(location, settings.source_dir("tic"))
            if found is None:
                logger.warning(
                    "listed in %s but not available locally (use --download): %s",
                    safe_name(toc.name),
                    safe_name(location),
                )
                continue
            files.append(found)
    return files
