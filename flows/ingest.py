"""The one ingest flow: `ingest(target)` loads a source, or a deployment group of sources, from the
catalog (flows/catalog.py); each file is one task.

A source's hooks, when its catalog entry declares them, add what only it needs: `expand` turns a
table of contents into the files it lists (`toc`, `download`), `runner` runs the files in
parallel on a task runner such as a Dask cluster (`dask_address`). `ingest_source` is the
per-source subflow the flow runs (and `run_pipeline` runs for every source).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from flows import catalog
from flows.errors import ConfigurationError
from flows.lookups import codes_of_interest, payer_directory
from flows.ops import run_summary
from flows.orchestration import NO_CACHE, flow, plain_call, run_logger, task
from flows.settings import Settings, from_env, with_folders
from flows.sources.base import FileRejected, Source
from flows.steps import load_log
from flows.steps.lake import lake_root
from flows.steps.land import PARTIAL_SUFFIXES
from flows.steps.load import load_file, reject_file
from flows.steps.load_log import LoadRecord
from flows.steps.lock import warehouse_lock
from flows.steps.names import safe_name
from flows.steps.payer_directory import PayerDirectory

"""Sources whose reader takes a flows/engines/remote.RemoteFile (it reads the whole body before its first batch)."""
IGNORED_NAMES = {"readme.md", "sources.md", "manifest.csv"}


def discover(settings: Settings, source: Source) -> list[Path]:
    """The files of a source in its raw folder (documentation and hidden files skipped), without
    following a symbolic link: links are listed too (a link to a folder whatever its name), so the
    loader rejects each with a load-log row instead of reading outside raw/ or skipping it silently."""
    folder = settings.source_dir(source.name)
    if folder.is_symlink():
        return [folder]
    if not folder.is_dir():
        return []
    found = []
    for root, folders, files in os.walk(folder):  # followlinks=False: linked folders are listed, not entered
        found += [Path(root, name) for name in folders if Path(root, name).is_symlink()]
        folders[:] = [name for name in folders if not name.startswith(".")]  # fetch's scratch space (.downloads/)
        for name in files:
            path = Path(root, name)
            if (
                not name.startswith(".")
                and name.lower() not in IGNORED_NAMES
                and not name.lower().endswith(PARTIAL_SUFFIXES)  # a download still being written
                and any(path.match(glob) for glob in source.file_globs)
                and not any(path.match(glob) for glob in source.skip_globs)
            ):
                found.append(path)
    return sorted(found)


def _load_run_name(parameters: dict[str, object]) -> str:
    """The task run's name, which Prefect logs: the file name shown safe for a terminal."""
    return f"load {parameters['source_name']}: {safe_name(Path(str(parameters['path'])).name)}"


@task(name="load_file", cache_policy=NO_CACHE, task_run_name=_load_run_name)
def load_file_task(
    source_name: str,
    path: Path,
    settings: Settings,
    run_id: str,
    payers: PayerDirectory | None,
    codes: frozenset[str],
    already: set[str],
    options: dict[str, str] | None = None,
) -> LoadRecord:
    """Validate and store one file (no retries: a local file that fails will fail again)."""
    record = load_file(
        catalog.get(source_name),
        path,
        settings,
        run_id,
        payers=payers,
        codes=codes,
        already_loaded=already,
        options=options,
    )
    logger = run_logger()
    if record.status in ("rejected", "failed"):  # names are data: escaped before they reach a log line
        logger.error("%s %s: %s", record.status, safe_name(record.source_file), safe_name(record.error))
    else:
        logger.info(
            "%s %s: read %d, loaded %d, quarantined %d",
            record.status,
            safe_name(record.source_file),
            record.rows_read,
            record.rows_loaded,
            record.rows_quarantined,
        )
    return record


@flow(name="ingest_source", flow_run_name="ingest {source_name}")
def ingest_source(
    source_name: str,
    paths: list[Path] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    force: bool = False,
    options: dict[str, str] | None = None,
    parallel: bool = False,
    build: bool = False,
) -> list[LoadRecord]:
    """Load the given files (default: everything in the source's raw folder) of one source.

    `force` reloads files whose sha256 was already loaded (a new snapshot of the same bytes).
    `options` state facts about the files the source declares it accepts (e.g. a data year).
    `parallel` submits every file at once to the flow's task runner (e.g. a Dask cluster: each
    worker streams one file and writes its own Parquet parts); the writer lock stays with this
    flow, which alone decides what is already loaded and rebuilds DuckDB afterwards.
    `build` then rebuilds the DuckDB file, only if something was loaded (or its SQL changed).
    """
    settings = settings or from_env()
    source = catalog.get(source_name)
    source.check_options(options or {})
    with run_summary.tracking("ingest_source", settings, run_id) as run:
        files = [Path(p) for p in paths] if paths else discover(settings, source)
        with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
            from flows.steps import warehouse  # duckdb (13 MB): only the commands that compact or build import it

            warehouse.compact_load_log(settings, catalog.SCHEMAS)
            records = _ingest(source, files, settings, run_id or run.run_id, force, options or {}, parallel)
            run.records += records
            if build:
                from flows.build_warehouse import build_warehouse

                build_warehouse(settings, if_changed=True)
        return records


@flow(name="ingest", flow_run_name="ingest {target}")
def ingest(
    target: str,
    paths: list[Path] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    raw_dir: str | None = None,
    build: bool = False,
    force: bool = False,
    options: dict[str, str] | None = None,
    toc: Path | None = None,
    download: bool = False,
    dask_address: str | None = None,
    fetch: bool = False,
) -> list[LoadRecord]:
    """Load a source's files, or every source of a deployment group (catalog.GROUPS), one tracked run.

    `fetch` (the scheduled deployments set it) first fetches the new releases of the sources that have a
    fetch step (flows/fetch_sources.py) into raw/<source>/fetched/, then loads them and the fetch manifest.

    `paths` (one source only) are the files to load, default its raw folder; `raw_dir` (a deployment
    parameter) is the raw folder root; `build` rebuilds DuckDB if a file loaded; `force` reloads
    files already loaded; `options` state facts about the files (e.g. `data_year`). For a source
    whose entry declares the hook: `toc` a table of contents whose listed files load too
    (`download` fetches those not found locally), `dask_address` a Dask scheduler for the files.
    """
    settings = with_folders(settings, raw_dir=raw_dir)
    run_name, sources = catalog.resolve(target)
    flags = [f for f, given in (("--toc", toc), ("--download", download), ("--dask-address", dask_address)) if given]
    for source in sources:
        if refusal := catalog.refused_flags(source, flags):
            raise ConfigurationError(refusal)
        source.check_options(options or {})
    if paths and len(sources) > 1:
        raise ConfigurationError(f"files can be given for one source, not group {target!r} ({len(sources)} sources)")
    with run_summary.tracking(run_name, settings, run_id) as run:
        if fetch and any(s.fetch is not None for s in sources):
            from flows.fetch_sources import fetch_sources

            fetch_sources([s.name for s in sources if s.fetch is not None], settings)
            steps = {s.fetch.key for s in sources if s.fetch is not None}
            fed = [s for s in catalog.ENTRIES if s.fetch and s.fetch.key in steps and s not in sources]
            # what the steps landed for sources outside the group (policy pages -> payer_policy_snapshot),
            # and what was asked and got, queryable
            sources = [*sources, *fed, catalog.get(catalog.FETCH_MANIFEST)]
        # downloads happen outside the writer lock; without paths or a table of contents, each
        # source's raw folder is listed under the lock
        files = {s.name: _files(s, paths, toc, settings, download) for s in sources}
        records: list[LoadRecord] = []
        with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
            with load_log.gathered(lake_root(settings)):  # the unchanged files' log rows: one part
                for source in sources:
                    records += load_source(
                        source, files[source.name], settings, run_id or run.run_id, force, options, dask_address
                    )
                    if source.remote is not None and not paths and toc is None:  # what a fetch planned, streamed
                        # (each URL a task on the Dask cluster when one is given: its workers read the URLs)
                        records += load_urls(
                            source, source.remote(settings), settings, run_id or run.run_id, force=force,
                            dask_address=dask_address,
                        )  # fmt: skip
            if build:
                from flows import lean_build

                lean_build.exec_build(settings, run, records)  # the command's build, in a lean image: no return
                from flows.build_warehouse import build_warehouse  # (otherwise, or when nothing is to build)

                build_warehouse(settings, if_changed=True)
        return records


def ingest_urls(
    source_name: str,
    urls: list[str],
    settings: Settings | None = None,
    run_id: str | None = None,
    *,
    keep: bool = False,
    force: bool = False,
    options: dict[str, str] | None = None,
    build: bool = False,
    dask_address: str | None = None,
) -> list[LoadRecord]:
    """Load files straight from their URLs (`payerbench ingest tic https://...`): each body streams through
    the source's reader and is never written to disk, unless `keep` lands a copy in raw/<source>/fetched/
    (flows/fetch/stream.py `load_url`: resume with Range + If-Range, clean restarts, identity by URL
    path + ETag). One tracked run under the writer lock, like `ingest_source`."""

    settings = settings or from_env()
    source = catalog.get(source_name)
    source.check_options(options or {})
    if source.remote is None:
        raise ConfigurationError(
            f"{source.name} files cannot be read from a URL as they stream (only "
            f"{', '.join(catalog.with_hook('remote'))}); fetch them to a local file and ingest that"
        )
    with run_summary.tracking("ingest_urls", settings, run_id) as run:
        with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
            from flows.steps import warehouse

            warehouse.compact_load_log(settings, catalog.SCHEMAS)
            records = load_urls(
                source, urls, settings, run_id or run.run_id, keep=keep, force=force, options=options,
                dask_address=dask_address,
            )  # fmt: skip
            run.records += records
            if build and any(r.status in load_log.COMMITTED for r in records):
                from flows.build_warehouse import build_warehouse

                build_warehouse(settings, if_changed=True)
        return records


def load_urls(
    source: Source,
    urls: list[str],
    settings: Settings,
    run_id: str,
    *,
    keep: bool = False,
    force: bool = False,
    options: dict[str, str] | None = None,
    dask_address: str | None = None,
) -> list[LoadRecord]:
    """Each URL streamed through the source's reader (flows/fetch/stream.py `load_url`): one after another here,
    or each a task on a Dask cluster (the source's `runner` hook, `dask_address` or PAYERBENCH_DASK_ADDRESS),
    whose workers read the URL themselves; the caller holds the writer lock. A file already loaded (its URL
    path and ETag, or its sha256) is `unchanged`."""
    from flows.fetch.http import HttpFetcher
    from flows.fetch.stream import load_url

    payers = payer_directory(settings.payer_alias_file, settings.chunk_rows) if source.payer_column else None
    codes = frozenset() if source.is_reference else codes_of_interest(settings)
    already = set() if force else load_log.loaded_sha256s(load_log.read(lake_root(settings)), source.name)
    runner = source.runner(settings, dask_address) if source.runner is not None and urls else None
    if runner is not None:  # each URL one task on the cluster: the workers stream and write the lake themselves
        from flows.ops import local_server

        watched = local_server.dies_with_this_process() if plain_call() else contextlib.nullcontext()
        with watched:
            return stream_urls.with_options(task_runner=runner)(
                source.name, urls, settings, run_id, payers, codes, already, options or {}, force, keep
            )
    records = []
    with HttpFetcher(settings) as fetcher:
        for url in urls:
            record = load_url(
                source, url, settings, run_id, payers=payers, codes=codes, already_loaded=already,
                options=options, force=force, keep=keep, fetcher=fetcher,
            )  # fmt: skip
            if record.source_sha256 and record.status in load_log.COMMITTED:
                already.add(record.source_sha256)
            records.append(record)
    return records


@task(name="load_url", cache_policy=NO_CACHE, task_run_name="stream {url}")
def load_url_task(
    source_name: str,
    url: str,
    settings: Settings,
    run_id: str,
    payers: PayerDirectory | None,
    codes: frozenset[str],
    already: set[str],
    options: dict[str, str],
    force: bool,
    keep: bool,
) -> LoadRecord:
    """One URL streamed and loaded where the task runs (a Dask worker: nothing read from this machine's disk)."""
    from flows.fetch.stream import load_url

    return load_url(
        catalog.get(source_name), url, settings, run_id, payers=payers, codes=codes, already_loaded=already,
        options=options, force=force, keep=keep,
    )  # fmt: skip


@flow(name="stream_urls", flow_run_name="stream {source_name}")
def stream_urls(
    source_name: str,
    urls: list[str],
    settings: Settings,
    run_id: str,
    payers: PayerDirectory | None,
    codes: frozenset[str],
    already: set[str],
    options: dict[str, str],
    force: bool = False,
    keep: bool = False,
) -> list[LoadRecord]:
    """Every URL submitted at once to the flow's task runner (a Dask cluster); this flow's caller holds the lock.
    The same file listed twice loads once: tasks run in parallel, so the same sha256 under two URLs may load
    twice only when the payer serves identical bytes at two paths (the URL path already deduplicates listings)."""
    futures = [
        load_url_task.submit(source_name, url, settings, run_id, payers, codes, already, options, force, keep)
        for url in dict.fromkeys(urls)
    ]
    return [future.result() for future in futures]


def _files(
    source: Source, paths: list[Path] | None, toc: Path | None, settings: Settings, download: bool
) -> list[Path] | None:
    """The files given, plus a table of contents and what it lists (the source's `expand` hook)."""
    if toc is None or source.expand is None:
        return [Path(p) for p in paths] if paths else None
    return [Path(p) for p in paths or []] + source.expand(source, Path(toc), settings, download)


def load_source(
    source: Source,
    files: list[Path] | None,
    settings: Settings,
    run_id: str,
    force: bool = False,
    options: dict[str, str] | None = None,
    dask_address: str | None = None,
) -> list[LoadRecord]:
    """One source's files (None: its raw folder) through `ingest_source`, on the task runner its
    `runner` hook gives (e.g. a Dask cluster, every file submitted at once) or one after another."""
    runner = source.runner(settings, dask_address) if source.runner is not None else None
    if runner is not None:  # a task runner needs Prefect: without an API, the temporary server it starts
        from flows.ops import local_server  # is stopped when this process dies, even by SIGKILL

        watched = local_server.dies_with_this_process() if plain_call() else contextlib.nullcontext()
        with watched:
            return ingest_source.with_options(task_runner=runner)(
                source.name, files, settings, run_id, force, options, parallel=True
            )
    return ingest_source(source.name, files, settings, run_id, force, options)


def _ingest(
    source: Source,
    files: list[Path],
    settings: Settings,
    run_id: str,
    force: bool,
    options: dict[str, str],
    parallel: bool = False,
) -> list[LoadRecord]:
    try:
        payers = payer_directory(settings.payer_alias_file, settings.chunk_rows) if source.payer_column else None
        codes = frozenset() if source.is_reference else codes_of_interest(settings)
    except FileRejected as exc:  # the reference tables themselves are broken: nothing can be resolved
        run_logger().error("reference table unusable: %s", exc.message)
        return [
            reject_file(source, path, settings, run_id, f"reference table unusable: {exc.message}") for path in files
        ]
    already = set() if force else load_log.loaded_sha256s(load_log.read(lake_root(settings)), source.name)
    if parallel:
        # the same file once (by where it leads), passed as named: the loader refuses links under raw/
        seen: set[Path] = set()
        unique = []
        for named in files:
            if (key := Path(named).resolve()) not in seen:
                seen.add(key)
                unique.append(Path(named).absolute())
        futures = [
            load_file_task.submit(source.name, path, settings, run_id, payers, codes, already, options)
            for path in unique
        ]
        return [future.result() for future in futures]
    records = []
    for path in files:
        record = load_file_task(source.name, path, settings, run_id, payers, codes, already, options)
        if record.source_sha256 and record.status in load_log.COMMITTED:
            already.add(record.source_sha256)  # the same file twice in one call loads once
        records.append(record)
    return records
