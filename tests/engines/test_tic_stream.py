"""GzipStream (flows/engines/tic_stream.py) with pieces smaller than the data: members, padding, truncation;
and tic_scan._no_gc freezing what a dense scan leaves behind. The limits and the guards through the loader are
tested in tests/sources/test_tic.py and tests/sources/test_bad_files.py."""

from __future__ import annotations

import gc
import random
import zlib
from decimal import Decimal
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


def test_a_scan_that_leaves_many_objects_moves_them_to_the_oldest_generation_and_a_small_one_does_not(
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tic_scan, "PROMOTE_ABOVE", 5_000)
    gc.collect()
    with tic_scan._no_gc():
        small = [{"i": [i]} for i in range(100)]
    assert gc.isenabled() and gc.get_count()[0] >= 200  # left young: the next collection takes them
    with tic_scan._no_gc():
        kept = [{"i": [i]} for i in range(20_000)]
    assert gc.isenabled() and gc.get_count()[0] < 100  # promoted: no young-generation walk over 40,000 objects
    assert gc.get_freeze_count() == 0  # and nothing left frozen
    assert len(small) + len(kept) == 20_100


def test_kept_items_read_back_as_the_same_exact_values_each_time() -> None:
    items = tic_scan.KeptItems()
    items.keep_json("$.in_network[item at uncompressed byte 10]", b'{"billing_code": "0440T", "rate": 596.75}')
    items.append(("$.in_network[1]", {"billing_code": "0441T"}))
    first, second = list(items), list(items)
    assert (
        first
        == second
        == [
            ("$.in_network[item at uncompressed byte 10]", {"billing_code": "0440T", "rate": Decimal("596.75")}),
            ("$.in_network[1]", {"billing_code": "0441T"}),
        ]
    )
    assert first[0][1] is not second[0][1]  # decoded on each read, never held
    assert len(items) == 2 and items[1] == ("$.in_network[1]", {"billing_code": "0441T"})
    assert items == first and items != first[:1]


def test_the_fast_path_keeps_target_items_as_json_bytes(tmp_path: Path) -> None:
    path = tmp_path / "two_targets_one_other.json"
    path.write_bytes(
        b'{"in_network": [{"billing_code": "0440T", "negotiated_rates": [{"negotiated_prices": [{"negotiated_rate": 1.10}]}]},\n'
        b' {"billing_code": "99213", "negotiated_rates": []},\n'
        b' {"billing_code": "0442T", "negotiated_rates": []}]}'
    )
    ex = tic_scan.fast_extract(path, frozenset({"0440T", "0442T"}))
    assert [type(kept) for _, kept in ex.items._kept] == [bytes, bytes]
    assert [item["billing_code"] for _, item in ex.items] == ["0440T", "0442T"]
    assert next(iter(ex.items))[1]["negotiated_rates"][0]["negotiated_prices"][0]["negotiated_rate"] == Decimal("1.10")
