"""GzipStream (flows/engines/tic_stream.py) with pieces smaller than the data: members, padding, truncation;
and tic_scan._no_gc freezing what a dense scan leaves behind. The limits and the guards through the loader are
tested in tests/sources/test_tic.py and tests/sources/test_bad_files.py."""

from __future__ import annotations

import gc
import random
import zlib
from pathlib import Path

import pytest

from flows.engines import tic_scan
from flows.engines.tic_stream import GzipStream, StreamError


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _text(n: int, seed: int) -> bytes:
    rng = random.Random(seed)  # compressible but not trivially so, several OUT_BLOCKs long
    words = [
        b'{"billing_code":"%05d","negotiated_rate":%d.%02d},'
        % (rng.randrange(99999), rng.randrange(9999), rng.randrange(100))
        for _ in range(2000)
    ]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words)
    return bytes(out[:n])


def _read_all(stream: GzipStream, size: int = 3 * 1024 * 1024) -> bytes:
    buf = bytearray(size)
    out = bytearray()
    while n := stream.readinto(buf):
        out += buf[:n]
    return bytes(out)


def test_two_members_padded_with_zeros_read_whole_and_end_at_the_file_size(tmp_path: Path) -> None:
    first, second = _text(5 * GzipStream.OUT_BLOCK + 123, 1), _text(3 * GzipStream.OUT_BLOCK + 7, 2)
    path = tmp_path / "two_members_zero_padded.json.gz"
    path.write_bytes(_gzip(first) + b"\0" * 100 + _gzip(second))
    stream = GzipStream(path)
    try:
        assert _read_all(stream) == first + second
        assert stream.compressed_pos == path.stat().st_size
    finally:
        stream.close()


def test_a_truncated_stream_hands_out_what_decodes_then_says_where_it_ended(tmp_path: Path) -> None:
    data = _text(6 * GzipStream.OUT_BLOCK, 3)
    whole = _gzip(data)
    path = tmp_path / "truncated_mid_member.json.gz"
    path.write_bytes(whole[: len(whole) // 2])
    stream = GzipStream(path)
    out = bytearray()
    buf = bytearray(1024 * 1024)
    try:
        with pytest.raises(StreamError, match="truncated") as caught:
            while n := stream.readinto(buf):
                out += buf[:n]
    finally:
        stream.close()
    assert 0 < len(out) < len(data)
    assert data.startswith(bytes(out))
    assert caught.value.compressed <= caught.value.size == path.stat().st_size


def test_trailing_garbage_after_a_big_member_is_refused(tmp_path: Path) -> None:
    data = _text(2 * GzipStream.OUT_BLOCK + 5, 4)
    path = tmp_path / "trailing_garbage.json.gz"
    path.write_bytes(_gzip(data) + b"garbage")
    stream = GzipStream(path)
    try:
        with pytest.raises(StreamError, match="not gzip"):
            _read_all(stream)
    finally:
        stream.close()


def test_a_scan_that_leaves_many_objects_freezes_them_and_a_small_one_does_not(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tic_scan, "FREEZE_ABOVE", 5_000)
    gc.collect()
    before = gc.get_freeze_count()
    try:
        with tic_scan._no_gc():
            small = [{"i": [i]} for i in range(100)]
        assert gc.isenabled() and gc.get_freeze_count() == before
        with tic_scan._no_gc():
            kept = [{"i": [i]} for i in range(20_000)]
        assert gc.isenabled() and gc.get_freeze_count() >= before + 40_000
        assert len(small) + len(kept) == 20_100
    finally:
        gc.unfreeze()
