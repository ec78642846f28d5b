"""The one loop that inflates a .gz byte source member by member (tic_stream's GzipStream thread and the
child process of its ProcessGzipStream both run it).

Rules: one or more gzip members, zero padding between them, nothing else after the last; every piece that
decodes is handed out before the problem that follows it is raised. Run as a script
(`python -I gzip_members.py PATH RING_FD SLOTS SLOT`, or `_child` from ProcessGzipStream's `python -I -S`
bootstrap) it is ProcessGzipStream's child: it imports nothing from the project (the child starts in
~15 ms), puts each piece in a slot of the shared-memory ring and
announces it on stdout as (slot, length, compressed offset); exit 0 after the end message, 3 truncated,
4 not gzip after a member, 5 its reader went away, 1 anything else (e.g. corrupt data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

try:
    from isal import isal_zlib as zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    import zlib  # type: ignore[no-redef]

IN_BLOCK = 256 * 1024
OUT_BLOCK = 1024 * 1024


class Truncated(Exception):
    """The source ends inside a member (before its end-of-stream marker)."""


class NotGzip(Exception):
    """Bytes other than zero padding follow a member."""


class Inflater:
    """`pieces()` yields the inflated pieces (at most `out_block` bytes each); `at` is the compressed offset
    behind the pieces yielded so far, `block_end` the offset just past the bytes being decompressed (where a
    corruption is reported). Raises Truncated, NotGzip, or the decompressor's own error."""

    def __init__(self, read: Callable[[int], bytes], out_block: int = OUT_BLOCK, in_block: int = IN_BLOCK) -> None:
        self.read, self.out_block, self.in_block = read, out_block, in_block
        self.at = 0
        self.block_end = 0

    def pieces(self, stopped: Callable[[], bool] = lambda: False) -> Iterator[bytes]:
        read, out_block = self.read, self.out_block
        pending = b""
        d = None  # the current member's decompressor; None between members
        while not stopped():
            if not pending:
                pending = read(self.in_block)
                if not pending:
                    if d is not None:
                        raise Truncated
                    return
            if d is None:  # between members: zero padding is allowed, anything else must be a member
                stripped = pending.lstrip(b"\0")
                self.at += len(pending) - len(stripped)
                pending = stripped
                if not pending:
                    continue
                if pending[:1] != b"\x1f" or (len(pending) > 1 and pending[1:2] != b"\x8b"):
                    raise NotGzip
                d = zlib.decompressobj(31)
            self.block_end = self.at + len(pending)
            out = d.decompress(pending, out_block)
            if d.eof:
                rest = d.unused_data
                self.at += len(pending) - len(rest)
                pending, d = rest, None
            else:
                tail = d.unconsumed_tail
                self.at += len(pending) - len(tail)
                if not out and len(tail) == len(pending):  # no progress: the decompressor wants more input
                    more = read(self.in_block)
                    if not more:
                        raise Truncated
                    tail = tail + more
                pending = tail
            if out:
                yield out


def _child(path: str, ring_fd: int, slots: int, slot: int) -> int:
    """ProcessGzipStream's child: inflate `path` into the ring; a slot is reused once the reader wrote one
    byte on stdin for it."""
    import mmap
    import os
    import struct

    ring = mmap.mmap(ring_fd, slots * slot)
    message = struct.Struct("<IIQ")
    free, i = slots, 0
    with open(path, "rb", buffering=0) as f:
        inflater = Inflater(f.read, slot)
        try:
            for out in inflater.pieces():
                if free == 0:
                    got = os.read(0, 4096)
                    if not got:
                        return 5
                    free += len(got)
                free -= 1
                ring[i * slot : i * slot + len(out)] = out
                os.write(1, message.pack(i, len(out), inflater.at))
                i = (i + 1) % slots
        except Truncated:
            return 3
        except NotGzip:
            return 4
    os.write(1, message.pack(0, 0, inflater.at))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
