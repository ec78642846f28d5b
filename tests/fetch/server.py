"""A loopback HTTP server serving a mirror tree, scriptable per URL to misbehave (a test helper, not a test).

    from tests.fetch.server import Cut, MirrorServer, Status

    with MirrorServer(tmp_path / "mirror") as server:             # http://127.0.0.1:<free port>, in a thread
        server.put("https://www.cms.gov/files/zip/rvu26a.zip", body)   # -> <root>/www.cms.gov/files/zip/rvu26a.zip
        server.script("https://www.cms.gov/files/zip/rvu26a.zip", Status(503), Cut(at=100))
        settings = Settings(raw_dir=..., mirror=server.url, fetch_interval=0)
        ...                                                          # HttpFetcher(settings) fetches through it
        server.seen("https://www.cms.gov/files/zip/rvu26a.zip")    # the requests for that URL, in order

Layout (the same as a folder PAYERBENCH_MIRROR, flows/fetch/http.py): `GET /HOST/PATH?QUERY` is answered by the
file `<root>/HOST/PATH?QUERY`, the `?QUERY` appended literally to the file name (tried as sent, then
percent-decoded); a folder (or a path ending in `/`) by its `index.html`; a missing file is a 404; a path with a
`..` segment a 400. `put(url, body)` writes the file for an origin URL (`https://HOST/PATH?QUERY`).

Files are served as a well-behaved server would: `ETag` and `Last-Modified` (from size and mtime; 304 on a
matching `If-None-Match` / `If-Modified-Since`), `Content-Length`, a Content-Type guessed from the name,
`Accept-Ranges: bytes` and 206 for `Range: bytes=N-` (a 200 when `If-Range` no longer matches). `MirrorServer(root,
ranges=False)` serves like a server without range support (no Accept-Ranges, Range ignored).

Misbehaviour: `script(url, *answers)` queues answers for the next requests to `url` (an origin URL or a raw
`/HOST/PATH?QUERY`); each request takes the next answer, and once they are used up the file is served as above.
- `Status(code, headers={}, body=b"")`: exactly that response (503; 429 with `{"Retry-After": "2"}`; 404; a 302
  with `{"Location": ...}`; a 200 whose body is an HTML licence page...).
- `Cut(at, ranges=True)`: the file's real headers (full Content-Length; Accept-Ranges unless `ranges=False`), then
  the connection closes after `at` body bytes: a connection cut mid-body / a body shorter than Content-Length.
- `redirect(to)` is `Status(302, {"Location": to})`; a URL redirecting to itself is a redirect loop.

`server.requests` lists every request (`Seen(method, path, headers)`, lower-case header names) in arrival order.
"""

from __future__ import annotations

import email.utils
import mimetypes
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Status:
    """A scripted response: this status, these headers, this body (Content-Length added unless given)."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Cut:
    """Serve the file's headers in full, then close the connection after `at` body bytes."""

    at: int
    ranges: bool = True


def redirect(to: str) -> Status:
    return Status(302, {"Location": to})


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


def mirror_path(url: str) -> str:
    """https://HOST/PATH?QUERY -> /HOST/PATH?QUERY (a raw path starting with / is kept)."""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    return "/" + parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")


class MirrorServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 serving `root` laid out as a mirror (see the module docstring)."""

    def __init__(self, root: Path, *, ranges: bool = True) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.ranges = ranges
        self.requests: list[Seen] = []
        self._scripts: dict[str, deque[Status | Cut]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def file(self, url: str) -> Path:
        """Where the file answering an origin URL lives in the tree."""
        return self.root / mirror_path(url).lstrip("/")

    def put(self, url: str, body: bytes | str) -> Path:
        """Write the file answering an origin URL (`https://HOST/PATH?QUERY`)."""
        path = self.file(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode() if isinstance(body, str) else body)
        return path

    def script(self, url: str, *answers: Status | Cut) -> None:
        """The next requests to `url` get these answers, in order; then the file is served normally."""
        with self._lock:
            self._scripts[mirror_path(url)].extend(answers)

    def seen(self, url: str) -> list[Seen]:
        """The requests that asked for `url` (origin URL or raw mirror path), in order."""
        want = mirror_path(url)
        return [r for r in self.requests if r.path == want or unquote(r.path) == unquote(want)]

    def _next_answer(self, path: str) -> Status | Cut | None:
        with self._lock:
            for key in (path, unquote(path)):
                for k, queue in self._scripts.items():
                    if queue and (k == key or unquote(k) == key):
                        return queue.popleft()
        return None

    def find(self, path: str) -> Path | int:
        """The file answering a raw request path, or the status (400, 404) saying why there is none."""
        raw, _, query = path.partition("?")
        for p, q in ((raw, query), (unquote(raw), query), (unquote(raw), unquote(query))):
            segments = (p + (f"?{q}" if q else "")).lstrip("/").split("/")
            if any(s in ("..", ".") or "\\" in s or "\x00" in s for s in segments):
                return 400
            target = self.root.joinpath(*[s for s in segments if s])
            if target.is_dir():
                target = target / "index.html"
            target = target.resolve()
            if not target.is_relative_to(self.root):
                return 400
            if target.is_file():
                return target
        return 404

    def __enter__(self) -> MirrorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _handler(server: MirrorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and Content-Length framing, as real servers do

        def log_message(self, format: str, *args: object) -> None:  # quiet in tests
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            server.requests.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
            answer = server._next_answer(self.path)
            if isinstance(answer, Status):
                self._send(answer.code, answer.headers, answer.body)
                return
            found = server.find(self.path)
            if isinstance(found, int):
                self._send(found, {"Content-Type": "text/plain"}, f"{found} for {self.path}\n".encode())
                return
            body = found.read_bytes()
            stat = found.stat()
            etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
            modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
            kind = "text/html" if found.name == "index.html" else mimetypes.guess_type(found.name.split("?")[0])[0]
            ranges = server.ranges and not (isinstance(answer, Cut) and not answer.ranges)
            headers = {"ETag": etag, "Last-Modified": modified, "Content-Type": kind or "application/octet-stream"}
            if ranges:
                headers["Accept-Ranges"] = "bytes"
            if self.headers.get("If-None-Match") == etag or self._unmodified(stat.st_mtime):
                self._send(304, {"ETag": etag, "Last-Modified": modified}, b"")
                return
            code, start = 200, 0
            wanted = self.headers.get("Range", "")
            if ranges and wanted.startswith("bytes=") and wanted.endswith("-"):
                if_range = self.headers.get("If-Range")
                if if_range in (None, etag, modified):
                    start = int(wanted[len("bytes=") : -1])
                    if start >= len(body):
                        self._send(416, {"Content-Range": f"bytes */{len(body)}"}, b"")
                        return
                    code = 206
                    headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            if isinstance(answer, Cut):
                self._send(code, headers, body[start:], cut_at=answer.at)
            else:
                self._send(code, headers, body[start:])

        def _unmodified(self, mtime: float) -> bool:
            since = self.headers.get("If-Modified-Since")
            if not since or self.headers.get("If-None-Match"):
                return False
            try:
                return int(mtime) <= email.utils.parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False

        def _send(self, code: int, headers: dict[str, str], body: bytes, cut_at: int | None = None) -> None:
            self.send_response(code)
            names = {k.lower() for k in headers}
            for key, value in headers.items():
                self.send_header(key, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(body)))
            if cut_at is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body if cut_at is None else body[:cut_at])
            self.wfile.flush()
            if cut_at is not None:
                self.close_connection = True

    return Handler
