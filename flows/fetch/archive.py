"""Zips from the internet, opened safely: no entry outside its folder, no zip bomb, nested zips walked.

`check_zip` reads only the central directories (of the zip and, extracted to a scratch file one at a time,
of each zip inside it) and refuses the archive when an entry name could escape the folder it is unpacked
into (absolute, `..`, a drive letter, a backslash path), when the uncompressed total passes `max_bytes`,
or when an entry inflates more than `max_ratio` times (a zip bomb). `extract_member` streams one member
to `<dest>.part` with its sha256 and a byte limit, then renames it into place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flows.errors import PayerbenchError

MAX_RATIO = 200  # CSV tables compress ~10-30x; 200x is a bomb
MAX_DEPTH = 2  # CMS nests one zip in another (current_article.zip > current_article_csv.zip)
CHUNK = 1024 * 1024


class UnsafeArchive(PayerbenchError):
    """The zip is refused: the message names it, the entry and the rule."""


@dataclass(frozen=True)
class ZipEntry:
    chain: str  # "current_article_csv.zip > article.csv" (a member of a nested zip), or "GPCI2026.csv"
    name: str
    size: int  # uncompressed
    compressed: int


def _safe_name(archive: str, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"{archive}: entry {name!r} would be unpacked outside its folder (zip-slip); refused")


def check_zip(
    path: Path, *, max_bytes: int, max_ratio: float = MAX_RATIO, max_depth: int = MAX_DEPTH
) -> list[ZipEntry]:
    """Every entry (nested zips walked), or UnsafeArchive naming the first rule broken."""
    entries: list[ZipEntry] = []
    total = [0]

    def walk(archive: zipfile.ZipFile, label: str, depth: int) -> None:
        for info in archive.infolist():
            _safe_name(label, info.filename)
            if info.is_dir():
                continue
            chain = f"{label} > {info.filename}" if depth else info.filename
            total[0] += info.file_size
            if total[0] > max_bytes:
                raise UnsafeArchive(f"{path.name}: unpacks to more than {max_bytes:,} bytes (at {chain}); refused")
            if info.compress_size and info.file_size / info.compress_size > max_ratio:
                raise UnsafeArchive(
                    f"{path.name}: {chain} inflates {info.file_size / info.compress_size:,.0f} times (more than "
                    f"{max_ratio:g}: a zip bomb); refused"
                )
            entries.append(ZipEntry(chain, info.filename, info.file_size, info.compress_size))
            if info.filename.lower().endswith(".zip"):
                if depth + 1 > max_depth:
                    raise UnsafeArchive(f"{path.name}: zips nested more than {max_depth} deep (at {chain}); refused")
                with tempfile.TemporaryDirectory() as scratch:
                    inner = Path(scratch) / "inner.zip"
                    _copy_limited(archive, info, inner, max_bytes)
                    try:
                        with zipfile.ZipFile(inner) as nested:
                            walk(nested, chain, depth + 1)
                    except zipfile.BadZipFile as exc:
                        raise UnsafeArchive(f"{path.name}: {chain} is not a readable zip ({exc})") from exc

    try:
        with zipfile.ZipFile(path) as archive:
            walk(archive, path.name, 0)
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(f"{path.name}: not a readable zip ({exc})") from exc
    return entries


def _copy_limited(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, limit: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    written = 0
    with archive.open(info) as src, dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > limit or written > info.file_size:  # the header lied about the size
                raise UnsafeArchive(f"{info.filename}: inflates past its declared {info.file_size:,} bytes; refused")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), written


def extract_member(path: Path, member: str, dest: Path, *, max_bytes: int) -> tuple[str, int]:
    """Member `member` of the zip at `path` -> `dest` (via `dest.part`, renamed into place): (sha256, bytes)."""
    _safe_name(path.name, member)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with zipfile.ZipFile(path) as archive:
            sha, size = _copy_limited(archive, archive.getinfo(member), part, max_bytes)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return sha, size
