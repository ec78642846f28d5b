"""run_fetch: each fetch step once, every row in the manifest, one line per step."""

from __future__ import annotations

from pathlib import Path

import httpx

from flows.fetch import manifest
from flows.fetch.http import FetchError
from flows.fetch.manifest import ManifestRow
from flows.fetch.run import FetchContext, run_fetch
from flows.settings import Settings
from flows.sources.base import FetchStep, Source


def settings(tmp_path: Path) -> Settings:
    return Settings(raw_dir=tmp_path / "raw", warehouse_dir=tmp_path / "warehouse")


def source(name: str, step: FetchStep | None) -> Source:
    return Source(name, name, lambda path, context: iter(()), {}, fetch=step)


def test_a_step_shared_by_sources_runs_once_and_its_rows_reach_the_manifest(tmp_path: Path) -> None:
    calls: list[FetchContext] = []

    def run(context: FetchContext) -> list[ManifestRow]:
        calls.append(context)
        target = context.landing_dir("a", "R1", "file.csv")
        target.parent.mkdir(parents=True)
        target.write_text("x")
        return [ManifestRow(context.fetch_id, "a", "zip:R1", "R1", "https://example.org/z.zip", "downloaded",
                            landed_path=context.relative(target))]  # fmt: skip

    step = FetchStep("zip", run, "a page", "https://example.org/", "weekly")
    results = run_fetch(settings(tmp_path), [source("a", step), source("b", step), source("c", None)], "f1")
    assert len(calls) == 1 and [r.sources for r in results] == [("a", "b")]
    assert results[0].landed == [Path("a/fetched/R1/file.csv")]
    assert [r.outcome for r in manifest.read(tmp_path / "raw")] == ["downloaded"]
    assert results[0].line() == "a, b: 1 downloaded"


def test_a_failed_step_is_a_manifest_row_and_a_line_not_an_exception(tmp_path: Path) -> None:
    def run(context: FetchContext) -> list[ManifestRow]:
        raise FetchError("https://example.org/page", "HTTP 404", "check the landing page", 404)

    results = run_fetch(
        settings(tmp_path), [source("a", FetchStep("page", run, "", "https://example.org/page", ""))], "f1"
    )
    assert results[0].line() == "a: failed: https://example.org/page: HTTP 404; check the landing page"
    (logged,) = manifest.read(tmp_path / "raw")
    assert (logged.outcome, logged.http_status, logged.url) == ("failed", 404, "https://example.org/page")


def test_nothing_new_upstream_is_said_in_one_line(tmp_path: Path) -> None:
    def run(context: FetchContext) -> list[ManifestRow]:
        page = context.fetcher.get("https://example.org/data.json")
        return [ManifestRow(context.fetch_id, "a", "json", None, page.url, "not_modified", http_status=page.status)]

    transport = httpx.MockTransport(lambda request: httpx.Response(304))
    results = run_fetch(
        settings(tmp_path),
        [source("a", FetchStep("json", run, "", "https://example.org/data.json", ""))],
        "f1",
        transport=transport,
    )
    assert results[0].line() == "a: nothing new upstream (1 not modified)"


def test_a_step_that_breaks_otherwise_is_a_failed_row_and_the_next_step_runs(tmp_path: Path) -> None:
    def broken(context: FetchContext) -> list[ManifestRow]:
        raise OSError(28, "No space left on device")

    def fine(context: FetchContext) -> list[ManifestRow]:
        return [ManifestRow(context.fetch_id, "b", "b", None, "https://example.org/b", "not_modified", http_status=304)]

    steps = [
        source("a", FetchStep("a", broken, "", "https://example.org/a", "")),
        source("b", FetchStep("b", fine, "", "", "")),
    ]
    results = run_fetch(settings(tmp_path), steps, "f1")
    assert [r.line() for r in results] == [
        "a: failed: OSError: [Errno 28] No space left on device",
        "b: nothing new upstream (1 not modified)",
    ]
    assert [(r.url, r.outcome) for r in manifest.read(tmp_path / "raw")] == [
        ("https://example.org/a", "failed"),
        ("https://example.org/b", "not_modified"),
    ]


def test_a_progress_listener_hears_each_download_as_it_streams(tmp_path: Path) -> None:
    from flows.fetch.run import PROGRESS

    heard: list[tuple[str, int, int | None]] = []
    body = b"PK\x03\x04" + b"z" * 300_000

    def run(context: FetchContext) -> list[ManifestRow]:
        got = context.fetcher.download("https://example.org/a.zip", context.landing_dir("a", "a.zip"), expect="zip")
        return [ManifestRow(context.fetch_id, "a", "a", None, got.url, "downloaded", sha256=got.sha256)]

    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, stream=httpx.ByteStream(body), headers={"Content-Length": str(len(body))})
    )
    token = PROGRESS.set(lambda url, done, total: heard.append((url, done, total)))
    try:
        run_fetch(settings(tmp_path), [source("a", FetchStep("a", run, "", "", ""))], "f1", transport=transport)
    finally:
        PROGRESS.reset(token)
    assert heard and heard[-1] == ("https://example.org/a.zip", len(body), len(body))
    assert [done for _, done, _ in heard] == sorted(done for _, done, _ in heard)  # it only moves forward
