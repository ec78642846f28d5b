"""Decompressed byte window over a Transparency-in-Coverage file (.json, .json.gz, .zip).

Gzip is inflated in-process with python-isal (about 3x stdlib zlib on this machine; the bound
for a .gz file, which cannot be split), falling back to zlib-ng and then stdlib gzip. Bytes land
in one reusable bytearray filled with `readinto`; consumed bytes are dropped by moving the tail
to the front, never by building new `bytes` objects. Every failure of the container (truncated
gzip, a zip without a JSON member, a decompression bomb) becomes a `FileRejected` that names the
uncompressed byte offset reached.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path
from typing import BinaryIO

from flows.settings import Settings
from flows.sources.base import FileRejected

try:  # SIMD substring search (StringZilla): ~12 GB/s here against ~1.7 GB/s for bytearray.find
    import stringzilla as _sz
except ImportError:  # pragma: no cover - declared dependency; bytearray.find still works
    _sz = None

CHUNK = 8 * 1024 * 1024
DEFAULT_MAX_EXPANSION = Settings.tic_max_expansion  # PAYERBENCH_TIC_MAX_EXPANSION overrides it
"""Stop when the uncompressed bytes pass this multiple of the compressed size (a gzip bomb guard).
Real TiC files inflate 8-30x; a ratio of 500 only trips on pathological input."""
MIN_BOMB_BYTES = 256 * 1024 * 1024  # never judge tiny files by ratio alone


def open_raw(path: Path) -> tuple[BinaryIO, str, int]:
    """Open a TiC file for reading decompressed bytes: (stream, container kind, compressed size)."""
    if not path.exists():
        raise FileRejected(path, "file not found", "an existing .json or .json.gz file")
    size = path.stat().st_size
    if size == 0:
        raise FileRejected(path, "file is empty (0 bytes)", "a Transparency-in-Coverage JSON file")
    with path.open("rb") as probe:
        magic = probe.read(4)
    if magic[:2] == b"\x1f\x8b":
        return _open_gzip(path), "gzip", size
    if magic == b"PK\x03\x04":
        return _open_zip(path), "zip", size
    return path.open("rb"), "json", size


def _open_gzip(path: Path) -> BinaryIO:
    try:
        from isal import igzip_threaded

        return igzip_threaded.open(path, "rb", threads=1)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - isal is a declared dependency
        try:
            from zlib_ng import gzip_ng_threaded

            return gzip_ng_threaded.open(path, "rb", threads=1)  # type: ignore[return-value]
        except ImportError:
            return gzip.open(path, "rb")  # type: ignore[return-value]


def _open_zip(path: Path) -> BinaryIO:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FileRejected(path, f"not a readable zip archive ({exc})", "a .zip holding one JSON file") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    json_members = [m for m in members if m.filename.lower().endswith(".json")] or members
    if len(json_members) != 1:
        names = ", ".join(m.filename for m in members[:5])
        raise FileRejected(path, f"zip holds {len(json_members)} candidate files ({names})", "exactly one JSON file per zip")
    try:
        return archive.open(json_members[0])  # type: ignore[return-value]
    except NotImplementedError as exc:  # e.g. deflate64
        raise FileRejected(path, f"zip compression not supported ({exc})", "a zip using deflate, or a .json.gz") from None


class Window:
    """The decompressed bytes [base, base + n) of a stream, in one growable buffer."""

    def __init__(self, path: Path, raw: BinaryIO, compressed_size: int, kind: str, *, chunk: int = CHUNK,
                 max_expansion: float = DEFAULT_MAX_EXPANSION) -> None:
        self.path = path
        self.raw = raw
        self.kind = kind
        self.compressed_size = compressed_size
        self.chunk = chunk
        self.max_expansion = max_expansion
        self.buf = bytearray(2 * chunk)
        self.n = 0  # valid bytes in buf
        self.base = 0  # absolute (uncompressed) offset of buf[0]
        self.eof = False
        self.total = 0  # uncompressed bytes read so far
        self._finder = None  # a StringZilla view of buf (holds a buffer export: drop before resizing)

    # -- search (absolute offsets) -----------------------------------------------------------------
    def _view(self):  # type: ignore[no-untyped-def]
        if self._finder is None and _sz is not None:
            self._finder = _sz.Str(memoryview(self.buf))
        return self._finder

    def _resizing(self) -> None:
        self._finder = None

    def find(self, needle: bytes, start: int, end: int | None = None) -> int:
        """Absolute offset of `needle` in [start, end) of the buffered bytes, or -1."""
        lo = max(start - self.base, 0)
        hi = self.n if end is None else min(end - self.base, self.n)
        if hi - lo < len(needle):
            return -1
        finder = self._view()
        i = finder.find(needle, lo, hi) if finder is not None else self.buf.find(needle, lo, hi)
        return -1 if i < 0 else self.base + i

    def count(self, needle: bytes, start: int, end: int) -> int:
        """Occurrences of `needle` lying wholly inside [start, end) of the buffered bytes."""
        lo = max(start - self.base, 0)
        hi = min(end - self.base, self.n)
        if hi - lo < len(needle):
            return 0
        finder = self._view()
        return finder.count(needle, lo, hi) if finder is not None else self.buf.count(needle, lo, hi)

    def rfind(self, needle: bytes, start: int, end: int | None = None) -> int:
        """Absolute offset of the last `needle` in [start, end), or -1."""
        lo = max(start - self.base, 0)
        hi = self.n if end is None else min(end - self.base, self.n)
        if hi - lo < len(needle):
            return -1
        finder = self._view()
        i = finder.rfind(needle, lo, hi) if finder is not None else self.buf.rfind(needle, lo, hi)
        return -1 if i < 0 else self.base + i

    @property
    def view(self) -> memoryview:
        return memoryview(self.buf)[: self.n]

    def fill(self) -> int:
        """Read up to one chunk more; returns bytes added (0 at end of stream)."""
        if self.eof:
            return 0
        if len(self.buf) - self.n < self.chunk:
            self._resizing()
            self.buf.extend(bytes(max(self.chunk, len(self.buf))))  # grow (doubling), keep contents
        try:
            got = self.raw.readinto(memoryview(self.buf)[self.n : self.n + self.chunk])  # type: ignore[attr-defined]
        except (EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
            raise FileRejected(
                self.path, f"the {self.kind} stream is truncated or corrupt ({exc})",
                "a complete file (re-download it)", f"uncompressed byte offset {self.total:,}") from None
        if not got:
            self.eof = True
            return 0
        self.n += got
        self.total += got
        if (self.kind != "json" and self.total > MIN_BOMB_BYTES
                and self.total > self.max_expansion * self.compressed_size):
            raise FileRejected(
                self.path,
                f"decompressed to more than {self.max_expansion:g}x its compressed size "
                f"({self.total:,} bytes from {self.compressed_size:,}); stopped as a possible decompression bomb",
                "a real TiC file, or a higher PAYERBENCH_TIC_MAX_EXPANSION if this one is genuine",
                f"uncompressed byte offset {self.total:,}")
        return got

    def ensure(self, end: int) -> bool:
        """Make sure absolute offset `end` (exclusive) is buffered; False if the stream ends first."""
        while self.base + self.n < end:
            if not self.fill():
                return False
        return True

    def drop_before(self, absolute: int) -> None:
        """Forget bytes before absolute offset `absolute` (move the tail to the front of the buffer)."""
        cut = absolute - self.base
        if cut <= 0:
            return
        cut = min(cut, self.n)
        keep = self.n - cut
        self.buf[:keep] = self.buf[cut : self.n]
        self.n = keep
        self.base += cut
        if len(self.buf) > 4 * self.chunk and self.n < self.chunk:
            self._resizing()
            del self.buf[2 * self.chunk :]  # shrink after a big item has gone

    def close(self) -> None:
        self._resizing()
        self.raw.close()


def open_window(path: Path, *, chunk: int = CHUNK, max_expansion: float = DEFAULT_MAX_EXPANSION) -> Window:
    """A Window over the decompressed content of `path`."""
    raw, kind, size = open_raw(path)
    return Window(path, raw, size, kind, chunk=chunk, max_expansion=max_expansion)
