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
- Files still being written are left for the next landing: partial names (`.part`, `.crdownload`,
  ...), files modified in the last `settle_seconds`, and files whose size or mtime changes while
  they are hashed.
- Only regular files land, and never through a symbolic link: a link (to a file, to a folder,
  relative, absolute or broken) is refused and stays in the inbox with the reason, unless it points
  into a folder of `PAYERBENCH_INBOX_ALLOW_LINKS_FROM`; then the file's bytes are copied (the link
  itself never lands). Files are read through a descriptor opened with O_NOFOLLOW and checked to be
  the file inspected, so a name swapped for a link between the check and the move does not land.
  Pipes and devices are refused; so are names `raw/` should not hold (hidden, `..name`, see
  `names.refusal`) once they have settled, so nothing dropped goes unmentioned.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import logging
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flows.settings import Settings
from flows.sources.base import Source
from flows.steps import names
from flows.steps.load import HASH_CHUNK, FileIdentity, FileReplaced, file_digest, open_regular
from flows.steps.names import safe_name

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["landed_at", "original_name", "inbox_path", "sha256", "bytes", "source", "target_path", "note"]
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".filepart")
IGNORED_NAMES = {"readme.md", "readme.txt", ".ds_store", "thumbs.db", "desktop.ini"}


@dataclass
class Landing:
    """What happened to one file found in the inbox."""

    inbox_path: str  # relative to the inbox
    status: str  # landed | duplicate | left | waiting | refused
    source: str | None = None
    target_path: str | None = None  # relative to raw/
    sha256: str | None = None
    bytes: int | None = None
    message: str = ""

    @property
    def needs_attention(self) -> bool:
        """A file a person has to deal with (not one that is merely still arriving)."""
        return self.status in ("left", "refused")


@dataclass
class _Entry:
    """One inbox file to inspect: its bytes are read from `read_from` (the file itself, or the target
    of a link into an allowed folder), and must stay the file (`identity`) that was inspected."""

    path: Path
    read_from: Path
    landing: Landing
    identity: FileIdentity | None = None

    @property
    def is_link(self) -> bool:
        return self.read_from != self.path


LINK_ADVICE = "copy the file itself into the inbox"


def _link_refusal(path: Path, allowed: tuple[Path, ...]) -> tuple[str | None, Path | None]:
    """(why a symbolic link is refused, None) or (None, the file it points to in an allowed folder)."""
    target = Path(os.path.realpath(path))
    try:
        written = os.readlink(path)
    except OSError:
        written = str(target)
    if not target.exists():
        return f"symbolic link to {written}, which does not exist (a broken link); {LINK_ADVICE}", None
    if target.is_dir():
        return f"symbolic link to a folder ({target}); copy the folder itself into the inbox", None
    if not any(target.is_relative_to(folder) for folder in allowed):
        hint = "" if allowed else " (or allow links into its folder with PAYERBENCH_INBOX_ALLOW_LINKS_FROM)"
        return f"symbolic link to {target}; {LINK_ADVICE}{hint}", None
    if not target.is_file():
        return f"symbolic link to {target}, which is not a regular file; {LINK_ADVICE}", None
    return None, target


def _settled(path: Path, settle_seconds: float, now: dt.datetime) -> bool:
    return now.timestamp() - os.lstat(path).st_mtime >= settle_seconds


def scan(
    inbox: Path, settle_seconds: float = 0.0, now: dt.datetime | None = None, allowed: tuple[Path, ...] = ()
) -> tuple[list[_Entry], list[Landing]]:
    """Every inbox entry, without following a link: the files worth inspecting, and the refusals
    (links, pipes and devices, refused names). Partial downloads and OS clutter are skipped; a
    refused name still being written (e.g. rsync's hidden temporary file) waits for the next run."""
    now = now or dt.datetime.now(dt.UTC)
    entries: list[_Entry] = []
    refused: list[Landing] = []
    if not inbox.is_dir():
        return entries, refused

    def refuse(path: Path, message: str, folder: bool = False) -> None:
        relative = path.relative_to(inbox).as_posix() + ("/" if folder else "")
        refused.append(Landing(relative, "refused", message=message))

    def walk(folder: Path) -> None:
        try:
            with os.scandir(folder) as listing:
                found = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            if folder == inbox:
                raise
            refuse(folder, f"the folder cannot be listed ({exc.strerror}); its files are not looked at", folder=True)
            return
        for entry in found:
            path, lowered = Path(entry.path), entry.name.lower()
            if lowered in IGNORED_NAMES or entry.name.startswith("~$") or lowered.endswith(PARTIAL_SUFFIXES):
                continue
            if entry.is_symlink():
                why, target = _link_refusal(path, allowed)
                if why:
                    refuse(path, why)
                else:
                    relative = path.relative_to(inbox).as_posix()
                    entries.append(_Entry(path, target, Landing(relative, "left")))  # type: ignore[arg-type]
                continue
            why = names.refusal(entry.name)
            is_dir = entry.is_dir(follow_symlinks=False)
            if why:
                if _settled(path, settle_seconds, now):
                    refuse(
                        path,
                        f"{why}; {'its files are not looked at' if is_dir else 'it stays in the inbox'}",
                        folder=is_dir,
                    )
            elif is_dir:
                walk(path)
            elif entry.is_file(follow_symlinks=False):
                entries.append(_Entry(path, path, Landing(path.relative_to(inbox).as_posix(), "left")))
            else:
                refuse(path, "not a regular file (a pipe, socket or device); only files land: remove it")

    walk(inbox)
    return entries, refused


def candidates(inbox: Path) -> list[Path]:
    """Regular files in the inbox worth looking at (links, hidden, partial and OS clutter skipped)."""
    return [entry.path for entry in scan(inbox)[0]]


def claims(path: Path, sources: Iterable[Source]) -> list[str]:
    """Sources whose detector recognises the file's content (a detector that errors does not claim it)."""
    names_ = []
    for source in sources:
        if source.detect is None:
            continue
        try:
            if source.detect(path):
                names_.append(source.name)
        except Exception as exc:  # noqa: BLE001 - one adapter's detector must not stop the landing
            log.warning(
                "%s: the %s detector failed (%s: %s); treated as not recognised",
                safe_name(path.name),
                source.name,
                type(exc).__name__,
                safe_name(exc),
            )
    return names_


def _stamp(path: Path) -> tuple[int, int, int, int]:
    info = os.lstat(path)
    return info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino


def inspect(path: Path, inbox: Path, sources: Sequence[Source], settle_seconds: float, now: dt.datetime) -> Landing:
    """Identify one inbox file: its source (by content), sha256 and size; or why it must stay."""
    entry = _Entry(path, path, Landing(path.relative_to(inbox).as_posix(), "left"))
    _inspect(entry, sources, settle_seconds, now)
    return entry.landing


def _inspect(entry: _Entry, sources: Sequence[Source], settle_seconds: float, now: dt.datetime) -> None:
    landing, path = entry.landing, entry.read_from
    age = now.timestamp() - os.lstat(path).st_mtime
    if age < settle_seconds:
        landing.status = "waiting"
        landing.message = (
            f"modified {age:.0f} s ago (still being written?); it lands once unchanged for {settle_seconds:.0f} s"
        )
        return
    before = _stamp(path)
    try:
        sha, size = file_digest(path, identity=before[2:])
    except FileReplaced as exc:
        landing.status, landing.message = "refused", f"{exc.strerror} (replaced while it was read); {LINK_ADVICE}"
        return
    if _stamp(path) != before:
        landing.status = "waiting"
        landing.message = "changed while it was read (still being written?); it lands on a later run"
        return
    entry.identity = before[2:]
    found = claims(path, sources)
    landing.sha256, landing.bytes = sha, size
    if not found:
        landing.message = (
            "no source recognises its content (`payerbench sources` lists them); if it is one of "
            "them, check it is the publisher's file as downloaded (unzipped where the source says "
            "so), or move it into raw/<source>/ yourself; otherwise delete it"
        )
    elif len(found) > 1:
        landing.message = (
            f"its content matches more than one source ({', '.join(found)}); move it into the right "
            f"raw/<source>/ folder yourself"
        )
    elif all(s.is_reference for s in sources if s.name in found):
        landing.source = found[0]
        landing.message = (
            "a reference table: edit raw/reference/ in place (it is configuration under version "
            "control), then run again"
        )
    else:
        landing.source = found[0]
        landing.status = "landed"  # provisional: `land` decides where


def land(
    settings: Settings,
    inbox: Path,
    sources: Sequence[Source],
    *,
    settle_seconds: float = 10.0,
    now: dt.datetime | None = None,
    move: Callable[..., None] | None = None,
) -> list[Landing]:
    """Move every recognisable file of the inbox into its source's raw folder (see the module doc);
    `sources` are the sources whose detectors tell a file's source (the caller's catalog)."""
    now = now or dt.datetime.now(dt.UTC)
    move = move or move_file
    found, refused = scan(inbox, settle_seconds, now, settings.inbox_allow_links_from)
    for entry in found:
        _inspect(entry, sources, settle_seconds, now)
    # A drop is one top-level inbox entry (a file, or a folder) and one source: it lands as a unit.
    drops: dict[tuple[str, str], list[_Entry]] = {}
    for entry in found:
        if entry.landing.status == "landed":
            top = Path(entry.landing.inbox_path).parts[0]
            drops.setdefault((entry.landing.source or "", top), []).append(entry)
    for (source, _), members in drops.items():
        folder = settings.source_dir(source)
        taken = any(_occupied(folder / entry.landing.inbox_path, entry.landing.sha256) for entry in members)
        base = folder / f"landed-{now:%Y%m%dT%H%M%SZ}" if taken else folder
        if taken and base.exists():
            base = folder / f"landed-{now:%Y%m%dT%H%M%SZ}-{members[0].landing.sha256[:8]}"  # type: ignore[index]
        for entry in members:
            landing = entry.landing
            target = base / landing.inbox_path
            landing.target_path = target.relative_to(settings.raw_dir).as_posix()
            if _occupied(target, landing.sha256) is False:  # the same bytes are already there
                entry.path.unlink()
                landing.status = "duplicate"
                landing.message = "identical to the file already there; removed from the inbox"
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if entry.is_link:  # the linked file's bytes, never the link; then the link leaves the inbox
                        copy_file(entry.read_from, target, entry.identity)
                        entry.path.unlink()
                    else:
                        move(entry.path, target, entry.identity)
                except FileReplaced as exc:
                    landing.status, landing.target_path = "refused", None
                    landing.message = f"{exc.strerror} (replaced while it was landed); {LINK_ADVICE}"
                    continue  # nothing landed: no manifest row
                landing.message = (
                    f"landed beside an earlier file of the same name: {base.relative_to(settings.raw_dir).as_posix()}/"
                    if taken
                    else "landed"
                )
                if entry.is_link:
                    landing.message += f" (copied from {entry.read_from}, which the link pointed to)"
            _append_manifest(folder / MANIFEST, landing, now)
    _remove_empty_folders(inbox)
    return sorted([entry.landing for entry in found] + refused, key=lambda item: item.inbox_path)


def _occupied(target: Path, sha256: str | None) -> bool | None:
    """None: free. False: holds the same bytes. True: holds different bytes (or a link, or a folder)."""
    if not os.path.lexists(target):
        return None
    if target.is_symlink() or not target.is_file():
        return True
    return file_digest(target)[0] != sha256


def move_file(source: Path, target: Path, identity: FileIdentity | None = None) -> None:
    """Move without ever replacing an existing file (a hard link fails if the name is taken); with
    `identity`, only the very file inspected moves (not a link or file swapped in under its name)."""
    try:
        # the name itself: a link swapped in stays a link (and is caught below) instead of leading elsewhere
        os.link(source, target, follow_symlinks=os.link not in os.supports_follow_symlinks)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        copy_file(source, target, identity)  # another file system (or one without hard links)
    else:
        info = os.lstat(target)
        if not stat.S_ISREG(info.st_mode) or (identity is not None and (info.st_dev, info.st_ino) != identity):
            target.unlink()
            raise FileReplaced(errno.EINVAL, "a symbolic link or another file", str(source))
    source.unlink()


def copy_file(source: Path, target: Path, identity: FileIdentity | None = None) -> None:
    """Copy a regular file's bytes (read through O_NOFOLLOW, checked to be `identity`) to a new name
    beside the target, then claim the target name without replacing anything there."""
    partial = target.with_name(f".{target.name}.landing-{os.getpid()}")
    with os.fdopen(open_regular(source, identity), "rb") as reader, partial.open("xb") as writer:
        shutil.copyfileobj(reader, writer, HASH_CHUNK)
    try:
        os.link(partial, target)  # fails (EEXIST) rather than replace a file that appeared meanwhile
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "already exists", str(target)) from None
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _append_manifest(manifest: Path, landing: Landing, now: dt.datetime) -> None:
    new = not manifest.exists()
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with manifest.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(MANIFEST_COLUMNS)
        writer.writerow(
            [
                now.isoformat(timespec="seconds"),
                Path(landing.inbox_path).name,
                landing.inbox_path,
                landing.sha256,
                landing.bytes,
                landing.source,
                landing.target_path,
                landing.message,
            ]
        )


def _remove_empty_folders(inbox: Path) -> None:
    if not inbox.is_dir():
        return
    for folder in sorted((p for p in inbox.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty
