"""Decompressed byte window over a Transparency-in-Coverage file (.json, .json.gz, .zip).

Gzip is inflated in-process with python-isal (about 3x stdlib zlib on this machine; the bound
for a .gz file, which cannot be split) in a background thread (`GzipStream`), which hands out
1 MiB pieces together with the compressed offset each piece ends at, so every limit is judged
against the bytes actually read and a truncated stream is reported where its data ended. Bytes
land in one reusable bytearray filled with `readinto`; consumed bytes are dropped by moving the
tail to the front, never by building new `bytes` objects.

isal_zlib keeps the GIL while it inflates, so that thread and the scanner take turns on one core. For
the fast scanner, a big local .gz (PROCESS_MIN_BYTES) is inflated by a child process instead
(`ProcessGzipStream`, through a shared-memory ring): two cores, ~1.0 s -> ~0.7 s for the 1 GB
benchmark file. Any error there makes tic_scan.fast_extract read the file again with `GzipStream`.

Limits (`Limits`, from Settings) bound time and memory whatever the bytes: the uncompressed size
of a file (PAYERBENCH_MAX_UNCOMPRESSED_BYTES), the size of one value the scanner must hold and
of a run of blank space (PAYERBENCH_MAX_ITEM_BYTES), and the expansion ratio (PAYERBENCH_TIC_
MAX_EXPANSION) judged continuously against the compressed bytes consumed so far once past
`RATIO_FLOOR`, so a bomb is refused within a fraction of a second of passing it. Every failure
of the container or a limit becomes a `FileRejected` naming the compressed and uncompressed
offsets reached and the setting to raise.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import queue
import re
import select
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from flows.engines import gzip_members
from flows.engines.gzip_members import Inflater, NotGzip, Truncated
from flows.engines.remote import RemoteFile, put_unless_stopped
from flows.settings import Settings
from flows.sources.base import FileRejected

try:  # SIMD substring search (StringZilla): ~12 GB/s here against ~1.7 GB/s for bytearray.find
    import stringzilla as _sz
except ImportError:  # pragma: no cover - declared dependency; bytearray.find still works
    _sz = None


CHUNK = 8 * 1024 * 1024
DEFAULT_MAX_EXPANSION = Settings.tic_max_expansion  # PAYERBENCH_TIC_MAX_EXPANSION overrides it
"""Stop when the uncompressed bytes pass this multiple of the compressed bytes read so far (a gzip
bomb guard). Real TiC files inflate 8-30x; a ratio of 500 only trips on pathological input."""
PROCESS_INFLATE = True
"""Inflate a big local .gz for the fast scanner in a child process (`ProcessGzipStream`); False: always a thread."""
PROCESS_MIN_BYTES = 32 * 1024 * 1024
"""Compressed size from which that pays for starting the child (~25 ms); smaller files keep `GzipStream`."""
RATIO_FLOOR = 64 * 1024 * 1024  # the ratio is judged from here on: never judge tiny files by ratio alone
BLANK = b" \t\r\n"
_BLANK_TEXT = " \t\r\n"
_NOT_BLANK = re.compile(rb"[^ \t\r\n]")


def size_text(n: int) -> str:
    """1,073,741,824 -> '1 GiB' (limits as a person would set them)."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class Limits:
    """What one TiC file may make the scanner read and hold (see Settings)."""

    max_uncompressed_bytes: int = Settings.max_uncompressed_bytes
    max_item_bytes: int = Settings.max_item_bytes
    max_expansion: float = Settings.tic_max_expansion
    ratio_floor: int | None = None  # None: RATIO_FLOOR

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_uncompressed_bytes, settings.max_item_bytes, settings.tic_max_expansion)


class StreamError(OSError):
    """The compressed container ends early or is corrupt; says at which compressed byte."""

    def __init__(self, problem: str, compressed: int, size: int) -> None:
        self.problem = problem
        self.compressed = compressed
        self.size = size
        super().__init__(f"{problem} (at compressed byte {compressed:,} of {size:,})")


class GzipStream(io.RawIOBase):
    """A .gz file (one or more members) inflated in a background thread.

    `compressed_pos` is the compressed offset behind the data handed out so far. Everything that
    decodes is handed out before a truncation or corruption is raised (as `StreamError`)."""

    # Measured in the thread on the 1 GB benchmark file (benchmarks/bench_tic_ingest.py): 256 KiB in / 1 MiB
    # out inflates 1 GB in ~0.5 s of the thread's CPU (about 2 GB/s) and costs the reader ~0.07 s to copy out;
    # 64 KiB / 256 KiB pieces were no faster in the thread (0.54-0.57 s) and cost the reader twice as much.
    IN_BLOCK = gzip_members.IN_BLOCK
    OUT_BLOCK = gzip_members.OUT_BLOCK
    QUEUE = 8

    def __init__(self, path: Path | RemoteFile, handle: BinaryIO | None = None, size: int | None = None) -> None:
        """`handle`: an opened byte source to inflate instead of opening `path` (a RemoteFile's stream)."""
        super().__init__()
        self.path = path
        self.size = (size or 0) if handle is not None else path.stat().st_size  # type: ignore[union-attr]
        self.compressed_pos = 0
        self.pos = 0
        self._piece = memoryview(b"")
        self._queue: queue.Queue = queue.Queue(self.QUEUE)
        self._stop = threading.Event()
        self._error: StreamError | None = None
        self._done = False
        self._handle = handle if handle is not None else path.open("rb")  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._run, name=f"gunzip {path.name}", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        return put_unless_stopped(self._queue, self._stop, item)

    def _run(self) -> None:
        inflater = Inflater(self._handle.read, self.OUT_BLOCK, self.IN_BLOCK)
        try:
            for out in inflater.pieces(self._stop.is_set):
                if not self._put((out, inflater.at)):
                    return
        except Truncated:
            self._put(StreamError("truncated: it ends before the gzip end-of-stream marker", inflater.at, self.size))
        except NotGzip:
            self._put(
                StreamError(
                    "followed by data that is not gzip after the end of its gzip stream", inflater.at, self.size
                )
            )
        except gzip_members.zlib.error as exc:  # type: ignore[misc]
            self._put(
                StreamError(
                    f"corrupt ({exc}) in the compressed bytes up to offset {inflater.block_end:,}",
                    inflater.at,
                    self.size,
                )
            )
        except BaseException as exc:  # noqa: BLE001 - the reader must always get a last item
            self._put(StreamError(f"unreadable ({type(exc).__name__}: {exc})", inflater.at, self.size))
        else:
            self._put(None)

    def readable(self) -> bool:
        return True

    def ready(self) -> bool:
        """Would `readinto` return at once (data, the end or an error waiting)?"""
        return bool(self._piece) or self._done or not self._queue.empty()

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        """Copy decompressed bytes into `b`: waits for the first piece, then takes what is ready."""
        target = memoryview(b).cast("B") if not isinstance(b, memoryview) or b.format != "B" else b
        want, filled = len(target), 0
        while filled < want:
            if not self._piece:
                if self._done:
                    break
                try:
                    item = self._queue.get() if filled == 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._done = True
                    break
                if isinstance(item, StreamError):
                    self._done, self._error = True, item
                    break
                data, self.compressed_pos = item
                self._piece = memoryview(data)
            k = min(len(self._piece), want - filled)
            target[filled : filled + k] = self._piece[:k]
            self._piece = self._piece[k:]
            filled += k
        self.pos += filled
        if filled == 0 and self._error is not None:
            raise self._error
        return filled

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=5)
            self._handle.close()
        super().close()


def _isal_file() -> str:
    import isal

    return isal.__file__  # type: ignore[return-value]


class ProcessGzipStream(io.RawIOBase):
    """A local .gz file inflated by a second PROCESS (isal), for the fast scanner on big files.

    isal_zlib holds the GIL while it inflates, so `GzipStream`'s thread and the scanner take turns on
    one core; a child process overlaps them on two. The child (flows/engines/gzip_members.py `_child`, run by
    `_BOOT`: the same inflating loop as the thread's) reads the file itself and puts each
    inflated piece (SLOT bytes at most) in a slot of a shared-memory ring (a pipe costs ~1 s/GB of kernel
    copies here; the ring, ~0.1 s), announcing it on its stdout with the compressed offset behind it
    (`compressed_pos`, as GzipStream's); the reader frees a slot with one byte on the child's stdin.
    Anything unusual - the child exits non-zero, its end-of-data offset is not the file size - is a
    `StreamError`; the caller (tic_scan.fast_extract) then re-reads the file with `GzipStream`, so
    messages, offsets and partial results are exactly the thread path's. `close` kills the child.
    """

    # 8 x 512 KiB: the ring is counted twice in the process tree's RSS (both processes map it). On the 1 GB benchmark
    # file (2 MiB reads), 8 x 1 MiB cost 8 MB more and scanned slower (0.95 against 1.5 GB/s), 4 x 512 KiB left the child
    # too little slack (best ~1.5 GB/s against ~1.6); 256 KiB slots cost the reader more messages
    SLOTS = 8
    SLOT = 512 * 1024
    _MSG = struct.Struct("<IIQ")
    # the child starts without `site` (-S: 2.4 MB smaller, 10 ms sooner) and finds isal where this process did (that
    # folder after the standard library, so nothing there can stand in for a standard module);
    # importing isal first, it fails loudly (exit 1: the thread path re-reads) rather than inflate with zlib
    _BOOT = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.append(sys.argv[2]); from isal import isal_zlib; "
        "import gzip_members; "
        "sys.exit(gzip_members._child(sys.argv[3], *map(int, sys.argv[4:7])))"
    )

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.size = path.stat().st_size
        self.compressed_pos = 0
        self.pos = 0
        self._piece = memoryview(b"")
        self._msgs = b""
        self._end: int | None = None  # the child's final compressed offset
        shm = Path("/dev/shm")
        self._ring_file = tempfile.TemporaryFile(dir=shm if shm.is_dir() else None)  # noqa: SIM115 - closed by close()
        try:
            self._ring_file.truncate(self.SLOTS * self.SLOT)
            self._ring = mmap.mmap(self._ring_file.fileno(), self.SLOTS * self.SLOT)
            fd = self._ring_file.fileno()
            where = [os.path.dirname(gzip_members.__file__), os.path.dirname(os.path.dirname(_isal_file()))]
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    self._BOOT,
                    *where,
                    str(path),
                    str(fd),
                    str(self.SLOTS),
                    str(self.SLOT),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                pass_fds=(fd,),
            )
        except BaseException:
            self._ring_file.close()
            raise
        self._ring_view = memoryview(self._ring)
        self._out = self._proc.stdout.fileno()  # type: ignore[union-attr]
        self._credit = self._proc.stdin.fileno()  # type: ignore[union-attr]

    def readable(self) -> bool:
        return True

    def ready(self) -> bool:
        """Would `readinto` return at once?"""
        return bool(self._piece) or len(self._msgs) >= 16 or bool(select.select([self._out], [], [], 0)[0])

    def _message(self, wait: bool) -> tuple[int, int, int] | None:
        while len(self._msgs) < 16:
            if not wait and not select.select([self._out], [], [], 0)[0]:
                return None
            got = os.read(self._out, 16 * 64)
            if not got:
                return (0, 0, -1)  # the child ended without its end message
            self._msgs += got
        msg, self._msgs = self._MSG.unpack(self._msgs[:16]), self._msgs[16:]
        return msg  # type: ignore[return-value]

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        """Copy inflated bytes into `b`: waits for the first piece, then takes what is ready."""
        target = memoryview(b).cast("B") if not isinstance(b, memoryview) or b.format != "B" else b
        want, filled = len(target), 0
        while filled < want:
            if not self._piece:
                if self._end is not None:
                    break
                msg = self._message(wait=filled == 0)
                if msg is None:
                    break
                slot, n, at = msg
                if n == 0:
                    self._end = at
                    break
                self._piece = self._ring_view[slot * self.SLOT : slot * self.SLOT + n]
                self.compressed_pos = at
            k = min(len(self._piece), want - filled)
            target[filled : filled + k] = self._piece[:k]
            self._piece = self._piece[k:]
            filled += k
            if not self._piece:
                self._free_slot()
        self.pos += filled
        if filled == 0:
            self._finish()
        return filled

    def _free_slot(self) -> None:
        with contextlib.suppress(BrokenPipeError):  # the child has finished (or died: judged by _finish)
            os.write(self._credit, b"\x01")

    def _finish(self) -> None:
        """The child's output ended: it must have read all of the file and exited 0."""
        code = self._proc.wait()
        if code != 0 or self._end != self.size:
            raise StreamError(
                f"unreadable (the inflating process exited with {code} at compressed byte {self._end})",
                self.compressed_pos,
                self.size,
            )

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        if not self.closed:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc.stdin.close()  # type: ignore[union-attr]
            self._proc.stdout.close()  # type: ignore[union-attr]
            self._piece = memoryview(b"")
            self._ring_view.release()
            self._ring.close()
            self._ring_file.close()
        super().close()


class _ZipStream(io.RawIOBase):
    """The one JSON member of a zip; `compressed_pos` is how far into the member's compressed data."""

    def __init__(self, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
        super().__init__()
        self.archive = archive
        self.member = member
        self.inner = archive.open(member)

    @property
    def compressed_pos(self) -> int:
        left = getattr(self.inner, "_compress_left", None)
        return self.member.compress_size if left is None else self.member.compress_size - left

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        try:
            return self.inner.readinto(b)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise StreamError(f"corrupt ({exc})", self.compressed_pos, self.member.compress_size) from None

    def close(self) -> None:
        if not self.closed:
            self.inner.close()
            self.archive.close()
        super().close()


def open_raw(path: Path | RemoteFile, *, process: bool = False) -> tuple[BinaryIO, str, int]:
    """Open a TiC file for reading decompressed bytes: (stream, container kind, compressed size).

    `process`: a local .gz of at least PROCESS_MIN_BYTES is inflated by a child process
    (`ProcessGzipStream`; the caller must be ready to re-read the file without it on any error).

    A `RemoteFile` (flows/engines/remote.py) is read as its body streams: gzip and plain JSON; a zip
    cannot be (its index is at its end)."""
    if isinstance(path, RemoteFile):
        return _open_remote(path)
    if not path.exists():
        raise FileRejected(path, "file not found", "an existing .json or .json.gz file")
    size = path.stat().st_size
    if size == 0:
        raise FileRejected(path, "file is empty (0 bytes)", "a Transparency-in-Coverage JSON file")
    with path.open("rb") as probe:
        magic = probe.read(4)
    if magic[:2] == b"\x1f\x8b":
        if process and uses_process(path):
            return ProcessGzipStream(path), "gzip", size  # type: ignore[return-value]
        return GzipStream(path), "gzip", size  # type: ignore[return-value]
    if magic == b"PK\x03\x04":
        return _open_zip(path), "zip", size
    return path.open("rb"), "json", size


def uses_process(path: Path | RemoteFile) -> bool:
    """Would `open_raw(path, process=True)` inflate in a child process (a local .gz, big enough)?"""
    if not PROCESS_INFLATE or isinstance(path, RemoteFile) or sys.platform == "win32":
        return False
    try:
        if path.stat().st_size < PROCESS_MIN_BYTES:
            return False
        with path.open("rb") as probe:
            return probe.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _open_remote(remote: RemoteFile) -> tuple[BinaryIO, str, int]:
    stream = remote.open()
    try:
        magic = stream.peek(4)
    except BaseException:
        stream.close()
        raise
    size = remote.size or 0
    if not magic:
        stream.close()
        raise FileRejected(remote, "the server sent an empty body (0 bytes)", "a Transparency-in-Coverage JSON file")
    if magic[:2] == b"\x1f\x8b":
        return GzipStream(remote, stream, size), "gzip", size  # type: ignore[arg-type, return-value]
    if magic == b"PK\x03\x04":
        stream.close()
        raise FileRejected(
            remote,
            "a .zip cannot be read as it streams (its index is at its end)",
            "a .json or .json.gz URL; or ingest the URL with --keep and then the local copy",
        )
    return stream, "json", size  # type: ignore[return-value]


def _open_zip(path: Path) -> BinaryIO:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FileRejected(path, f"not a readable zip archive ({exc})", "a .zip holding one JSON file") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    unsafe = [
        m.filename
        for m in members
        if m.filename.startswith(("/", "\\"))
        or ".." in PurePosixPath(m.filename.replace("\\", "/")).parts
        or ":" in m.filename.split("/")[0]
    ]
    if unsafe:
        archive.close()
        raise FileRejected(
            path,
            f"zip member name {unsafe[0]!r} points outside the archive (path traversal)",
            "a .zip whose member names are plain relative paths (re-download it from the payer)",
        )
    json_members = [m for m in members if m.filename.lower().endswith(".json")] or members
    if len(members) > 1 and not any(m.filename.lower().endswith(".json") for m in members):
        archive.close()
        raise FileRejected(
            path,
            f"zip holds no .json file ({', '.join(m.filename for m in members[:5])})",
            "exactly one JSON file per zip",
        )
    if len(json_members) != 1:
        names = ", ".join(m.filename for m in members[:5]) or "none"
        archive.close()
        raise FileRejected(
            path, f"zip holds {len(json_members)} candidate files ({names})", "exactly one JSON file per zip"
        )
    try:
        return _ZipStream(archive, json_members[0])  # type: ignore[return-value]
    except NotImplementedError as exc:  # e.g. deflate64
        archive.close()
        raise FileRejected(
            path, f"zip compression not supported ({exc})", "a zip using deflate, or a .json.gz"
        ) from None


class Guard:
    """The limits of one file, judged as its decompressed bytes stream past."""

    def __init__(self, path: Path, raw: BinaryIO, kind: str, compressed_size: int, limits: Limits) -> None:
        self.path = path
        self.raw = raw
        self.kind = kind
        self.compressed_size = compressed_size
        self.limits = limits
        self.floor = RATIO_FLOOR if limits.ratio_floor is None else limits.ratio_floor

    def compressed(self) -> int:
        pos = getattr(self.raw, "compressed_pos", None)
        return self.compressed_size if pos is None else pos

    def where(self, uncompressed: int) -> str:
        if self.kind == "json":
            return f"byte offset {uncompressed:,}"
        return (
            f"compressed byte offset {self.compressed():,} of {self.compressed_size:,}, "
            f"uncompressed byte offset {uncompressed:,}"
        )

    def check(self, total: int) -> None:
        """Raise if `total` uncompressed bytes break a limit."""
        limits = self.limits
        if total > limits.max_uncompressed_bytes:
            grows = "decompresses to" if self.kind != "json" else "holds"
            raise FileRejected(
                self.path,
                f"{grows} more than {size_text(limits.max_uncompressed_bytes)} "
                f"({total:,} bytes read so far); refused before reading on",
                "a smaller file, or a higher PAYERBENCH_MAX_UNCOMPRESSED_BYTES if this one is genuine",
                self.where(total),
            )
        if self.kind != "json" and total > self.floor:
            compressed = max(self.compressed(), 1)
            if total > limits.max_expansion * compressed:
                raise FileRejected(
                    self.path,
                    f"decompressed to {total / compressed:,.0f}x the compressed bytes read so far "
                    f"({total:,} bytes from {compressed:,}; limit {limits.max_expansion:g}x); refused as a "
                    "possible decompression bomb",
                    "a real TiC file, or a higher PAYERBENCH_TIC_MAX_EXPANSION if this one is genuine",
                    self.where(total),
                )

    def stream_error(self, exc: StreamError, total: int) -> FileRejected:
        return FileRejected(
            self.path,
            f"the {self.kind} stream is {exc.problem}",
            "a complete file (re-download it)",
            f"the data ends at compressed byte offset {exc.compressed:,} of {exc.size:,}, "
            f"after {total:,} uncompressed bytes",
        )


class GuardedReader(io.RawIOBase):
    """A decompressed stream whose limits are checked on every read (for the ijson paths)."""

    def __init__(self, path: Path, limits: Limits | None = None) -> None:
        super().__init__()
        self.path = path
        self.raw, self.kind, size = open_raw(path)
        self.guard = Guard(path, self.raw, self.kind, size, limits or Limits())
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        try:
            got = self.raw.readinto(b)  # type: ignore[attr-defined]
        except StreamError as exc:
            raise self.guard.stream_error(exc, self.total) from None
        self.total += got or 0
        self.guard.check(self.total)
        return got or 0

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


class Window:
    """The decompressed bytes [base, base + n) of a stream, in one growable buffer.

    The buffer never holds more than `limits.max_item_bytes` plus two chunks: a caller that
    does not let go of its bytes (one huge value, endless blank space) gets a `FileRejected`."""

    def __init__(
        self,
        path: Path,
        raw: BinaryIO,
        compressed_size: int,
        kind: str,
        *,
        chunk: int = CHUNK,
        max_expansion: float | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.path = path
        self.raw = raw
        self.kind = kind
        self.compressed_size = compressed_size
        self.chunk = chunk
        limits = limits or Limits()
        if max_expansion is not None:
            limits = Limits(limits.max_uncompressed_bytes, limits.max_item_bytes, max_expansion, limits.ratio_floor)
        self.limits = limits
        self.max_expansion = limits.max_expansion
        self.guard = Guard(path, raw, kind, compressed_size, limits)
        self.cap = limits.max_item_bytes + 2 * chunk  # most bytes the buffer may hold
        self.buf = bytearray(2 * chunk)
        self.n = 0  # valid bytes in buf
        self.base = 0  # absolute (uncompressed) offset of buf[0]
        self.eof = False
        self.total = 0  # uncompressed bytes read so far
        self.blank_run = 0  # blank bytes (space, tab, CR, LF) at the end of what was read
        self._finder = None  # a StringZilla view of buf (holds a buffer export: drop before resizing)
        self.idle: Callable[[], bool] | None = None  # a unit of other work (True: more left), see fill()

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
            if self.n + self.chunk > self.cap:
                raise self.too_big(self.base)
            self._resizing()
            grow = min(max(self.chunk, len(self.buf)), self.cap - len(self.buf))
            self.buf.extend(bytes(grow))  # grow (doubling up to the cap), keep contents
        if self.idle is not None:  # other work, done while the inflating thread has no data ready
            ready = getattr(self.raw, "ready", None)
            while ready is not None and not ready() and self.idle():
                pass
        start = self.n
        try:
            got = self.raw.readinto(memoryview(self.buf)[start : start + self.chunk])  # type: ignore[attr-defined]
        except StreamError as exc:
            raise self.guard.stream_error(exc, self.total) from None
        except (EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
            raise FileRejected(
                self.path,
                f"the {self.kind} stream is truncated or corrupt ({exc})",
                "a complete file (re-download it)",
                self.guard.where(self.total),
            ) from None
        if not got:
            self.eof = True
            return 0
        self.n += got
        self.total += got
        self.guard.check(self.total)
        last = self._last_not_blank(start, start + got)
        self.blank_run = self.blank_run + got if last < 0 else start + got - 1 - last
        if self.blank_run > self.limits.max_item_bytes:
            raise self.blank_run_too_long(self.total - self.blank_run)
        return got

    def blank_run_too_long(self, start: int) -> FileRejected:
        return FileRejected(
            self.path,
            f"more than {size_text(self.limits.max_item_bytes)} of blank space (spaces, tabs, newlines) "
            f"in a row from uncompressed byte {start:,}; refused as a possible decompression bomb",
            "a real TiC file, or a higher PAYERBENCH_MAX_ITEM_BYTES if this one is genuine",
            self.guard.where(self.total),
        )

    def _last_not_blank(self, lo: int, hi: int) -> int:
        """Index in buf of the last non-blank byte in [lo, hi), or -1."""
        if self.buf[hi - 1] not in BLANK:
            return hi - 1
        finder = self._view()
        if finder is not None:
            return finder.find_last_not_of(_BLANK_TEXT, lo, hi)
        stripped = bytes(self.buf[lo:hi]).rstrip(BLANK)  # pragma: no cover - without StringZilla
        return lo + len(stripped) - 1

    def first_not_blank(self, start: int) -> int:
        """Absolute offset of the first non-blank byte at or after `start` in the buffered bytes, or -1."""
        lo = max(start - self.base, 0)
        if lo >= self.n:
            return -1
        if self.buf[lo] not in BLANK:
            return self.base + lo
        finder = self._view()
        if finder is not None:
            i = finder.find_first_not_of(_BLANK_TEXT, lo, self.n)
        else:  # pragma: no cover - without StringZilla
            m = _NOT_BLANK.search(self.buf, lo, self.n)
            i = m.start() if m else -1
        return -1 if i < 0 else self.base + i

    def too_big(self, start: int) -> FileRejected:
        """The value (or blank space) starting at `start` passes the item limit."""
        return FileRejected(
            self.path,
            f"one JSON value (an item the scan must keep, a header value or blank space) from uncompressed "
            f"byte {start:,} is larger than {size_text(self.limits.max_item_bytes)}; refused rather than held in memory",
            "a real TiC file, or a higher PAYERBENCH_MAX_ITEM_BYTES if this one is genuine",
            self.guard.where(self.total),
        )

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
        """Close the stream (a child process ends, its ring is unmapped) and let the buffer go."""
        self._resizing()
        self.raw.close()
        self.buf, self.n = bytearray(), 0


def open_window(
    path: Path,
    *,
    chunk: int = CHUNK,
    max_expansion: float | None = None,
    limits: Limits | None = None,
    process: bool = False,
) -> Window:
    """A Window over the decompressed content of `path` (`process`: see open_raw)."""
    raw, kind, size = open_raw(path, process=process)
    return Window(path, raw, size, kind, chunk=chunk, max_expansion=max_expansion, limits=limits)
