"""Hooks the `tic` catalog entry declares: what only Transparency-in-Coverage files need.

- `expand_toc`: a table of contents becomes the in-network and allowed-amount files it lists, each
  taken from a local copy (next to the table of contents, or in raw/tic/) and only downloaded when
  asked (`download=True`), with retries, since a download is the one step here that can fail
  transiently.
- `dask_runner`: with a Dask scheduler address (`--dask-address` or PAYERBENCH_DASK_ADDRESS) each
  file is one task on that cluster, through prefect-dask (each worker streams one file and writes
  its own Parquet parts); without one, files load one after another in this process.

The `ingest` flow (flows/ingest.py) calls them for any source whose entry declares them.
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flows.engines.tic_scan import extract as tic_extract
from flows.errors import ConfigurationError
from flows.orchestration import NO_CACHE, run_logger, task
from flows.settings import Settings
from flows.sources.base import Source
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


def local_copy(location: str, toc: Path, folder: Path) -> Path | None:
    """A local file for a listed location: the path itself, or its file name next to the table of
    contents or in the source's raw folder (with or without .gz)."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        direct = Path(parsed.path)
        direct = direct if direct.is_absolute() else toc.parent / direct
        if direct.is_file():
            return direct
    name = Path(parsed.path).name
    for place in (toc.parent, folder):
        for candidate in (place / name, place / f"{name}.gz"):
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


def expand_toc(source: Source, toc: Path, settings: Settings, download_missing: bool = False) -> list[Path]:
    """The table of contents itself, then every file it lists that is available locally (or, with
    `download_missing`, downloaded into the source's raw folder); a missing one is logged and skipped."""
    logger = run_logger()
    toc = Path(toc)
    folder = settings.source_dir(source.name)
    files = [toc]
    for location in listed_files(toc):
        found = local_copy(location, toc, folder)
        if found is None and download_missing and urlparse(location).scheme in ("http", "https"):
            found = download(location, folder)
        if found is None:
            logger.warning(
                "listed in %s but not available locally (use --download): %s",
                safe_name(toc.name),
                safe_name(location),
            )
            continue
        files.append(found)
    return files


def dask_runner(settings: Settings, address: str | None = None) -> Any:
    """A prefect-dask task runner on the given scheduler (default PAYERBENCH_DASK_ADDRESS), or None."""
    address = address or settings.dask_address
    if not address:
        return None
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=address)
