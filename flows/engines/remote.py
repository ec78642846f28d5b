"""A file read straight from its URL: the TiC engines' byte source for an HTTP(S) body, never on disk.

`RemoteFile(url, opener)` stands where a local path would (flows/engines/tic_stream.py `open_raw`
accepts either), so an in-network file streamed from a payer goes through the same decompression
(`GzipStream`, the limits of `Guard`) and the same scanner (flows/engines/tic_scan.py) as a local file.

- **One pass = one GET** (`Accept-Encoding: identity`: the bytes as stored, a `.json.gz` stays gzip).
  The body is handed out in the pieces the network delivers; sha256 and the byte count are taken on
  the way, so `sha256` is known when a pass reaches the end of the body.
- **Resume.** A dropped connection (or a body shorter than Content-Length) is resumed with
  `Range: bytes=<offset>-` and `If-Range: <ETag or Last-Modified>` when the first response said
  `Accept-Ranges: bytes` and gave a validator. A 206 whose Content-Range starts at `offset` continues
  the byte stream seamlessly: the decompressor and the scanner never notice, nothing is read twice.
- **Restart.** Anything else (no range support, no validator, a 200 to the resume: the file changed or
  the server ignores Range, a 206 at the wrong offset, too many resumes) raises `RestartNeeded`: the
  caller (flows/steps/load.py `load_remote`) discards the attempt's Parquet parts (nothing is visible
  before the load-log entry) and streams the whole file again.
- **Passes.** The scanner's exact-path fallback (and the second provider-reference pass) open the
  file again: each is a new GET from byte 0; a later pass whose sha256 differs from the first
  raises `RestartNeeded` (the file changed under us).
- **`keep`.** With a destination, the first pass also writes the bytes to `<dest>.part` and renames it
  onto `dest` once the pass is complete (fsynced); a restart starts the copy again.

Every failure is also kept in `RemoteFile.failure`: the layers between (the gunzip thread, the
window) turn exceptions into their own messages, and the loader needs the original to decide.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:  # imported where a body is received: reading a local file (tic_stream) must not pay ~0.12 s
    import httpx

Opener = Callable[[dict[str, str]], AbstractContextManager["httpx.Response"]]
"""Sends one GET for the file with these extra headers; the response is open (streaming) inside the
context. The fetch layer's opener adds the mirror, politeness, retries of the first request and
raises its own typed errors for 4xx/5xx answers (flows/fetch/stream.py)."""

PIECE = 1024 * 1024  # bytes the receiving thread gathers (from httpx's socket reads) before handing them over
PREFETCH = 4  # pieces held ahead of the reader: up to 4 MiB received but not yet read
MAX_RESUMES = 20  # per pass: a connection that keeps dropping is restarted (and the restarts are bounded)


class RemoteError(OSError):
    """Reading a file from its URL failed; the message names the URL, what happened and what to do."""

    def __init__(self, url: str, problem: str, todo: str = "") -> None:
        self.url = url
        self.problem = problem
        self.todo = todo
        super().__init__(f"{url}: {problem}" + (f"; {todo}" if todo else ""))


class RestartNeeded(RemoteError):
    """The byte stream cannot continue where it stopped: read the whole file again from byte 0."""


def url_path(url: str) -> str:
    """The URL without its query and fragment (a signed URL's query changes on every listing)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def url_name(url: str) -> str:
    """The file name of a URL's path (`.../in-network/2026-01_abc.json.gz?sig=...` -> `2026-01_abc.json.gz`)."""
    return PurePosixPath(unquote(urlsplit(url).path)).name or urlsplit(url).netloc


def put_unless_stopped(to: queue.Queue, stop: threading.Event, item: object) -> bool:
    """Put `item` on a bounded queue from a producing thread, giving up (False) once `stop` is set: a reader
    that closed early never leaves the producer blocked on a full queue."""
    while not stop.is_set():
        try:
            to.put(item, timeout=0.05)
            return True
        except queue.Full:
            pass
    return False


class RemoteFile:
    """An HTTP(S) file read as it streams (see the module docstring); stands where a local `Path` would.

    `name` is the file name of the URL's path (messages and lineage), `size` the Content-Length of the
    first full response (None when chunked), `etag` / `last_modified` its validators, `sha256` the hash
    of the first complete pass (None before), `identity` the URL path plus the strongest validator the
    server gave (`#etag=...`, else `#size=...&modified=...`), None when it gave none.
    """

    def __init__(self, url: str, opener: Opener, *, keep: Path | None = None, max_resumes: int = MAX_RESUMES) -> None:
        self.url = url
        self.opener = opener
        self.keep = keep
        self.max_resumes = max_resumes
        self.name = url_name(url)
        self.size: int | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.accept_ranges = False
        self.sha256: str | None = None
        self.bytes_read = 0  # over every pass, resumes counted once
        self.passes = 0  # GETs from byte 0
        self.resumes = 0  # Range requests that continued a pass
        self.kept: Path | None = None  # the local copy, once complete
        self.failure: RemoteError | BaseException | None = None
        self._pending: tuple[AbstractContextManager[httpx.Response], httpx.Response] | None = None

    # -- what a Path offers the engines -------------------------------------------------------------
    def __fspath__(self) -> str:
        """The URL path (no query): FileRejected builds a Path from it for its message (`.name`)."""
        return url_path(self.url)

    def __str__(self) -> str:
        return url_path(self.url)

    def __repr__(self) -> str:
        return f"RemoteFile({url_path(self.url)!r})"

    @property
    def identity(self) -> str | None:
        path = url_path(self.url)
        if self.etag:
            return f"{path}#etag={self.etag}"
        if self.size is not None and self.last_modified:
            return f"{path}#size={self.size}&modified={self.last_modified}"
        return None

    @property
    def resumable(self) -> bool:
        return self.accept_ranges and bool(self.etag or self.last_modified)

    # -- passes ----------------------------------------------------------------------------------------
    def connect(self) -> None:
        """Send the first GET now (headers learned: size, validators, range support); the next `open`
        reads its body. Raises what the opener raises (a 404, a refused request)."""
        if self._pending is None:
            self._pending = self._get({})
            self._learn(self._pending[1])

    def open(self) -> RemoteStream:
        """A new pass over the file from byte 0 (the response `connect` opened, or a new GET)."""
        pending, self._pending = self._pending, None
        self.passes += 1
        return RemoteStream(self, pending)

    def restart(self) -> None:
        """Forget the passes so far (after `RestartNeeded`): the next `open` is a first pass again."""
        self.close()
        self.sha256 = None
        self.failure = None
        self.kept = None

    def close(self) -> None:
        if self._pending is not None:
            with contextlib.suppress(Exception):
                self._pending[0].__exit__(None, None, None)
            self._pending = None

    def _get(self, headers: dict[str, str]) -> tuple[AbstractContextManager[httpx.Response], httpx.Response]:
        cm = self.opener({"Accept-Encoding": "identity", **headers})
        try:
            resp = cm.__enter__()
        except BaseException as exc:
            self.failure = exc
            raise
        return cm, resp

    def _learn(self, resp: httpx.Response) -> None:
        if resp.status_code != 200:
            raise self._fail(RemoteError(self.url, f"HTTP {resp.status_code} where the file was expected"))
        length = resp.headers.get("content-length", "").strip()
        self.size = int(length) if length.isdigit() and "content-encoding" not in resp.headers else None
        self.etag = resp.headers.get("etag") or None
        self.last_modified = resp.headers.get("last-modified") or None
        self.accept_ranges = resp.headers.get("accept-ranges", "").strip().lower() == "bytes"

    def _fail(self, exc: RemoteError) -> RemoteError:
        self.failure = exc
        return exc


class RemoteStream(io.RawIOBase):
    """One pass over a RemoteFile's body: `read` / `readinto` give the bytes in order, resuming when cut.

    A thread of its own receives the body and hands it over in pieces of about `PIECE` bytes, each hashed
    (and teed) once: with the GIL, every hand-off between threads can cost the receiver a wait of up to the
    interpreter's switch interval while the scanner holds the GIL, so few large hand-offs keep the receiver
    ahead where httpx's 64 KiB chunks one by one fell behind. `read` gives a piece itself when it fits
    (the gunzip thread reads this way, no copy); `readinto` copies (the plain .json path)."""

    def __init__(
        self, remote: RemoteFile, pending: tuple[AbstractContextManager[httpx.Response], httpx.Response] | None
    ) -> None:
        super().__init__()
        self.remote = remote
        self.pos = 0  # body bytes received in this pass
        self.compressed_pos = 0  # what the Guard reads for a plain .json: bytes handed out
        self._digest = hashlib.sha256()
        self._data = b""  # the piece being read, from offset `_at`
        self._at = 0
        self._cm: AbstractContextManager[httpx.Response] | None = None
        self._chunks: Iterator[bytes] | None = None
        self._end: int | None = None  # body length this pass must reach (Content-Length), if known
        self._resumes = 0
        self._eof = False  # the reader has seen the end (or the failure)
        self._done = False  # the receiving thread has finished the pass
        self._error: BaseException | None = None
        self._tee = None
        if remote.sha256 is None and remote.keep is not None:  # the first pass (again, after a restart)
            remote.keep.parent.mkdir(parents=True, exist_ok=True)
            self._part = remote.keep.with_name(remote.keep.name + ".part")
            self._tee = self._part.open("wb")
        if pending is None:
            pending = remote._get({})
            remote._learn(pending[1])
        self._attach(*pending)
        # the body is received by a thread of its own, a few MB ahead: socket reads (which release the GIL)
        # overlap with inflating and scanning instead of taking turns with them
        self._queue: queue.Queue = queue.Queue(PREFETCH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=f"receive {remote.name}", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        """The receiving thread: the body in pieces of about PIECE bytes, then None (or the failure)."""
        gathered: list[bytes] = []
        size = 0
        try:
            while not self._stop.is_set():
                chunk = self._next_chunk()
                if chunk:
                    gathered.append(chunk)
                    size += len(chunk)
                    if size < PIECE:
                        continue
                if gathered:
                    piece = b"".join(gathered)
                    gathered, size = [], 0
                    self._take(piece)
                    if not self._put(piece):
                        return
                if not chunk:
                    self._finish()
                    self._put(None)
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            if gathered:  # what arrived before the failure is read before it
                self._put(b"".join(gathered))
            self._put(exc)

    def _put(self, item: object) -> bool:
        return put_unless_stopped(self._queue, self._stop, item)

    def _pull(self) -> bytes:
        """The next received piece (b"" at the end); a failure of the receiving thread is raised here."""
        if self._eof:
            return b""
        item = self._queue.get()
        if item is None:
            self._eof = True
            return b""
        if isinstance(item, BaseException):
            self._eof = True
            self._error = item
            raise item
        return item

    def _attach(self, cm: AbstractContextManager[httpx.Response], resp: httpx.Response) -> None:
        self._cm = cm
        self._chunks = resp.iter_raw()
        if self._end is None:
            self._end = self.remote.size

    def _detach(self) -> None:
        cm, self._cm, self._chunks = self._cm, None, None
        if cm is not None:
            with contextlib.suppress(Exception):  # a dropped connection may fail to close cleanly
                cm.__exit__(None, None, None)

    # -- reading -----------------------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        """The next chunk of the body as httpx gives it (b"" at its end), resuming a dropped connection."""
        import httpx  # loaded by the opener already (see the imports at the top)

        while True:
            if self._chunks is None:
                raise self.remote.failure or RemoteError(self.remote.url, "read after the stream failed")
            try:
                chunk = next(self._chunks)
            except StopIteration:
                if self._end is not None and self.pos < self._end:
                    self._resume(f"the body ended after {self.pos:,} of {self._end:,} bytes")
                    continue
                return b""
            except httpx.TransportError as exc:
                self._resume(f"the connection dropped after {self.pos:,} bytes ({type(exc).__name__}: {exc})")
                continue
            if chunk:
                self.pos += len(chunk)
                return chunk

    def _take(self, piece: bytes) -> None:
        """Hash (and tee) a piece of the body, in order, before the reader gets it."""
        self._digest.update(piece)
        if self._tee is not None:
            self._tee.write(piece)

    def _resume(self, why: str) -> None:
        remote = self.remote
        self._detach()
        if not remote.resumable:
            raise remote._fail(
                RestartNeeded(
                    remote.url,
                    f"{why}; the server offers no byte ranges (Accept-Ranges: bytes and an ETag or Last-Modified)",
                    "the file is read again from its first byte",
                )
            )
        if self._resumes >= remote.max_resumes:
            raise remote._fail(RestartNeeded(remote.url, f"{why}; resumed {self._resumes} times already"))
        self._resumes += 1
        remote.resumes += 1
        validator = remote.etag or remote.last_modified or ""
        cm, resp = remote._get({"Range": f"bytes={self.pos}-", "If-Range": validator})
        start = _content_range_start(resp.headers.get("content-range"))
        if resp.status_code == 206 and start == self.pos:
            self._attach(cm, resp)
            return
        with contextlib.suppress(Exception):
            cm.__exit__(None, None, None)
        answer = (
            "the whole file again (HTTP 200: it changed since the first byte, or the server ignores Range)"
            if resp.status_code == 200
            else f"HTTP {resp.status_code} with Content-Range {resp.headers.get('content-range')!r}"
        )
        raise remote._fail(
            RestartNeeded(
                remote.url, f"{why}; asked to resume at byte {self.pos:,}, got {answer}", "read again from byte 0"
            )
        )

    def peek(self, n: int) -> bytes:
        """The next `n` bytes (fewer at the end) without consuming them."""
        while len(self._data) - self._at < n and not self._eof:
            piece = self._pull()
            if not piece:
                break
            self._data, self._at = self._data[self._at :] + piece, 0
        return self._data[self._at : self._at + n]

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all of the current piece if negative; b"" at the end): the received piece
        itself when it fits, else a slice of it."""
        if self._at >= len(self._data):
            self._data, self._at = self._pull(), 0
        data, start = self._data, self._at
        end = len(data) if size < 0 else min(len(data), start + size)
        self._at = end
        self.compressed_pos += end - start
        return data if start == 0 and end == len(data) else data[start:end]

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        target = memoryview(b).cast("B") if not isinstance(b, memoryview) or b.format != "B" else b
        want, filled = len(target), 0
        while filled < want:
            if self._at >= len(self._data):
                if self._eof or (filled and self._queue.empty()):  # hand out what is here rather than wait
                    break
                self._data, self._at = self._pull(), 0
                if not self._data:
                    break
            k = min(len(self._data) - self._at, want - filled)
            target[filled : filled + k] = memoryview(self._data)[self._at : self._at + k]
            self._at += k
            filled += k
        self.compressed_pos += filled
        return filled

    def _finish(self) -> None:
        """The body ended whole: record the pass's sha256 (and land the kept copy)."""
        if self._done:
            return
        self._done = True
        self._detach()
        remote = self.remote
        remote.bytes_read += self.pos
        sha = self._digest.hexdigest()
        if remote.sha256 is None:
            remote.sha256 = sha
            if remote.size is None:
                remote.size = self.pos
        elif sha != remote.sha256:
            raise remote._fail(
                RestartNeeded(
                    remote.url,
                    "the file changed between two reads of it (its sha256 differs)",
                    "read again from byte 0",
                )
            )
        if self._tee is not None:
            self._tee.flush()
            os.fsync(self._tee.fileno())
            self._tee.close()
            self._tee = None
            assert remote.keep is not None
            self._part.replace(remote.keep)
            remote.kept = remote.keep

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            while True:  # unblock the receiving thread
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=5)
            self._detach()
            if self._tee is not None:  # an unfinished copy never stays
                self._tee.close()
                self._tee = None
                self._part.unlink(missing_ok=True)
        super().close()


def _content_range_start(value: str | None) -> int | None:
    """'bytes 100-199/200' -> 100."""
    try:
        _, _, rest = (value or "").strip().partition(" ")
        return int(rest.partition("-")[0])
    except ValueError:
        return None
