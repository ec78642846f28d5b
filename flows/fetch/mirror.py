"""The folder mirror (PAYERBENCH_MIRROR set to a folder or a file:// URL; its layout: flows/fetch/http.py's
docstring): an httpx transport that answers every request from the files under it.

Its own module so that importing flows/fetch/http.py (the catalog does, for every command) does not import
httpx, which imports rich, click and pygments (~7 MB, ~0.1 s); only a fetch does."""

from __future__ import annotations

import email.utils
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx

CHUNK = 1024 * 1024  # bytes read from a mirrored file at a time (as flows/fetch/http.py reads a response)


class FolderMirror(httpx.BaseTransport):
    """An httpx transport answering `https://HOST/PATH?QUERY` from `<root>/HOST/PATH?QUERY` (layout: see top)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        found = self.find(request.url)
        if isinstance(found, httpx.Response):
            return found
        stat = found.stat()
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified}
        if request.headers.get("if-none-match") == etag or _not_modified_since(
            request.headers.get("if-modified-since"), stat.st_mtime
        ):
            return httpx.Response(304, headers=headers, request=request)
        kind = "text/html" if found.name == "index.html" else mimetypes.guess_type(found.name.split("?")[0])[0]
        headers |= {"Content-Length": str(stat.st_size), "Content-Type": kind or "application/octet-stream"}
        return httpx.Response(200, headers=headers, stream=_FileStream(found), request=request)

    def find(self, url: httpx.URL) -> Path | httpx.Response:
        """The file answering `url`, or the 400/404 response saying why there is none."""
        raw = url.raw_path.decode("ascii")
        path, _, query = raw.partition("?")
        candidates = []
        for p, q in ((path, query), (unquote(path), query), (unquote(path), unquote(query))):
            name = p + (f"?{q}" if q else "")
            if name not in candidates:
                candidates.append(name)
        for name in candidates:
            segments = [url.host, *name.lstrip("/").split("/")]
            if any(s in ("..", ".") or "\\" in s or "\x00" in s for s in segments) or url.host in ("", ".", ".."):
                return httpx.Response(400, text=f"refused: {name} leaves the mirror folder")
            target = self.root.joinpath(*[s for s in segments if s])
            if target.is_dir():
                target = target / "index.html"
            resolved = target.resolve()
            if not resolved.is_relative_to(self.root):
                return httpx.Response(400, text=f"refused: {name} leads outside the mirror folder")
            if resolved.is_file():
                return resolved
        return httpx.Response(404, text=f"not in the mirror: {self.root / url.host}{candidates[0]}")


class _FileStream(httpx.SyncByteStream):
    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            yield from iter(lambda: f.read(CHUNK), b"")


def _not_modified_since(value: str | None, mtime: float) -> bool:
    if not value:
        return False
    try:
        since = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return int(mtime) <= since.timestamp()
