"""HttpFetcher: every request payerbench makes (see flows/fetch/__init__.py for what it guarantees).

MINIMAL FIRST VERSION (to be hardened): plain GET and streamed download to `<dest>.part` + sha256 +
atomic rename, conditional headers, the mirror rewrite. Retries, Retry-After, per-host interval,
Range resume, content checks and size caps are added by the hardening change; the API below is fixed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flows.errors import PayerbenchError

if TYPE_CHECKING:
    import httpx

    from flows.settings import Settings

PAGE_LIMIT = 20 * 1000**2  # a landing page, a release page, data.json, an API page
CHUNK = 1024 * 1024


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
    """One file streamed to disk (status 200 or 206), or not (304: unchanged since `conditional`)."""

    url: str
    final_url: str
    status: int
    etag: str | None
    last_modified: str | None
    content_length: int | None
    content_type: str | None
    bytes_received: int  # over the wire in this call (a resumed download counts only the new part)
    sha256: str | None  # of the whole file; None for 304
    path: Path | None  # the file, renamed into place; None for 304
    fetched_at: dt.datetime


class HttpFetcher:
    """Every HTTP request of a fetch run goes through one of these (tests pass `transport`)."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._clients: dict[str, httpx.Client] = {}

    # --- the API ------------------------------------------------------------------------------------
    def get(self, url: str, *, conditional: Conditional | None = None, max_bytes: int = PAGE_LIMIT) -> Page:
        """GET a small document whole (pages, JSON); 304 when `conditional` matches."""
        with self._client(url).stream("GET", self.mirror_url(url), headers=self._conditional(conditional)) as resp:
            if resp.status_code == 304:
                return Page(url, self.origin_url(str(resp.url)), 304, dict(resp.headers), b"")
            self._raise_for_status(url, resp)
            body = bytearray()
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(
                        url, f"more than {max_bytes:,} bytes", "raise the source's size cap if it is right"
                    )
            return Page(url, self.origin_url(str(resp.url)), resp.status_code, dict(resp.headers), bytes(body))

    def download(
        self,
        url: str,
        dest: Path,
        *,
        expect: str | None = None,  # "zip", "gzip", "json", "csv": checked on the first bytes
        max_bytes: int | None = None,
        conditional: Conditional | None = None,
    ) -> Download:
        """Stream `url` to `dest` (via `dest.part`, sha256 on the way, then an atomic rename)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        now = dt.datetime.now(dt.UTC)
        with self._client(url).stream("GET", self.mirror_url(url), headers=self._conditional(conditional)) as resp:
            headers = resp.headers
            if resp.status_code == 304:
                return Download(
                    url, self.origin_url(str(resp.url)), 304, headers.get("etag"), headers.get("last-modified"),
                    None, headers.get("content-type"), 0, None, None, now,
                )  # fmt: skip
            self._raise_for_status(url, resp)
            digest = hashlib.sha256()
            received = 0
            with part.open("wb") as out:
                for chunk in resp.iter_raw(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        os.replace(part, dest)
        length = headers.get("content-length")
        return Download(
            url, self.origin_url(str(resp.url)), resp.status_code, headers.get("etag"), headers.get("last-modified"),
            int(length) if length and length.isdigit() else None, headers.get("content-type"), received,
            digest.hexdigest(), dest, now,
        )  # fmt: skip

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
        """https://HOST/PATH?QUERY -> $PAYERBENCH_MIRROR/HOST/PATH?QUERY (unchanged without a mirror)."""
        mirror = self.settings.mirror
        if not mirror:
            return url
        parts = urlsplit(url)
        rest = parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
        return mirror.rstrip("/") + "/" + rest

    def origin_url(self, url: str) -> str:
        """A URL the mirror answered with, back in its origin's form (https://HOST/PATH?QUERY)."""
        mirror = self.settings.mirror
        if mirror and url.startswith(mirror.rstrip("/") + "/"):
            return "https://" + url[len(mirror.rstrip("/")) + 1 :]
        return url

    # --- internals ----------------------------------------------------------------------------------------
    def _client(self, url: str) -> httpx.Client:
        import httpx

        host = urlsplit(self.mirror_url(url)).netloc
        if host not in self._clients:
            from importlib.metadata import version

            contact = f"; +{self.settings.contact}" if self.settings.contact else ""
            self._clients[host] = httpx.Client(
                transport=self._transport,
                follow_redirects=True,
                max_redirects=10,
                timeout=httpx.Timeout(30.0, connect=10.0),
                headers={"User-Agent": f"payerbench/{version('payerbench')} (reimbursement data pipeline{contact})"},
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
        if resp.status_code >= 400:
            raise FetchError(url, f"HTTP {resp.status_code}", "check the URL, or try again later", resp.status_code)
