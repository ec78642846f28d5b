"""The one loader: adapter batches -> schema validation -> Parquet parts + quarantine + load log.

Every source goes through `load_file`. It never knows a source's format; it only knows that an
adapter yields batches for datasets whose schemas are registered.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow

from flows.engines.remote import RemoteFile, RestartNeeded, url_path
from flows.settings import Settings
from flows.sources.base import RECORD_COLUMN, Batch, FileRejected, ReadContext, Source
from flows.steps import load_log
from flows.steps.lake import LakePath, lake_root
from flows.steps.load_log import LoadRecord, new_run_id, now_utc  # noqa: F401 - new_run_id: callers' name for it
from flows.steps.names import safe_name
from flows.steps.payer_directory import PayerDirectory
from flows.steps.progress import FileProgress
from flows.steps.store import ADVISORY, FINDING_SCHEMA, QUARANTINE, LoadWriter, frame_to_table
from flows.steps.validate import DatasetValidator
from schemas.fields import OTHER_PAYER_GROUP

log = logging.getLogger(__name__)

LINEAGE_FIELDS = [
    pa_arrow.field("source_file", pa_arrow.string()),
    pa_arrow.field("source_sha256", pa_arrow.string()),
    pa_arrow.field("source_record", pa_arrow.string()),
    pa_arrow.field("load_id", pa_arrow.string()),
    pa_arrow.field("run_id", pa_arrow.string()),
    pa_arrow.field("loaded_at", pa_arrow.timestamp("us", tz="UTC")),
]
"""Lineage carried by every loaded row: which file (name and sha256), where in it, which run."""


HASH_CHUNK = 4 * 1024 * 1024
LEVEL_SLICE_ROWS = 5_000
"""Rows of a batch held as levels taken and written at a time (`_load_levels`): a slice's table and the Parquet
writer's buffers for it are the load's largest transient (10,000 rows: ~8 MB of table, ~17 MB of malloc in all
while written); 5,000 took 11 MB off the 1 GB TiC load's peak RSS at the same CPU, 2,500 nothing more."""


FileIdentity = tuple[int, int]
"""(st_dev, st_ino): which file a name pointed to when it was looked at."""


class FileReplaced(OSError):
    """The name no longer leads to the regular file that was looked at (swapped for a link or another file)."""


def open_regular(path: Path, identity: FileIdentity | None = None) -> int:
    """A read-only descriptor of the regular file at `path`, never through a symbolic link as its last
    name component (O_NOFOLLOW) and never a pipe or device; with `identity`, only that very file.
    Checking the opened descriptor (fstat), not the name, closes the swap-after-check race."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileReplaced(errno.ELOOP, "is a symbolic link, not a file", str(path)) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or (identity is not None and (info.st_dev, info.st_ino) != identity):
        os.close(fd)
        what = "not a regular file" if not stat.S_ISREG(info.st_mode) else "replaced by another file"
        raise FileReplaced(errno.EINVAL, what, str(path))
    return fd


def file_digest(path: Path, identity: FileIdentity | None = None) -> tuple[str, int]:
    """sha256 hex digest and size of a regular file (see `open_regular`), read in 4 MB chunks."""
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(open_regular(path, identity), "rb") as handle:
        while block := handle.read(HASH_CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def dataset_arrow_schema(model: type) -> pa_arrow.Schema:
    """The exact Parquet schema of a dataset: its schema model's columns, then the lineage columns."""
    return pa_arrow.schema(DatasetValidator(model).arrow_fields + LINEAGE_FIELDS)


@dataclass
class _FileState:
    path: Path
    source: Source
    load_id: str
    run_id: str
    sha256: str
    loaded_at: dt.datetime


def load_file(
    source: Source,
    path: Path,
    settings: Settings,
    run_id: str,
    *,
    payers: PayerDirectory | None = None,
    codes: frozenset[str] = frozenset(),
    already_loaded: set[str] | None = None,
    options: Mapping[str, str] | None = None,
) -> LoadRecord:
    """Load one file of one source; returns its load-log record (also written to the log).

    `options` are facts the user states about the file (see `Source.options`). On a terminal, a
    file that takes more than a second shows its progress (bytes, rows, rate, time left).
    """
    link = link_under_raw(Path(path), settings.raw_dir)
    if link:  # never read through a link: it may lead out of raw/, or nowhere
        return reject_file(source, path, settings, run_id, link)
    path = Path(path).resolve()
    with FileProgress(path) as progress:
        return _load_file(source, path, settings, run_id, payers, codes, already_loaded, options, progress)


def link_under_raw(path: Path, raw_dir: Path) -> str | None:
    """Why a file under raw/ is not read: a symbolic link on its way from raw/ (the file itself or a
    folder above it), broken or not. None for a file reached without a link, or one outside raw/
    (a path given on the command line)."""
    path, raw = Path(os.path.abspath(path)), Path(os.path.abspath(raw_dir))
    if not path.is_relative_to(raw):
        return None
    current = raw
    for part in path.relative_to(raw).parts:
        current = current / part
        if not current.is_symlink():
            continue
        target = Path(os.path.realpath(current))
        where = "inside" if target.is_relative_to(os.path.realpath(raw)) else "outside"
        broken = "" if current.exists() else ", which does not exist (a broken link)"
        return (
            f"raw/{current.relative_to(raw).as_posix()} is a symbolic link to {target} ({where} raw/){broken}; "
            f"raw/ holds the files themselves: replace the link with a copy of the file"
        )
    return None


def _load_file(
    source: Source,
    path: Path,
    settings: Settings,
    run_id: str,
    payers: PayerDirectory | None,
    codes: frozenset[str],
    already_loaded: set[str] | None,
    options: Mapping[str, str] | None,
    progress: FileProgress,
) -> LoadRecord:
    record = LoadRecord(
        load_id="",
        run_id=run_id,
        source=source.name,
        source_file=path.name,
        source_path=str(path),
        source_sha256=None,
        file_bytes=None,
        started_at=now_utc(),
    )
    lake = lake_root(settings)  # a local folder, or an object store (PAYERBENCH_LAKE_URL)
    try:
        before = _stamp_of(path)
        sha, size = file_digest(path, identity=before[2:])
    except OSError as exc:
        record.load_id = f"{run_id}-{secrets.token_hex(6)}"
        return _finish(
            lake, record, "rejected", f"{path.name}: cannot read file ({exc.strerror}); expected a readable file"
        )
    record.source_sha256, record.file_bytes = sha, size
    record.load_id = f"{run_id}-{sha[:12]}-{secrets.token_hex(3)}"  # unique per attempt
    if already_loaded is None:
        already_loaded = load_log.loaded_sha256s(load_log.read(lake), source.name)
    if sha in already_loaded:
        return _finish(lake, record, "unchanged", None)

    state = _FileState(path, source, record.load_id, run_id, sha, now_utc())
    writer = LoadWriter(lake, record.load_id, threaded=settings.load_writer_thread)
    context = ReadContext(settings=settings, codes_of_interest=codes, payers=payers, options=dict(options or {}))
    progress.stage("loading")
    try:
        _read_batches(source, path, context, state, writer, record, payers, progress)
        if _stamp_of(path) != before:
            raise FileRejected(
                path,
                "the file changed while it was being read (still being copied or downloaded?)",
                "a complete file; run the load again once it is",
            )
        return _commit(lake, record, writer)
    except FileRejected as exc:
        writer.discard()
        return _finish(lake, record, "rejected", exc.message, reset=True)
    except Exception as exc:  # a bug, not the file's fault: keep going with other files, loudly
        writer.discard()
        log.exception("internal error while loading %s", safe_name(path))
        return _finish(lake, record, "failed", f"{path.name}: internal error {type(exc).__name__}: {exc}", reset=True)


def _read_batches(
    source: Source,
    target: Path | RemoteFile,
    context: ReadContext,
    state: _FileState,
    writer: LoadWriter,
    record: LoadRecord,
    payers: PayerDirectory | None,
    progress: FileProgress | None,
    before_batch: Callable[[], None] | None = None,
) -> None:
    """The adapter's batches, validated and written as staged Parquet parts (visible only on commit)."""
    validators: dict[str, DatasetValidator] = {}
    for batch in source.read(target, context):  # type: ignore[arg-type]
        if before_batch is not None:
            before_batch()
        if batch.dataset not in source.datasets:
            raise RuntimeError(f"adapter {source.name} yielded undeclared dataset {batch.dataset}")
        validator = validators.get(batch.dataset)
        if validator is None:
            validator = validators[batch.dataset] = _validator(source, batch.dataset, payers)
        _load_batch(state, batch, validator, writer, record, payers)
        if progress is not None:
            progress.add_rows(batch.row_count())
        del batch  # a loaded batch is not held while the adapter builds the next one
    writer.flush()  # every part written (Parquet parts given in slices are written by a thread)


RESTARTS = 3
"""Whole-file restarts of a remote load (a dropped connection the server cannot resume, a changed file)."""


def load_remote(
    source: Source,
    remote: RemoteFile,
    settings: Settings,
    run_id: str,
    *,
    payers: PayerDirectory | None = None,
    codes: frozenset[str] = frozenset(),
    already_loaded: set[str] | None = None,
    options: Mapping[str, str] | None = None,
    force: bool = False,
    restarts: int = RESTARTS,
) -> LoadRecord:
    """Load one file as it streams from its URL (flows/engines/remote.py): never written to disk
    (unless the RemoteFile keeps a copy), through the adapter's reader like a local file.

    Identity: the load log's `source_path` is the URL path (no query: signed URLs change) plus the
    validator the server gave (`RemoteFile.identity`); a committed load with that identity makes this
    one `unchanged` before any body byte is read (unless `force`). `source_sha256` is the sha256 of
    the bytes streamed, known once the adapter has read the whole body (a TiC read does before its
    first batch); a file whose sha256 was already loaded (the same file at another URL) is
    `unchanged` and its staged parts are discarded. A dropped connection the server cannot resume
    (`RestartNeeded`) discards the attempt's staged parts, which no reader ever saw, and streams
    the file again from byte 0, at most `restarts` times; then (or on an HTTP error) the load is
    `failed`, naming the URL.
    """
    lake = lake_root(settings)  # a local folder, or an object store (PAYERBENCH_LAKE_URL)
    log_rows = load_log.read(lake) if not force else None
    if already_loaded is None:
        already_loaded = set() if log_rows is None else load_log.loaded_sha256s(log_rows, source.name)
    for attempt in range(restarts + 1):
        record = LoadRecord(
            load_id="",
            run_id=run_id,
            source=source.name,
            source_file=remote.name,
            source_path=url_path(remote.url),
            source_sha256=None,
            file_bytes=None,
            started_at=now_utc(),
        )
        record.load_id = (
            f"{run_id}-{hashlib.sha256(url_path(remote.url).encode()).hexdigest()[:12]}-{secrets.token_hex(3)}"
        )
        try:
            remote.connect()
        except Exception as exc:  # noqa: BLE001 - an HTTP failure is the load's outcome, named in the log
            return _finish(lake, record, "failed", f"{remote.name}: {exc}")
        record.source_path, record.file_bytes = remote.identity or url_path(remote.url), remote.size
        if remote.identity and log_rows is not None:
            earlier = load_log.loaded_identities(log_rows, source.name).get(remote.identity)
            if earlier is not None:
                remote.close()
                record.source_sha256 = earlier
                return _finish(lake, record, "unchanged", None)
        state = _FileState(Path(remote.name), source, record.load_id, run_id, "", now_utc())
        writer = LoadWriter(lake, record.load_id, threaded=settings.load_writer_thread)
        context = ReadContext(settings=settings, codes_of_interest=codes, payers=payers, options=dict(options or {}))

        def stamp(state: _FileState = state, record: LoadRecord = record) -> None:
            if not state.sha256:
                if remote.sha256 is None:  # pragma: no cover - guards the rule for adapters other than tic
                    raise RuntimeError(
                        f"adapter {source.name} yielded rows before reading the whole body of {remote.name}; "
                        "only adapters that read a file whole before yielding can load from a URL"
                    )
                state.sha256 = record.source_sha256 = remote.sha256
                record.file_bytes = remote.size

        try:
            _read_batches(source, remote, context, state, writer, record, payers, None, before_batch=stamp)
            stamp()
            if remote.failure is not None:
                raise remote.failure
            if remote.sha256 in already_loaded:
                writer.discard()
                return _finish(lake, record, "unchanged", None, reset=True)
            return _commit(lake, record, writer)
        except Exception as exc:  # noqa: BLE001 - sorted below: restart, network failure, the file, a bug
            writer.discard()
            failure = remote.failure
            remote.close()
            if isinstance(failure, RestartNeeded):
                if attempt < restarts:
                    log.warning("restarting %s from byte 0: %s", safe_name(remote.name), safe_name(str(failure)))
                    remote.restart()
                    continue
                return _finish(lake, record, "failed", f"{remote.name}: {failure} ({attempt + 1} attempts)", reset=True)
            if failure is not None:
                return _finish(lake, record, "failed", f"{remote.name}: {failure}", reset=True)
            if isinstance(exc, FileRejected):
                return _finish(lake, record, "rejected", exc.message, reset=True)
            log.exception("internal error while loading %s", safe_name(remote.name))
            return _finish(
                lake, record, "failed", f"{remote.name}: internal error {type(exc).__name__}: {exc}", reset=True
            )
    raise AssertionError("unreachable: every attempt returns or continues")  # pragma: no cover


def _stamp_of(path: Path) -> tuple[int, int, int, int]:
    info = os.lstat(path)  # the name itself: a file swapped for a link while it is read counts as changed
    return info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino


def reject_file(source: Source, path: Path, settings: Settings, run_id: str, error: str) -> LoadRecord:
    """Log a file as rejected without reading it (e.g. the reference tables it needs are broken, or it
    is a link). Its path is the one under raw/, never a link's target."""
    path = Path(os.path.abspath(path))
    record = LoadRecord(
        load_id=f"{run_id}-{secrets.token_hex(6)}",
        run_id=run_id,
        source=source.name,
        source_file=path.name,
        source_path=str(path),
        source_sha256=None,
        file_bytes=None,
        started_at=now_utc(),
    )
    return _finish(lake_root(settings), record, "rejected", error)


def _commit(lake: LakePath, record: LoadRecord, writer: LoadWriter) -> LoadRecord:
    """A read that went through: its status, its datasets, the reconciliation check, then the commit (the parts
    become visible with the load-log entry), the same for a local file and a streamed one."""
    record.status = "loaded_with_quarantine" if record.rows_quarantined else "loaded"
    record.datasets = sorted(d for d in writer.folders if not d.startswith("_"))
    record.ended_at = now_utc()
    if not record.reconciled:  # pragma: no cover - guards the invariant against loader bugs
        raise RuntimeError(
            f"reconciliation failed: read {record.rows_read} != loaded {record.rows_loaded} "
            f"+ quarantined {record.rows_quarantined}"
        )
    writer.commit(record.to_table(), load_log.part_path(lake, record.load_id))
    return record


def _finish(lake: LakePath, record: LoadRecord, status: str, error: str | None, reset: bool = False) -> LoadRecord:
    if reset:  # nothing from the file is kept, so nothing was loaded or quarantined
        record.rows_loaded = record.rows_quarantined = record.advisories = 0
        record.rows_read = 0
        record.datasets = []
    record.status, record.error, record.ended_at = status, error, now_utc()
    load_log.append(lake, record)
    return record


def _validator(source: Source, dataset: str, payers: PayerDirectory | None) -> DatasetValidator:
    extra: dict[str, list[pa.Check]] = {}
    if source.payer_column and source.unknown_payer == "quarantine":
        if payers is None:
            raise RuntimeError(f"source {source.name} resolves payer names but no payer directory was given")
        extra[source.payer_column] = [
            pa.Check(
                lambda s: s.isin([n for n in s.unique() if payers.knows(n)]),
                name="payer_name_in_reference",
                error=f"payer name not in the payer reference table ({payers.source_file}); add an alias there",
            )
        ]
    return DatasetValidator(source.schemas[dataset], extra_checks=extra)


def _load_batch(
    state: _FileState,
    batch: Batch,
    validator: DatasetValidator,
    writer: LoadWriter,
    record: LoadRecord,
    payers: PayerDirectory | None,
) -> None:
    if batch.levels is not None:
        _load_levels(state, batch, validator, writer, record, payers)
        return
    frame = batch.frame.reset_index(drop=True)
    raw = batch.raw.reset_index(drop=True) if batch.raw is not None else None
    source = state.source
    if source.payer_column and source.payer_column in frame and payers is not None:
        names = frame[source.payer_column]
        groups = payers.resolve(names)
        if source.unknown_payer == OTHER_PAYER_GROUP:
            # An unknown name is `other`; a row that names no payer (e.g. a payer-independent charge)
            # has no payer group at all.
            groups = groups.where(groups.notna() | names.isna(), OTHER_PAYER_GROUP)
        frame["payer_group"] = groups

    checked = validator.check(frame, state.path)
    rejects = batch.rejects if batch.rejects is not None else pd.DataFrame()
    bad_rows = set(checked.failures["row"])
    if batch.describes_file:  # facts about the file: all valid or the file cannot be trusted
        if len(checked.failures) or len(rejects):
            first = checked.failures.iloc[0] if len(checked.failures) else rejects.iloc[0]
            raise FileRejected(
                state.path,
                f"facts read about the file are invalid: {first['reason']} "
                f"({batch.dataset}.{first['column']} = {first['failure_value']!r})",
                "a file whose release facts (year, period) can be read",
            )
    else:
        record.rows_read += len(frame) + len(rejects)
        record.rows_loaded += len(checked.valid)
        record.rows_quarantined += len(bad_rows) + len(rejects)
    notes = batch.advisories if batch.advisories is not None else pd.DataFrame()
    record.advisories += len(checked.advisories) + len(notes)

    if len(checked.valid):
        good = checked.valid.copy()
        good["source_record"] = frame.loc[good.index, RECORD_COLUMN]
        good["source_file"], good["source_sha256"] = state.path.name, state.sha256
        good["load_id"], good["run_id"], good["loaded_at"] = state.load_id, state.run_id, state.loaded_at
        schema = pa_arrow.schema(validator.arrow_fields + LINEAGE_FIELDS)
        writer.write(batch.dataset, frame_to_table(good, schema))
    if len(checked.failures) or len(rejects):
        findings = _findings(state, batch.dataset, frame, checked.failures, raw)
        if len(rejects):
            findings = pd.concat([findings, _reject_findings(state, batch.dataset, rejects)], ignore_index=True)
        writer.write(QUARANTINE, frame_to_table(findings, FINDING_SCHEMA))
    advisories = [_findings(state, batch.dataset, frame, checked.advisories, raw)] if len(checked.advisories) else []
    if len(notes):
        advisories.append(_reject_findings(state, batch.dataset, notes))
    if advisories:
        writer.write(ADVISORY, frame_to_table(pd.concat(advisories, ignore_index=True), FINDING_SCHEMA))


def _load_levels(
    state: _FileState,
    batch: Batch,
    validator: DatasetValidator,
    writer: LoadWriter,
    record: LoadRecord,
    payers: PayerDirectory | None,
) -> None:
    """`_load_batch` for a batch held as levels (flows/sources/base.py `Levels`): the same rows, quarantine
    and advisories, with each level's entries validated and converted once and the rows' columns taken
    from them in Arrow; a frame is built only for the rows quarantined or noted."""
    import numpy as np

    from flows.sources.base import Level

    rows = batch.levels
    assert rows is not None and not batch.describes_file
    source = state.source
    if source.payer_column and payers is not None:
        holder = next((lv for lv in rows.levels if source.payer_column in lv.names), None)
        if holder is not None:
            names = holder.entries_frame()[source.payer_column]
            groups = payers.resolve(names)
            if source.unknown_payer == OTHER_PAYER_GROUP:
                groups = groups.where(groups.notna() | names.isna(), OTHER_PAYER_GROUP)
            entries = pd.DataFrame({"payer_group": groups.to_numpy(dtype=object)}, dtype=object)
            rows.tail = [lv for lv in rows.tail if "payer_group" not in lv.names]
            # resolved from the holder's entries: lasting as long as they do
            rows.tail.append(Level(entries, holder.at, key=f"{holder.key}.payer_group" if holder.key else None))

    checked = validator.check_levels(rows, state.path)
    bad_rows = set(checked.failures["row"])
    record.rows_read += len(rows)
    record.rows_loaded += len(checked.valid)
    record.rows_quarantined += len(bad_rows)
    record.advisories += len(checked.advisories)

    if len(checked.valid):
        schema = pa_arrow.schema(validator.arrow_fields + LINEAGE_FIELDS)
        constants = {
            "source_file": state.path.name,
            "source_sha256": state.sha256,
            "load_id": state.load_id,
            "run_id": state.run_id,
            "loaded_at": state.loaded_at,
        }

        def table(valid: np.ndarray) -> pa_arrow.Table:
            n, arrays = len(valid), []
            for field in schema:
                if field.name in checked.typed:
                    values, at = checked.typed[field.name]
                    arrays.append(values.take(pa_arrow.array(at[valid])))
                elif field.name == RECORD_COLUMN:
                    arrays.append(rows.record_array(valid))
                elif field.name in constants:
                    arrays.append(pa_arrow.repeat(pa_arrow.scalar(constants[field.name], type=field.type), n))
                else:
                    arrays.append(pa_arrow.nulls(n, type=field.type))
            return pa_arrow.Table.from_arrays(arrays, schema=schema)

        # the rows' columns are taken and written a slice at a time (row groups of one part), so a batch's
        # whole table (16 MB for 20,000 TiC rows) is not held at once (see LEVEL_SLICE_ROWS)

        valid = checked.valid
        slices = (table(valid[i : i + LEVEL_SLICE_ROWS]) for i in range(0, len(valid), LEVEL_SLICE_ROWS))
        writer.write_slices(batch.dataset, schema, slices)
    noted = [f for f in (checked.failures, checked.advisories) if len(f)]
    if noted:
        frame = rows.frame(np.unique(np.concatenate([f["row"].to_numpy(dtype=np.intp) for f in noted])))
        if len(checked.failures):
            findings = _findings(state, batch.dataset, frame, checked.failures, None)
            writer.write(QUARANTINE, frame_to_table(findings, FINDING_SCHEMA))
        if len(checked.advisories):
            findings = _findings(state, batch.dataset, frame, checked.advisories, None)
            writer.write(ADVISORY, frame_to_table(findings, FINDING_SCHEMA))


def _text(value: object) -> str | None:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _jsonable(value: object) -> object:
    """A raw value as JSON would hold it (lists stay lists; NaN and None become null)."""
    if isinstance(value, (list, dict)):
        return value
    return _text(value)


def _findings(
    state: _FileState, dataset: str, frame: pd.DataFrame, failures: pd.DataFrame, raw: pd.DataFrame | None
) -> pd.DataFrame:
    """Quarantine/advisory rows: values and records as the file held them when the adapter says so."""
    rows = failures["row"].tolist()
    source = (raw if raw is not None else frame).loc[rows]  # the failing rows only, then their columns
    source = source.drop(columns=[RECORD_COLUMN, "payer_group"], errors="ignore")
    raw_records = source.astype(object).to_dict(orient="records")
    values = []
    for _row, column, value, record in zip(rows, failures["column"], failures["failure_value"], raw_records):
        as_written = record.get(column) if isinstance(column, str) and column in record else value
        values.append(_text(as_written))
    found = pd.DataFrame(
        {
            "source_record": frame.loc[rows, RECORD_COLUMN].tolist(),
            "column_name": [_text(v) for v in failures["column"]],
            "check_name": [str(v) for v in failures["check"]],
            "failure_value": values,
            "reason": [_text(v) for v in failures["reason"]],
            "raw_record": [
                json.dumps({k: _jsonable(v) for k, v in r.items()}, ensure_ascii=False, default=str)
                for r in raw_records
            ],
        }
    )
    return _stamp(state, dataset, found)


def _reject_findings(state: _FileState, dataset: str, rejects: pd.DataFrame) -> pd.DataFrame:
    found = rejects.rename(columns={"column": "column_name", "check": "check_name"})
    return _stamp(state, dataset, found)


def _stamp(state: _FileState, dataset: str, found: pd.DataFrame) -> pd.DataFrame:
    found = found.copy()
    found["load_id"], found["run_id"], found["source"] = state.load_id, state.run_id, state.source.name
    found["dataset"], found["source_file"], found["source_sha256"] = dataset, state.path.name, state.sha256
    found["found_at"] = state.loaded_at
    return found
