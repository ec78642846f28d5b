"""CSV records with exact physical line numbers, and a byte-level prefilter for multi-GB files.

Two ways to get the records of a delimited file, giving the same fields and line numbers:

`iter_records` the straightforward parse: Python's csv module (strict RFC 4180 quoting) over the
               file's lines; every record is read. Tens of MB/s.
`scan`         for a file of which only records mentioning a few codes matter (a hospital file is
               millions of item x payer records; we keep six codes). It reads the file in 32 MB
               blocks cut into 256 KB slices; per block the main thread counts newlines (line
               numbers) and double quotes (quote parity: a newline ends a record only outside
               quotes) while a worker thread reads the next block and runs RE2 (pyarrow, which
               releases the GIL) over most slices; the main thread searches the remaining slices.
               A block without a match costs those few C passes. In a slice with matches, each
               match's record start is found from the quote parity and the record is parsed with
               the csv module right away, to check that the match lies inside it. `read_at` then
               re-reads the candidates by byte offset with the same csv code as `iter_records`.
               Measured by benchmarks/bench_hospital.py against DuckDB's read_csv.

`scan` trusts RFC 4180 quoting. Whatever could make it disagree with `iter_records` - a NUL byte,
a bare carriage return, the file ending inside quotes, a record longer than MAX_RECORD_BYTES,
or a candidate record that does not contain its match (a stray quote in an unquoted field flips
the parity) - makes it return None before anything is yielded, and the caller reads the file
with `iter_records`, which then gives the verdict (rows, or the file's rejection).

Lines end at "\\n" (a preceding "\\r" belongs to the line ending); a bare "\\r" is not a line end.
Text is UTF-8; bytes that are not are kept as surrogate escapes for the caller to report.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import re
from array import array
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from flows.engines.readers import FIELD_LIMIT
from flows.sources.base import FileRejected

csv.field_size_limit(FIELD_LIMIT)

BLOCK_BYTES = 32 * 1024 * 1024
SLICE_BYTES = 256 * 1024  # RE2 reports matches per slice; only matching slices are searched in Python
WORKER_SHARE = 0.7  # of each block's RE2 search done by the worker thread (the main thread also counts)
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a record longer than this is not a record (an unclosed quote)


@dataclass(frozen=True)
class Record:
    """One CSV record: the physical line it starts on, its byte span, its fields (decoded), and the
    line the next record starts on (a quoted field may span lines)."""

    line: int
    start: int
    end: int
    fields: list[str]
    next_line: int


class _LineFeed:
    """Decoded lines of a binary file from a byte offset, tracking the offset and line number."""

    def __init__(self, handle: BinaryIO, path: Path, offset: int, line: int) -> None:
        self.handle, self.path = handle, path
        self.offset = offset  # byte offset of the next unread line
        self.line = line  # physical line number of the next unread line

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline()
        if not raw:
            raise StopIteration
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise FileRejected(
                self.path,
                f"binary content (NUL byte at byte offset {self.offset + nul}), not a text file",
                "a UTF-8 text CSV",
                f"line {self.line}",
            )
        text = raw[3:] if self.offset == 0 and raw.startswith(codecs.BOM_UTF8) else raw
        self.offset += len(raw)
        self.line += 1
        return text.decode("utf-8", "surrogateescape")


def csv_error(path: Path, exc: csv.Error, line: int) -> FileRejected:
    """A csv module error as a one-line rejection naming the record's first line."""
    text = str(exc)
    where = f"record starting on line {line}"
    if "field larger than field limit" in text:
        return FileRejected(
            path,
            f"a field is longer than {FIELD_LIMIT:,} characters",
            "fields of sane length (an unclosed quote often swallows the rest of the file)",
            where,
        )
    if "unexpected end of data" in text or "EOF" in text:
        return FileRejected(
            path,
            "the file ends inside a quoted field: truncated, or a quote is never closed",
            "every quoted field closed before the end of the file",
            where,
        )
    if "new-line character" in text:
        return FileRejected(
            path,
            "a bare carriage return (CR without LF) inside an unquoted field",
            "lines ending in LF or CRLF (convert old Mac CR line endings)",
            where,
        )
    return FileRejected(
        path, f"malformed CSV ({text})", 'RFC 4180 quoting (a quote inside a field is doubled: "")', where
    )


def iter_records(path: Path, offset: int = 0, line: int = 1) -> Iterator[Record]:
    """Every record from byte `offset` (which starts physical line `line`) to the end of the file."""
    with path.open("rb") as handle:
        handle.seek(offset)
        feed = _LineFeed(handle, path, offset, line)
        reader = csv.reader(feed, strict=True)
        while True:
            start, first = feed.offset, feed.line
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise csv_error(path, exc, first) from None
            yield Record(first, start, feed.offset, fields, feed.line)


class RecordReader:
    """Parses single records at known byte offsets (one open handle, seek per record)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("rb")

    def at(self, offset: int, line: int) -> Record:
        """The record starting at `offset` (line `line`); csv.Error and StopIteration propagate."""
        self.handle.seek(offset)
        feed = _LineFeed(self.handle, self.path, offset, line)
        fields = next(csv.reader(feed, strict=True))
        return Record(line, offset, feed.offset, fields, feed.line)

    def close(self) -> None:
        self.handle.close()


def read_at(path: Path, candidates: Candidates) -> Iterator[Record]:
    """The candidate records found by `scan`, parsed again from their byte offsets, in file order."""
    reader = RecordReader(path)
    try:
        for index in range(0, len(candidates.spans), 2):
            offset, line = candidates.spans[index], candidates.spans[index + 1]
            try:
                yield reader.at(offset, line)
            except csv.Error as exc:  # pragma: no cover - the scan parsed the same bytes without error
                raise csv_error(path, exc, line) from None
    finally:
        reader.close()


def code_pattern(codes: Iterable[str]) -> str:
    """Regex matching any of the codes, letters in either case ("0440T" -> "0440[Tt]")."""
    parts = []
    for code in sorted(set(codes)):
        parts.append("".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in code))
    return "|".join(parts)


@dataclass
class Candidates:
    """Where the records that mention a code start: (byte offset, line) pairs, plus scan counters."""

    spans: array = field(default_factory=lambda: array("q"))
    bytes_scanned: int = 0
    blocks: int = 0
    blocks_with_matches: int = 0

    def __len__(self) -> int:
        return len(self.spans) // 2


_BARE_CR = re.compile(rb"\r(?!\n)")


class _Fallback(Exception):
    """The scan cannot vouch for the file: read it with iter_records instead."""


def scan(path: Path, offset: int, line: int, codes: Iterable[str], block_bytes: int = BLOCK_BYTES) -> Candidates | None:
    """Record starts (from `offset`, a record boundary on line `line`) of records mentioning a code.

    Returns None when the byte-level scan cannot be trusted for this file (see the module
    docstring); the caller then parses every record with `iter_records`.
    """
    codes = [c for c in codes if c]
    if not codes:
        return None
    code_regex = code_pattern(codes)
    # RE2 also flags the two things the scan must not meet: a NUL byte and a bare CR.
    signal = f"{code_regex}|\\r[^\\n]|\\x00"
    matcher = re.compile(code_regex.encode("ascii"))
    found = Candidates()
    reader = RecordReader(path)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-prefilter")
    try:
        with path.open("rb", buffering=0) as handle:
            handle.seek(offset)
            windows = _Windows(handle, block_bytes, pool)
            data, base, end, eof = windows.first()
            position, line_no = offset, line
            while end > base:
                cut = end if eof else data.rfind(b"\n", base, end) + 1
                if not eof:
                    windows.prefetch()  # the worker reads the next chunk first, then searches its share
                if cut <= base:  # no line end in the window: a very long line, read on
                    data, base, end, eof = windows.follow(data, base, end)
                    continue
                block = _Block(data, base, cut)
                # RE2 is the costliest pass: the worker takes most of it while this thread counts
                # newlines and quotes, then searches the rest of the block itself.
                split = max(
                    1,
                    min(
                        len(block.bounds) - 1, bisect.bisect_left(block.bounds, base + int((cut - base) * WORKER_SHARE))
                    ),
                )
                pending = pool.submit(_matching_slices, data, block.bounds[: split + 1], signal)
                block.count()
                mine = _matching_slices(data, block.bounds[split:], signal)
                slices = pending.result() + mine
                if block.quotes & 1:  # the block ends inside a quoted field: end it at the last record boundary
                    if eof:
                        raise _Fallback  # the file ends inside quotes; iter_records names the record
                    boundary = _last_boundary(data, base, cut, block.quotes)
                    if boundary is None:  # one record spans the whole window: read on
                        data, base, end, eof = windows.follow(data, base, end)
                        continue
                    block.shorten(boundary)
                    cut = boundary
                    slices = [(low, min(high, cut)) for low, high in slices if low < cut]
                found.blocks += 1
                if slices:
                    found.blocks_with_matches += 1
                    _collect(data, block, slices, position, line_no, matcher, reader, found)
                found.bytes_scanned += cut - base
                position += cut - base
                line_no += block.newlines
                if eof and cut == end:
                    break
                data, base, end, eof = windows.follow(data, cut, end)
    except _Fallback:
        return None
    finally:
        pool.shutdown(wait=True)
        reader.close()
    return found


class _Windows:
    """The file as consecutive windows data[base:end] over two alternating buffers.

    While one window is searched, the worker thread reads the next chunk into the other buffer
    (`prefetch`); `follow` then puts the unsearched tail of the current window (the carry: a
    partial record) in front of that chunk, so every window starts on a record boundary.
    """

    SLACK = 1024 * 1024  # room for the carry in front of each chunk; grows when a carry needs more

    def __init__(self, handle: BinaryIO, size: int, pool: ThreadPoolExecutor) -> None:
        self.handle, self.size, self.pool = handle, size, pool
        self.slack = self.SLACK
        self.buffers = [bytearray(self.slack + size), bytearray(self.slack + size)]
        self.current = 0
        self.pending: Future[int] | None = None

    def _read_into(self, buffer: bytearray, at: int) -> int:
        total = 0
        with memoryview(buffer) as view:
            while total < self.size:
                got = self.handle.readinto(view[at + total : at + self.size])
                if not got:
                    break
                total += got
        return total

    def first(self) -> tuple[bytearray, int, int, bool]:
        data = self.buffers[0]
        got = self._read_into(data, self.slack)
        return data, self.slack, self.slack + got, got < self.size

    def prefetch(self) -> None:
        if self.pending is None:
            self.pending = self.pool.submit(self._read_into, self.buffers[1 - self.current], self.slack)

    def follow(self, data: bytearray, cut: int, end: int) -> tuple[bytearray, int, int, bool]:
        """The next window: data[cut:end] (the carry) followed by the next chunk of the file."""
        self.prefetch()
        assert self.pending is not None
        got = self.pending.result()
        self.pending = None
        carry = end - cut
        if carry > MAX_RECORD_BYTES:
            raise _Fallback  # not a record: an unclosed quote, or no line ends at all
        nxt = self.buffers[1 - self.current]
        if carry > self.slack:  # grow both buffers; keep the chunk just read
            chunk = bytes(nxt[self.slack : self.slack + got])
            self.slack = max(2 * carry, 2 * self.slack)
            nxt = bytearray(self.slack + self.size)
            nxt[self.slack : self.slack + got] = chunk
            self.buffers = [bytearray(self.slack + self.size), bytearray(self.slack + self.size)]
            self.buffers[1 - self.current] = nxt
        nxt[self.slack - carry : self.slack] = data[cut:end]
        self.current = 1 - self.current
        return nxt, self.slack - carry, self.slack + got, got < self.size


class _Block:
    """data[base:cut] cut into slices of about SLICE_BYTES that end after a newline (so no code
    match straddles two), with newline and quote counts per slice (prefix sums)."""

    def __init__(self, data: bytearray, base: int, cut: int) -> None:
        self.data, self.base, self.cut = data, base, cut
        bounds = [base]
        while bounds[-1] + SLICE_BYTES < cut:
            end = data.find(b"\n", bounds[-1] + SLICE_BYTES, cut) + 1
            if end <= 0:
                break
            bounds.append(end)
        if bounds[-1] != cut:
            bounds.append(cut)
        self.bounds = bounds
        self.lines_at: list[int] = []  # newlines between base and each bound
        self.quotes_at: list[int] = []
        self.newlines = self.quotes = 0

    def count(self) -> None:
        data, lines, quotes = self.data, 0, 0
        self.lines_at, self.quotes_at = [0], [0]
        for low, high in zip(self.bounds, self.bounds[1:]):
            lines += data.count(b"\n", low, high)
            quotes += data.count(b'"', low, high)
            self.lines_at.append(lines)
            self.quotes_at.append(quotes)
        self.newlines, self.quotes = lines, quotes

    def shorten(self, cut: int) -> None:
        """Drop everything from `cut` (a line start) on."""
        self.newlines -= self.data.count(b"\n", cut, self.cut)
        self.quotes -= self.data.count(b'"', cut, self.cut)
        self.cut = cut

    def counts_before(self, position: int) -> tuple[int, int]:
        """(newlines, quotes) in data[base:position], from the nearest slice bound below it."""
        index = bisect.bisect_right(self.bounds, position) - 1
        low = self.bounds[index]
        return (
            self.lines_at[index] + self.data.count(b"\n", low, position),
            self.quotes_at[index] + self.data.count(b'"', low, position),
        )


def _matching_slices(data: bytearray, bounds: list[int], pattern: str) -> list[tuple[int, int]]:
    """The slices of data (between consecutive bounds) in which RE2 finds the pattern.

    pyarrow releases the GIL, so a worker thread searches while the main thread counts.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(bounds) < 2:
        return []
    offsets = pa.py_buffer(np.asarray(bounds, dtype=np.int64).tobytes())
    with memoryview(data) as view:
        values = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(bounds) - 1, [None, offsets, pa.py_buffer(view[: bounds[-1]])]
        )
        counts = pc.count_substring_regex(values, pattern).to_numpy(zero_copy_only=False)
        del values
    return [(bounds[i], bounds[i + 1]) for i in np.flatnonzero(counts).tolist()]


def _last_boundary(data: bytearray, base: int, cut: int, quotes: int) -> int | None:
    """The start of the last line in data[base:cut] that begins outside quotes (> base), or None."""
    end, tail_quotes = cut, 0
    while end > base:
        start = data.rfind(b"\n", base, end - 1) + 1
        if start <= base:
            return None
        tail_quotes += data.count(b'"', start, end)
        if (quotes - tail_quotes) & 1 == 0:
            return start
        end = start
    return None


def _collect(
    data: bytearray,
    block: _Block,
    slices: list[tuple[int, int]],
    position: int,
    line_no: int,
    matcher: re.Pattern[bytes],
    reader: RecordReader,
    found: Candidates,
) -> None:
    """Add the records of the block (which starts and ends on record boundaries) holding a match.

    `position` and `line_no` are the file offset and line number of data[block.base].
    """
    base = block.base
    for low, high in slices:
        if data.find(b"\x00", low, high) >= 0 or _BARE_CR.search(data, low, high):
            raise _Fallback  # iter_records decides (a NUL rejects the file; a quoted CR is data)
    record_end = base  # end of the last candidate: matches before it belong to it
    hits = (match.start() for low, high in slices for match in matcher.finditer(data, low, high))
    for hit in hits:
        if hit < record_end:
            continue
        start = max(base, data.rfind(b"\n", base, hit) + 1)
        lines, quotes = block.counts_before(start)
        while quotes & 1:  # this line continues a quoted field: the record began on an earlier line
            previous = max(base, data.rfind(b"\n", base, start - 1) + 1)
            if previous < record_end or previous == start:
                raise _Fallback
            quotes -= data.count(b'"', previous, start)
            lines -= 1
            start = previous
        try:
            record = reader.at(position + start - base, line_no + lines)
        except (csv.Error, StopIteration):
            raise _Fallback from None
        if not (record.start <= position + hit - base < record.end) or record.end > position + block.cut - base:
            raise _Fallback  # the parity was wrong (a stray quote): parse everything instead
        found.spans.extend((record.start, record.line))
        record_end = record.end - position + base
