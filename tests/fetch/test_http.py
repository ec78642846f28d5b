"""HttpFetcher: downloads land whole with their sha256 or not at all; each fault of issue 14 fails or recovers as it should.

Bodies are synthetic (a zip's magic bytes and filler). Faults are served either by `httpx.MockTransport` or by the
loopback mirror server in tests/fetch/server.py. Retries run under `stamina.set_testing` (no backoff waits) and
the per-host clock is a fake one, so nothing here sleeps.
"""

from __future__ import annotations

import email.utils
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stamina

from flows.fetch.http import Conditional, FetchError, HttpFetcher, LicencePage, _retry_after
from flows.settings import Settings
from tests.fetch.server import Cut, MirrorServer, Status, redirect

URL = "https://www.cms.gov/files/zip/rvu26a.zip"
BODY = b"PK\x03\x04" + b"synthetic zip body" * 100
BIG = b"PK\x03\x04" + bytes(range(256)) * 400  # ~100 kB: big enough to be cut mid-body
AMA_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>License for Use of Current Procedural Terminology</title></head>"
    b"<body><form action='/license/ama'>synthetic copy of the click-through</form></body></html>"
)


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    """Retries keep their count (capped at 10) but wait nothing."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


class FakeTime:
    """A clock that moves only when slept on; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fetcher_for(handler, settings: Settings | None = None, **kw) -> HttpFetcher:  # noqa: ANN001
    return HttpFetcher(settings or Settings(fetch_interval=0), transport=httpx.MockTransport(handler), **kw)


def nothing_left(folder: Path) -> None:
    """No file at dest, no .part: the folder holds nothing."""
    assert list(folder.iterdir()) == []


class CutStream(httpx.SyncByteStream):
    """A body that stops with a connection error after `at` bytes."""

    def __init__(self, body: bytes, at: int) -> None:
        self.body, self.at = body, at

    def __iter__(self) -> Iterator[bytes]:
        yield self.body[: self.at]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


# --- the basics --------------------------------------------------------------------------------------------
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


def test_the_user_agent_names_payerbench_and_the_contact(tmp_path: Path) -> None:
    agents: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        agents.append(request.headers["User-Agent"])
        return httpx.Response(200, content=b"<html></html>")

    with fetcher_for(serve, Settings(fetch_interval=0, contact="data-team@example.org")) as fetcher:
        fetcher.get("https://www.cms.gov/medicare/payment")
    assert agents[0].startswith("payerbench/") and agents[0].endswith("(+data-team@example.org)")


# --- politeness ------------------------------------------------------------------------------------------
def test_two_requests_to_one_host_are_spaced_and_two_hosts_are_not() -> None:
    fake = FakeTime()
    starts: list[tuple[str, float]] = []

    def serve(request: httpx.Request) -> httpx.Response:
        starts.append((request.url.host, fake.now))
        fake.now += 0.25  # each answer takes a quarter second
        return httpx.Response(200, content=b"ok")

    with fetcher_for(serve, Settings(fetch_interval=2.0), clock=fake.clock, sleep=fake.sleep) as fetcher:
        fetcher.get("https://www.cms.gov/a")
        fetcher.get("https://data.cms.gov/data.json")  # another host: no wait
        fetcher.get("https://www.cms.gov/b")  # same host: 2 s after the first one started
    assert starts == [("www.cms.gov", 1000.0), ("data.cms.gov", 1000.25), ("www.cms.gov", 1002.0)]
    assert fake.slept == [pytest.approx(1.5)]


# --- retries ---------------------------------------------------------------------------------------------
def test_429_with_retry_after_waits_that_long_then_succeeds(tmp_path: Path) -> None:
    fake = FakeTime()
    answers = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=BODY)]
    asked: list[float] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(fake.now)
        return answers.pop(0)

    with fetcher_for(serve, clock=fake.clock, sleep=fake.sleep) as fetcher:
        got = fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip")
    assert asked == [1000.0, 1007.0]  # the second request came Retry-After seconds later
    assert got.status == 200 and got.path is not None and got.path.read_bytes() == BODY
    assert list(tmp_path.iterdir()) == [tmp_path / "rvu26a.zip"]


def test_retry_after_is_read_as_seconds_or_an_http_date_and_capped() -> None:
    assert _retry_after("120") == 120.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait
    in_an_hour = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert 3590 < (_retry_after(in_an_hour) or 0) <= 3600
    assert _retry_after("soon") is None and _retry_after(None) is None

    fake = FakeTime()
    answers = [httpx.Response(503, headers={"Retry-After": "86400"}), httpx.Response(200, content=b"ok")]
    with fetcher_for(lambda r: answers.pop(0), clock=fake.clock, sleep=fake.sleep) as fetcher:
        assert fetcher.get("https://www.cms.gov/a").status == 200
    assert fake.slept == [120.0]  # a day asked, RETRY_AFTER_CAP waited


def test_503_then_200_is_retried_and_lands(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, BODY)
        server.script(URL, Status(503), Status(502))
        with HttpFetcher(Settings(mirror=server.url, fetch_interval=0)) as fetcher:
            got = fetcher.download(URL, tmp_path / "out" / "rvu26a.zip", expect="zip")
        assert len(server.seen(URL)) == 3
    assert got.status == 200 and got.sha256 == hashlib.sha256(BODY).hexdigest()
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "rvu26a.zip"]


def test_503_forever_fails_after_the_bounded_attempts_naming_url_and_status(tmp_path: Path) -> None:
    asked: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(503, content=b"Service Unavailable")

    with fetcher_for(serve, attempts=4) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip")
    assert len(asked) == 4
    assert caught.value.status == 503
    message = str(caught.value)
    assert (
        message.startswith(URL) and "HTTP 503" in message and "4 attempts" in message and "try again later" in message
    )
    nothing_left(tmp_path)


def test_connection_errors_are_retried(tmp_path: Path) -> None:
    calls = []

    def serve(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, content=b'{"dataset": []}')

    with fetcher_for(serve) as fetcher:
        assert fetcher.get("https://data.cms.gov/data.json").json() == {"dataset": []}
    assert len(calls) == 3


@pytest.mark.parametrize("status", [404, 403, 410])
def test_a_client_error_is_not_retried(tmp_path: Path, status: int) -> None:
    asked: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(status)

    with fetcher_for(serve) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.download(URL, tmp_path / "rvu26a.zip")
    assert len(asked) == 1 and caught.value.status == status and f"HTTP {status}" in str(caught.value)
    assert str(caught.value).startswith(URL)
    nothing_left(tmp_path)


# --- resume ----------------------------------------------------------------------------------------------
def test_a_cut_body_resumes_with_range_and_if_range(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, BIG)
        server.script(URL, Cut(at=30_000))
        with HttpFetcher(Settings(mirror=server.url, fetch_interval=0)) as fetcher:
            got = fetcher.download(URL, tmp_path / "out" / "rvu26a.zip", expect="zip")
        first, second = server.seen(URL)
    assert "range" not in first.headers
    assert second.headers["range"] == "bytes=30000-" and second.headers["if-range"] == got.etag
    assert got.status == 206 and got.bytes_received == len(BIG) - 30_000 and got.content_length == len(BIG)
    assert got.sha256 == hashlib.sha256(BIG).hexdigest() and got.path is not None and got.path.read_bytes() == BIG
    assert got.final_url == URL
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "rvu26a.zip"]  # the .part was used, then gone


def test_a_cut_body_without_range_support_restarts_from_byte_0(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror", ranges=False) as server:
        server.put(URL, BIG)
        server.script(URL, Cut(at=30_000))
        with HttpFetcher(Settings(mirror=server.url, fetch_interval=0)) as fetcher:
            got = fetcher.download(URL, tmp_path / "out" / "rvu26a.zip", expect="zip")
        assert ["range" in seen.headers for seen in server.seen(URL)] == [False, False]
    assert got.status == 200 and got.bytes_received == len(BIG) and got.sha256 == hashlib.sha256(BIG).hexdigest()
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "rvu26a.zip"]


def test_a_resume_answered_200_because_the_file_changed_restarts_whole(tmp_path: Path) -> None:
    new = b"PK\x03\x04" + b"re-cut by CMS" * 3000
    answers = [
        httpx.Response(
            200,
            headers={"Content-Length": str(len(BIG)), "ETag": '"v1"', "Accept-Ranges": "bytes"},
            stream=CutStream(BIG, 5000),
        ),
        httpx.Response(200, headers={"ETag": '"v2"'}, content=new),  # If-Range "v1" no longer matches
    ]
    asked: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return answers.pop(0)

    seen: list[tuple[int, int | None]] = []
    with fetcher_for(serve, progress=lambda url, done, whole: seen.append((done, whole))) as fetcher:
        got = fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip")
    assert seen == [(5000, len(BIG)), (len(new), len(new))]  # progress follows the file, restarted included
    assert asked[1].headers["Range"] == "bytes=5000-" and asked[1].headers["If-Range"] == '"v1"'
    assert (got.status, got.etag, got.bytes_received) == (200, '"v2"', len(new))
    assert got.path is not None and got.path.read_bytes() == new and got.sha256 == hashlib.sha256(new).hexdigest()
    assert list(tmp_path.iterdir()) == [tmp_path / "rvu26a.zip"]


def test_a_206_from_the_wrong_byte_is_not_appended(tmp_path: Path) -> None:
    head = {"Content-Length": str(len(BIG)), "ETag": '"v1"', "Accept-Ranges": "bytes"}
    answers = [
        httpx.Response(200, headers=head, stream=CutStream(BIG, 5000)),
        httpx.Response(
            206, headers={"Content-Range": f"bytes 0-{len(BIG) - 1}/{len(BIG)}", "ETag": '"v1"'}, content=BIG
        ),
        httpx.Response(200, headers=head, content=BIG),
    ]
    asked: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return answers.pop(0)

    with fetcher_for(serve) as fetcher:
        got = fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip")
    assert "Range" not in asked[2].headers  # the prefix was dropped: a clean restart
    assert got.path is not None and got.path.read_bytes() == BIG and got.sha256 == hashlib.sha256(BIG).hexdigest()
    assert list(tmp_path.iterdir()) == [tmp_path / "rvu26a.zip"]


def test_a_body_shorter_than_its_content_length_never_lands(tmp_path: Path) -> None:
    old = tmp_path / "rvu26a.zip"
    old.write_bytes(b"PK\x03\x04 the previous version")
    asked: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:  # no Accept-Ranges: each attempt starts again
        asked.append(request)
        return httpx.Response(200, headers={"Content-Length": str(len(BODY) + 100)}, stream=httpx.ByteStream(BODY))

    with fetcher_for(serve, attempts=3) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.download(URL, old, expect="zip")
    assert len(asked) == 3
    assert f"the body ended after {len(BODY):,} of {len(BODY) + 100:,} bytes" in str(caught.value)
    assert list(tmp_path.iterdir()) == [old] and old.read_bytes() == b"PK\x03\x04 the previous version"


def test_a_connection_cut_on_every_attempt_leaves_no_part(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, BIG)
        server.script(URL, Cut(at=1000), Cut(at=1000), Cut(at=1000))
        fetcher = HttpFetcher(Settings(mirror=server.url, fetch_interval=0), attempts=3)
        with fetcher, pytest.raises(FetchError, match="RemoteProtocolError"):
            fetcher.download(URL, tmp_path / "out" / "rvu26a.zip", expect="zip")
        assert [s.headers.get("range") for s in server.seen(URL)] == [None, "bytes=1000-", "bytes=2000-"]
    nothing_left(tmp_path / "out")


# --- redirects -------------------------------------------------------------------------------------------
def test_a_redirect_is_followed_and_final_url_is_in_origin_form(tmp_path: Path) -> None:
    moved = "https://www.cms.gov/files/zip/rvu26a-updated-01-10-2026.zip"
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(moved, BODY)
        server.script(URL, redirect(server.url + "/www.cms.gov/files/zip/rvu26a-updated-01-10-2026.zip"))
        with HttpFetcher(Settings(mirror=server.url, fetch_interval=0)) as fetcher:
            got = fetcher.download(URL, tmp_path / "out" / "rvu26a.zip", expect="zip")
    assert (got.url, got.final_url, got.status) == (URL, moved, 200)


def test_a_redirect_loop_is_an_error_naming_the_url(tmp_path: Path) -> None:
    asked: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(302, headers={"Location": URL})

    with fetcher_for(serve) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip")
    assert str(caught.value).startswith(f"{URL}: redirect loop") and len(asked) == 11  # the first + 10, not retried
    nothing_left(tmp_path)


# --- content checks --------------------------------------------------------------------------------------
def test_the_ama_licence_page_where_a_zip_was_expected_is_refused(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.script(URL, Status(200, {"Content-Type": "text/html; charset=utf-8"}, AMA_PAGE))
        fetcher = HttpFetcher(Settings(mirror=server.url, fetch_interval=0))
        with fetcher, pytest.raises(LicencePage) as caught:
            fetcher.download(URL, tmp_path / "out" / "rvu26a.zip", expect="zip")
        assert len(server.seen(URL)) == 1  # not retried
    message = str(caught.value)
    assert message.startswith(URL) and "licence" in message and "AMA" in message and "zip" in message
    nothing_left(tmp_path / "out")


def test_html_sent_as_octet_stream_is_caught_by_its_first_bytes(tmp_path: Path) -> None:
    page = b"\n\n  " + AMA_PAGE * 20  # longer than the bytes looked at first, and opening with blanks

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/octet-stream"}, content=page)

    with fetcher_for(serve) as fetcher:
        with pytest.raises(LicencePage, match="opens with"):
            fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip")
        with pytest.raises(LicencePage):
            fetcher.download("https://data.cms.gov/x.csv", tmp_path / "x.csv", expect="csv")
    nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("expect", "body", "ok"),
    [
        ("gzip", b"\x1f\x8b\x08\x00rest", True),
        ("gzip", b"PK\x03\x04rest", False),
        ("json", b' \n [{"a": 1}]', True),
        ("json", b"HCPCS,RATE\n", False),
        ("csv", b"HCPCS,RATE\n0440T,1.00\n", True),
        ("zip", b"", False),
    ],
)
def test_content_is_checked_before_landing(tmp_path: Path, expect: str, body: bytes, ok: bool) -> None:
    with fetcher_for(lambda r: httpx.Response(200, content=body)) as fetcher:
        if ok:
            assert fetcher.download(URL, tmp_path / "f", expect=expect).path == tmp_path / "f"
            return
        with pytest.raises(FetchError, match=f"not a {expect} file"):
            fetcher.download(URL, tmp_path / "f", expect=expect)
    nothing_left(tmp_path)


# --- size caps -------------------------------------------------------------------------------------------
def test_an_oversize_content_length_is_refused_before_reading(tmp_path: Path) -> None:
    read: list[int] = []

    class Watched(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            read.append(1)
            yield BIG

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(len(BIG))}, stream=Watched())

    with (
        fetcher_for(serve) as fetcher,
        pytest.raises(FetchError, match="more than this source's cap of 1,000") as caught,
    ):
        fetcher.download(URL, tmp_path / "rvu26a.zip", expect="zip", max_bytes=1000)
    assert read == [] and "raise the source's size cap" in str(caught.value)
    nothing_left(tmp_path)


def test_a_body_passing_the_cap_without_content_length_is_stopped(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield from (BIG[i : i + 1000] for i in range(0, len(BIG), 1000))

    class Chunked(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield from chunks()

    with fetcher_for(lambda r: httpx.Response(200, stream=Chunked())) as fetcher:
        with pytest.raises(FetchError, match="more than this source's cap of 5,000"):
            fetcher.download(URL, tmp_path / "rvu26a.zip", max_bytes=5000)
        with pytest.raises(FetchError, match="more than this source's cap of 5,000"):
            fetcher.get("https://www.cms.gov/page", max_bytes=5000)
    nothing_left(tmp_path)


# --- the folder mirror -----------------------------------------------------------------------------------
def test_a_folder_mirror_answers_from_files_including_query_files(tmp_path: Path) -> None:
    folder = tmp_path / "mirror"
    api = "https://data.cms.gov/data-api/v1/dataset/abc/data?filter[HCPCS_Cd]=0440T&size=5000"
    (folder / "data.cms.gov/data-api/v1/dataset/abc").mkdir(parents=True)
    (folder / "data.cms.gov/data-api/v1/dataset/abc/data?filter[HCPCS_Cd]=0440T&size=5000").write_text('[{"x": 1}]')
    (folder / "www.cms.gov/files/zip").mkdir(parents=True)
    (folder / "www.cms.gov/files/zip/rvu26a.zip").write_bytes(BODY)
    (folder / "www.cms.gov/medicare/payment").mkdir(parents=True)
    (folder / "www.cms.gov/medicare/payment/index.html").write_text("<html>landing</html>")
    out = tmp_path / "out"
    for mirror in (str(folder), folder.as_uri()):
        with HttpFetcher(Settings(mirror=mirror)) as fetcher:  # the default 1 s interval does not apply to files
            assert fetcher.mirror_url(URL) == f"{folder.resolve()}/www.cms.gov/files/zip/rvu26a.zip"
            page = fetcher.get(api)
            assert page.json() == [{"x": 1}] and page.final_url == api
            assert fetcher.get("https://www.cms.gov/medicare/payment/").text == "<html>landing</html>"
            got = fetcher.download(URL, out / "rvu26a.zip", expect="zip")
            assert got.final_url == URL and got.sha256 == hashlib.sha256(BODY).hexdigest()
            again = fetcher.download(URL, out / "rvu26a.zip", conditional=Conditional(got.etag, got.last_modified))
            assert again.status == 304  # a second fetch from the mirror downloads nothing
            with pytest.raises(FetchError, match="HTTP 404") as caught:
                fetcher.download("https://www.cms.gov/files/zip/rvu26b.zip", out / "rvu26b.zip")
            assert str(caught.value).startswith("https://www.cms.gov/files/zip/rvu26b.zip")
    assert list(out.iterdir()) == [out / "rvu26a.zip"]


def test_a_folder_mirror_never_reads_outside_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mirror"
    (folder / "www.cms.gov").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("outside")
    (folder / "www.cms.gov" / "link").symlink_to(tmp_path / "secret.txt")
    with HttpFetcher(Settings(mirror=str(folder))) as fetcher:
        for url in ("https://www.cms.gov/%2e%2e/%2e%2e/secret.txt", "https://www.cms.gov/a/..%2F..%2F..%2Fsecret.txt"):
            with pytest.raises(FetchError, match="HTTP 400"):
                fetcher.get(url)
        with pytest.raises(FetchError, match="HTTP 400"):  # a symbolic link out of the folder
            fetcher.get("https://www.cms.gov/link")


def test_the_loopback_server_serves_query_files_and_refuses_dot_dot(tmp_path: Path) -> None:
    api = "https://data.cms.gov/data-api/v1/dataset/abc/data?filter[HCPCS_Cd]=0440T&offset=0"
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(api, b'[{"HCPCS_Cd": "0440T"}]')
        with HttpFetcher(Settings(mirror=server.url, fetch_interval=0)) as fetcher:
            assert fetcher.get(api).json() == [{"HCPCS_Cd": "0440T"}]
            first = fetcher.get(api)
            again = fetcher.get(api, conditional=Conditional(first.headers["etag"]))
            assert again.status == 304
        with httpx.Client() as raw:
            assert raw.get(server.url + "/www.cms.gov/%2e%2e/%2e%2e/etc/passwd").status_code == 400


# --- open_stream: a body read as a file, never held whole ----------------------------------------------------------
def test_open_stream_reads_the_body_as_sent_in_small_reads_with_its_sha256_and_validators(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, BIG)
        server.script(URL, Status(503))  # opening is retried like any request
        fetcher = HttpFetcher(Settings(mirror=server.url, fetch_interval=0))
        with fetcher, fetcher.open_stream(URL, expect="zip") as stream:
            assert stream.status == 200 and stream.etag and stream.content_length == len(BIG)
            pieces = list(iter(lambda: stream.read(1000), b""))
            got = b"".join(pieces)
            assert len(pieces) > 100 and max(len(p) for p in pieces) == 1000  # read piecewise, not whole
        assert len(server.seen(URL)) == 2
        assert server.seen(URL)[-1].headers["accept-encoding"] == "identity"
    assert got == BIG and stream.sha256 == hashlib.sha256(BIG).hexdigest() and stream.bytes_read == len(BIG)


def test_open_stream_answers_304_with_an_empty_stream(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, BODY)
        with HttpFetcher(Settings(mirror=server.url, fetch_interval=0)) as fetcher:
            with fetcher.open_stream(URL) as first:
                first.read()
            with fetcher.open_stream(URL, conditional=Conditional(first.etag)) as second:
                assert second.status == 304 and second.read() == b""


def test_open_stream_refuses_an_html_page_and_a_wrong_magic_before_reading_on(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, AMA_PAGE)
        with HttpFetcher(Settings(mirror=server.url, fetch_interval=0)) as fetcher:
            with pytest.raises(LicencePage, match="rvu26a.zip"), fetcher.open_stream(URL, expect="gzip"):
                pass
            server.put(URL, b"not gzip at all" * 10)
            with pytest.raises(FetchError, match="not a gzip file"), fetcher.open_stream(URL, expect="gzip"):
                pass


def test_a_stream_cut_mid_body_is_a_fetch_error_when_read_not_a_silent_short_file(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, BIG)
        server.script(URL, Cut(at=5000))
        fetcher = HttpFetcher(Settings(mirror=server.url, fetch_interval=0))
        with (
            fetcher,
            pytest.raises(FetchError, match=r"rvu26a.zip: .*(ended after|broke after)"),
            fetcher.open_stream(URL) as stream,
        ):
            while stream.read(1000):
                pass


def test_open_stream_stops_at_the_size_cap(tmp_path: Path) -> None:
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, BIG)
        fetcher = HttpFetcher(Settings(mirror=server.url, fetch_interval=0))
        with fetcher, pytest.raises(FetchError, match="cap of 1,000"), fetcher.open_stream(URL, max_bytes=1000):
            pass
