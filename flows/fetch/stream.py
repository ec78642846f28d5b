"""Load a file straight from its URL: the body streams through the adapter's reader, never to disk.

- `open_url(url, settings, fetcher=None, keep=None)` -> a `RemoteFile` (flows/engines/remote.py) whose
  requests go through `HttpFetcher` (PAYERBENCH_MIRROR, User-Agent, per-host interval, retries of each
  request on transient failures, typed `FetchError` for 4xx); resumes with Range + If-Range where the
  host allows it.
- `load_url(source, url, settings, run_id, ...)` -> LoadRecord: `flows/steps/load.py` `load_remote` on
  it (identity = URL path + ETag / size; restarts from byte 0 when a cut cannot be resumed; a restarted
  load leaves no duplicate rows: nothing is visible before its load-log entry). `keep=True` also lands a
  copy in raw/<source>/fetched/<name> as the bytes pass (`.part`, then renamed).

Used by `payerbench ingest tic https://...` (flows/ingest.py `ingest_urls`) and the TiC crawl's load step.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from flows.engines.remote import RemoteFile, url_name
from flows.fetch.http import HttpFetcher
from flows.settings import Settings
from flows.sources.base import Source

if TYPE_CHECKING:  # the loader (pandas, pandera) is imported by load_url alone: open_url stays light
    from flows.steps.load_log import LoadRecord
    from flows.steps.payer_directory import PayerDirectory


class _Request(AbstractContextManager[httpx.Response]):
    """One GET through the fetcher: the mirror, the host's interval and retries until the response opens;
    4xx/5xx left after retries raise the fetcher's `FetchError` (naming the URL, what to do)."""

    def __init__(self, fetcher: HttpFetcher, url: str, headers: dict[str, str]) -> None:
        self.fetcher, self.url, self.headers = fetcher, url, headers
        self._cm: AbstractContextManager[httpx.Response] | None = None

    def __enter__(self) -> httpx.Response:
        fetcher, url = self.fetcher, self.url

        def attempt() -> tuple[AbstractContextManager[httpx.Response], httpx.Response]:
            cm = fetcher._stream(url, self.headers)
            resp = cm.__enter__()
            if not 200 <= resp.status_code < 300:
                try:
                    fetcher._raise_for_status(url, resp)
                finally:
                    cm.__exit__(None, None, None)
            return cm, resp

        self._cm, resp = fetcher._retrying(url, attempt)
        return resp

    def __exit__(self, *exc: object) -> None:
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
            self._cm = None


def open_url(url: str, settings: Settings, fetcher: HttpFetcher | None = None, keep: Path | None = None) -> RemoteFile:
    """A RemoteFile for `url` whose requests go through `fetcher` (default: a new HttpFetcher(settings))."""
    fetcher = fetcher or HttpFetcher(settings)
    return RemoteFile(url, lambda headers: _Request(fetcher, url, headers), keep=keep)


def kept_path(settings: Settings, source: Source, url: str) -> Path:
    """Where `--keep` lands the copy of a streamed file: raw/<source>/fetched/<name from the URL path>."""
    return settings.source_dir(source.name) / "fetched" / url_name(url)


def load_url(
    source: Source,
    url: str,
    settings: Settings,
    run_id: str,
    *,
    payers: PayerDirectory | None = None,
    codes: frozenset[str] = frozenset(),
    already_loaded: set[str] | None = None,
    options: Mapping[str, str] | None = None,
    force: bool = False,
    keep: bool = False,
    fetcher: HttpFetcher | None = None,
) -> LoadRecord:
    """Stream one file from `url` through `source`'s reader into the lake (see `load_remote`)."""
    from flows.steps.load import load_remote

    remote = open_url(url, settings, fetcher, kept_path(settings, source, url) if keep else None)
    try:
        return load_remote(
            source,
            remote,
            settings,
            run_id,
            payers=payers,
            codes=codes,
            already_loaded=already_loaded,
            options=options,
            force=force,
        )
    finally:
        remote.close()
