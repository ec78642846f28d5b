"""Pull the items for a few billing codes out of a multi-GB Transparency-in-Coverage file.

Two extractors give the same `Extract` (file header, the target items as plain Python values with
every number exact - ints, or Decimals from the file's own digits -, the provider-reference
entries those items use):

* `fast_extract`: the byte-level design measured in shared/reference/tic-performance.md. One
  `bytes.find` pass over the decompressed stream for the item *anchor* (the first key of the
  first item, e.g. `"negotiation_arrangement"`), checked to sit right after `,{` or `[{`; each
  item is judged from its first bytes (`"billing_code": "<v>"` before any nested value is the
  item-level code); only target items are decoded (msgspec, numbers as Decimal). Non-target
  items are never parsed, and their bytes are dropped once judged (memory is one buffer plus the
  largest *target* item). The provider_references section is spilled to a temporary file as it
  streams past and read back for the referenced ids only. Anything the fast path cannot be sure
  of raises `Anomaly`.
* `reference_extract`: the exact, slow path on ijson's C backend. It is the fallback for every
  `Anomaly` and the oracle the tests compare the fast path against.

Assumptions the fast path checks rather than trusts: item starts are told by the anchor (a
false start inside a target item is detected by decoding and merged away; elsewhere it could
only split a non-target item, which is never read); `"provider_group_id"` occurs only in the
top-level provider_references section; `"in_network"` / `"out_of_network"` occur as keys only at
the top level. A section's closing bracket is confirmed by decoding what follows it.
"""

from __future__ import annotations

import contextlib
import ctypes
import decimal
import gc
import json
import os
import re
import tempfile
import time
from array import array
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import msgspec

from flows.engines import json_guard
from flows.engines.json_guard import GuardedJson, build_value, decompressed, skip_container, top_level
from flows.engines.tic_stream import CHUNK, Limits, Window, _sz, open_window, size_text, uses_process
from flows.sources.base import FileRejected

ITEM_SECTIONS = ("in_network", "out_of_network")
PR_SECTION = "provider_references"
TOC_SECTION = "reporting_structure"
HEAD = 8192  # bytes of an item judged from its head
TAIL_KEEP = 4 * 1024 * 1024  # bytes kept behind the scan point to confirm a section's end
# a non-target item bigger than this is dropped while it streams (TAIL_KEEP is kept anyway): at 16 MiB, the 1 GB
# benchmark file's one 17 MB item grew the read buffer to 32 MiB (+17 MB RSS) for nothing
CARRY_CAP = TAIL_KEEP
PROBE_FROM = 16 * 1024 * 1024  # span of a target item from which to look for its end (then at each doubling)
# bytes read at a time: the read buffer is two of them, more only while a kept item needs it (8 MiB: a 16 MiB
# buffer that grew to 32 MiB; 2 MiB scanned as fast)
SCAN_CHUNK = 2 * 1024 * 1024

DECODE = msgspec.json.Decoder(float_hook=decimal.Decimal)  # numbers exact: int or Decimal("596.75")
SKIP = msgspec.json.Decoder(type=msgspec.Raw)
WS = b" \t\r\n"
STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # unrolled: far faster in sre than (?:a|b)*
BYTE_RE = re.compile(r"\(byte (\d+)\)")
CODE_RE = re.compile(rb'"billing_code"[ \t\r\n]*:[ \t\r\n]*(?:"([^"\\]*(?:\\.[^"\\]*)*)"|(-?[0-9][0-9.eE+-]*))', re.S)
PR_ID_RE = re.compile(rb'"provider_group_id"[ \t\r\n]*:[ \t\r\n]*(-?[0-9][0-9.eE+-]*)')
PR_SIGNAL = b'"provider_group_id"'
REQUIRED_KEY = {"in_network": b'"negotiated_rates"', "out_of_network": b'"allowed_amounts"'}
_STR = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_SP = rb"[ \t\r\n]*"
HEAD_RE = re.compile(
    rb"\{"
    + _SP
    + rb"(?:"
    + _STR
    + _SP
    + rb":"
    + _SP
    + rb"(?:"
    + _STR
    + rb"|-?[0-9][0-9.eE+-]*|true|false|null)"
    + _SP
    + rb","
    + _SP
    + rb")*?"
    + rb'"billing_code"'
    + _SP
    + rb":"
    + _SP
    + rb'(?:"([^"\\]*(?:\\.[^"\\]*)*)"|(-?[0-9][0-9.eE+-]*))',
    re.S,
)
# HEAD_RE for a head written without blank space or escapes (~2x faster in sre): whatever it matches,
# HEAD_RE matches with the same code (same pairs, same lazy stop at the first "billing_code" key)
COMPACT_HEAD_RE = re.compile(
    rb'\{(?:"[^"\\]*":(?:"[^"\\]*"|-?[0-9][0-9.eE+-]*|true|false|null),)*?"billing_code":"([^"\\]*)"'
)
SCALAR_RE = re.compile(rb"(?:-?[0-9][0-9.eE+-]*|true|false|null)")
KEY_ARRAY_RE = re.compile(rb"[ \t\r\n]*:[ \t\r\n]*\[")
FIRST_KEY_RE = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*("[^"\\]*(?:\\.[^"\\]*)*")', re.S)


def too_deep(path: Path, where: str) -> FileRejected:
    """JSON nested deeper than the decoders follow (msgspec stops at ~1,000 levels; real TiC has < 10)."""
    return json_guard.too_deep(path, "a real TiC file (its values nest a few levels deep)", where)


def not_utf8(path: Path, exc: UnicodeDecodeError, where: str) -> FileRejected:
    """Text that is not UTF-8 (RFC 8259 requires it of JSON exchanged between systems)."""
    bad = exc.object[exc.start : exc.start + 1].hex() if isinstance(exc.object, (bytes, bytearray)) else "?"
    return FileRejected(
        path,
        f"invalid UTF-8 (byte 0x{bad} in a string)",
        "UTF-8 JSON (re-export or re-download the file as UTF-8)",
        where,
    )


class _RateRefs(msgspec.Struct, gc=False):
    provider_references: list[object] | None = None


class _ItemRefs(msgspec.Struct, gc=False):
    """What the scan reads of a target item: its code and the ids its rates reference."""

    billing_code: object = None
    negotiated_rates: list[_RateRefs] | None = None


ITEM_REFS = msgspec.json.Decoder(_ItemRefs, float_hook=decimal.Decimal)


class _PrHead(msgspec.Struct, gc=False):
    """What the spilled-references pass reads of every entry (the rest is skipped unparsed)."""

    provider_group_id: int | str | None = None


PR_RAWS = RAWS = msgspec.json.Decoder(list[msgspec.Raw])
PR_HEADS = msgspec.json.Decoder(list[_PrHead])


class Anomaly(Exception):
    """The fast path met something it cannot judge for certain; use the exact path instead."""

    stream_end: int | None = None  # uncompressed bytes seen when the stream had ended, if it had


class KeptItems(Sequence):
    """The target items of an Extract: `(locator, item)` pairs, read like a list.

    The fast path keeps each item as its JSON bytes and decodes it again each time it is read (the
    same decoder, so the same exact values), so a dense file's items cost their size in bytes while
    they wait for the row builder (13 MB for the 1 GB benchmark file's 36,863 rates, against 75 MB as
    Python objects), and an item read once is freed as soon as its rows are built. Values appended as
    objects (the ijson path) are kept as they are."""

    __slots__ = ("_kept",)

    def __init__(self, pairs: Iterable[tuple[str, dict]] = ()) -> None:
        self._kept: list[tuple[str, dict | bytes]] = list(pairs)

    def append(self, pair: tuple[str, dict]) -> None:
        self._kept.append(pair)

    def keep_json(self, locator: str, raw: bytes) -> None:
        """Keep an item as its JSON text (one object; decoded with `DECODE` when read)."""
        self._kept.append((locator, raw))

    def clear(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)

    def read_once(self) -> Iterator[tuple[str, dict]]:
        """Each item decoded, in order, its kept form let go as soon as it is read: the loader reads an extract
        once, so a dense file's kept JSON is freed as its rows are built. The length holds (the file row counts
        the items); reading an item again raises `ValueError`."""
        kept = self._kept
        for index in range(len(kept)):
            pair = kept[index]
            kept[index] = None  # type: ignore[call-overload]
            if pair is not None and isinstance(pair[1], bytes) and len(pair[1]) >= LAZY_RATES_BYTES:
                yield pair[0], _lazy_rates(pair[1])
            else:
                yield self._read(pair)

    @staticmethod
    def _read(pair: tuple[str, dict | bytes]) -> tuple[str, dict]:
        if pair is None:
            raise ValueError("this TiC item was already read once (KeptItems.read_once) and let go")
        locator, item = pair
        return (locator, DECODE.decode(item)) if isinstance(item, bytes) else (locator, item)  # type: ignore[return-value]

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        if isinstance(index, slice):
            return [self._read(pair) for pair in self._kept[index]]
        return self._read(self._kept[index])

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        for pair in self._kept:
            yield self._read(pair)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (KeptItems, list)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeptItems({len(self._kept)} items)"


LAZY_RATES_BYTES = 64 * 1024
"""An item read once (`KeptItems.read_once`) at least this long has its negotiated_rates decoded one at a time."""

ITEM_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])


class LazyRates(Sequence):
    """An item's negotiated_rates, each kept as its JSON (`msgspec.Raw`, a view of the item's bytes) and decoded
    by `DECODE` when read: the same values as decoding the whole item, without holding every rate as Python
    objects at once (the 1 GB benchmark file's largest item, 1 MB of JSON and 3,000 rates, is ~10 MB decoded)."""

    __slots__ = ("_raws",)

    def __init__(self, raws: list[msgspec.Raw]) -> None:
        self._raws = raws

    def __len__(self) -> int:
        return len(self._raws)

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        if isinstance(index, slice):
            return [DECODE.decode(raw) for raw in self._raws[index]]
        return DECODE.decode(self._raws[index])

    def __iter__(self) -> Iterator[dict]:
        for raw in self._raws:
            yield DECODE.decode(raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyRates, list)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyRates({len(self._raws)} rates)"


def _lazy_rates(raw: bytes) -> dict:
    """`DECODE.decode(raw)` for an item (a JSON object), its negotiated_rates, when an array, as `LazyRates`.
    Text that is not all ASCII is decoded whole, as before: its UTF-8 is checked when the item is read, not
    part way through its rates (the scan checked the JSON's syntax, not its UTF-8)."""
    if not raw.isascii():
        return DECODE.decode(raw)
    try:
        fields = ITEM_FIELDS.decode(raw)
    except msgspec.ValidationError:  # not an object: as it is
        return DECODE.decode(raw)
    item: dict[str, object] = {}
    for key, value in fields.items():
        if key == "negotiated_rates" and bytes(memoryview(value)[:1]) == b"[":  # no blank space: a Raw is trimmed
            item[key] = LazyRates(RAWS.decode(value))
        else:
            item[key] = DECODE.decode(value)
    return item


class KeptEntries(KeptItems):
    """The provider_references entries with one id, read like a list of dicts: the fast path keeps
    each as its JSON bytes (9 MB for the 1 GB benchmark file's 30,437 referenced entries, against
    55 MB as Python objects); the row builder reads each id's entries once."""

    __slots__ = ()

    def keep_json(self, raw: bytes) -> None:  # type: ignore[override]
        self._kept.append(raw)

    @staticmethod
    def _read(entry: dict | bytes) -> dict:  # type: ignore[override]
        return DECODE.decode(entry) if isinstance(entry, bytes) else entry  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"KeptEntries({len(self._kept)} entries)"


class PackedEntries(MutableMapping):
    """The spilled provider_references entries a file's rates name (id text -> its entries, read like
    `KeptEntries`), their JSON packed end to end in one buffer instead of a bytes object and a `KeptEntries`
    per id: 30,437 ids of the 1 GB benchmark file were ~15 MB of small Python objects made during the scan,
    whose space the allocator kept (and the row builder's objects then fragmented) after the loader let each
    one go; packed, they are one 8.6 MB buffer and an index, and the buffer moves to an anonymous temporary
    file once the scan has kept every entry (`to_disk`), so the load reads each id's entries back from the
    page cache instead of holding them.

    An id's entries are rebuilt as a `KeptEntries` each time it is read (the same bytes, decoded by the same
    decoder). Assigning a value stores it as it is, an empty one (the loader's `refs[key] = ()` once it has
    read an id) without keeping anything; ids keep the order they were first added in."""

    __slots__ = ("_at", "_blob", "_ends", "_file", "_given")

    def __init__(self) -> None:
        self._at: dict[str, int | list[int]] = {}  # id -> its entry number, or numbers (an id written twice)
        self._blob = bytearray()  # every entry's JSON, end to end
        self._ends = array("q")  # entry number -> where its JSON ends in _blob
        self._given: dict[str, Sequence[dict]] = {}  # ids assigned a value (`__setitem__`)
        self._file: Any = None  # once `to_disk`: the file holding _blob, which is then empty

    def to_disk(self, folder: Path | None) -> bool:
        """Move the packed JSON to an anonymous temporary file in `folder` (the system's when None), read back
        an entry at a time: the 1 GB benchmark file's 8.6 MB then stay in the page cache, out of the load's
        memory. The file has no name once created (deleted when closed, with this mapping); True when moved,
        False (kept in memory) when it cannot be written."""
        if self._file is not None or not self._blob:
            return self._file is not None
        try:
            handle = tempfile.TemporaryFile(prefix="tic-provider-refs-", dir=folder)  # noqa: SIM115 - kept open
        except OSError:
            return False
        try:
            handle.write(self._blob)
            handle.flush()
        except OSError:
            handle.close()
            return False
        self._file, self._blob = handle, bytearray()
        return True

    def _bytes(self, start: int, end: int) -> bytes:
        if self._file is None:
            return bytes(self._blob[start:end])
        if hasattr(os, "pread"):
            return os.pread(self._file.fileno(), end - start, start)
        self._file.seek(start)  # Windows has no pread
        return self._file.read(end - start)

    def keep_json(self, ident: str, raw: bytes) -> None:
        """Keep one entry of id `ident` as its JSON text (after any entries the id already has)."""
        self._blob += raw
        number = len(self._ends)
        self._ends.append(len(self._blob))
        at = self._at.get(ident)
        if at is None:
            self._at[ident] = number
        elif isinstance(at, int):
            self._at[ident] = [at, number]
        else:
            at.append(number)

    def __getitem__(self, ident: str) -> Sequence[dict]:
        at = self._at.get(ident)
        if at is None:
            return self._given[ident]
        if isinstance(at, int) and at < 0:  # let go (an empty value assigned)
            return ()
        entries = KeptEntries()
        ends = self._ends
        for number in [at] if isinstance(at, int) else at:
            entries.keep_json(self._bytes(ends[number - 1] if number else 0, ends[number]))
        return entries

    def __setitem__(self, ident: str, value: Sequence[dict]) -> None:
        if ident in self._at and not len(value):
            self._at[ident] = -1  # the id stays (counted), its entries are no longer read
            return
        self._at.pop(ident, None)
        self._given[ident] = value

    def __delitem__(self, ident: str) -> None:
        if self._at.pop(ident, None) is None:
            del self._given[ident]

    def __iter__(self) -> Iterator[str]:
        yield from self._at
        yield from (ident for ident in self._given if ident not in self._at)

    def __len__(self) -> int:
        return len(self._at) + len(self._given)

    def __contains__(self, ident: object) -> bool:
        return ident in self._at or ident in self._given

    def clear(self) -> None:
        if self._file is not None:
            self._file.close()
        self._at, self._blob, self._ends, self._given, self._file = {}, bytearray(), array("q"), {}, None

    def __repr__(self) -> str:
        return f"PackedEntries({len(self)} ids, {len(self._blob):,} bytes)"


@dataclass
class Extract:
    """What a TiC file says about the codes of interest."""

    kind: str  # in_network | allowed_amount | table_of_contents | provider_reference | unknown
    header: dict[str, object] = field(default_factory=dict)
    items: KeptItems = field(default_factory=KeptItems)  # (locator, item) for target items
    # id text -> entries with that id (a list, or KeptEntries from the fast path: read like a list)
    provider_refs: dict[str, Sequence[dict]] = field(default_factory=dict)
    toc: list[tuple[str, dict]] = field(default_factory=list)  # (locator, reporting_structure entry)
    items_seen: int = 0
    uncompressed_bytes: int = 0
    path_used: str = "fast"
    fallback_reason: str | None = None
    seconds: float = 0.0


def id_text(value: object) -> str:
    """Canonical text of a provider_group_id (ints and Decimals from either parser agree)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (decimal.Decimal, float)):
        d = decimal.Decimal(str(value))
        return str(int(d)) if d == d.to_integral_value() else format(d.normalize(), "f")
    return str(value)


PROMOTE_ABOVE = 100_000  # objects left tracked by a scan above which they go to the oldest generation


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Cyclic GC off while decoding (it dominates object-heavy decode loops, see tic-performance.md).

    A dense file leaves hundreds of thousands of decoded objects (provider entries, items: 527,000
    for the 1 GB benchmark file before items were kept as bytes), all still in the youngest
    generation: the first allocation after the GC is turned back on would walk them all (0.5 s for
    that file, a third of the scan). Above PROMOTE_ABOVE they are moved to the oldest generation
    instead (`gc.freeze()` then `gc.unfreeze()`: the standard library's way to move every tracked
    object there), which only a full collection walks; they are plain trees freed by reference
    counting, usually long before one. Nothing stays frozen, so no cycle is kept from the collector."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > PROMOTE_ABOVE:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _give_back_free_memory() -> None:
    """Hand the pages the scan freed (read buffers, decoded pieces: 10-40 MB for the 1 GB benchmark file)
    back to the system: glibc's malloc keeps them in its heap for the rows that follow, which need less
    (`malloc_trim`, ~1 ms; a no-op without glibc)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):  # TypeError: Windows' CDLL(None)
        ctypes.CDLL(None).malloc_trim(0)


# ---------------------------------------------------------------------------------------------
# Fast path
# ---------------------------------------------------------------------------------------------
class FastScanner:
    """One pass over a TiC file's decompressed bytes (see module docstring)."""

    def __init__(
        self,
        path: Path,
        codes: frozenset[str],
        *,
        chunk: int = SCAN_CHUNK,
        max_expansion: float | None = None,
        spill_dir: Path | None = None,
        limits: Limits | None = None,
        process: bool = False,
    ) -> None:
        self.path = path
        self.codes = codes
        self.win: Window = open_window(path, chunk=chunk, max_expansion=max_expansion, limits=limits, process=process)
        self.limits = self.win.limits
        self.at = 0  # start of the value or item being read (for messages)
        self.spill_dir = spill_dir
        self.extract = Extract(kind="unknown")
        self.spill: tempfile._TemporaryFileWrapper | None = None  # type: ignore[type-arg]
        self.spill_len = 0
        self.wanted_refs: set[str] = set()  # referenced provider_group_ids as text (see also ref_values)
        self.ref_values: set[object] = set()  # referenced ids as decoded (made text by `_wanted`)
        self.spill_pieces: _SpillPieces | None = None  # the spilled entries, decoded while the scan waits
        self.codes_raw = {c.encode() for c in codes}
        self._span = (-1, -1)  # the last item decoded: [start, end) (kept as bytes by _keep)
        self._span_raw: bytes | None = None  # its bytes, when `_decode_item` read it as _ItemRefs

    # -- byte helpers (absolute offsets) ---------------------------------------------------------
    def byte(self, pos: int) -> int:
        if not self.win.ensure(pos + 1):
            raise FileRejected(
                self.path,
                "the JSON ends unexpectedly (truncated file)",
                "a complete JSON document",
                f"uncompressed byte offset {pos:,}",
            )
        return self.win.buf[pos - self.win.base]

    def skip_ws(self, pos: int, keep: int | None = None) -> int:
        """Offset of the first non-blank byte at or after `pos`. Blank space is let go as it streams
        past, and so is everything before it unless `keep` says from where the caller still reads
        (the Window refuses a run of blank space longer than the item limit)."""
        win = self.win
        run_from = pos
        while True:
            found = win.first_not_blank(pos)
            if found - run_from > self.limits.max_item_bytes:
                raise win.blank_run_too_long(run_from)
            if found >= 0:
                return found
            pos = max(pos, win.base + win.n)
            win.drop_before(pos if keep is None else min(pos, keep))
            if not win.fill():
                raise FileRejected(
                    self.path,
                    "the JSON ends unexpectedly (truncated file)",
                    "a complete JSON document",
                    f"uncompressed byte offset {pos:,}",
                )

    def value_end(self, pos: int) -> int:
        """Offset of the first non-blank byte after the JSON value at `pos` (exact, msgspec)."""
        win = self.win
        self.at = pos
        while True:
            start = pos - win.base
            view = memoryview(win.buf)[start : win.n]
            try:
                SKIP.decode(view)
                whole = True
            except msgspec.DecodeError as exc:
                whole = False
                text = str(exc)
                if "trailing characters" in text:
                    end = pos + int(BYTE_RE.search(text).group(1)) - 1  # type: ignore[union-attr]
                    if end - pos > self.limits.max_item_bytes:
                        raise win.too_big(pos) from None
                    return end
                if "truncated" not in text:
                    where = BYTE_RE.search(text)
                    offset = pos + int(where.group(1)) if where else pos
                    raise FileRejected(
                        self.path,
                        f"invalid JSON ({text.split(' (byte')[0]})",
                        "well-formed JSON",
                        f"uncompressed byte offset {offset:,}",
                    ) from None
            finally:
                view.release()
            have = win.base + win.n - pos
            if have > self.limits.max_item_bytes:
                raise win.too_big(pos)
            if win.fill():
                # read ahead until the buffered span doubles, so a long value is decoded O(log n) times, not O(n)
                while (
                    not whole
                    and win.base + win.n - pos < 2 * have
                    and win.base + win.n - pos <= self.limits.max_item_bytes
                    and win.fill()
                ):
                    pass
            else:
                if whole:
                    if win.base + win.n - pos > self.limits.max_item_bytes:
                        raise win.too_big(pos)
                    return win.base + win.n
                raise FileRejected(
                    self.path,
                    "the JSON ends in the middle of a value (truncated file)",
                    "a complete JSON document",
                    f"uncompressed byte offset {win.base + win.n:,}",
                )

    def decode(self, start: int, end: int) -> object:
        view = memoryview(self.win.buf)[start - self.win.base : end - self.win.base]
        try:
            return DECODE.decode(view)
        finally:
            view.release()

    def read_string(self, pos: int) -> tuple[str, int]:
        end = self.value_end(pos)
        value = self.decode(pos, end)
        if not isinstance(value, str):
            raise FileRejected(
                self.path, "expected an object key (a string)", "a TiC JSON object", f"uncompressed byte offset {pos:,}"
            )
        return value, end

    # -- document --------------------------------------------------------------------------------
    def run(self) -> Extract:
        started = time.perf_counter()
        try:
            with _no_gc():
                self._document()
                self.win.close()  # all read: the read buffer (and a child's ring) go before the references are read
                if self.spill is not None and (self.wanted_refs or self.ref_values):
                    self._read_spilled_references()
        except Anomaly as exc:
            exc.stream_end = self.win.total if self.win.eof else None
            raise
        except RecursionError:
            raise too_deep(self.path, f"uncompressed byte offset {self.at:,}") from None
        except UnicodeDecodeError as exc:
            raise not_utf8(self.path, exc, f"in the value at uncompressed byte offset {self.at:,}") from None
        except FileRejected as exc:
            if exc.where.startswith("the data ends at"):  # say what the scan was reading when the data stopped
                raise FileRejected(
                    exc.path,
                    exc.problem,
                    exc.expected,
                    f"{exc.where}; the scan was reading the value that starts at uncompressed byte {self.at:,}",
                ) from None
            raise
        finally:
            self.win.close()
            if self.spill_pieces is not None:
                self.spill_pieces.close()
            if self.spill is not None:
                self.spill.close()
        self.extract.uncompressed_bytes = self.win.total
        self.extract.seconds = time.perf_counter() - started
        _give_back_free_memory()
        return self.extract

    def _document(self) -> None:
        pos = self.skip_ws(0)
        first = self.byte(pos)
        if first == 0xEF:  # UTF-8 BOM
            pos = self.skip_ws(pos + 3)
            first = self.byte(pos)
        if first != ord("{"):
            head = bytes(self.win.buf[pos - self.win.base : pos - self.win.base + 64])
            if head.lstrip()[:1] == b"<":
                raise FileRejected(
                    self.path,
                    "an HTML page, not JSON (a failed download saved as a data file?)",
                    "a Transparency-in-Coverage JSON object",
                    f"uncompressed byte offset {pos:,}",
                )
            raise FileRejected(
                self.path,
                f"not a JSON object (starts with {head[:20]!r})",
                "a Transparency-in-Coverage JSON object",
                f"uncompressed byte offset {pos:,}",
            )
        pos += 1
        expect_key = True
        while True:
            pos = self.skip_ws(pos)
            b = self.byte(pos)
            if b == ord("}"):
                pos += 1
                break
            if b == ord(","):
                if expect_key:
                    raise self._malformed(pos, "a key")
                pos += 1
                expect_key = True
                continue
            if b != ord('"') or not expect_key:
                raise self._malformed(pos, "a key or the end of the object")
            key, pos = self.read_string(pos)
            pos = self.skip_ws(pos)
            if self.byte(pos) != ord(":"):
                raise self._malformed(pos, "':' after a key")
            pos = self.skip_ws(pos + 1)
            is_array = self.byte(pos) == ord("[")
            if key in ITEM_SECTIONS and is_array:
                self.extract.kind = "in_network" if key == "in_network" else "allowed_amount"
                pos = self._items(pos + 1, key)
            elif key == PR_SECTION and is_array:
                pos = self._spill_section(pos + 1)
                if self.extract.kind == "unknown" and self.spill_len <= SPILL_READ_AHEAD:  # items follow
                    self.spill_pieces = _SpillPieces(self.spill.name, self.limits.max_item_bytes)  # type: ignore[union-attr]
                    self.win.idle = self.spill_pieces.step
            elif key == TOC_SECTION and is_array:
                self.extract.kind = "table_of_contents"
                pos = self._toc(pos + 1)
            else:
                end = self.value_end(pos)
                if key == "provider_groups" and self.extract.kind == "unknown":
                    self.extract.kind = "provider_reference"
                if end - pos <= 64 * 1024:
                    value = self.decode(pos, end)
                    if value is None or isinstance(value, (str, int, decimal.Decimal, bool)):
                        self.extract.header[key] = value
                pos = end
                self.win.drop_before(pos)
            expect_key = False
        # only whitespace may follow the document
        while self.win.ensure(pos + 1):
            if self.win.buf[pos - self.win.base] not in WS:
                raise FileRejected(
                    self.path,
                    "data after the end of the JSON object",
                    "one JSON object",
                    f"uncompressed byte offset {pos:,}",
                )
            pos += 1
            self.win.drop_before(pos)

    def _malformed(self, pos: int, wanted: str) -> FileRejected:
        return FileRejected(
            self.path,
            f"malformed JSON: expected {wanted}",
            "a well-formed TiC JSON object",
            f"uncompressed byte offset {pos:,}",
        )

    # -- item sections (in_network / out_of_network) ----------------------------------------------
    def _items(self, pos: int, section: str) -> int:
        """Scan an item array from just after '['; returns the offset just after its ']'.

        Every item holds its section's required array key (`"negotiated_rates"` /
        `"allowed_amounts"`) exactly once and nested objects never do, so the key is counted
        between item starts: any other count means an item start was missed (items whose first
        keys differ) or invented (a nested object led by the anchor key), and the file goes to
        the exact path instead of being guessed at."""
        pos = self.skip_ws(pos)
        b = self.byte(pos)
        if b == ord("]"):
            return pos + 1
        if b != ord("{"):
            raise FileRejected(
                self.path,
                f"{section} is not an array of objects",
                f"{section}: [{{...}}, ...]",
                f"uncompressed byte offset {pos:,}",
            )
        key_at = self.skip_ws(pos + 1, keep=pos)
        self.read_string(key_at)  # validates the key and buffers it
        m = STRING_RE.match(self.win.buf, key_at - self.win.base)
        anchor = bytes(m.group(0))  # the first key exactly as written (escapes and all)
        required = REQUIRED_KEY[section]
        win = self.win
        cur = pos  # start of the current item
        verdict: str | None = None  # None (undecided) | "target" | "other"
        search = pos + 1
        dropped = False  # bytes of the current (non-target) item were let go
        probe_at = PROBE_FROM  # span of the current target item at which to look for its end
        signal_from = pos
        counted_to, seen = pos, 0  # occurrences of the required key counted in [cur, counted_to)

        def count_until(limit: int) -> None:
            nonlocal counted_to, seen
            if limit > counted_to:
                seen += win.count(required, counted_to, limit)
                counted_to = max(counted_to, limit - len(required) + 1)

        def check_item(end: int) -> None:
            count_until(end)
            if seen != 1:
                raise Anomaly(
                    f"the {section} item at byte {cur:,} holds {seen} {required.decode()} keys: "
                    "item boundaries are ambiguous (items with different first keys?)"
                )

        while True:
            if verdict is None and not dropped and cur >= win.base:
                skipped_to, skipped = self._sweep(anchor, required, cur, search)
                if skipped:
                    self.extract.items_seen += skipped
                    cur, probe_at = skipped_to, PROBE_FROM
                    counted_to, seen = cur, 0
                    search = cur + 1
                    signal_from = max(signal_from, cur)
            self.at = cur
            nxt = self._next_start(anchor, search)
            if nxt is not None:
                if verdict is None:
                    verdict = self._judge(cur, nxt)
                    if verdict is None:
                        raise Anomaly(f"cannot tell the billing code of the item at byte {cur:,}")
                if verdict == "target":
                    if nxt - cur > self.limits.max_item_bytes:
                        raise self._item_too_big(section, cur, verdict)
                    item = self._decode_item(cur, nxt)
                    if item is None:  # a false start inside the target item: keep looking
                        search = nxt + 1
                        continue
                    check_item(nxt)
                    self._keep(section, cur, item)
                else:
                    check_item(nxt)
                self.extract.items_seen += 1
                cur, verdict, dropped, probe_at = nxt, None, False, PROBE_FROM
                counted_to, seen = nxt, 0
                search = nxt + 1
                signal_from = max(signal_from, cur)
                continue

            # No further item start in the buffer. Has the next top-level section begun?
            if section == "in_network" and self.spill is None:  # references may follow in_network
                signal = self._find_signal(signal_from)
                if signal is not None:
                    key_pos = self._section_key_before(signal, PR_SECTION)
                    close = self._resolve_close(cur if not dropped else win.base, key_pos)
                    check_item(close)
                    self._finish_last(section, cur, close, verdict, dropped)
                    return close + 1
                signal_from = max(signal_from, win.base + win.n - len(PR_SIGNAL))
            if verdict is None and win.base + win.n - cur >= HEAD:
                verdict = self._judge(cur, win.base + win.n)
            if verdict == "other" and not dropped and win.base + win.n - cur > CARRY_CAP:
                dropped = True  # a big non-target item: let its bytes go while it streams past
            if verdict == "target" and win.base + win.n - cur > probe_at:
                # a big target item, or one followed by a long run of blank space: if it is complete, keep
                # it now and let the bytes after it go (tried each time the span doubles)
                probe_at = 2 * (win.base + win.n - cur)
                end = self._complete_item_end(cur)
                if end is not None:
                    if end - cur > self.limits.max_item_bytes:
                        raise self._item_too_big(section, cur, verdict)
                    item = self._decode_item(cur, end)
                    if item is not None:
                        self._keep(section, cur, item)
                        verdict, dropped = "other", True
            if verdict != "other" and win.base + win.n - cur > self.limits.max_item_bytes:
                raise self._item_too_big(section, cur, verdict)
            keep_from = cur if not dropped else max(cur, win.base + win.n - TAIL_KEEP)
            search = max(search, win.base + win.n - len(anchor) - 64)
            count_until(win.base + win.n)
            win.drop_before(min(keep_from, search - 64, counted_to))
            if not win.fill():
                close = self._resolve_close(cur if not dropped else win.base, None)
                check_item(close)
                self._finish_last(section, cur, close, verdict, dropped)
                return close + 1

    def _sweep(self, anchor: bytes, required: bytes, cur: int, search: int) -> tuple[int, int]:
        """Step over the buffered non-target items from the item at `cur` in one tight loop: returns (start
        of the first item left to the general loop, items stepped over).

        The general loop spends ~20 us of Python per item (32,000 items per GB of the benchmark file); this
        one ~4 us, with the same verdicts. An item is stepped over only when: the next item's start is
        the anchor right after `{` (after `,` or `[` and blank space), as `_next_start` finds it; its head
        read as `_judge` reads it (COMPACT_HEAD_RE, else HEAD_RE) gives a code written without escapes that
        is not a target; and it holds the required key exactly once (as `check_item`). Anything else (a
        target, an escape, a number, a head the regexes cannot read, no next start buffered yet) stops the
        sweep and the general loop takes that item as before."""
        win = self.win
        buf, base, n = win.buf, win.base, win.n
        finder = win._view()
        if finder is None:  # pragma: no cover - without StringZilla
            finder = buf
        find, count = finder.find, finder.count
        codes_raw, head_match, compact_head = self.codes_raw, HEAD_RE.match, COMPACT_HEAD_RE.match
        c = cur - base
        at = max(search, cur + 1) - base
        skipped = 0
        while True:
            a = find(anchor, at, n)
            if a < 1:
                break
            s = a - 1
            if s <= c or base + s < search:  # the current item's own anchor: not a next start (as _next_start)
                at = a + 1
                continue
            if buf[s] != 0x7B:  # '{' right before the anchor
                break
            k = s - 1
            while k > c and buf[k] in WS:
                k -= 1
            if buf[k] != 0x2C and buf[k] != 0x5B:  # ',' or '['
                break
            m = compact_head(buf, c, s)
            if m is None:  # blank space, escapes or a nested value in the head: read it as _judge does
                m = head_match(buf, c, min(s, c + HEAD))
                if m is None or m.end() >= s:
                    break
            code = m.group(1)
            if code is None or b"\\" in code or code in codes_raw:
                break
            if count(required, c, s) != 1:
                break
            skipped += 1
            c = s
            at = a + 1
        return base + c, skipped

    def _next_start(self, anchor: bytes, search: int) -> int | None:
        """Absolute offset of the next '{' that starts an item (anchor right after '[{' or ',{')."""
        win, buf = self.win, self.win.buf
        i = search
        while True:
            a = win.find(anchor, i)
            if a < 0:
                return None
            j = a - win.base - 1
            while j >= 0 and buf[j] in WS:
                j -= 1
            if j >= 0 and buf[j] == 0x7B:  # '{'
                k = j - 1
                while k >= 0 and buf[k] in WS:
                    k -= 1
                if k >= 0 and buf[k] in (0x2C, 0x5B) and win.base + j >= search:  # ',' or '['
                    return win.base + j
            i = a + 1

    def _judge(self, start: int, limit: int) -> str | None:
        """'target' / 'other' from the item's head; None when the head is not buffered yet.

        HEAD_RE reads `{"key": scalar, ...}` pairs up to the first `"billing_code"` key: a match
        is exactly the item-level code (no nested value came first). Otherwise walk the keys."""
        win = self.win
        s, end = start - win.base, min(limit, win.base + win.n) - win.base
        m = HEAD_RE.match(win.buf, s, min(end, s + HEAD))
        if m is not None and m.end() < end:
            raw = m.group(1)
            if raw is not None and b"\\" not in raw:
                return "target" if raw in self.codes_raw else "other"
            return "target" if _code_of(m) in self.codes else "other"
        return self._judge_exact(start, limit)

    def _judge_exact(self, start: int, limit: int) -> str | None:
        """Walk the item's keys (skipping nested values exactly) until billing_code is found."""
        win = self.win
        pos = start + 1
        end = min(limit, win.base + win.n)
        while pos < end:
            s = pos - win.base
            while s < end - win.base and win.buf[s] in WS:
                s += 1
            if s >= end - win.base:
                return None
            if win.buf[s] == ord("}"):
                return "other"  # an item without billing_code
            if win.buf[s] == ord(","):
                pos = win.base + s + 1
                continue
            m = STRING_RE.match(win.buf, s, end - win.base)
            if m is None:
                return None
            key = m.group(0)
            v = m.end()
            while v < end - win.base and win.buf[v] in WS:
                v += 1
            if v >= end - win.base or win.buf[v] != ord(":"):
                return None
            v += 1
            while v < end - win.base and win.buf[v] in WS:
                v += 1
            if v >= end - win.base:
                return None
            if key == b'"billing_code"':
                m2 = CODE_RE.match(win.buf, s, end - win.base)
                if m2 is None:
                    return "other"
                return "target" if _code_of(m2) in self.codes else "other"
            c = win.buf[v]
            if c == 0x22:  # a string value
                m3 = STRING_RE.match(win.buf, v, end - win.base)
                if m3 is None:
                    return None
                pos = win.base + m3.end()
                continue
            if c not in (0x5B, 0x7B):  # number, true, false, null
                m3 = SCALAR_RE.match(win.buf, v, end - win.base)
                if m3 is None or m3.end() >= end - win.base:
                    return None
                pos = win.base + m3.end()
                continue
            try:
                pos = self._value_end_within(win.base + v, win.base + (end - win.base))
            except _NeedMore:
                return None
        return None

    def _item_too_big(self, section: str, cur: int, verdict: str | None) -> FileRejected:
        what = "for a code of interest" if verdict == "target" else "whose billing code is not in its first bytes"
        return FileRejected(
            self.path,
            f"the {section} item {what} at uncompressed byte {cur:,} is larger than "
            f"{size_text(self.limits.max_item_bytes)}; refused rather than held in memory",
            "a real TiC file, or a higher PAYERBENCH_MAX_ITEM_BYTES if this one is genuine",
            self.win.guard.where(self.win.total),
        )

    def _complete_item_end(self, start: int) -> int | None:
        """End (exclusive, before any separator) of the item at `start` if it is wholly buffered, else None."""
        win = self.win
        view = memoryview(win.buf)[start - win.base : win.n]
        try:
            SKIP.decode(view)
            end = win.base + win.n  # the item and only blank space after it
        except msgspec.DecodeError as exc:
            text = str(exc)
            if "trailing characters" not in text:
                return None
            end = start + int(BYTE_RE.search(text).group(1)) - 1  # type: ignore[union-attr]
        finally:
            view.release()
        buf, base = win.buf, win.base
        while end > start and buf[end - 1 - base] in WS:
            end -= 1
        return end

    def _value_end_within(self, pos: int, limit: int) -> int:
        view = memoryview(self.win.buf)[pos - self.win.base : limit - self.win.base]
        try:
            SKIP.decode(view)
        except msgspec.DecodeError as exc:
            text = str(exc)
            if "trailing characters" in text:
                return pos + int(BYTE_RE.search(text).group(1)) - 1  # type: ignore[union-attr]
            raise _NeedMore() from None
        finally:
            view.release()
        raise _NeedMore()

    def _decode_item(self, start: int, nxt: int) -> dict | _ItemRefs | None:
        """Decode the item [start, next start); None when `nxt` was a false start inside it.

        Read as `_ItemRefs` (its code and the ids its rates reference; the prices are checked, not built:
        about half the time of a full decode), after its bytes are checked to be UTF-8 (the one thing a
        typed decode does not check in the values it skips). A shape `_ItemRefs` does not fit (a rate
        that is not an object, ...) is decoded in full, as before."""
        end = self._strip_separator(start, nxt)
        self._span = (start, end)
        base = self.win.base
        raw = bytes(self.win.buf[start - base : end - base])
        if not raw.isascii():
            raw.decode("utf-8")  # raises UnicodeDecodeError, as the full decode would
        try:
            item = ITEM_REFS.decode(raw)
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError as exc:
            if "truncated" in str(exc):
                return None
            raise Anomaly(f"item at byte {start:,} does not decode on its own ({exc})") from None
        else:
            self._span_raw = raw
            return item
        view = memoryview(self.win.buf)[start - self.win.base : end - self.win.base]
        try:
            item = DECODE.decode(view)
        except msgspec.DecodeError as exc:
            if "truncated" in str(exc):
                return None
            raise Anomaly(f"item at byte {start:,} does not decode on its own ({exc})") from None
        finally:
            view.release()
        if not isinstance(item, dict):
            raise Anomaly(f"item at byte {start:,} is not an object")
        return item

    def _strip_separator(self, start: int, nxt: int) -> int:
        """End of the item that precedes the item starting at `nxt`: before ws , ws."""
        buf, base = self.win.buf, self.win.base
        j = nxt - base - 1
        while j > start - base and buf[j] in WS:
            j -= 1
        if buf[j] == 0x2C:  # ','
            j -= 1
        while j > start - base and buf[j] in WS:
            j -= 1
        return base + j + 1

    def _keep(self, section: str, start: int, item: dict | _ItemRefs) -> None:
        if isinstance(item, _ItemRefs):
            if _norm_code(item.billing_code) not in self.codes:
                return  # a nested object judged by its own code (false start): not an item
            raw, self._span_raw = self._span_raw, None
            self.extract.items.keep_json(f"$.{section}[item at uncompressed byte {start}]", raw)  # type: ignore[arg-type]
            if section == "in_network":
                values = self.ref_values
                for rate in item.negotiated_rates or ():
                    refs = rate.provider_references or ()
                    try:
                        values.update(refs)
                    except TypeError:  # an unhashable value (an object, a list): as text, one by one
                        self.wanted_refs.update(id_text(ref) for ref in refs)
            return
        code = item.get("billing_code")
        if _norm_code(code) not in self.codes:
            return  # a nested object judged by its own code (false start): not an item
        locator = f"$.{section}[item at uncompressed byte {start}]"
        span_start, span_end = self._span  # the bytes `item` was decoded from (see _decode_item)
        base = self.win.base
        if span_start == start and span_start >= base:
            self.extract.items.keep_json(locator, bytes(self.win.buf[span_start - base : span_end - base]))
        else:  # pragma: no cover - every caller decodes the item's span just before
            self.extract.items.append((locator, item))
        if section == "in_network":
            values = self.ref_values  # made text once, at the end (`_wanted`): ~0.1 s less for 100,000 refs
            for rate in item.get("negotiated_rates") or []:
                if isinstance(rate, dict):
                    refs = rate.get("provider_references") or []
                    try:
                        values.update(refs)
                    except TypeError:  # an unhashable value (an object, a list): as text, one by one
                        self.wanted_refs.update(id_text(ref) for ref in refs)

    def _wanted(self) -> tuple[set[str], set[object]]:
        """(the referenced provider_group_ids as `id_text`, the keys a decoded id is looked up with: those
        texts for str ids, and ints for int ids, so 12 and "12" agree as `id_text` makes them).

        Ints, by far the most, go to text by `str` in one pass. A set holds 1 and True (or 1 and 1.0) once:
        if a bool was referenced, the ids are read again from the kept items, one by one."""
        values = self.ref_values
        if any(type(v) is bool for v in values):
            for _, item in self.extract.items:
                for rate in item.get("negotiated_rates") or []:
                    if isinstance(rate, dict):
                        self.wanted_refs.update(id_text(ref) for ref in rate.get("provider_references") or [])
            values = set()
        ints = {v for v in values if type(v) is int}
        others = set(self.wanted_refs)
        others.update(id_text(v) for v in values if type(v) is not int)
        wanted = others | set(map(str, ints))
        keys: set[object] = set(wanted)
        keys.update(ints)
        keys.update(int(w) for w in others if w[-1:].isdigit() and w.lstrip("-").isdigit() and str(int(w)) == w)
        return wanted, keys

    def _finish_last(self, section: str, cur: int, close: int, verdict: str | None, dropped: bool) -> None:
        """The last item of a section spans [cur, close)."""
        if dropped:
            self.extract.items_seen += 1
            return
        end = close
        buf, base = self.win.buf, self.win.base
        j = end - base - 1
        while j > cur - base and buf[j] in WS:
            j -= 1
        end = base + j + 1
        if verdict is None:
            verdict = self._judge(cur, end)
        self.extract.items_seen += 1
        if verdict == "target" or verdict is None:
            self._span = (cur, end)
            view = memoryview(buf)[cur - base : end - base]
            try:
                item = DECODE.decode(view)
            except msgspec.DecodeError as exc:
                raise Anomaly(f"last {section} item does not decode ({exc})") from None
            finally:
                view.release()
            if not isinstance(item, dict):
                raise Anomaly("last item is not an object")
            self._keep(section, cur, item)

    def _find_signal(self, start: int) -> int | None:
        """Offset of the first `"provider_group_id"` (the top-level references have begun)."""
        win = self.win
        i = start
        while True:
            a = win.find(PR_SIGNAL, i)
            if a < 0:
                return None
            if a == win.base or win.buf[a - win.base - 1] != 0x5C:  # not an escaped quote inside a string
                return a
            i = a + 1

    def _section_key_before(self, signal: int, key: str) -> int:
        """Offset of the top-level `"<key>"` whose array holds the item at `signal`."""
        win = self.win
        needle = json.dumps(key).encode()
        a = win.rfind(needle, win.base, signal)
        if a < 0:
            raise Anomaly(f"could not find the {key} key before byte {signal:,}")
        if KEY_ARRAY_RE.match(win.buf, a - win.base + len(needle)) is None:
            raise Anomaly(f"{key} at byte {a:,} is not followed by an array")
        return a

    def _resolve_close(self, lo: int, key_pos: int | None) -> int:
        """Offset of the ']' closing the current section: the last ']' after which the text up to
        the next section key (or the end of the document) is a valid top-level continuation."""
        win = self.win
        buf, base = win.buf, win.base
        limit = key_pos if key_pos is not None else base + win.n
        r = limit
        while True:
            r = win.rfind(b"]", max(lo, base), r)
            if r < 0:
                raise Anomaly(f"could not find the end of a section before byte {limit:,}")
            between = bytes(buf[r - base + 1 : limit - base])
            probe = b'{"_":0' + between + (b'"_z":0}' if key_pos is not None else b"")
            try:
                extra = DECODE.decode(probe)
            except msgspec.DecodeError:
                continue
            j = r - base - 1
            while j >= 0 and buf[j] in WS:
                j -= 1
            if j < 0 or buf[j] not in (0x7D, 0x5B):  # '}' or '['
                continue
            if isinstance(extra, dict):
                for k, v in extra.items():
                    if k not in ("_", "_z") and (v is None or isinstance(v, (str, int, decimal.Decimal, bool))):
                        self.extract.header[k] = v
            return r

    # -- provider_references: spilled to disk, read back for the referenced ids --------------------
    def _spill_section(self, pos: int) -> int:
        """Copy a provider_references array's contents to a temporary file as they stream past."""
        win = self.win
        self.at = pos
        if self.spill is None:
            # held open across calls on purpose: filled while streaming, read back at the end, closed in run()'s finally
            self.spill = tempfile.NamedTemporaryFile(  # noqa: SIM115
                prefix="tic-provider-refs-", suffix=".json", dir=self.spill_dir, delete=True
            )
        if self.spill_pieces is not None:  # a second array: read the spill again from its start at the end
            self.spill_pieces.close()
            self.spill_pieces, self.win.idle = None, None
        if self.spill_len:  # a second provider_references array: one stream of entries
            self.spill.write(b",")
            self.spill_len += 1
        written = pos  # absolute offset up to which bytes were spilled
        search = pos
        while True:
            found, resume = None, win.base + win.n
            for key in ITEM_SECTIONS:
                k, r = self._find_key(key, search)
                resume = min(resume, r)
                if k is not None and (found is None or k < found):
                    found = k
            if found is not None:
                close = self._resolve_close(max(pos, win.base), found)
                if close < written:
                    raise Anomaly("provider_references end fell before the spilled bytes")
                self._spill_write(written, close)
                self.spill.flush()
                return close + 1
            end = win.base + win.n
            safe = max(written, end - TAIL_KEEP)
            self._spill_write(written, safe)
            written = safe
            search = max(search, resume)
            win.drop_before(min(written, search))
            if not win.fill():
                close = self._resolve_close(max(pos, win.base), None)
                if close < written:
                    raise Anomaly("provider_references end fell before the spilled bytes")
                self._spill_write(written, close)
                self.spill.flush()
                return close + 1

    def _spill_write(self, start: int, end: int) -> None:
        if end <= start:
            return
        view = memoryview(self.win.buf)[start - self.win.base : end - self.win.base]
        try:
            self.spill.write(view)  # type: ignore[union-attr]
        finally:
            view.release()
        self.spill_len += end - start

    def _find_key(self, key: str, start: int) -> tuple[int | None, int]:
        """(offset of the top-level key `"<key>": [` at or after `start` or None, where to resume)."""
        win = self.win
        needle = json.dumps(key).encode()
        i = start
        while True:
            a = win.find(needle, i)
            if a < 0:
                return None, max(i, win.base + win.n - len(needle))
            rel = a - win.base
            if rel + len(needle) + 256 > win.n and not win.eof:
                return None, a  # too close to the end to check what follows: look again later
            m = KEY_ARRAY_RE.match(win.buf, rel + len(needle))
            if (rel == 0 or win.buf[rel - 1] != 0x5C) and m is not None:
                return a, a
            i = a + 1

    def _read_spilled_references(self) -> None:
        """Decode only the referenced entries of the spilled provider_references arrays."""
        assert self.spill is not None
        wanted, keys = self._wanted()
        try:
            if self._scan_spill_typed(wanted, keys):
                return
            self.extract.provider_refs.clear()
            self._scan_spill(True, wanted)
            if wanted - set(self.extract.provider_refs):
                self.extract.provider_refs.clear()
                self._scan_spill(False, wanted)  # ids written differently (1 vs 1.0): compare numerically
        except Anomaly:  # entries that do not share a first key: walk them one by one instead
            self.extract.provider_refs.clear()
            self._walk_spill(wanted)

    def _walk_spill(self, wanted: set[str]) -> None:
        """Exact pass over the spilled entries: msgspec finds where each entry ends."""
        assert self.spill is not None
        found: dict[str, KeptEntries] = {}
        with open(self.spill.name, "rb") as handle:
            buf = bytearray()
            pos = 0
            at_end = False
            while True:
                while pos < len(buf) and buf[pos] in WS + b",":
                    pos += 1
                if pos >= len(buf):
                    if at_end:
                        break
                    del buf[:pos]
                    pos = 0
                    block = handle.read(CHUNK)
                    at_end = not block
                    buf += block
                    continue
                view = memoryview(buf)[pos:]
                end = None
                try:
                    SKIP.decode(view)
                    end = len(buf) if at_end else None
                except msgspec.DecodeError as exc:
                    text = str(exc)
                    if "trailing characters" in text:
                        end = pos + int(BYTE_RE.search(text).group(1)) - 1  # type: ignore[union-attr]
                    elif "truncated" not in text or at_end:
                        raise FileRejected(
                            self.path,
                            f"a provider_references entry is not valid JSON ({text})",
                            "well-formed provider_references",
                        ) from None
                finally:
                    view.release()
                if end is None:  # the entry continues past the buffer: read more
                    if len(buf) - pos > self.limits.max_item_bytes:
                        raise self._big_reference()
                    del buf[:pos]
                    pos = 0
                    block = handle.read(CHUNK)
                    at_end = not block
                    buf += block
                    continue
                m = PR_ID_RE.search(buf, pos, end)
                if m is not None and id_text(DECODE.decode(m.group(1))) in wanted:
                    ident, raw = _decode_entry(buf, pos, end)
                    found.setdefault(ident, KeptEntries()).keep_json(raw)
                pos = end
        for ident, entries in found.items():
            if ident in wanted:
                self.extract.provider_refs[ident] = entries

    def _big_reference(self) -> FileRejected:
        return FileRejected(
            self.path,
            f"a provider_references entry is larger than {size_text(self.limits.max_item_bytes)}; "
            "refused rather than held in memory",
            "a real TiC file, or a higher PAYERBENCH_MAX_ITEM_BYTES if this one is genuine",
        )

    def _scan_spill_typed(self, wanted: set[str], keys: set[object]) -> bool:
        """The spilled entries by `_SpillPieces` (two typed msgspec decodes per piece: no Python per entry)
        and one decode of each piece's wanted entries together (0.24 -> ~0.1 s for the benchmark file's
        100,000 entries, 30,000 wanted). The pieces decoded while the scan waited for data are used as
        they are. False (nothing kept) when the entries do not fit that shape (an id that is a float or
        an object, an entry that is not an object, entries not cut at their anchor): `_scan_spill` then
        does it exactly. `keys`: see `_wanted`."""
        assert self.spill is not None
        pieces = self.spill_pieces or _SpillPieces(self.spill.name, self.limits.max_item_bytes)
        self.spill_pieces, self.win.idle = None, None
        # packed (`PackedEntries`) when nothing is kept yet, which is every fast-path scan
        packed = PackedEntries() if not self.extract.provider_refs else None
        found: dict[str, KeptEntries] = {}
        try:
            while True:
                more = pieces.step()
                if pieces.failed:
                    if pieces.held > self.limits.max_item_bytes:
                        raise self._big_reference()
                    return False
                for piece in pieces.take():
                    hits = pieces.hits(piece, keys)
                    if hits:
                        joined = b"[" + b",".join([raw for raw, _ in hits]) + b"]"
                        if not joined.isascii():  # the skipping decode checked the syntax, not the UTF-8
                            DECODE.decode(joined)
                        for raw, ident in hits:  # kept as bytes; the id as decoded: its text
                            text = ident if type(ident) is str else str(ident)
                            if packed is None:
                                found.setdefault(text, KeptEntries()).keep_json(raw)
                            elif text in wanted:
                                packed.keep_json(text, raw)
                if not more:
                    break
        finally:
            pieces.close()
        if packed is not None:
            packed.to_disk(self.spill_dir)
            self.extract.provider_refs = packed  # type: ignore[assignment]
        for ident, entries in found.items():
            if ident in wanted:
                self.extract.provider_refs[ident] = entries
        return True

    def _scan_spill(self, exact_text: bool, wanted: set[str]) -> None:
        """One pass over the spilled entries: every `"provider_group_id": <n>` is compared with the
        wanted ids (as written when `exact_text`, else numerically); only matches are decoded."""
        assert self.spill is not None
        wanted_raw = {w.encode() for w in wanted}
        found: dict[str, KeptEntries] = {}
        with open(self.spill.name, "rb") as handle:
            buf = bytearray()
            anchor: bytes | None = None
            at_end = False
            while not at_end:
                block = handle.read(CHUNK)
                at_end = not block
                buf += block
                if anchor is None:
                    m = FIRST_KEY_RE.match(buf)
                    if m is None:
                        if at_end:
                            break
                        continue
                    anchor = m.group(1)
                finder = _finder(buf)
                last = len(buf) if at_end else _prev_pr_start(buf, anchor, len(buf), finder)
                if last is None or last <= 0:
                    del finder
                    if len(buf) > self.limits.max_item_bytes + CHUNK:
                        raise self._big_reference()
                    continue  # one entry spans the whole buffer so far: read more
                if exact_text:
                    hits = [m for m in PR_ID_RE.finditer(buf, 0, last) if m.group(1) in wanted_raw]
                else:
                    hits = [m for m in PR_ID_RE.finditer(buf, 0, last) if id_text(DECODE.decode(m.group(1))) in wanted]
                for m in hits:
                    s = _prev_pr_start(buf, anchor, m.end(), finder)
                    e = _next_pr_start(buf, anchor, m.end(), last, finder)
                    if s is None:
                        raise Anomaly(f"provider reference {m.group(1)!r} has no entry start")
                    ident, raw = _decode_entry(buf, s, e if e is not None else last)
                    found.setdefault(ident, KeptEntries()).keep_json(raw)
                del finder, hits
                del buf[:last]
        for ident, entries in found.items():
            if ident in wanted:
                self.extract.provider_refs[ident] = entries

    # -- tables of contents: small entries, decoded one by one -----------------------------------
    def _toc(self, pos: int) -> int:
        index = 0
        while True:
            pos = self.skip_ws(pos)
            b = self.byte(pos)
            if b == ord("]"):
                return pos + 1
            if b == ord(","):
                pos += 1
                continue
            end = self.value_end(pos)
            entry = self.decode(pos, end)
            if isinstance(entry, dict):
                self.extract.toc.append((f"$.reporting_structure[{index}]", entry))
            index += 1
            pos = end
            self.win.drop_before(pos)


# spills up to this size are decoded while the scan waits (memory: 16 bytes an entry, ~5% of the 1 GB benchmark
# file's spill; up to 1x for entries not joined by one separator, see _Piece)
SPILL_READ_AHEAD = 64 * 1024 * 1024


class _Piece:
    """The entries of one piece of the spill: their ids, and where each one's bytes are in the spill file.

    Written by a program, entries are joined by one separator (`,` or `,\n  `...): then only their
    lengths are held (8 bytes an entry; the 1 GB benchmark file's 28 MB spill used to be held whole, as
    `msgspec.Raw` objects, until the end of the scan) and the wanted ones are read back from the file.
    Entries joined any other way are held as they are."""

    __slots__ = ("at", "ids", "lens", "raws", "sep")

    def __init__(self, buf: bytearray, start: int, end: int, at: int, raws: list, ids: list) -> None:
        """`raws`, `ids`: the entries in buf[start:end] (which is spill-file offset `at`) as decoded in place."""
        self.at, self.sep, self.raws = at, 0, None
        self.lens = array("q", map(len, raws))
        try:  # ids that are all ints: 8 bytes each (int | str | None as decoded, see _PrHead)
            self.ids: Sequence[object] = array("q", ids)
        except (TypeError, OverflowError):
            self.ids = ids
        n, gaps = len(raws), end - start - sum(self.lens)  # gaps: the bytes between entries
        joined = None
        if n == 1 and gaps == 0:
            joined = raws[0]
        elif n > 1 and gaps > 0 and gaps % (n - 1) == 0:
            first = start + self.lens[0]
            self.sep = gaps // (n - 1)
            joined = bytes(buf[first : first + self.sep]).join(raws)  # one C pass: ~0.1 ms per MB
        if joined is None or len(joined) != end - start or not buf.startswith(joined, start):  # memcmp
            # the Raws point into buf, which is reused: hold copies
            self.raws = PR_RAWS.decode(b"[" + bytes(buf[start:end]) + b"]")


class _SpillPieces:
    """The spilled provider_references entries, decoded a block at a time: for each piece (whole entries,
    cut where the next entry's first key starts), where the entries are and their ids (`_Piece`).

    `step` is the unit of work: the Window calls it while the inflating thread has no data ready
    (`Window.idle`), so a spill that comes before the items is decoded in time the scan would
    otherwise spend waiting, and the end pass only picks the wanted entries. `failed` when the
    entries do not fit (see `_scan_spill_typed`); `held` says how much one unfinished entry holds.
    Each piece is decoded where it lies in the one read buffer (no copies: a fresh 1 MiB copy per block
    cost page faults worth ~0.05 s per 30 MB of spill)."""

    BLOCK = 1024 * 1024

    def __init__(self, name: str, max_item_bytes: int) -> None:
        self.max_item_bytes = max_item_bytes
        self.handle = open(name, "rb")  # noqa: SIM115 - closed by close(), from the scanner's finally
        # buf[0] is room for the '[' a piece is decoded with (a ',' between pieces: what precedes an entry);
        # the spill's bytes from `offset` on follow it
        self.buf = bytearray(b",")
        self.offset = 0
        self.anchor: bytes | None = None
        self.pieces: list[_Piece] = []
        self.at_end = False
        self.failed = False
        self.held = 0

    def step(self) -> bool:
        """Read and decode one block; False when nothing is left to do."""
        if self.at_end or self.failed:
            return False
        block = self.handle.read(self.BLOCK)
        self.at_end = not block
        buf = self.buf
        buf += block
        if self.anchor is None:
            m = FIRST_KEY_RE.match(buf, 1)
            if m is None:
                return not self.at_end
            self.anchor = m.group(1)
        if self.at_end:
            last: int | None = len(buf)
        else:
            finder = _finder(buf)
            last = _prev_pr_start(buf, self.anchor, len(buf), finder)
            del finder
        if last is None or last <= 1:
            self.held = len(buf) - 1
            if self.held > self.max_item_bytes + CHUNK:
                self.failed = True
            return not self.at_end
        start, end = 1, last  # the piece, less blank space around it and one trailing ','
        while start < end and buf[start] in WS:
            start += 1
        while end > start and buf[end - 1] in WS:
            end -= 1
        if end > start and buf[end - 1] == 0x2C:
            end -= 1
            while end > start and buf[end - 1] in WS:
                end -= 1
        if end > start:
            if end == len(buf):
                buf.append(0x20)
            before, after = buf[start - 1], buf[end]
            buf[start - 1], buf[end] = 0x5B, 0x5D  # '[' ... ']' around the piece, put back below
            whole = memoryview(buf)
            doc = whole[start - 1 : end + 1]
            raws: list | None = None
            try:
                raws = PR_RAWS.decode(doc)
                ids = [head.provider_group_id for head in PR_HEADS.decode(doc)]
                self.pieces.append(_Piece(buf, start, end, self.offset + start - 1, raws, ids))
            except (msgspec.DecodeError, msgspec.ValidationError):
                self.failed = True
                self.pieces.clear()
                return False
            finally:
                raws = None  # the Raws hold `doc`: gone before it is released and buf is resized
                doc.release()
                whole.release()
                buf[start - 1], buf[end] = before, after
        del buf[1:last]
        self.offset += last - 1
        return not self.at_end

    def take(self) -> list[_Piece]:
        pieces, self.pieces = self.pieces, []
        return pieces

    def hits(self, piece: _Piece, keys: set[object]) -> list[tuple[bytes, object]]:
        """(JSON bytes, id) of the piece's entries whose id is in `keys`."""
        if piece.raws is not None:
            return [(bytes(raw), ident) for raw, ident in zip(piece.raws, piece.ids) if ident in keys]
        ids = piece.ids
        wanted = [i for i, ident in enumerate(ids) if ident in keys]
        if not wanted:
            return []
        lens, sep = piece.lens, piece.sep
        starts = list(accumulate(lens, initial=0))
        data = self._read_at(piece.at, starts[-1] + sep * (len(lens) - 1))
        return [(data[starts[i] + sep * i : starts[i + 1] + sep * i], ids[i]) for i in wanted]

    def _read_at(self, at: int, size: int) -> bytes:
        """`size` bytes of the spill from offset `at` (`step` reads on from where it was)."""
        if hasattr(os, "pread"):  # one call, and the buffered reader keeps its place
            return os.pread(self.handle.fileno(), size, at)
        was = self.handle.tell()  # Windows has no pread
        self.handle.seek(at)
        try:
            return self.handle.read(size)
        finally:
            self.handle.seek(was)

    def close(self) -> None:
        self.handle.close()
        self.pieces.clear()


class _NeedMore(Exception):
    pass


def _is_pr_start(buf: bytearray, j: int) -> bool:
    """Is the '{' at j the start of an entry (preceded by ',' or by nothing)?"""
    k = j - 1
    while k >= 0 and buf[k] in WS:
        k -= 1
    return k < 0 or buf[k] == 0x2C


def _finder(buf: bytearray):  # type: ignore[no-untyped-def]
    """Fast find/rfind over a bytearray (StringZilla when installed). Release before resizing buf."""
    return _sz.Str(memoryview(buf)) if _sz is not None else buf


def _prev_pr_start(buf: bytearray, anchor: bytes, before: int, finder=None) -> int | None:  # type: ignore[no-untyped-def]
    finder = buf if finder is None else finder
    end = before
    while True:
        a = finder.rfind(anchor, 0, end)
        if a < 0:
            return None
        j = a - 1
        while j >= 0 and buf[j] in WS:
            j -= 1
        if j >= 0 and buf[j] == 0x7B and _is_pr_start(buf, j):
            return j
        end = a


def _next_pr_start(buf: bytearray, anchor: bytes, after: int, limit: int, finder=None) -> int | None:  # type: ignore[no-untyped-def]
    finder = buf if finder is None else finder
    i = after
    while True:
        a = finder.find(anchor, i, limit)
        if a < 0:
            return None
        j = a - 1
        while j >= 0 and buf[j] in WS:
            j -= 1
        if j >= 0 and buf[j] == 0x7B and _is_pr_start(buf, j):
            return j
        i = a + 1


class _EntryId(msgspec.Struct):
    """A provider_references entry's id alone (msgspec skips the rest without building it)."""

    provider_group_id: object = None


ENTRY_ID = msgspec.json.Decoder(_EntryId, float_hook=decimal.Decimal)


def _decode_entry(buf: bytearray, start: int, end: int) -> tuple[str, bytes]:
    """(id text, JSON bytes) of one provider_references entry [start, end) (a trailing ',' separator is
    dropped). Only the id is decoded here; the entry is kept as its bytes (`KeptEntries`)."""
    j = end - 1
    while j > start and buf[j] in WS:
        j -= 1
    if buf[j] == 0x2C:
        j -= 1
        while j > start and buf[j] in WS:
            j -= 1
    raw = bytes(buf[start : j + 1])
    try:
        entry = ENTRY_ID.decode(raw)
    except msgspec.DecodeError as exc:  # not JSON, or not an object
        raise Anomaly(f"provider reference entry at spilled byte {start:,} does not decode ({exc})") from None
    raw.decode()  # invalid UTF-8 is refused here, as a full decode would (the skipped strings are not checked)
    return id_text(entry.provider_group_id), raw


def _code_of(match: re.Match) -> str:
    text, number = match.group(1), match.group(2)
    if text is not None:
        raw = text.decode("utf-8", "replace")
        return json.loads(f'"{raw}"') if "\\" in raw else raw
    return number.decode()


def _norm_code(code: object) -> str:
    return code if isinstance(code, str) else id_text(code)


def fast_extract(path: Path, codes: frozenset[str], **options: object) -> Extract:
    """Extract with the byte-level fast path (raises Anomaly when it cannot be sure).

    A big local .gz is first inflated in a child process (tic_stream.ProcessGzipStream: the scan and
    the inflate then run on two cores); on ANY error that run is thrown away and the file is read again
    the usual way, so every error, offset and fallback is exactly what the in-process path gives."""
    if uses_process(path):
        try:
            return FastScanner(path, codes, process=True, **options).run()  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001, S110 - re-read below: its outcome (or error) is the answer
            pass
    return FastScanner(path, codes, **options).run()  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Exact path (ijson, yajl2_c)
# ---------------------------------------------------------------------------------------------
def reference_extract(path: Path, codes: frozenset[str], limits: Limits | None = None) -> Extract:
    """Extract with ijson's event parser: exact, streaming, ~25-40 MB/s, memory bounded by the item limit.

    Events come from `basic_parse` (no prefixes: ijson's prefix strings grow with the square of
    the nesting depth, so 64k levels of `[` cost gigabytes before any check could run)."""
    import ijson

    started = time.perf_counter()
    extract = Extract(kind="unknown", path_used="ijson")
    wanted: set[str] = set()
    counters = {"in_network": 0, "out_of_network": 0, "reporting_structure": 0}
    with _no_gc(), _reader(path, limits) as handle:
        try:
            events = ijson.basic_parse(handle, use_float=False, buf_size=CHUNK)
            for key, event, value in top_level(events, handle.value_started):
                if event in ("string", "number", "boolean", "null"):
                    extract.header[key] = value
                elif event == "start_array" and key in counters:
                    extract.kind = {
                        "in_network": "in_network",
                        "out_of_network": "allowed_amount",
                        "reporting_structure": "table_of_contents",
                    }[key]
                    _collect_array(events, key, codes, extract, wanted, counters, handle)
                else:  # provider_references (read in the second pass) or any other container
                    if key == "provider_groups" and extract.kind == "unknown":
                        extract.kind = "provider_reference"
                    handle.value_started(None)  # skipped, never held
                    skip_container(events)
        except ijson.JSONError as exc:
            detail = exc.args[0] if exc.args else str(exc)  # yajl hands its message over as bytes
            detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
            raise FileRejected(
                path, f"invalid or truncated JSON ({detail.strip().splitlines()[0]})", "a complete JSON document"
            ) from None  # extract() says where the stream ended
        except RecursionError:
            raise too_deep(path, f"uncompressed byte offset {handle.total:,}") from None
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc, f"before uncompressed byte offset {handle.total:,}") from None
        except (EOFError, OSError) as exc:
            raise FileRejected(
                path,
                f"truncated or corrupt file ({exc})",
                "a complete file",
                f"uncompressed byte offset {handle.total:,}",
            ) from None
    if wanted:
        with _no_gc(), _reader(path, limits) as handle:
            events = ijson.basic_parse(handle, use_float=False, buf_size=CHUNK)
            for key, event, value in top_level(events, handle.value_started):
                if key == PR_SECTION and event == "start_array":
                    while True:
                        handle.value_started()
                        event, value = next(events)
                        if event == "end_array":
                            break
                        entry = build_value(events, event, value)
                        if isinstance(entry, dict) and id_text(entry.get("provider_group_id")) in wanted:
                            extract.provider_refs.setdefault(id_text(entry.get("provider_group_id")), []).append(entry)
                elif event in ("start_map", "start_array"):
                    handle.value_started(None)
                    skip_container(events)
    extract.items_seen = counters["in_network"] + counters["out_of_network"]
    extract.seconds = time.perf_counter() - started
    return extract


@contextlib.contextmanager
def _reader(path: Path, limits: Limits | None = None) -> Iterator[GuardedJson]:
    """The decompressed stream, each held value bounded by the item limit (depth is counted by events)."""
    handle = decompressed(path, limits, "a real TiC file", scan_depth=False)
    handle.mark = None  # nothing is held until a value starts
    try:
        yield handle
    finally:
        handle.close()


def _collect_array(events, section, codes, extract, wanted, counters, handle) -> None:  # type: ignore[no-untyped-def]
    while True:
        handle.value_started()
        event, value = next(events)
        if event == "end_array":
            return
        if event != "start_map":
            skip_container(events) if event == "start_array" else None
            continue
        item = build_value(events, event, value)
        index = counters[section]
        counters[section] += 1
        if section == TOC_SECTION:
            extract.toc.append((f"$.reporting_structure[{index}]", item))
            continue
        if isinstance(item, dict) and _norm_code(item.get("billing_code")) in codes:
            extract.items.append((f"$.{section}[{index}]", item))
            if section == "in_network":
                for rate in item.get("negotiated_rates") or []:
                    if isinstance(rate, dict):
                        for ref in rate.get("provider_references") or []:
                            wanted.add(id_text(ref))


def extract(
    path: Path,
    codes: frozenset[str],
    *,
    max_expansion: float | None = None,
    spill_dir: Path | None = None,
    chunk: int = SCAN_CHUNK,
    limits: Limits | None = None,
) -> Extract:
    """Fast path, falling back to the exact path (and saying why) on any anomaly."""
    limits = limits or Limits()
    if max_expansion is not None:
        limits = Limits(limits.max_uncompressed_bytes, limits.max_item_bytes, max_expansion, limits.ratio_floor)
    try:
        return fast_extract(path, codes, spill_dir=spill_dir, chunk=chunk, limits=limits)
    except Anomaly as exc:
        try:
            result = reference_extract(path, codes, limits)
        except FileRejected as rejected:
            if not rejected.where and exc.stream_end is not None:  # say where the data stopped
                raise FileRejected(
                    rejected.path,
                    rejected.problem,
                    rejected.expected,
                    f"the stream ends at uncompressed byte {exc.stream_end:,}",
                ) from None
            raise
        result.path_used = "ijson_fallback"
        result.fallback_reason = str(exc)
        return result
