"""Where the lake lives: a local folder (the default) or an object store (`PAYERBENCH_LAKE_URL`).

`lake_root(settings)` is what the loader, the load log and the warehouse build write to and read
from: `settings.lake_dir` (a `Path`) when `settings.lake_url` is unset, else an `ObjectPath` at that
URL. An `ObjectPath` is the small part of `pathlib.Path` those modules use (`/`, `name`, `parent`,
`exists`, `is_dir`, `iterdir`, `glob("*.x")`, `read_text`, `stat().st_mtime`, `unlink`), over a
`pyarrow.fs` filesystem, so the code that lists, reads and checks the lake is the same for both;
only writes and deletes differ (`store.write_table_atomic`, `store.remove_tree`, ...).

Why pyarrow.fs and not fsspec/s3fs: pyarrow is already a dependency and writes every Parquet part,
its S3FileSystem is maintained with Arrow (C++ AWS SDK, multipart uploads, retries), reads the
standard AWS_* variables (AWS_ENDPOINT_URL for an S3-compatible server such as MinIO or moto,
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_REGION) and takes the same overrides in the URL
(`s3://bucket/prefix?endpoint_override=host:9000&scheme=http`). `FileSystem.from_uri` also accepts
gs://, hdfs:// and file:// URLs (the last gives the object-store code path over a local folder).
s3fs would add aiobotocore and its pinned botocore to the runtime for nothing pyarrow lacks here.

The commit rule on object storage (no rename there): a load writes its parts directly under their
load id (`<dataset>/<load_id>/part-*.parquet`), which no reader looks at because readers list
parts only for load ids the load log commits; then it writes its load-log row, one object (one PUT:
an object appears whole or not at all). The load-log pointer (`_load_log/CURRENT`) is likewise one
small object replaced by one PUT. S3 has read-after-write consistency for PUTs and listings.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flows.errors import ConfigurationError
from flows.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.fs as pafs
else:

    class _ArrowFs:
        """`pyarrow.fs`, imported on first use: a local lake never needs it, and flows/lean_build.py's process
        never maps Arrow."""

        def __getattr__(self, name: str) -> Any:
            import pyarrow.fs

            return getattr(pyarrow.fs, name)

    pafs = _ArrowFs()


def _filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    return _made_filesystem(_with_endpoint(url, os.environ), os.environ.get("AWS_ENDPOINT_URL"))


def _with_endpoint(url: str, env: Mapping[str, str]) -> str:
    """An s3:// URL with the endpoint and region of AWS_ENDPOINT_URL / AWS_REGION spelled out in its query,
    unless it names them itself. pyarrow would otherwise ask AWS for the bucket's region (a request to
    amazonaws.com, which an S3-compatible server elsewhere does not answer), and the AWS SDK reads the
    variables only once per process."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme != "s3":
        return url
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint and "endpoint_override" not in query:
        where = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        query["endpoint_override"] = where.netloc
        query.setdefault("scheme", where.scheme or "https")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ("us-east-1" if endpoint else None)
    if region and "region" not in query:
        query["region"] = region
    return urlunsplit(parts._replace(query=urlencode(query)))


@functools.lru_cache(maxsize=8)
def _made_filesystem(url: str, endpoint: str | None) -> tuple[pafs.FileSystem, str]:
    try:
        fs, root = pafs.FileSystem.from_uri(url)
    except (ValueError, OSError) as exc:  # pyarrow.lib.ArrowInvalid is a ValueError
        raise ConfigurationError(
            f"PAYERBENCH_LAKE_URL={url!r} is not a filesystem URL pyarrow can open ({exc}); expected "
            "e.g. s3://bucket/prefix (endpoint from AWS_ENDPOINT_URL or ?endpoint_override=host:port&scheme=http)"
        ) from None
    return fs, root.rstrip("/")


@dataclass(frozen=True)
class Stat:
    st_mtime: float
    st_size: int


class ObjectPath:
    """A path in a pyarrow filesystem (an object store), with the `Path` methods the lake code uses."""

    __slots__ = ("fs", "path", "scheme", "_type")

    def __init__(self, fs: pafs.FileSystem, path: str, scheme: str, type_: pafs.FileType | None = None) -> None:
        self.fs, self.path, self.scheme, self._type = fs, path.rstrip("/"), scheme, type_

    # --- names -------------------------------------------------------------------------------
    def __truediv__(self, other: str | Path) -> ObjectPath:
        return ObjectPath(self.fs, f"{self.path}/{other}", self.scheme)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.path}" if self.scheme else self.path

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and (self.path, self.scheme) == (other.path, other.scheme)

    def __hash__(self) -> int:
        return hash((self.path, self.scheme))

    def __lt__(self, other: ObjectPath) -> bool:
        return self.path < other.path

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> ObjectPath:
        return ObjectPath(self.fs, self.path.rsplit("/", 1)[0], self.scheme)

    def with_name(self, name: str) -> ObjectPath:
        return self.parent / name

    # --- looking -----------------------------------------------------------------------------
    def _info_type(self) -> pafs.FileType:
        if self._type is None:
            return self.fs.get_file_info(self.path).type
        return self._type

    def exists(self) -> bool:
        return self._info_type() != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self._info_type() == pafs.FileType.Directory

    def is_file(self) -> bool:
        return self._info_type() == pafs.FileType.File

    def iterdir(self) -> list[ObjectPath]:
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        return [ObjectPath(self.fs, i.path, self.scheme, i.type) for i in self.fs.get_file_info(selector)]

    def glob(self, pattern: str) -> list[ObjectPath]:
        """Files directly in this folder whose names match `pattern` (one level only, as the lake needs)."""
        if "/" in pattern or "**" in pattern:
            raise ValueError(f"ObjectPath.glob takes a one-level pattern, not {pattern!r}")
        return [p for p in self.iterdir() if p._type == pafs.FileType.File and fnmatch.fnmatchcase(p.name, pattern)]

    def stat(self) -> Stat:
        info = self.fs.get_file_info(self.path)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(2, "no such object", str(self))
        return Stat(info.mtime.timestamp() if info.mtime else 0.0, info.size or 0)

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as stream:  # FileNotFoundError when absent
            return stream.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    # --- changing (one object each: a PUT is atomic) -----------------------------------------
    def write_bytes(self, data: bytes) -> None:
        with self.fs.open_output_stream(self.path) as stream:
            stream.write(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: an object store has no folders to make."""

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def remove_tree(self) -> None:
        """Delete everything under this prefix (and the prefix itself)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.path)


LakePath = Path | ObjectPath
"""A place in the lake: a local path, or one in an object store."""

QUARANTINE = "_quarantine"
ADVISORY = "_advisory"
LOAD_LOG = "_load_log"
"""The lake's system folders: quarantined rows, advisories, the load log (here, where nothing imports Arrow, so
the warehouse build and the load log name them without flows/steps/store.py)."""


def write_file_atomic(dest: LakePath, data: str | bytes) -> None:
    """Write a file (a report, a state file) under a temporary name beside it and rename it into
    place: a reader sees the old file or the new one, never part of one, and a crash leaves the old.
    (In an object store: one PUT, which has the same property.)"""
    if isinstance(dest, ObjectPath):
        dest.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def lake_root(settings: Settings) -> LakePath:
    """The lake the loader writes and the build reads: `settings.lake_dir`, or `settings.lake_url`."""
    if not settings.lake_url:
        return settings.lake_dir
    fs, root = _filesystem(settings.lake_url)
    scheme = urlsplit(settings.lake_url).scheme
    return ObjectPath(fs, root, scheme)


def is_remote(path: object) -> bool:
    return isinstance(path, ObjectPath)
