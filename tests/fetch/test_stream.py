"""An in-network file loaded straight from its URL (flows/fetch/stream.py, flows/engines/remote.py,
flows/steps/load.py `load_remote`): the same rows as a local load, resumed or restarted when cut, never on disk.

The served file is synthetic (built here from tests/tic_shapes.py's pieces, rates varied so it does not
compress to nothing), served by the loopback MirrorServer through PAYERBENCH_MIRROR."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from flows import catalog
from flows.engines import remote as remote_mod
from flows.engines.remote import RemoteFile, RestartNeeded, url_name, url_path
from flows.fetch.stream import load_url, open_url
from flows.lookups import codes_of_interest, payer_directory
from flows.settings import Settings
from flows.steps import load_log
from flows.steps.load import load_file
from tests.fetch.server import Cut, MirrorServer, Status
from tests.tic_shapes import OTHER, PREFIX, TARGET

URL = "https://mrf.payer.example/2026-01/in-network/synthetic_in_network.json.gz?sig=abc&expires=1"
LINEAGE = ["source_sha256", "load_id", "run_id", "loaded_at"]


def synthetic_in_network(items: int = 3000, seed: int = 5) -> bytes:
    """A gzipped in-network file: `items` items of no interest with varied rates, and 40 0440T items."""
    rng = random.Random(seed)
    parts = []
    for i in range(items):
        piece = TARGET if i % (items // 40) == 0 else OTHER
        parts.append(piece.replace(b"596.75", f"{rng.uniform(10, 2000):.2f}".encode()))
    body = PREFIX + b",".join(parts) + b"]}"
    return gzip.compress(body, compresslevel=6, mtime=0)


@pytest.fixture
def served(settings: Settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    body = synthetic_in_network()
    with MirrorServer(tmp_path / "mirror") as server:
        server.put(URL, body)
        yield server, body, settings.replace(mirror=server.url, fetch_interval=0)


def rows(settings: Settings, dataset: str = "tic__in_network_rate") -> pd.DataFrame:
    """Every committed row of a dataset (a part is visible only with its load-log entry), sorted."""
    log = load_log.read(settings.lake_dir)
    committed = set(log[log["status"].isin(load_log.COMMITTED)]["load_id"])
    frames = [
        pd.read_parquet(part)
        for part in sorted((settings.lake_dir / dataset).glob("*/*.parquet"))
        if part.parent.name in committed
    ]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True).drop(columns=LINEAGE)
    return out.astype(str).sort_values(list(out.columns)).reset_index(drop=True)


def local_rows(tmp_path: Path, settings: Settings, body: bytes) -> pd.DataFrame:
    local = settings.replace(warehouse_dir=tmp_path / "local-warehouse")
    path = tmp_path / "local" / url_name(URL)
    path.parent.mkdir()
    path.write_bytes(body)
    record = load_file(catalog.get("tic"), path, local, "run-local", **known(local))
    assert record.status == "loaded", record.error
    return rows(local)


def known(settings: Settings) -> dict:
    return {"codes": codes_of_interest(settings), "payers": payer_directory(settings.payer_alias_file, 1000)}


def load(settings: Settings, url: str = URL, **kw: object):  # type: ignore[no-untyped-def]
    return load_url(catalog.get("tic"), url, settings, "run-url", **known(settings), **kw)


def test_url_load_gives_the_rows_of_a_local_load(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    record = load(settings)
    assert record.status == "loaded", record.error
    assert record.source_file == "synthetic_in_network.json.gz"
    assert record.source_sha256 == hashlib.sha256(body).hexdigest()
    assert record.file_bytes == len(body)
    assert record.source_path.startswith(
        "https://mrf.payer.example/2026-01/in-network/synthetic_in_network.json.gz#etag="
    )
    assert "sig=" not in record.source_path  # a signed URL's secret never reaches the log
    got = rows(settings)
    assert len(got) == 40
    pd.testing.assert_frame_equal(got, local_rows(tmp_path, settings, body))
    requests = server.seen(URL)
    assert len(requests) == 1 and requests[0].headers["accept-encoding"] == "identity"
    assert requests[0].path.endswith("?sig=abc&expires=1")  # asked with the query it was given


def test_a_second_load_of_the_same_url_and_etag_reads_no_body(served) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    assert load(settings).status == "loaded"
    again = load(settings)
    assert again.status == "unchanged"
    assert again.source_sha256 == hashlib.sha256(body).hexdigest()
    assert len(rows(settings)) == 40


def test_the_same_bytes_at_another_url_are_unchanged(served) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    other = "https://cdn.other.example/shared/synthetic_in_network.json.gz"
    server.put(other, body)
    assert load(settings).status == "loaded"
    record = load(settings, other)
    assert record.status == "unchanged" and record.rows_loaded == 0
    assert len(rows(settings)) == 40  # a file shared by many plans loads once


def test_a_cut_with_range_support_resumes_seamlessly(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    server.script(URL, Cut(at=len(body) // 3), Cut(at=len(body) // 3))  # twice: the resume is cut too
    record = load(settings)
    assert record.status == "loaded", record.error
    requests = server.seen(URL)
    assert [r.headers.get("range") for r in requests] == [
        None,
        f"bytes={len(body) // 3}-",
        f"bytes={2 * (len(body) // 3)}-",
    ]
    assert all(r.headers.get("if-range", "").startswith('"') for r in requests[1:])  # the ETag
    assert record.source_sha256 == hashlib.sha256(body).hexdigest()
    pd.testing.assert_frame_equal(rows(settings), local_rows(tmp_path, settings, body))  # no duplicates


def test_a_cut_without_range_support_restarts_cleanly(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    server.script(URL, Cut(at=len(body) // 2, ranges=False))
    record = load(settings)
    assert record.status == "loaded", record.error
    requests = server.seen(URL)
    assert len(requests) == 2 and all("range" not in r.headers for r in requests)  # byte 0 again
    log = load_log.read(settings.lake_dir)
    assert list(log["status"]) == ["loaded"]  # the abandoned attempt left no log entry...
    assert not list((settings.lake_dir / ".staging").glob("*"))  # ...and nothing staged
    assert len(list((settings.lake_dir / "tic__in_network_rate").iterdir())) == 1
    pd.testing.assert_frame_equal(rows(settings), local_rows(tmp_path, settings, body))


def test_a_changed_file_answering_the_resume_restarts(served) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    server.script(URL, Cut(at=len(body) // 2))
    remote = open_url(URL, settings)
    remote.connect()  # the ETag of the first version is learned ...
    server.put(URL, synthetic_in_network(seed=6))  # ... the file changes: the resume's If-Range no longer matches
    stream = remote.open()
    with pytest.raises(RestartNeeded, match="HTTP 200"):
        while stream.read(1 << 20):
            pass
    stream.close()
    assert isinstance(remote.failure, RestartNeeded)
    assert server.seen(URL)[-1].headers["range"] == f"bytes={len(body) // 2}-"


def test_restarts_are_bounded_and_the_failure_is_logged(served) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    server.script(URL, *[Cut(at=100, ranges=False)] * 4)
    record = load(settings)
    assert record.status == "failed"
    assert "synthetic_in_network.json.gz" in record.error and "4 attempts" in record.error
    assert rows(settings).empty
    assert not list((settings.lake_dir / ".staging").glob("*"))


def test_an_http_error_is_a_failed_load_naming_the_url(served) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    server.script(URL, Status(404))
    record = load(settings)
    assert record.status == "failed" and "HTTP 404" in record.error and "mrf.payer.example" in record.error


def watch_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file opened for writing from now on (io.open: pathlib and open(); os.open: tempfile)."""
    opened: list[str] = []
    real_os_open, real_io_open = os.open, io.open

    def os_open(path, flags, *args, **kw):  # type: ignore[no-untyped-def]
        if flags & (os.O_WRONLY | os.O_RDWR):
            opened.append(str(path))
        return real_os_open(path, flags, *args, **kw)

    def io_open(file, mode="r", *args, **kw):  # type: ignore[no-untyped-def]
        if any(c in mode for c in "wax+"):
            opened.append(str(file))
        return real_io_open(file, mode, *args, **kw)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    return opened


@pytest.mark.parametrize("keep", [False, True])
def test_the_file_never_touches_the_disk_without_keep(served, tmp_path: Path, monkeypatch, keep) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = set(settings.raw_dir.rglob("*"))
    open_midway: set[str] = set()  # files this process holds open while the body streams (native code too)
    take = remote_mod.RemoteStream._take

    def taking(self, chunk):  # type: ignore[no-untyped-def]
        take(self, chunk)
        for fd in Path("/proc/self/fd").iterdir():
            target = os.path.realpath(fd)
            ours = not target.startswith((str(settings.lake_dir.resolve()), str(server.root)))  # the server's own file
            if target.startswith(str(tmp_path.resolve())) and ours:
                open_midway.add(target)

    monkeypatch.setattr(remote_mod.RemoteStream, "_take", taking)
    opened = watch_writes(monkeypatch)
    assert load(settings, keep=keep).status == "loaded"
    monkeypatch.undo()
    copies = [p for p in opened if "synthetic_in_network" in p]
    if keep:  # both watches see a copy when there is one
        assert copies and open_midway and set(settings.raw_dir.rglob("*")) != before
        return
    assert not copies and not open_midway, (opened, open_midway)
    assert not [p for p in opened if not p.startswith(str(settings.lake_dir))], opened
    assert set(settings.raw_dir.rglob("*")) == before
    assert not list(scratch.rglob("*"))


def test_keep_lands_a_copy_whose_sha256_is_the_recorded_one(served) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    server.script(URL, Cut(at=len(body) // 2))  # resumed: the copy is still whole
    record = load(settings, keep=True)
    assert record.status == "loaded", record.error
    kept = settings.raw_dir / "tic" / "fetched" / "synthetic_in_network.json.gz"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == record.source_sha256
    assert not list(kept.parent.glob("*.part"))


def test_keep_after_a_restart_holds_one_whole_copy(served) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    server.script(URL, Cut(at=len(body) // 2, ranges=False))
    record = load(settings, keep=True)
    kept = settings.raw_dir / "tic" / "fetched" / "synthetic_in_network.json.gz"
    assert kept.read_bytes() == body and record.source_sha256 == hashlib.sha256(body).hexdigest()


def test_a_plain_json_body_and_a_zip_body(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, body, settings = served
    plain = "https://mrf.payer.example/plain/synthetic_in_network.json"
    server.put(plain, gzip.decompress(body))
    record = load(settings, plain)
    assert record.status == "loaded" and record.rows_loaded == 40
    zipped = "https://mrf.payer.example/zip/synthetic_in_network.zip"
    server.put(zipped, b"PK\x03\x04" + b"\0" * 100)
    record = load(settings, zipped)
    assert record.status == "rejected" and "--keep" in record.error


def test_url_helpers() -> None:
    assert url_path("https://h.example/a/b%20c.json.gz?sig=1#x") == "https://h.example/a/b%20c.json.gz"
    assert url_name("https://h.example/a/b%20c.json.gz?sig=1") == "b c.json.gz"
    never = RemoteFile("https://h.example/x.json.gz", lambda headers: (_ for _ in ()).throw(AssertionError()))
    assert never.identity is None and not never.resumable  # nothing learned before the first request
    assert remote_mod.MAX_RESUMES > 1


def test_payerbench_ingest_tic_url_with_keep(served, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from flows import cli

    server, body, settings = served
    monkeypatch.setenv("PAYERBENCH_MIRROR", server.url)
    monkeypatch.setenv("PAYERBENCH_FETCH_INTERVAL", "0")
    where = ["--warehouse", str(settings.warehouse_dir), "--raw-dir", str(settings.raw_dir)]
    assert cli.main(["ingest", "tic", URL, "--keep", "--no-build", *where]) == 0
    assert "synthetic_in_network.json.gz" in capsys.readouterr().out
    kept = settings.raw_dir / "tic" / "fetched" / "synthetic_in_network.json.gz"
    assert kept.read_bytes() == body
    assert len(rows(settings)) == 40
    assert cli.main(["ingest", "tic", URL, str(kept), "--no-build", *where]) == 2  # URLs or files, not both
    assert cli.main(["ingest", "tic", str(kept), "--keep", "--no-build", *where]) == 2  # --keep is for URLs
