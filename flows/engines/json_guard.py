"""Streaming JSON with bounded memory and time whatever the bytes (issue 12, hostile files).

ijson's `items` and `parse` name every event with its path ("a.item.item...."), and those
strings grow with the nesting depth: N levels of `[` cost about 2.5 x N^2 bytes before any
check of ours could run (8,000 levels: ~280 MB; 64,000 levels in a 130 KB file: gigabytes).
Rebuilding items in Python from `basic_parse` events (which carry no path) is safe but ~3x
slower than ijson's C item builder. So the bytes are judged *before* the parser sees them:

* `DepthScanner` follows the nesting depth of the raw bytes, chunk by chunk, string-aware
  (quotes and backslash escapes), vectorised with numpy (~1.5 ms per MB, against ~12 ms per MB
  for ijson's item builder: the hospital JSON read is ~12% slower for it), and says at which
  byte the depth first passes `MAX_DEPTH`.
* `GuardedJson` is a binary stream over another one that runs the scanner on every block it
  reads, and refuses a file past `max_uncompressed_bytes`, one value (the stretch since the last
  item its reader finished, or a value its reader holds) past `max_item_bytes`, and one string
  past `MAX_STRING_BYTES` (yajl's time on a string spanning its buffers grows with its square).
* `items` is `ijson.items` (C speed, numbers exact as Decimal) over a `GuardedJson`.
* `top_level`, `skip_container` and `build_value` walk `basic_parse` events with the same
  depth limit, for readers that pick a few top-level values (TiC's exact path, hospital metadata).

Blank space is never held by yajl, so a long run of it costs time only; it still counts toward
the stretch between two items, so it is bounded by the item limit like any other value.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from flows.engines.tic_stream import GuardedReader, Limits, size_text
from flows.sources.base import FileRejected

MAX_DEPTH = 1000  # deepest nesting followed (msgspec's own limit; real TiC and hospital files nest < 10 levels)
CHUNK = 1024 * 1024  # bytes read (and scanned) at a time
SCAN_PIECE = 64 * 1024  # bytes scanned per numpy pass (bigger pieces spill the temporaries out of cache: 2x slower)
MAX_STRING_BYTES = 16 * 1024 * 1024
"""Longest JSON string held (the CSV readers' field limit too). yajl re-reads a string token that
spans its buffers: a 64 MB string takes ~10 s to lex, 256 MB ~160 s, so strings stop here, long
before the item limit would."""
PARSE_BUFFER = 64 * 1024  # bytes handed to yajl at a time (its best size here: 1 MiB buffers parse ~30% slower)


class NestedTooDeep(RecursionError):
    """JSON nested more than MAX_DEPTH levels (a RecursionError, as a recursive decoder would raise)."""

    def __init__(self, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(
            f"JSON nested more than {MAX_DEPTH:,} levels" + (f" at byte {offset:,}" if offset is not None else "")
        )


def too_deep(path: Path, expected: str, where: str) -> FileRejected:
    """The one message for JSON nested deeper than the readers follow."""
    return FileRejected(
        path,
        f"JSON nested too deeply (more than {MAX_DEPTH:,} levels of [ or {{); refused as malformed or hostile",
        expected,
        where,
    )


class DepthScanner:
    """The nesting depth of a JSON byte stream fed in chunks, outside strings (valid JSON's tokens)."""

    def __init__(self, max_depth: int = MAX_DEPTH) -> None:
        import numpy as np

        self._np = np
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.escape_next = False  # the last chunk ended on an odd run of backslashes (the next byte is escaped)
        self.offset = 0  # bytes fed so far
        self.string_from = 0  # offset of the opening quote of the string the last chunk ended in

    def feed(self, chunk: bytes | bytearray | memoryview, backslashes: bool = True) -> int | None:
        """Feed the next bytes; the absolute offset of the first `[` or `{` past the depth limit, or None.
        `backslashes=False` promises the chunk holds none (the caller found none faster than numpy can)."""
        np = self._np
        arr = np.frombuffer(chunk, np.uint8)
        if not arr.size:
            return None
        start = self.offset
        self.offset += arr.size
        low = arr | 0x20  # '[' -> '{', ']' -> '}'
        opens = low == 0x7B
        brackets = np.flatnonzero(opens | (low == 0x7D))
        quote_at = np.flatnonzero(arr == 0x22)
        carry = self.escape_next
        if carry or (
            backslashes and (arr == 0x5C).any()
        ):  # backslashes: drop the escaped quotes (few; each judged by its run)
            quote_at = self._unescaped(arr, quote_at, carry)
            if arr[-1] == 0x5C:
                plain = np.flatnonzero(arr != 0x5C)
                run = arr.size - 1 - int(plain[-1]) if plain.size else arr.size + int(carry)
                self.escape_next = bool(run & 1)
            else:
                self.escape_next = False
        if brackets.size:
            if quote_at.size:  # a bracket is outside strings when an even number of quotes precede it
                before = np.searchsorted(quote_at, brackets) + int(self.in_string)
                brackets = brackets[(before & 1) == 0]
            elif self.in_string:
                brackets = brackets[:0]
        if brackets.size:
            steps = opens[brackets].view(np.int8) * np.int8(2) - np.int8(1)  # +1 open, -1 close
            depth = np.cumsum(steps, dtype=np.int32) + self.depth  # int32: a chunk holds < 2**31 bytes
            if int(depth.max()) > self.max_depth:
                return start + int(brackets[int(np.argmax(depth > self.max_depth))])
            self.depth = int(depth[-1])
        self.in_string = self.in_string ^ bool(quote_at.size & 1)
        if self.in_string and quote_at.size:
            self.string_from = start + int(quote_at[-1])
        return None

    def _unescaped(self, arr, quote_at, carry: bool):  # type: ignore[no-untyped-def]
        """`quote_at` without the quotes that follow an odd run of backslashes (`carry`: one more before the chunk)."""
        np = self._np
        if not quote_at.size:
            return quote_at
        after_backslash = np.flatnonzero(arr[np.maximum(quote_at - 1, 0)] == 0x5C)
        escaped = []
        if carry and quote_at[0] == 0:
            escaped.append(0)
        for k in after_backslash.tolist():
            i = int(quote_at[k])
            if i == 0:
                continue
            j = i - 1
            while j >= 0 and arr[j] == 0x5C:
                j -= 1
            run = i - 1 - j + (int(carry) if j < 0 else 0)
            if run & 1:
                escaped.append(k)
        return np.delete(quote_at, escaped) if escaped else quote_at


class GuardedJson(io.RawIOBase):
    """A JSON byte stream held to the depth, item and total limits (see the module docstring).

    `mark` is where the value being held began (the reader moves it: `value_started`, or after
    each finished item); None means nothing is held (a skipped stretch)."""

    def __init__(
        self,
        inner: BinaryIO,
        path: Path,
        limits: Limits,
        expected: str,
        *,
        offset: int = 0,
        where: Callable[[int], str] | None = None,
        byte_word: str = "byte",
        scan_depth: bool = True,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.path = path
        self.limits = limits
        self.expected = expected  # what a good file is ("a hospital price-transparency JSON file")
        self.offset = offset  # file bytes before this stream (a skipped BOM)
        self.where = where or (lambda n: f"byte offset {n:,}")
        self.byte_word = byte_word  # "uncompressed byte" for a decompressed stream
        self.scanner = DepthScanner() if scan_depth else None  # off where the reader counts depth by events
        self.total = offset  # bytes read, as a file offset
        self.chunk_start = offset  # where the last read began
        self.mark: int | None = offset
        # Blocks are judged whole (numpy's per-call cost is paid once per block) and handed to the
        # parser in its own smaller reads (yajl is fastest on ~64 KiB buffers).
        self.block_size = read_size(limits)
        self._block = memoryview(b"")
        self._at = 0

    def readable(self) -> bool:
        return True

    def value_started(self, at: int | None = -1) -> None:
        """A held value begins here (-1: no earlier than the block being parsed), at `at`, or (None) a
        stretch that is skipped, not held."""
        self.mark = self.chunk_start if at == -1 else at

    def item_done(self) -> None:
        """An item was finished in the last read: the next one began no earlier than that read."""
        self.mark = self.chunk_start

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        """Hand out the read-ahead block; read (and judge) the next block when it is used up."""
        if self._at >= len(self._block) and not self._read_block():
            return 0
        view = memoryview(b).cast("B")
        n = min(len(view), len(self._block) - self._at)
        view[:n] = self._block[self._at : self._at + n]
        self._at += n
        return n

    def _read_block(self) -> int:
        data = self.inner.read(self.block_size)
        if not data:
            return 0
        self._block, self._at = memoryview(data), 0
        got = len(data)
        self.chunk_start = self.total
        self.total += got
        limits = self.limits
        if self.total > limits.max_uncompressed_bytes:
            raise FileRejected(
                self.path,
                f"holds more than {size_text(limits.max_uncompressed_bytes)} ({self.total:,} bytes read so far); "
                "refused before reading on",
                "a smaller file, or a higher PAYERBENCH_MAX_UNCOMPRESSED_BYTES if this one is genuine",
                self.where(self.total),
            )
        if self.scanner is not None:
            backslashes = data.find(b"\\") >= 0
            for piece in range(0, got, SCAN_PIECE):  # pieces whose temporaries stay in cache
                deep = self.scanner.feed(self._block[piece : piece + SCAN_PIECE], backslashes)
                if deep is not None:
                    raise too_deep(self.path, self.expected, self.where(self.offset + deep))
        if self.mark is not None and self.total - self.mark > limits.max_item_bytes:
            raise FileRejected(
                self.path,
                f"one JSON value from about {self.byte_word} {self.mark:,} is larger than "
                f"{size_text(limits.max_item_bytes)}; refused rather than held in memory",
                f"{self.expected}, or a higher PAYERBENCH_MAX_ITEM_BYTES if this one is genuine",
                self.where(self.total),
            )
        scanner = self.scanner
        if scanner is not None and scanner.in_string and scanner.offset - scanner.string_from > MAX_STRING_BYTES:
            raise FileRejected(
                self.path,
                f"a JSON string from byte {self.offset + scanner.string_from:,} is longer than "
                f"{size_text(MAX_STRING_BYTES)}; refused rather than held in memory",
                f"{self.expected} (no text field that long)",
                self.where(self.total),
            )
        return got

    def close(self) -> None:
        if not self.closed:
            self.inner.close()
        super().close()


def decompressed(path: Path, limits: Limits | None, expected: str, *, scan_depth: bool = True) -> GuardedJson:
    """A TiC file (.json, .json.gz, .zip) decompressed and held to the limits, offsets told in
    uncompressed and compressed bytes (`GuardedReader`); closing it closes the file."""
    raw = GuardedReader(path, limits)
    return GuardedJson(
        raw,
        path,
        raw.guard.limits,
        expected,
        where=raw.guard.where,
        byte_word="uncompressed byte",
        scan_depth=scan_depth,
    )


def read_size(limits: Limits) -> int:
    """Bytes per block read: small enough that the item limit is judged well within itself."""
    return max(64 * 1024, min(CHUNK, limits.max_item_bytes // 4))


def items(stream: GuardedJson, prefix: str, *, use_float: bool = False) -> Iterator[object]:
    """`ijson.items(stream, prefix)` at C speed, each item held to the stream's limits."""
    import ijson

    for item in ijson.items(stream, prefix, use_float=use_float, buf_size=PARSE_BUFFER):
        stream.item_done()
        yield item


# --- event-level walking (basic_parse events: no paths, so nothing grows with depth) ----------------
def skip_container(events: Iterator[tuple[str, object]], element_done: Callable[[], None] | None = None) -> None:
    """Consume the rest of a container whose start event was just read; `element_done` is called
    after each of its elements (e.g. `GuardedJson.item_done`, so one element is bounded like an item)."""
    depth = 1
    for event, _ in events:
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_DEPTH:
                raise NestedTooDeep
            continue
        if event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return
        if depth == 1 and element_done is not None and event != "map_key":
            element_done()


def build_value(events: Iterator[tuple[str, object]], event: str, value: object) -> object:
    """The JSON value whose first event is (`event`, `value`), built from the events that follow."""
    import ijson

    if event not in ("start_map", "start_array"):
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for ev, val in events:
        builder.event(ev, val)
        if ev in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_DEPTH:
                raise NestedTooDeep
        elif ev in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def top_level(
    events: Iterator[tuple[str, object]],
    value_started: Callable[[], None] | None = None,
) -> Iterator[tuple[str, str, object]]:
    """(key, first event of its value, value) for each key of a top-level object; the caller
    consumes containers. A document that is not an object yields nothing (and is read to its end
    so the parser judges it); `value_started` is called as each value begins."""
    first = next(events, None)
    if first is None:
        return
    if first[0] != "start_map":
        if first[0] == "start_array":
            skip_container(events)
        for _ in events:
            pass
        return
    key = ""
    for event, value in events:
        if event == "map_key":
            key = value  # type: ignore[assignment]
            if value_started is not None:
                value_started()
            continue
        if event == "end_map":
            break
        yield key, event, value
    for _ in events:
        pass
