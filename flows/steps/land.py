"""Landing: move files dropped in the inbox into raw/<source>/, the source told by each file's content.

An analyst or a download job drops files (or whole folders: a CMS bundle `RVU26A/`, an MCD export
of CSV tables) into the inbox (`PAYERBENCH_INBOX_DIR`). Each file is offered to every source's
`detect` (content only: headers, JSON keys, magic bytes; never the name), and moved to
`raw/<source>/<its path under the inbox>` with a row in `raw/<source>/manifest.csv`: when it landed,
its original name and inbox path, sha256, bytes, source and where it went.

Rules:
- A file no source recognises, or that more than one source claims, stays in the inbox with a
  message saying why and what to do. So does a reference table (they are configuration, edited in
  place in raw/reference/ under version control).
- Names and folders are kept: CMS files carry their release in their name or bundle folder, and an
  MCD table is read with its sibling tables. A landed file never overwrites another: when a path
  is taken by different content, the whole drop (all files of that top-level inbox entry for that
  source) goes under `raw/<source>/landed-<time>/` instead, so sibling tables stay together. A file
  identical to the one already at its path is removed from the inbox and noted as a duplicate.
- Files still being written are left for the next landing: hidden and partial names (`.part`,
  `.crdownload`, ...), files modified in the last `settle_seconds`, and files whose size or mtime
  changes while they are hashed.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flows.settings import Settings
from flows.sources import registry
from flows.steps.load import file_digest

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["landed_at", "original_name", "inbox_path", "sha256", "bytes", "source", "target_path", "note"]
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".filepart")
IGNORED_NAMES = {"readme.md", "readme.txt", ".ds_store", "thumbs.db", "desktop.ini"}


@dataclass
class Landing:
    """What happened to one file found in the inbox."""

    inbox_path: str  # relative to the inbox
    status: str  # landed | duplicate | left | waiting
    source: str | None = None
    target_path: str | None = None  # relative to raw/
    sha256: str | None = None
    bytes: int | None = None
    message: str = ""

    @property
    def needs_attention(self) -> bool:
        """A file a person has to deal with (not one that is merely still arriving)."""
        return self.status == "left"


def candidates(inbox: Path) -> list[Path]:
    """Files in the inbox worth looking at (hidden, partial and OS clutter skipped)."""
    if not inbox.is_dir():
        return []
    found = []
    for path in sorted(inbox.rglob("*")):
        relative = path.relative_to(inbox)
        if not path.is_file() or any(part.startswith((".", "~$")) for part in relative.parts):
            continue
        if path.name.lower() in IGNORED_NAMES or path.name.lower().endswith(PARTIAL_SUFFIXES):
            continue
        found.append(path)
    return found


def claims(path: Path) -> list[str]:
    """Sources whose detector recognises the file's content (a detector that errors does not claim it)."""
    names = []
    for source in registry.SOURCES.values():
        if source.detect is None:
            continue
        try:
            if source.detect(path):
                names.append(source.name)
        except Exception as exc:  # noqa: BLE001 - one adapter's detector must not stop the landing
            log.warning("%s: the %s detector failed (%s: %s); treated as not recognised", path.name, source.name,
                        type(exc).__name__, exc)
    return names


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def inspect(path: Path, inbox: Path, settle_seconds: float, now: dt.datetime) -> Landing:
    """Identify one inbox file: its source (by content), sha256 and size; or why it must stay."""
    relative = path.relative_to(inbox).as_posix()
    age = now.timestamp() - path.stat().st_mtime
    if age < settle_seconds:
        return Landing(relative, "waiting", message=f"modified {age:.0f} s ago (still being written?); "
                                                    f"it lands once unchanged for {settle_seconds:.0f} s")
    before = _stamp(path)
    sha, size = file_digest(path)
    if _stamp(path) != before:
        return Landing(relative, "waiting", message="changed while it was read (still being written?); "
                                                    "it lands on a later run")
    found = claims(path)
    landing = Landing(relative, "left", sha256=sha, bytes=size)
    if not found:
        landing.message = ("no source recognises its content (`payerbench sources` lists them); if it is one of "
                           "them, check it is the publisher's file as downloaded (unzipped where the source says "
                           "so), or move it into raw/<source>/ yourself; otherwise delete it")
    elif len(found) > 1:
        landing.message = (f"its content matches more than one source ({', '.join(found)}); move it into the right "
                           f"raw/<source>/ folder yourself")
    elif found == ["reference"]:
        landing.source = "reference"
        landing.message = ("a reference table: edit raw/reference/ in place (it is configuration under version "
                           "control), then run again")
    else:
        landing.source = found[0]
        landing.status = "landed"  # provisional: `land` decides where
    return landing


def land(settings: Settings, inbox: Path, *, settle_seconds: float = 10.0, now: dt.datetime | None = None,
         move: Callable[[Path, Path], None] | None = None) -> list[Landing]:
    """Move every recognisable file of the inbox into its source's raw folder (see the module doc)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    move = move or move_file
    found = [(path, inspect(path, inbox, settle_seconds, now)) for path in candidates(inbox)]
    # A drop is one top-level inbox entry (a file, or a folder) and one source: it lands as a unit.
    drops: dict[tuple[str, str], list[tuple[Path, Landing]]] = {}
    for path, landing in found:
        if landing.status == "landed":
            top = Path(landing.inbox_path).parts[0]
            drops.setdefault((landing.source or "", top), []).append((path, landing))
    for (source, _), members in drops.items():
        folder = settings.source_dir(source)
        taken = any(_occupied(folder / landing.inbox_path, landing.sha256) for _, landing in members)
        base = folder / f"landed-{now:%Y%m%dT%H%M%SZ}" if taken else folder
        if taken and base.exists():
            base = folder / f"landed-{now:%Y%m%dT%H%M%SZ}-{members[0][1].sha256[:8]}"  # type: ignore[index]
        for path, landing in members:
            target = base / landing.inbox_path
            landing.target_path = target.relative_to(settings.raw_dir).as_posix()
            if _occupied(target, landing.sha256) is False:  # the same bytes are already there
                path.unlink()
                landing.status = "duplicate"
                landing.message = "identical to the file already there; removed from the inbox"
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                move(path, target)
                landing.message = ("landed beside an earlier file of the same name: "
                                   f"{base.relative_to(settings.raw_dir).as_posix()}/" if taken else "landed")
            _append_manifest(folder / MANIFEST, landing, now)
    _remove_empty_folders(inbox)
    return [landing for _, landing in found]


def _occupied(target: Path, sha256: str | None) -> bool | None:
    """None: free. False: holds the same bytes. True: holds different bytes."""
    if not target.exists():
        return None
    return file_digest(target)[0] != sha256


def move_file(source: Path, target: Path) -> None:
    """Move without ever replacing an existing file (a hard link fails if the name is taken)."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # another file system (or one without hard links): copy beside the target, then claim the name
        partial = target.with_name(f".{target.name}.landing-{os.getpid()}")
        shutil.copyfile(source, partial)
        try:
            if target.exists():
                raise FileExistsError(errno.EEXIST, "already exists", str(target))
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    source.unlink()


def _append_manifest(manifest: Path, landing: Landing, now: dt.datetime) -> None:
    new = not manifest.exists()
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with manifest.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(MANIFEST_COLUMNS)
        writer.writerow([now.isoformat(timespec="seconds"), Path(landing.inbox_path).name, landing.inbox_path,
                         landing.sha256, landing.bytes, landing.source, landing.target_path, landing.message])


def _remove_empty_folders(inbox: Path) -> None:
    if not inbox.is_dir():
        return
    for folder in sorted((p for p in inbox.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            pass
