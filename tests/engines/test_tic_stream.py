"""GzipStream (flows/engines/tic_stream.py) with pieces smaller than the data: members, padding, truncation;
and tic_scan._no_gc freezing what a dense scan leaves behind. The limits and the guards through the loader are
tested in tests/sources/test_tic.py and tests/sources/test_bad_files.py."""

from __future__ import annotations

import gc
import os
import random
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from flows.engines import tic_scan, tic_stream
from flows.engines.tic_stream import GzipStream, ProcessGzipStream, StreamError
from flows.sources.base import FileRejected


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


# -- the child-process inflate (ProcessGzipStream, used by fast_extract for a big local .gz) ------------
def _synthetic_tic(n_items: int) -> bytes:
    """A SYNTHETIC in-network document: many filler items, a target one every 50, referenced groups."""

    def code(i: int) -> str:
        return "0441T" if i % 50 == 0 else f"{i:05d}"

    items = [
        f'{{"negotiation_arrangement":"ffs","name":"SYN {i}","billing_code_type":"CPT",'
        f'"billing_code_type_version":"2024","billing_code":"{code(i)}","description":"Synthetic",'
        f'"negotiated_rates":[{{"provider_references":[{i % 7}],"negotiated_prices":[{{"negotiated_type":'
        f'"negotiated","negotiated_rate":{i}.25,"expiration_date":"9999-12-31","billing_class":"professional"}}]}}]}}'
        for i in range(n_items)
    ]
    refs = [f'{{"provider_group_id":{k},"provider_groups":[{{"npi":[1234567893]}}]}}' for k in range(7)]
    return (
        '{"reporting_entity_name":"Synthetic (test)","version":"1.0.0","provider_references":['
        + ",".join(refs)
        + '],"in_network":[\n'
        + ",\n".join(items)
        + "]}"
    ).encode()


def _two_member_tic(tmp_path: Path) -> Path:
    data = _synthetic_tic(40_000)
    cut = data.index(b"\n", len(data) // 2)  # a member boundary inside the in_network array
    path = tmp_path / "synthetic_two_members_zero_padded.json.gz"
    path.write_bytes(_gzip(data[:cut]) + b"\0" * 64 + _gzip(data[cut:]))
    return path


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[ProcessGzipStream]:
    """Lower the threshold so small test files take the child-process path; record each such stream."""
    monkeypatch.setattr(tic_stream, "PROCESS_MIN_BYTES", 1)
    made: list[ProcessGzipStream] = []
    real = tic_stream.ProcessGzipStream

    def spy(path: Path) -> ProcessGzipStream:
        made.append(real(path))
        return made[-1]

    monkeypatch.setattr(tic_stream, "ProcessGzipStream", spy)
    return made


def _gone(stream: ProcessGzipStream) -> bool:
    if stream._proc.returncode is None:
        return False
    try:
        os.kill(stream._proc.pid, 0)  # reaped: the pid no longer exists (no zombie)
    except ProcessLookupError:
        return True
    return False


def test_the_child_process_hands_out_the_same_bytes_as_the_thread(tmp_path: Path, spied) -> None:  # type: ignore[no-untyped-def]
    path = _two_member_tic(tmp_path)
    stream = tic_stream.ProcessGzipStream(path)
    try:
        got = _read_all(stream, 1024 * 1024)
        assert stream.compressed_pos <= path.stat().st_size == stream._end
    finally:
        stream.close()
    thread = GzipStream(path)
    try:
        assert got == _read_all(thread)
    finally:
        thread.close()
    assert _gone(stream)


def test_fast_extract_through_the_child_gives_the_thread_paths_items(tmp_path: Path, spied, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = _two_member_tic(tmp_path)
    codes = frozenset({"0441T"})
    via_child = tic_scan.fast_extract(path, codes)
    assert len(spied) == 1 and spied[0]._end == path.stat().st_size  # the child read it all: no re-read
    monkeypatch.setattr(tic_stream, "PROCESS_INFLATE", False)
    via_thread = tic_scan.fast_extract(path, codes)
    assert len(spied) == 1
    assert len(via_child.items) == 800
    assert [(where, bytes(raw)) for where, raw in via_child.items._kept] == [
        (where, bytes(raw)) for where, raw in via_thread.items._kept
    ]
    assert via_child.provider_refs == via_thread.provider_refs
    assert via_child.uncompressed_bytes == via_thread.uncompressed_bytes
    assert all(_gone(s) for s in spied)


@pytest.mark.parametrize("defect", ["truncated", "corrupt", "trailing_garbage"])
def test_a_broken_gz_through_the_child_gives_exactly_the_thread_paths_error(
    tmp_path: Path, spied, monkeypatch, defect: str
) -> None:  # type: ignore[no-untyped-def]
    whole = _gzip(_synthetic_tic(40_000))
    path = tmp_path / f"synthetic_{defect}.json.gz"
    if defect == "truncated":
        path.write_bytes(whole[: len(whole) * 2 // 3])
    elif defect == "corrupt":
        path.write_bytes(whole[: len(whole) // 2] + bytes(b ^ 0x5A for b in whole[len(whole) // 2 :]))
    else:
        path.write_bytes(whole + b"garbage")
    codes = frozenset({"0441T"})
    with pytest.raises(FileRejected) as via_child:
        tic_scan.extract(path, codes)
    assert spied and all(_gone(s) for s in spied)  # the child ran, failed, was reaped; the thread re-read
    monkeypatch.setattr(tic_stream, "PROCESS_INFLATE", False)
    made = len(spied)
    with pytest.raises(FileRejected) as via_thread:
        tic_scan.extract(path, codes)
    assert len(spied) == made
    assert str(via_child.value) == str(via_thread.value)
    assert (via_child.value.problem, via_child.value.where) == (via_thread.value.problem, via_thread.value.where)


def test_the_child_is_gone_after_close_mid_stream_and_after_an_error(tmp_path: Path, spied) -> None:  # type: ignore[no-untyped-def]
    path = _two_member_tic(tmp_path)
    stream = tic_stream.ProcessGzipStream(path)
    assert stream.readinto(bytearray(4096)) > 0
    stream.close()  # the child is still inflating: it is killed and reaped
    assert _gone(stream)
    whole = _gzip(_synthetic_tic(40_000))
    cut = tmp_path / "synthetic_truncated.json.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    stream = tic_stream.ProcessGzipStream(cut)
    try:
        with pytest.raises(StreamError):
            _read_all(stream, 1024 * 1024)
    finally:
        stream.close()
    assert _gone(stream)


def test_small_or_remote_or_plain_files_keep_the_thread(tmp_path: Path) -> None:
    small = tmp_path / "synthetic_small.json.gz"
    small.write_bytes(_gzip(b"{}"))
    plain = tmp_path / "synthetic_plain.json"
    plain.write_bytes(b"{}" * 100)
    assert not tic_stream.uses_process(small)  # below PROCESS_MIN_BYTES
    assert not tic_stream.uses_process(plain)


def test_the_child_inflates_with_isal_or_not_at_all(tmp_path: Path, spied, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The child starts without `site` (-S) and is told where isal is; told wrong, it fails (no silent zlib)
    and fast_extract re-reads the file with the thread, with the same result."""
    path = _two_member_tic(tmp_path)
    codes = frozenset({"0441T"})
    good = tic_scan.fast_extract(path, codes)
    assert "-S" in spied[0]._proc.args and spied[0]._end == path.stat().st_size
    monkeypatch.setattr(tic_stream, "_isal_file", lambda: str(tmp_path / "nowhere" / "isal" / "__init__.py"))
    stream = tic_stream.ProcessGzipStream(path)
    try:
        with pytest.raises(StreamError, match="exited with 1"):
            _read_all(stream, 1024 * 1024)
    finally:
        stream.close()
    again = tic_scan.fast_extract(path, codes)
    assert spied[-1]._end == -1  # its child ended without its end message: the thread read the file
    assert [bytes(raw) for _, raw in again.items._kept] == [bytes(raw) for _, raw in good.items._kept]
    assert again.provider_refs == good.provider_refs


def test_the_read_buffer_and_the_child_are_let_go_before_the_references_are_read(
    tmp_path: Path, spied, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, bool]] = []
    real = tic_scan.FastScanner._read_spilled_references

    def spy(self):  # type: ignore[no-untyped-def]
        seen.append((len(self.win.buf), _gone(spied[-1])))
        return real(self)

    monkeypatch.setattr(tic_scan.FastScanner, "_read_spilled_references", spy)
    result = tic_scan.fast_extract(_two_member_tic(tmp_path), frozenset({"0441T"}))
    assert seen == [(0, True)]
    assert sorted(result.provider_refs) == [str(k) for k in range(7)]
