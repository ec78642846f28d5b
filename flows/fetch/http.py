"""HttpFetcher: every request payerbench makes, and what it guarantees about each.

- **Politeness.** One `httpx.Client` per host, each request carrying
  `User-Agent: payerbench/<version> (+<PAYERBENCH_CONTACT>)`; at least `fetch_interval` seconds between the
  starts of two requests to one host (other hosts are not held up); connect/read timeouts.
- **Retries only where waiting can help.** Connection errors, timeouts, a body cut short, 429 and 5xx are
  retried with jittered exponential backoff (stamina), bounded in attempts and in total time; a
  `Retry-After` (seconds or an HTTP date) is honoured as the wait, capped at `RETRY_AFTER_CAP`. 404, 403,
  410, other 4xx, a redirect loop, an oversize body and a licence page fail at once. The last error names
  the URL, the last status and what to do.
- **Nothing partial lands.** `download` streams to `<dest>.part` (sha256 on the way), checks the length
  against Content-Length and the first bytes against `expect`, fsyncs, then renames atomically onto `dest`.
  A failed download leaves no `.part` and does not touch an older file at `dest`.
- **Resume.** When a body is cut and the server said `Accept-Ranges: bytes` and gave a validator (ETag or
  Last-Modified), the next attempt asks `Range: bytes=<n>-` with `If-Range: <validator>`; a 206 starting
  at byte n is appended (the kept prefix is rehashed so sha256 is of the whole file), a 200 (the file
  changed) restarts from byte 0. Without range support the download restarts cleanly. Resuming happens
  within one `download` call; a `.part` left by a killed run is deleted (its validator is not known).
- **Size caps.** `max_bytes` (download) / `PAGE_LIMIT` (get): a Content-Length above the cap is refused
  before reading, a body that passes it is stopped at once.
- **Content checks.** `expect="zip"` wants `PK\\x03\\x04`, `"gzip"` `\\x1f\\x8b`, `"json"` `{` or `[` first,
  `"csv"` anything but HTML. HTML where data was expected (Content-Type text/html, or a body opening with
  `<!DOCTYPE` / `<html`) raises `LicencePage`: it is a licence click-through (CMS's AMA CPT page) or an
  error page, not the file.
- **Streams.** `open_stream(url)` is a context manager yielding a `ByteStream`: the body as sent (a `.json.gz`
  stays gzip), read as a file (`read`, `readinto`), never held whole, sha256 and bytes counted on the way, a body
  shorter than its Content-Length or cut mid-way raised as a FetchError when read. Opening it has the same
  retries, mirror, User-Agent, conditional headers (304 -> `status == 304`, an empty stream), content check and
  size cap as `download`; a cut stream is not resumed (the reader starts again).
- **Progress.** `HttpFetcher(..., progress=callback)` hears `(url, bytes so far, whole size)` as a file streams;
  the CLI draws a bar with it on a terminal. One fetcher serves one thread.
- **Redirects** are followed (at most 10; more, or a loop, is a FetchError). `final_url` is the URL after
  redirects, in its origin's form.

**The mirror (`PAYERBENCH_MIRROR`).** Every URL `https://HOST/PATH?QUERY` is answered from the mirror:
- an http(s) URL prefix: the request goes to `$PAYERBENCH_MIRROR/HOST/PATH?QUERY`;
- a folder (a path, or a `file://` URL): the file `<folder>/HOST/PATH?QUERY` answers, with the `?QUERY`
  appended literally to the file name when the URL has one (e.g.
  `<folder>/data.cms.gov/data-api/v1/dataset/ID/data?filter[HCPCS_Cd]=0440T&size=5000`); the path and
  query are tried as sent and then percent-decoded. A URL naming a folder (or ending in `/`) is answered by
  that folder's `index.html`. A missing file is a 404; a path with `..` is refused (400), so nothing
  outside the folder is ever read. Files carry an ETag and Last-Modified from their size and mtime, and
  `If-None-Match` / `If-Modified-Since` get a 304, so a second fetch from a folder mirror downloads nothing.
  (That transport is flows/fetch/mirror.py: this module imports httpx only when a request is made.)
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import io
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit

from flows.errors import PayerbenchError

if TYPE_CHECKING:
    import httpx

    from flows.settings import Settings

PAGE_LIMIT = 20 * 1000**2  # a landing page, a release page, data.json, an API page
CHUNK = 1024 * 1024
HEAD = 1024  # bytes looked at to tell a data file from an HTML page
ATTEMPTS = 5  # per request, the first one included
RETRY_TIMEOUT = 300.0  # seconds: no new attempt is started after this long
RETRY_AFTER_CAP = 120.0  # seconds: a longer Retry-After is waited this long
MAX_REDIRECTS = 10
TIMEOUT = (60.0, 15.0)  # seconds: httpx.Timeout(read/write/pool, connect=...)
T = TypeVar("T")
MAGIC = {"zip": (b"PK\x03\x04",), "gzip": (b"\x1f\x8b",), "json": (b"{", b"["), "csv": ()}

SOCKET_READ = 1024 * 1024
"""Bytes asked of the socket per read of a body. httpcore reads 64 KiB at a time (its
`HTTP11Connection.READ_NUM_BYTES`, not an option: encode/httpcore#135); a TiC file streams tens of GB, and
every read costs the receiving thread Python work (h11) and a GIL hand-off, so 1 MiB reads take about a
quarter off its CPU (benchmarks/bench_tic_network.py). A read returns what has arrived, never waits for more."""


def _large_socket_reads() -> None:
    """Raise httpcore's read size to SOCKET_READ for every HTTP/1.1 connection of this process."""
    import httpcore

    if getattr(httpcore.HTTP11Connection, "READ_NUM_BYTES", SOCKET_READ) < SOCKET_READ:
        httpcore.HTTP11Connection.READ_NUM_BYTES = SOCKET_READ


class FetchError(PayerbenchError):
    """A request that cannot succeed as asked: the message names the URL, what happened and what to do."""

    def __init__(self, url: str, problem: str, todo: str = "", status: int | None = None) -> None:
        self.url = url
        self.problem = problem
        self.todo = todo
        self.status = status
        super().__init__(f"{url}: {problem}" + (f"; {todo}" if todo else ""))


class LicencePage(FetchError):
    """An HTML page (CMS's AMA licence click-through, an error page) came back where a data file was expected."""


@dataclass(frozen=True)
class Conditional:
    """What the previous fetch of a URL saw: sent back as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Page:
    """A small response read whole (HTML page, JSON document)."""

    url: str  # asked (before the mirror rewrite)
    final_url: str  # after redirects, in the origin's form (a mirror's prefix taken off)
    status: int  # 200 or 304
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> object:
        import json

        return json.loads(self.content)


@dataclass(frozen=True)
class Download:
    """One file streamed to disk (status 200, or 206 when resumed), or not (304: unchanged since `conditional`)."""

    url: str
    final_url: str
    status: int
    etag: str | None
    last_modified: str | None
    content_length: int | None  # of the whole file, as the server declared it (None when it did not)
    content_type: str | None
    bytes_received: int  # body bytes of the response that completed the file (a resume counts only the new part)
    sha256: str | None  # of the whole file; None for 304
    path: Path | None  # the file, renamed into place; None for 304
    fetched_at: dt.datetime


class ByteStream(io.RawIOBase):
    """A response body read as a file (`HttpFetcher.open_stream`): bytes as sent, sha256 and count on the way."""

    def __init__(
        self,
        url: str,
        final_url: str,
        status: int,
        headers: dict[str, str],
        chunks: Iterator[bytes],
        max_bytes: int | None = None,
        progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.final_url = final_url
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.etag = self.headers.get("etag")
        self.last_modified = self.headers.get("last-modified")
        self.content_type = self.headers.get("content-type")
        cl = self.headers.get("content-length", "").strip()
        self.content_length = int(cl) if cl.isdigit() and status != 304 else None
        self.bytes_read = 0  # handed to the reader so far
        self._received = 0  # taken from the connection so far (peeked bytes included)
        self._digest = hashlib.sha256()
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._max = max_bytes
        self._progress = progress
        self._ended = False

    @property
    def received(self) -> int:
        """Bytes taken from the connection so far (what was read plus what was peeked)."""
        return self._received

    @property
    def sha256(self) -> str:
        """Of the bytes read so far (of the whole body once it is read to the end)."""
        return self._digest.hexdigest()

    def readable(self) -> bool:
        return True

    def _next(self) -> bytes:
        """The next chunk from the connection ("" at the end, checked against Content-Length)."""
        if self._ended:
            return b""
        for chunk in self._chunks:
            if not chunk:
                continue
            self._received += len(chunk)
            if self._max is not None and self._received > self._max:
                raise FetchError(
                    self.url, f"more than this source's cap of {self._max:,} bytes",
                    "if the file really is this large now, raise the cap",
                )  # fmt: skip
            self._digest.update(chunk)
            if self._progress is not None:
                self._progress(self.url, self._received, self.content_length)
            return chunk
        self._ended = True
        if self.content_length is not None and self._received < self.content_length:
            raise FetchError(
                self.url, f"the body ended after {self._received:,} of {self.content_length:,} bytes",
                "the connection was cut: try again",
            )  # fmt: skip
        return b""

    def peek(self, n: int) -> bytes:
        """Up to `n` bytes from the start of what is left, without consuming them."""
        while len(self._pending) < n:
            chunk = self._next()
            if not chunk:
                break
            self._pending = memoryview(bytes(self._pending) + chunk)
        return bytes(self._pending[:n])

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        if not self._pending:
            self._pending = memoryview(self._next())
            if not self._pending:
                return 0
        view = memoryview(b).cast("B")
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.bytes_read += n
        return n


class _Transient(Exception):
    """A failure that waiting may cure (connection error, timeout, cut body, 429, 5xx): retried."""

    def __init__(self, problem: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.retry_after = retry_after


@dataclass
class _Partial:
    """What a cut download left in `<dest>.part`, and whether the server lets us resume it."""

    validator: str | None = None  # the ETag (strong preferred) or Last-Modified, sent as If-Range
    ranges: bool = False  # the server said Accept-Ranges: bytes


@dataclass
class _HostGate:
    """At least `interval` seconds between the starts of two requests to one host; Retry-After pushes it out."""

    interval: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    not_before: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def wait(self, host: str) -> None:
        due = max(self.last.get(host, -float("inf")) + self.interval, self.not_before.get(host, -float("inf")))
        now = self.clock()
        if due > now:
            self.sleep(due - now)
        self.last[host] = self.clock()

    def defer(self, host: str, seconds: float) -> None:
        self.not_before[host] = max(self.not_before.get(host, -float("inf")), self.clock() + seconds)


class HttpFetcher:
    """Every HTTP request of a fetch run goes through one of these (tests pass `transport`, `clock`, `sleep`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = ATTEMPTS,
        retry_timeout: float = RETRY_TIMEOUT,
        progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        """`progress(url, bytes_of_the_file_so_far, whole_size_or_None)` is called as a download streams (a
        terminal's progress bar; the CLI passes one); `clock`/`sleep` time the per-host interval and Retry-After."""
        self.settings = settings
        self._transport = transport
        self._folder = _mirror_folder(settings.mirror)
        if self._folder is not None and transport is None:
            from flows.fetch.mirror import FolderMirror

            self._transport = FolderMirror(self._folder)
        interval = 0.0 if self._folder is not None else settings.fetch_interval  # no server to be polite to
        self._gate = _HostGate(interval, clock, sleep)
        self._attempts = attempts
        self._retry_timeout = retry_timeout
        self._progress = progress
        self._clients: dict[str, httpx.Client] = {}

    # --- the API ------------------------------------------------------------------------------------
    def get(self, url: str, *, conditional: Conditional | None = None, max_bytes: int = PAGE_LIMIT) -> Page:
        """GET a small document whole (pages, JSON); 304 when `conditional` matches; retried when transient."""

        def attempt() -> Page:
            with self._stream(url, self._conditional(conditional)) as resp:
                final = self.origin_url(str(resp.url))
                if resp.status_code == 304:
                    return Page(url, final, 304, dict(resp.headers), b"")
                self._raise_for_status(url, resp)
                length = _content_length(resp)
                if length is not None and length > max_bytes:
                    raise self._too_big(url, length, max_bytes)
                body = bytearray()
                for chunk in self._read(resp, decoded=True):
                    body += chunk
                    if len(body) > max_bytes:
                        raise self._too_big(url, len(body), max_bytes)
                if length is not None and "content-encoding" not in resp.headers and len(body) < length:
                    raise _Transient(f"the body ended after {len(body):,} of {length:,} bytes")
                return Page(url, final, resp.status_code, dict(resp.headers), bytes(body))

        return self._retrying(url, attempt)

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expect: str | None = None,  # "zip", "gzip", "json", "csv": checked on the first bytes
        max_bytes: int | None = None,
        conditional: Conditional | None = None,
    ) -> Download:
        """Stream `url` to `dest` (via `dest.part`, sha256 on the way, then an atomic rename); resume when cut."""
        if expect is not None and expect not in MAGIC:
            raise ValueError(f"expect={expect!r}: use one of {sorted(MAGIC)}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        part.unlink(missing_ok=True)  # a leftover of a killed run: its validator is unknown, so it cannot be resumed
        partial = _Partial()
        try:
            got = self._retrying(
                url, lambda: self._download_once(url, dest, part, partial, expect, max_bytes, conditional)
            )
        finally:
            part.unlink(missing_ok=True)  # gone after the rename; after a failure nothing partial stays
        return got

    @contextmanager
    def open_stream(
        self,
        url: str,
        *,
        expect: str | None = None,
        max_bytes: int | None = None,
        conditional: Conditional | None = None,
    ) -> Iterator[ByteStream]:
        """The body of `url` as a file-like stream of its bytes as sent (see the module docstring)."""
        import httpx

        if expect is not None and expect not in MAGIC:
            raise ValueError(f"expect={expect!r}: use one of {sorted(MAGIC)}")
        headers = {"Accept-Encoding": "identity"} | self._conditional(conditional)

        def attempt() -> tuple[ExitStack, ByteStream]:
            stack = ExitStack()
            try:
                resp = stack.enter_context(self._stream(url, headers))
                final = self.origin_url(str(resp.url))
                h = resp.headers
                if resp.status_code != 304:
                    self._raise_for_status(url, resp)
                    if expect is not None and _is_html_type(h.get("content-type")):
                        raise self._licence(url, expect, f"Content-Type {h.get('content-type')}")
                    length = _content_length(resp)
                    if max_bytes is not None and length is not None and length > max_bytes:
                        raise self._too_big(url, length, max_bytes)
                chunks = iter(()) if resp.status_code == 304 else self._read(resp, decoded=False)
                stream = ByteStream(url, final, resp.status_code, dict(h), chunks, max_bytes, self._progress)
                if resp.status_code != 304:
                    self._check_content(url, expect, stream.peek(HEAD))
                return stack, stream
            except BaseException:
                stack.close()
                raise

        stack, stream = self._retrying(url, attempt)
        with stack:
            try:
                yield stream
            except (_Transient, httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                problem = exc.problem if isinstance(exc, _Transient) else f"{type(exc).__name__}: {exc}"
                raise FetchError(url, f"the stream broke after {stream.bytes_read:,} bytes: {problem}",
                                 "try again; nothing partial was kept") from exc  # fmt: skip

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the mirror -------------------------------------------------------------------------------------
    def mirror_url(self, url: str) -> str:
        """https://HOST/PATH?QUERY -> $PAYERBENCH_MIRROR/HOST/PATH?QUERY (unchanged without a mirror).

        For a folder mirror this is the file that answers the URL (the request itself keeps the origin URL
        and the folder transport reads the file).
        """
        mirror = self.settings.mirror
        if not mirror:
            return url
        parts = urlsplit(url)
        rest = parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
        if self._folder is not None:
            return str(self._folder) + "/" + rest
        return mirror.rstrip("/") + "/" + rest

    def origin_url(self, url: str) -> str:
        """A URL the mirror answered with, back in its origin's form (https://HOST/PATH?QUERY)."""
        mirror = self.settings.mirror
        prefix = str(self._folder) if self._folder is not None else (mirror or "").rstrip("/")
        if mirror and url.startswith(prefix + "/"):
            return "https://" + url[len(prefix) + 1 :]
        return url

    # --- one download attempt ------------------------------------------------------------------------------
    def _download_once(
        self,
        url: str,
        dest: Path,
        part: Path,
        partial: _Partial,
        expect: str | None,
        max_bytes: int | None,
        conditional: Conditional | None,
    ) -> Download:
        """One GET: fresh, or resuming what an earlier attempt of this call left in `part`."""
        offset = part.stat().st_size if part.exists() else 0
        if offset and not (partial.ranges and partial.validator):
            part.unlink()  # the server cannot resume: start again from byte 0
            offset = 0
        headers = {"Accept-Encoding": "identity"}  # the bytes as stored: lengths, ranges and sha256 agree
        if offset:
            headers |= {"Range": f"bytes={offset}-", "If-Range": partial.validator or ""}
        else:
            headers |= self._conditional(conditional)
        now = dt.datetime.now(dt.UTC)
        with self._stream(url, headers) as resp:
            h = resp.headers
            final = self.origin_url(str(resp.url))
            if resp.status_code == 304:
                return Download(
                    url, final, 304, h.get("etag"), h.get("last-modified"), None, h.get("content-type"), 0, None,
                    None, now,
                )  # fmt: skip
            if resp.status_code == 416 and offset:  # the kept prefix no longer fits the file: start again
                part.unlink(missing_ok=True)
                raise _Transient("HTTP 416 to a resume", 416)
            self._raise_for_status(url, resp)
            length = _content_length(resp)
            if resp.status_code == 206 and offset:
                start, total = _content_range(h.get("content-range"))
                if start != offset:
                    part.unlink(missing_ok=True)
                    raise _Transient(f"asked to resume at byte {offset:,}, the server answered from byte {start}")
            else:  # a whole body: the first answer, or the file changed since the prefix was kept (If-Range)
                if resp.status_code == 206:
                    raise FetchError(url, "HTTP 206 (a part) to a request for the whole file", "report it", 206)
                offset, total = 0, length
                etag = h.get("etag")
                strong = etag if etag and not etag.startswith("W/") else None
                partial.validator = strong or h.get("last-modified")
                partial.ranges = h.get("accept-ranges", "").strip().lower() == "bytes"
                if expect is not None and _is_html_type(h.get("content-type")):
                    raise self._licence(url, expect, f"Content-Type {h.get('content-type')}")
            if max_bytes is not None and total is not None and total > max_bytes:
                raise self._too_big(url, total, max_bytes)
            digest = hashlib.sha256()
            head = bytearray()
            if offset:  # sha256 is of the whole file: rehash the kept prefix
                with part.open("rb") as kept:
                    for block in iter(lambda: kept.read(CHUNK), b""):
                        digest.update(block)
                        if len(head) < HEAD:
                            head += block[: HEAD - len(head)]
            checked = len(head) >= HEAD  # an earlier attempt already looked at these bytes
            received = 0
            with part.open("ab" if offset else "wb") as out:
                for chunk in self._read(resp, decoded=False):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if max_bytes is not None and offset + received > max_bytes:
                        raise self._too_big(url, offset + received, max_bytes)
                    if self._progress is not None:
                        self._progress(url, offset + received, total)
                    if not checked and len(head) < HEAD:
                        head += chunk[: HEAD - len(head)]
                    if not checked and len(head) >= HEAD:
                        self._check_content(url, expect, bytes(head))
                        checked = True
                out.flush()
                os.fsync(out.fileno())
            size = offset + received
            if total is not None and size < total:
                raise _Transient(f"the body ended after {size:,} of {total:,} bytes")
            if total is not None and size > total:
                raise FetchError(url, f"the body is longer ({size:,} bytes) than its Content-Length ({total:,})")
            if not checked:
                self._check_content(url, expect, bytes(head))
        os.replace(part, dest)
        return Download(
            url, final, 206 if offset else resp.status_code, h.get("etag"), h.get("last-modified"), total,
            h.get("content-type"), received, digest.hexdigest(), dest, now,
        )  # fmt: skip

    # --- retries -------------------------------------------------------------------------------------------
    def _retrying(self, url: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it succeeds, fails for good, or the attempts or the time run out."""
        import stamina

        tries = 0
        started = time.monotonic()

        def backoff(exc: Exception) -> bool | float:
            if not isinstance(exc, _Transient):
                return False
            if exc.retry_after is not None:  # the wait happens in the host gate (injectable), not in stamina
                self._gate.defer(urlsplit(self._request_url(url)).netloc, exc.retry_after)
                return 0.0
            return True

        try:
            for trying in stamina.retry_context(
                on=backoff, attempts=self._attempts, timeout=self._retry_timeout, wait_initial=1.0, wait_max=30.0
            ):
                with trying:
                    tries += 1
                    return attempt()
        except _Transient as exc:
            status = f" (last: HTTP {exc.status})" if exc.status else ""
            raise FetchError(
                url,
                f"{exc.problem}{status}; gave up after {tries} attempt{'s' * (tries != 1)} "
                f"in {time.monotonic() - started:.0f} s",
                "the server or the network is failing or rate-limiting us: try again later "
                "(a larger PAYERBENCH_FETCH_INTERVAL asks less often)",
                exc.status,
            ) from exc
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    # --- internals ----------------------------------------------------------------------------------------
    def _request_url(self, url: str) -> str:
        """The URL actually requested: the http(s) mirror's, or the origin's (a folder mirror reads it)."""
        return url if self._folder is not None else self.mirror_url(url)

    @contextmanager
    def _stream(self, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """One request after the host's interval; transport failures and 429/5xx become `_Transient`."""
        import httpx

        target = self._request_url(url)
        host = urlsplit(target).netloc
        self._gate.wait(host)
        try:
            with self._client(host).stream("GET", target, headers=headers) as resp:
                if resp.status_code == 429 or resp.status_code >= 500:
                    wait = _retry_after(resp.headers.get("retry-after"))
                    raise _Transient(
                        f"HTTP {resp.status_code}",
                        resp.status_code,
                        None if wait is None else min(wait, RETRY_AFTER_CAP),
                    )
                yield resp
        except httpx.TooManyRedirects as exc:
            raise FetchError(
                url,
                f"redirect loop (more than {MAX_REDIRECTS} redirects)",
                "open the URL in a browser; the site may be misconfigured",
            ) from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _read(resp: httpx.Response, *, decoded: bool) -> Iterator[bytes]:
        """The body in chunks: decoded for pages, as sent for files (a response built whole, as mocks are, too)."""
        if decoded or resp.is_stream_consumed:
            return resp.iter_bytes()
        return resp.iter_raw()  # no chunk_size: httpx would hold back up to a chunk, lost when the connection drops

    def _client(self, host: str) -> httpx.Client:
        if host not in self._clients:
            from importlib.metadata import PackageNotFoundError, version

            import httpx

            try:
                ours = version("payerbench")
            except PackageNotFoundError:  # pragma: no cover - run from a checkout without install
                ours = "dev"
            contact = f"+{self.settings.contact}" if self.settings.contact else "reimbursement data pipeline"
            _large_socket_reads()
            self._clients[host] = httpx.Client(
                transport=self._transport,
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                timeout=httpx.Timeout(TIMEOUT[0], connect=TIMEOUT[1]),
                headers={"User-Agent": f"payerbench/{ours} ({contact})"},
            )
        return self._clients[host]

    @staticmethod
    def _conditional(conditional: Conditional | None) -> dict[str, str]:
        headers = {}
        if conditional and conditional.etag:
            headers["If-None-Match"] = conditional.etag
        if conditional and conditional.last_modified:
            headers["If-Modified-Since"] = conditional.last_modified
        return headers

    @staticmethod
    def _raise_for_status(url: str, resp: httpx.Response) -> None:
        """4xx (and any other non-2xx left after redirects) fail at once: asking again would not help."""
        code = resp.status_code
        if 200 <= code < 300:
            return
        if code in (404, 410):
            raise FetchError(
                url,
                f"HTTP {code}: not there (or no longer)",
                "the publisher may have moved or renamed it: check the source's landing page for the current link",
                code,
            )
        if code in (401, 403):
            raise FetchError(
                url,
                f"HTTP {code}: the server refuses the request",
                "open the URL in a browser; if it works there, set PAYERBENCH_CONTACT so the site can tell "
                "who asks, or fetch the file by hand into the inbox",
                code,
            )
        raise FetchError(url, f"HTTP {code}", "check the URL, or try again later", code)

    @staticmethod
    def _too_big(url: str, size: int, cap: int) -> FetchError:
        return FetchError(
            url,
            f"{size:,} bytes, more than this source's cap of {cap:,}",
            "if the file really is this large now, raise the source's size cap",
        )

    @staticmethod
    def _licence(url: str, expect: str, seen: str) -> LicencePage:
        return LicencePage(
            url,
            f"an HTML page came back where a {expect} file was expected ({seen}): probably a licence "
            "click-through (such as CMS's AMA CPT licence page) or an error page, not the file",
            "open the URL in a browser to see which; nothing was saved",
        )

    def _check_content(self, url: str, expect: str | None, head: bytes) -> None:
        """The first bytes are what `expect` says (HTML is a `LicencePage`; anything else wrong a FetchError)."""
        if expect is None:
            return
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if start[:9].lower() == b"<!doctype" or start[:5].lower() == b"<html":
            raise self._licence(url, expect, f"the body opens with {start[:15]!r}")
        magic = MAGIC[expect]
        opening = start if expect == "json" else head
        if magic and not opening.startswith(magic):
            raise FetchError(
                url,
                f"not a {expect} file: it opens with {head[:8]!r}, a {expect} file with "
                + " or ".join(repr(m) for m in magic),
                "open the URL in a browser to see what the server sends; nothing was saved",
            )


# --- helpers --------------------------------------------------------------------------------------------------
def _content_length(resp: httpx.Response) -> int | None:
    value = resp.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """'bytes 100-199/200' -> (100, 200); the total is None when the server gives '*'."""
    try:
        unit, _, rest = (value or "").strip().partition(" ")
        span, _, total = rest.partition("/")
        return int(span.partition("-")[0]), (int(total) if total.isdigit() else None)
    except ValueError:
        return None, None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds to wait: a number of seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _is_html_type(value: str | None) -> bool:
    kind = (value or "").split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml")


def _mirror_folder(mirror: str | None) -> Path | None:
    """The mirror's folder when PAYERBENCH_MIRROR is a path or a file:// URL; None for none or an http(s) URL."""
    if not mirror or mirror.startswith(("http://", "https://")):
        return None
    if mirror.startswith("file://"):
        return Path(unquote(urlsplit(mirror).path)).resolve()
    return Path(mirror).expanduser().resolve()
