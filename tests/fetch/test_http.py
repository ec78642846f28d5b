"""HttpFetcher: downloads land whole with their sha256; 304 lands nothing; the mirror serves every URL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from flows.fetch.http import Conditional, HttpFetcher
from flows.settings import Settings

URL = "https://www.cms.gov/files/zip/rvu26a.zip"
BODY = b"PK\x03\x04" + b"synthetic zip body" * 100


def test_a_download_lands_whole_with_its_sha256_and_validators(tmp_path: Path) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            stream=httpx.ByteStream(BODY),
            headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Dec 2025 00:00:00 GMT"},
        )

    with HttpFetcher(Settings(), transport=httpx.MockTransport(serve)) as fetcher:
        got = fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip")
    assert got.path is not None and got.path.read_bytes() == BODY
    assert (got.status, got.sha256, got.bytes_received, got.etag) == (
        200,
        hashlib.sha256(BODY).hexdigest(),
        len(BODY),
        '"v1"',
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "rvu26a.zip"]  # no .part left


def test_a_conditional_request_answered_304_lands_nothing(tmp_path: Path) -> None:
    asked: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(304, headers={"ETag": '"v1"'})

    with HttpFetcher(Settings(), transport=httpx.MockTransport(serve)) as fetcher:
        got = fetcher.download(URL, tmp_path / "rvu26a.zip", conditional=Conditional('"v1"', None))
    assert (got.status, got.path, got.sha256) == (304, None, None)
    assert asked[0].headers["If-None-Match"] == '"v1"' and "payerbench/" in asked[0].headers["User-Agent"]
    assert list(tmp_path.iterdir()) == []


def test_the_mirror_serves_every_url_and_the_manifest_keeps_the_origin(tmp_path: Path) -> None:
    asked: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, content=b"{}")

    settings = Settings(mirror="http://127.0.0.1:8999/m")
    with HttpFetcher(settings, transport=httpx.MockTransport(serve)) as fetcher:
        page = fetcher.get("https://data.cms.gov/data-api/v1/dataset/x/data?filter[HCPCS_Cd]=0440T&size=5000")
    assert asked == ["http://127.0.0.1:8999/m/data.cms.gov/data-api/v1/dataset/x/data?filter[HCPCS_Cd]=0440T&size=5000"]
    assert page.final_url.startswith("https://data.cms.gov/data-api/v1/dataset/x/data?")
