"""The TiC scanner's fast loops (flows/engines/tic_scan.py): the sweep over plain non-target items and the
typed read of spilled provider_references give what the exact (ijson) path gives, and hand everything
unusual to the exact per-item code. Files are SYNTHETIC, built here, small. The scanner's agreement with the
exact path on every fixture, its limits and its messages are tested in tests/sources/test_tic.py, and its
nesting guards in tests/engines/test_json_guard.py."""

from __future__ import annotations

import ctypes
import decimal
import gzip
import json
import os
import random
from pathlib import Path

import pytest

from flows.engines import tic_scan, tic_stream
from flows.engines.tic_scan import fast_extract, reference_extract
from flows.sources.base import FileRejected

CODES = frozenset({"0440T", "0441T", "0442T", "64640"})


def rate(*refs: object) -> str:
    return (
        '{"provider_references":' + json.dumps(list(refs)) + ',"negotiated_prices":[{"negotiated_type":"negotiated",'
        '"negotiated_rate":12.50,"expiration_date":"9999-12-31","billing_class":"professional"}]}'
    )


def item(code: str, *, name: str = "SYN [x]", head: str = "", refs: tuple = (1,), raw_code: str | None = None) -> str:
    """A compact in-network item; `raw_code` is the billing_code value exactly as written."""
    value = raw_code if raw_code is not None else json.dumps(code)
    return (
        '{"negotiation_arrangement":"ffs","name":' + json.dumps(name) + head + ',"billing_code_type":"CPT",'
        '"billing_code_type_version":"2024","billing_code":' + value + ',"description":"Synthetic service",'
        '"negotiated_rates":[' + rate(*refs) + "]}"
    )


def write(path: Path, references: list[str], items: list[str]) -> Path:
    text = (
        '{"reporting_entity_name":"Synthetic (test)","version":"1.0.0","provider_references":[\n'
        + ",\n".join(references)
        + '],"in_network":[\n'
        + ",\n".join(items)
        + "]}"
    ).encode()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text))
    else:
        path.write_bytes(text)
    return path


def entry(ident: object, npi: int = 1234567893) -> str:
    return '{"provider_group_id":' + json.dumps(ident) + ',"provider_groups":[{"npi":[' + str(npi) + "]}]}"


def same(path: Path) -> tic_scan.Extract:
    fast, exact = fast_extract(path, CODES), reference_extract(path, CODES)
    assert fast.path_used == "fast"
    assert [i for _, i in fast.items] == [i for _, i in exact.items]
    assert fast.provider_refs == exact.provider_refs
    assert fast.items_seen == exact.items_seen
    return fast


@pytest.fixture
def swept(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Items each `_sweep` call stepped over."""
    counts: list[int] = []
    original = tic_scan.FastScanner._sweep

    def counting(self, *args):  # type: ignore[no-untyped-def]
        result = original(self, *args)
        counts.append(result[1])
        return result

    monkeypatch.setattr(tic_scan.FastScanner, "_sweep", counting)
    return counts


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_the_sweep_steps_over_plain_items_and_leaves_every_unusual_one_to_the_item_loop(
    tmp_path: Path, swept: list[int], suffix: str
) -> None:
    unusual = [
        item("0440T", refs=(2, 3)),  # a plain target
        item("0441T", raw_code='"\\u0030441T"', refs=(4,)),  # escaped: no "0441T" bytes at all
        item("64640", raw_code="64640", refs=(5,)),  # a number
        item("0442T", raw_code=' "0442T"'),  # blank space after the colon
        item("99213", name='see "0440T" [or "0441T"]'),  # decoys in a string (written with escaped quotes)
        item("99213", head=',"bundled_codes":[{"billing_code_type":"CPT","billing_code":"0442T"}]'),  # nested first
        item("99213", name="0440T"),  # a target code as the name
        item("99213", name="a \\ b { c"),  # an escaped backslash and a brace
    ]
    items = []
    for k, odd in enumerate(unusual):
        items += [item(str(10000 + k * 40 + j), refs=(j % 7,)) for j in range(40)] + [odd]
    path = write(tmp_path / f"sweep{suffix}", [entry(i) for i in range(8)], items)
    result = same(path)
    assert [i["billing_code"] for _, i in result.items] == ["0440T", "0441T", 64640, "0442T"]
    assert sum(swept) >= 8 * 38  # the plain items went through the sweep
    assert result.items_seen == len(items)


def test_the_sweep_hands_over_an_item_with_two_required_keys(tmp_path: Path, swept: list[int]) -> None:
    """An item without the anchor key hides inside its neighbour: the item loop's count check decides."""
    stray = item("0440T").replace('"negotiation_arrangement":"ffs",', "")
    items = [item(str(20000 + j)) for j in range(30)] + [stray] + [item(str(30000 + j)) for j in range(30)]
    path = write(tmp_path / "stray.json", [entry(1)], items)
    result = tic_scan.extract(path, CODES)
    assert [i["billing_code"] for _, i in result.items] == ["0440T"]  # found, whichever path found it
    assert [i for _, i in result.items] == [i for _, i in reference_extract(path, CODES).items]


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_referenced_ids_find_their_entries_as_ints_or_text(tmp_path: Path, suffix: str) -> None:
    references = [entry(1), entry("2"), entry(3, 1111111111), entry(3, 2222222222), entry("0004"), entry(5), entry(-6)]
    items = [
        item("0440T", refs=(1, 2, 3)),  # int refs; entry "2" is text, 3 is there twice
        item("0441T", refs=("0004", -6)),  # text ref matches only text written the same way
        item("99213", refs=(5,)),  # not a target: entry 5 is not wanted
    ]
    result = same(write(tmp_path / f"ids{suffix}", references, items))
    assert sorted(result.provider_refs) == ["-6", "0004", "1", "2", "3"]
    assert [e["provider_groups"][0]["npi"] for e in result.provider_refs["3"]] == [[1111111111], [2222222222]]


def test_float_ids_are_read_by_the_exact_spill_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    typed: list[bool] = []
    original = tic_scan.FastScanner._scan_spill_typed
    monkeypatch.setattr(
        tic_scan.FastScanner, "_scan_spill_typed", lambda self, *a: typed.append(original(self, *a)) or typed[-1]
    )
    result = same(write(tmp_path / "floats.json", [entry(1.0), entry(2)], [item("0440T", refs=(1, 2))]))
    assert typed == [False]  # the typed read gave up (1.0 is not an int) ...
    assert sorted(result.provider_refs) == ["1", "2"]  # ... and the exact pass found both


def test_spilled_references_are_decoded_while_the_scan_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Window.idle runs the pieces' decoding whenever the inflating thread has nothing ready."""
    steps: list[bool] = []
    original = tic_scan._SpillPieces.step

    def step(self):  # type: ignore[no-untyped-def]
        steps.append(original(self))
        return steps[-1]

    monkeypatch.setattr(tic_scan._SpillPieces, "step", step)
    end_pass = tic_scan.FastScanner._read_spilled_references
    monkeypatch.setattr(
        tic_scan.FastScanner, "_read_spilled_references", lambda self: steps.append("end") or end_pass(self)
    )
    monkeypatch.setattr(tic_scan._SpillPieces, "BLOCK", 256)
    never_ready = lambda self: False  # noqa: E731 - the thread never has data ready when asked
    monkeypatch.setattr(tic_stream.GzipStream, "ready", never_ready, raising=False)
    references = [entry(i) for i in range(200)]
    result = same(write(tmp_path / "early.json.gz", references, [item("0440T", refs=(7, 150))]))
    waiting = steps[: steps.index("end")]
    assert len(waiting) > 20 and waiting[-1] is False  # every piece decoded while waiting: the end pass only picks
    assert sorted(result.provider_refs) == ["150", "7"]


def test_a_target_item_is_checked_as_utf8_though_its_prices_are_not_built(tmp_path: Path) -> None:
    bad = item("0440T").encode().replace(b'"professional"', b'"profession\xffal"')
    path = tmp_path / "bad_utf8.json"
    tail = b"," + item("99214").encode()  # not last: the last item of a section is decoded in full anyway
    path.write_bytes(b'{"version":"1.0.0","in_network":[' + item("99213").encode() + b"," + bad + tail + b"]}")
    with pytest.raises(FileRejected, match=r"invalid UTF-8 \(byte 0xff"):
        fast_extract(path, CODES)


def test_an_item_the_typed_read_does_not_fit_is_decoded_in_full(tmp_path: Path) -> None:
    odd = item("0440T", refs=(1,)).replace('"negotiated_rates":[', '"negotiated_rates":[null,"x",')
    items = [item("99213"), odd, item("0441T", refs=(2,)), item("99214")]
    result = same(write(tmp_path / "odd_rates.json", [entry(1), entry(2)], items))
    assert [i["negotiated_rates"][:2] for _, i in result.items][0] == [None, "x"]
    assert sorted(result.provider_refs) == ["1", "2"]


@pytest.mark.parametrize("joiner", [",", ",\n", " ,\n  ", "mixed"])
def test_spilled_entries_joined_by_one_separator_are_held_as_lengths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, joiner: str
) -> None:
    """A piece of the spill whose entries one separator joins keeps only their ids and lengths (its bytes are
    read back for the wanted ones); any other piece keeps its entries. Either way: the exact path's result."""
    pieces: list[tic_scan._Piece] = []
    real = tic_scan._Piece.__init__

    def spy(self, *args):  # type: ignore[no-untyped-def]
        real(self, *args)
        pieces.append(self)

    monkeypatch.setattr(tic_scan._Piece, "__init__", spy)
    monkeypatch.setattr(tic_scan._SpillPieces, "BLOCK", 512)  # pieces of one to a few entries
    ids: list[object] = [i if i % 9 else f"{i:04d}" for i in range(80)]  # some text ids: not an int array
    references = [entry(ident, 1000000000 + i) for i, ident in enumerate(ids)]
    references[40] = references[40].replace("]}]}", "," + ",".join(["1234567893"] * 60) + "]}]}")  # > BLOCK
    seps = [joiner] * 79 if joiner != "mixed" else [",", ",\n", ", "] * 26 + [","]
    text = references[0] + "".join(sep + ref for sep, ref in zip(seps, references[1:]))
    items = [item("0440T", refs=(1, 2, "0009", 40, 79)), item("0441T", refs=(0, "0027", 33, 300))]
    path = tmp_path / "joined.json"
    write(path, [], items)
    path.write_bytes(
        path.read_bytes().replace(b'"provider_references":[\n', b'"provider_references":[\n' + text.encode())
    )
    result = same(path)
    assert sorted(result.provider_refs) == ["0009", "0027", "1", "2", "33", "40", "79"]  # 0: entry "0000"
    assert len(pieces) > 5
    held = [p.raws is not None for p in pieces]
    assert not any(held) if joiner != "mixed" else any(held)


def test_a_big_non_target_item_is_let_go_as_it_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-target item bigger than CARRY_CAP (here 6 MB) does not grow the read buffer past two chunks
    and TAIL_KEEP: its bytes are let go as they stream past (16 MiB once, for a 16 MB carry)."""
    sizes: list[int] = []
    real = tic_stream.Window.fill

    def fill(self):  # type: ignore[no-untyped-def]
        got = real(self)
        sizes.append(len(self.buf))
        return got

    monkeypatch.setattr(tic_stream.Window, "fill", fill)
    big = item("99213", name="x" * (6 * 1024 * 1024))
    result = same(
        write(tmp_path / "big_other.json", [entry(1), entry(2)], [item("0440T"), big, item("0441T", refs=(2,))])
    )
    assert max(sizes) <= tic_scan.TAIL_KEEP + 2 * tic_scan.SCAN_CHUNK
    assert sorted(result.provider_refs) == ["1", "2"]


def test_wanted_entries_are_read_back_without_pread_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where os.pread is missing (Windows), the spill is read back by seeking, and the pieces still read on."""
    monkeypatch.delattr(tic_scan.os, "pread")
    monkeypatch.setattr(tic_scan._SpillPieces, "BLOCK", 256)
    references = [entry(i, 1000000000 + i) for i in range(50)]
    result = same(write(tmp_path / "no_pread.json", references, [item("0440T", refs=(3, 20, 49))]))
    assert sorted(result.provider_refs) == ["20", "3", "49"]


@pytest.mark.parametrize("seed", range(12))
def test_spilled_pieces_agree_with_the_exact_path_whatever_the_blank_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Random separators (one per file, or mixed), blank space around the array, entry sizes and block sizes:
    the entries read back by their lengths are exactly the exact path's."""
    rng = random.Random(seed)
    monkeypatch.setattr(tic_scan._SpillPieces, "BLOCK", rng.choice([64, 200, 512, 4096]))
    joiners = [",", ", ", ",\n", " ,", "\n,\n  ", ",\t"]
    one = rng.choice(joiners)
    n = rng.randrange(1, 60)
    ids: list[object] = [i if rng.random() < 0.8 else f"{i:03d}" for i in range(n)]
    references = [entry(ident, 1000000000 + rng.randrange(10**8)) for ident in ids]
    references = [r.replace("]}]}", ",1234567893" * rng.randrange(0, 40) + "]}]}") for r in references]
    seps = [one if seed % 2 else rng.choice(joiners) for _ in range(n - 1)]
    text = rng.choice(["", " ", "\n  "]) + references[0] + "".join(s + r for s, r in zip(seps, references[1:]))
    text += rng.choice(["", "\n", " \n "])
    refs = tuple(rng.sample(ids, min(len(ids), 5)))
    path = tmp_path / f"random_{seed}.json"
    path.write_bytes(
        (
            '{"reporting_entity_name":"Synthetic (test)","version":"1.0.0","provider_references":['
            + text
            + '],"in_network":['
            + item("0440T", refs=refs)
            + ","
            + item("99213")
            + "]}"
        ).encode()
    )
    result = same(path)
    assert sorted(result.provider_refs) == sorted(str(r) for r in refs)


def test_kept_items_read_once_gives_each_item_and_lets_its_json_go() -> None:
    """`KeptItems.read_once` (the loader's read) decodes each kept item as reading the list does, keeps the
    count for the file row, and an item read once cannot be read again (no silent None)."""
    items = tic_scan.KeptItems()
    items.keep_json("$.in_network[0]", b'{"billing_code": "0440T", "negotiated_rates": []}')
    items.append(("$.in_network[1]", {"billing_code": "0441T"}))
    expected = list(items)
    assert list(items.read_once()) == expected
    assert len(items) == 2
    with pytest.raises(ValueError, match="already read once"):
        items[0]


@pytest.mark.parametrize("read_ahead", [tic_scan.SPILL_READ_AHEAD, 0])
def test_wanted_entries_read_back_by_seeking_while_pieces_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_ahead: int
) -> None:
    """Without os.pread, a piece read back by seeking mid-spill leaves the reader where it was; with no read
    ahead, the end pass interleaves steps and read backs."""
    monkeypatch.delattr(tic_scan.os, "pread")
    monkeypatch.setattr(tic_scan, "SPILL_READ_AHEAD", read_ahead)
    monkeypatch.setattr(tic_scan._SpillPieces, "BLOCK", 256)
    calls = []
    hits = tic_scan._SpillPieces.hits

    def spy(self, piece, keys):  # type: ignore[no-untyped-def]
        got = hits(self, piece, keys)
        calls.append((bool(got), self.at_end))
        return got

    monkeypatch.setattr(tic_scan._SpillPieces, "hits", spy)
    typed = []
    scan_typed = tic_scan.FastScanner._scan_spill_typed

    def typed_spy(self, wanted, keys):  # type: ignore[no-untyped-def]
        typed.append(scan_typed(self, wanted, keys))
        return typed[-1]

    monkeypatch.setattr(tic_scan.FastScanner, "_scan_spill_typed", typed_spy)
    references = [entry(i, 1000000000 + i) for i in range(50)]
    result = same(write(tmp_path / "no_pread.json", references, [item("0440T", refs=(3, 20, 49))]))
    assert sorted(result.provider_refs) == ["20", "3", "49"]
    assert typed == [True]  # read back by lengths, not by the exact pass after a failed typed one
    assert any(hit and not at_end for hit, at_end in calls), calls  # a read back before the spill was all read


def test_giving_back_free_memory_is_a_no_op_where_ctypes_cannot_open_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Windows `ctypes.CDLL(None)` raises TypeError (CPython 3.11's nt branch evaluates `'/' in name`
    with name None); the scan calls this after every fast-path extract, so it must stay a no-op there."""

    def windows_cdll(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        return "/" in name  # what ctypes.CDLL.__init__ does first on os.name == "nt"

    monkeypatch.setattr(ctypes, "CDLL", windows_cdll)
    tic_scan._give_back_free_memory()


def test_spilled_references_are_kept_packed_and_read_as_the_exact_path_reads_them(tmp_path: Path) -> None:
    """The fast path keeps the wanted spilled entries packed in one buffer (`PackedEntries`): the same ids, in
    the same order, and the same entries (an id written twice keeps both) as the exact path's dict; an id
    given an empty value (the loader, once it has read it) stays counted and reads as empty."""
    references = [entry(1), entry(3, 1111111111), entry(2), entry(3, 2222222222), entry(4)]
    path = write(tmp_path / "packed.json", references, [item("0440T", refs=(3, 1, 2))])
    fast, exact = same(path), reference_extract(path, CODES)
    refs = fast.provider_refs
    assert isinstance(refs, tic_scan.PackedEntries)
    assert refs._file is not None and not refs._blob  # read back from its temporary file, not held
    assert list(refs) == list(exact.provider_refs) == ["1", "3", "2"]
    assert [e["provider_groups"][0]["npi"] for e in refs["3"]] == [[1111111111], [2222222222]]
    assert refs.get("4") is None and "4" not in refs
    refs["3"] = ()
    assert len(refs) == 3 and "3" in refs and not refs["3"] and list(refs) == ["1", "3", "2"]
    assert refs["1"] == exact.provider_refs["1"]  # the others still read


def test_packed_entries_take_assigned_values_and_deletions_like_a_dict() -> None:
    refs = tic_scan.PackedEntries()
    refs.keep_json("a", b'{"provider_group_id":1}')
    refs.keep_json("b", b'{"provider_group_id":2}')
    refs["c"] = [{"provider_group_id": 3}]
    refs["a"] = [{"x": 1}]  # a value replaces the packed entries
    assert dict(refs) == {"b": [{"provider_group_id": 2}], "a": [{"x": 1}], "c": [{"provider_group_id": 3}]}
    del refs["b"], refs["c"]
    assert list(refs) == ["a"] and len(refs) == 1
    with pytest.raises(KeyError):
        refs["b"]
    refs.clear()
    assert len(refs) == 0 and list(refs) == []


def test_a_big_item_read_once_has_its_rates_decoded_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """`KeptItems.read_once` reads an item of `LAZY_RATES_BYTES` or more with its negotiated_rates as `LazyRates`
    (each rate decoded when read): equal to decoding the whole item, its other keys decoded, in order; text
    that is not ASCII, rates that are not an array and JSON that is not an object are decoded whole."""
    monkeypatch.setattr(tic_scan, "LAZY_RATES_BYTES", 10)
    texts = [
        '{"billing_code":"0440T","negotiated_rates":[ {"negotiated_prices":[{"negotiated_rate":12.50}]} ,"odd",3],'
        '"name":"x","negotiated_rates":[{"a":1.0},{"b":[2]}],"covered_services":null}',  # a repeated key: the last
        '{"billing_code":"0441T","name":"caf\u00e9 é","negotiated_rates":[{"a":1}]}',
        '{"billing_code":"0442T","negotiated_rates":{"not":"an array"}}',
        "[1,2]",
    ]
    items = tic_scan.KeptItems()
    for n, text in enumerate(texts):
        items.keep_json(f"$.in_network[{n}]", text.encode())
    got = list(items.read_once())
    expected = [tic_scan.DECODE.decode(text.encode()) for text in texts]
    assert [item for _, item in got] == expected
    first = got[0][1]
    assert isinstance(first["negotiated_rates"], tic_scan.LazyRates) and list(first) == list(expected[0])
    assert list(first["negotiated_rates"]) == [{"a": decimal.Decimal("1.0")}, {"b": [2]}]
    assert first["negotiated_rates"][1:] == [{"b": [2]}] and len(first["negotiated_rates"]) == 2
    assert type(got[1][1]["negotiated_rates"]) is list  # not ASCII: decoded whole
    assert got[2][1]["negotiated_rates"] == {"not": "an array"}


@pytest.mark.parametrize("pread", [True, False], ids=["pread", "seek"])
def test_packed_entries_read_the_same_from_their_file_or_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pread: bool
) -> None:
    """`PackedEntries.to_disk` moves the packed JSON to an anonymous file in the folder given, read back by
    offset (by seeking where os.pread is missing: Windows); a folder it cannot write to keeps it in memory."""
    if not pread:
        monkeypatch.delattr(tic_scan.os, "pread")

    def packed() -> tic_scan.PackedEntries:
        refs = tic_scan.PackedEntries()
        for n in range(5):
            refs.keep_json(str(n % 3), entry(n, 1000000000 + n).encode())
        return refs

    expected = dict(packed())
    on_disk = packed()
    assert on_disk.to_disk(tmp_path) and on_disk.to_disk(tmp_path)  # once; again is a no-op
    assert not on_disk._blob
    assert os.name == "nt" or list(tmp_path.iterdir()) == []  # the file has no name (Windows: deleted on close)
    assert dict(on_disk) == expected and [e["provider_group_id"] for e in on_disk["1"]] == [1, 4]
    kept = packed()
    assert not kept.to_disk(tmp_path / "missing") and kept._blob and dict(kept) == expected
    on_disk.clear()
    assert len(on_disk) == 0 and on_disk._file is None
