"""Row validation with quarantine: Pandera schemas, applied lazily, split into good and bad rows.

A schema's checks come in two kinds. Blocking checks (the default) send a failing row to
quarantine with the column, the rule and the failing value. Advisory checks (declared with
`raise_warning=True`) are reported in the load log and the row still loads. The unique key a
schema declares in `Config.unique` is enforced across the whole file (first occurrence loads,
later ones are quarantined naming the first), which a per-chunk Pandera check cannot do.

Pandera coerces a column all or nothing: one bad date leaves the whole column untyped and every
row failing. So coercion runs first, column by column, and only the values that cannot be
coerced are failures; the rest of the frame is then validated with the schema's checks.

A batch held as levels (flows/sources/base.py `Levels`: TiC in-network rows, where 210,000 rows name
about 40,000 prices and 60,000 provider groups) is checked level by level (`check_levels`): each distinct
entry is coerced, checked and converted to Arrow once (entries lasting the file once per file), a row is
flagged when one of its entries fails, and only the flagged rows are validated as a frame, by `check`
itself, so the failures, their wording and order are the frame path's.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from pandera.api.pandas.model import DataFrameModel
from pandera.engines import pandas_engine
from pandera.errors import ParserError, SchemaErrors

from flows.sources.base import RECORD_COLUMN, FileRejected, Levels

FAILURE_COLUMNS = ["row", "column", "check", "failure_value", "reason"]
TRUE_TEXT = {"true", "t", "yes", "y", "1"}
FALSE_TEXT = {"false", "f", "no", "n", "0"}


@dataclass
class Checked:
    """Outcome of validating one batch."""

    valid: pd.DataFrame  # typed rows that passed every blocking check (original index kept)
    failures: pd.DataFrame  # one row per (row, rule) failure: FAILURE_COLUMNS, row = index label
    advisories: pd.DataFrame  # advisory findings on rows that did load: FAILURE_COLUMNS


@dataclass
class LevelsChecked:
    """Outcome of validating one batch held as levels (`DatasetValidator.check_levels`)."""

    valid: np.ndarray  # positions of the rows that passed every blocking check, in order
    failures: pd.DataFrame  # as Checked.failures, row = position in the batch
    advisories: pd.DataFrame  # as Checked.advisories
    typed: dict[str, tuple[pa_arrow.Array, np.ndarray]]  # column -> (its level's entries, typed; each row's entry)


@dataclass
class _Kept:
    """The entries of a level lasting the file (`Level.key`) read so far: how many, their typed columns (Arrow
    chunks), and which fail a blocking rule or raise an advisory one."""

    count: int = 0
    empty: pd.DataFrame | None = None  # the level's coerced columns, no rows (a batch naming no new entry)
    chunks: dict[str, list] = field(default_factory=dict)  # column -> its Arrow chunks (one after each batch)
    mask: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    note: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _split_checks(checks: Iterable[pa.Check]) -> tuple[list[pa.Check], list[pa.Check]]:
    blocking, advisory = [], []
    for check in checks:
        if getattr(check, "raise_warning", False):
            loud = copy.copy(check)
            loud.raise_warning = False
            advisory.append(loud)
        else:
            blocking.append(check)
    return blocking, advisory


def arrow_type(dtype: object, metadata: dict | None = None) -> pa_arrow.DataType:
    """The Parquet (Arrow) type written for a Pandera column: `metadata={"arrow_type": ...}` on the
    Field wins (e.g. list<string> for NPI lists), else it follows the dtype."""
    if metadata and metadata.get("arrow_type") is not None:
        return metadata["arrow_type"]
    if isinstance(dtype, pandas_engine.Decimal):
        return pa_arrow.decimal128(dtype.precision, dtype.scale)
    if isinstance(dtype, pandas_engine.Date):
        return pa_arrow.date32()
    name = str(dtype).lower()
    if name in ("bool", "boolean"):
        return pa_arrow.bool_()
    if name.startswith(("int", "uint")):
        return pa_arrow.int64()
    if name.startswith("float"):
        return pa_arrow.float64()
    if "datetime" in name or "timestamp" in name:
        return pa_arrow.timestamp("us", tz="UTC")
    return pa_arrow.string()


class DatasetValidator:
    """Validates the batches of one file for one dataset, tracking its unique key across them."""

    def __init__(self, model: type[DataFrameModel], extra_checks: dict[str, list[pa.Check]] | None = None) -> None:
        schema = model.to_schema()
        self.name = schema.name or model.__name__
        self.key: list[str] = list(schema.unique or [])
        self.columns = schema.columns
        self.required = [n for n, c in schema.columns.items() if c.required]
        self.arrow_fields = [pa_arrow.field(n, arrow_type(c.dtype, c.metadata)) for n, c in schema.columns.items()]

        blocking = copy.deepcopy(schema)
        blocking.unique = None
        blocking.coerce = False  # coercion already happened column by column (see _coerce)
        frame_blocking, frame_advisory = _split_checks(blocking.checks)
        blocking.checks = frame_blocking
        column_advisory: dict[str, list[pa.Check]] = {}
        for name, column in blocking.columns.items():
            col_blocking, col_advisory = _split_checks(column.checks)
            column.checks = col_blocking + list((extra_checks or {}).get(name, []))
            column.coerce = False
            column.dtype = None  # types are guaranteed by _coerce; skip Pandera's per-element re-check
            if col_advisory:
                column_advisory[name] = col_advisory
        self.blocking = blocking
        self.advisory = (
            pa.DataFrameSchema(
                columns={n: pa.Column(checks=c, nullable=True, required=False) for n, c in column_advisory.items()},
                checks=frame_advisory,
                coerce=False,
            )
            if frame_advisory or column_advisory
            else None
        )
        self._first_seen: dict[int, str] = {}
        self._kept: dict[str, _Kept] = {}  # check_levels: what is known of the entries of levels lasting the file
        self._placed: dict[tuple, int | None] = {}  # check_levels: the level a frame rule reads, by levels' columns

    # ------------------------------------------------------------------------------------------
    def check(self, frame: pd.DataFrame, path: Path) -> Checked:
        """Coerce, validate and key-check one batch; file-level defects raise FileRejected."""
        missing = [n for n in self.required if n not in frame.columns]
        if missing:
            raise FileRejected(
                path,
                f"missing required column(s) {', '.join(map(repr, missing))}",
                f"columns {', '.join(self.required)}",
            )
        data = frame.drop(columns=[RECORD_COLUMN], errors="ignore")
        data = data[[c for c in data.columns if c in self.columns]]
        failures: list[pd.DataFrame] = []

        coerced, parse_failures = self._coerce(data)
        failures.append(parse_failures)
        bad_rows = set(parse_failures["row"])
        candidates = coerced.drop(index=list(bad_rows)) if bad_rows else coerced

        if len(candidates):
            cases = _failure_cases(self.blocking, candidates)
            if cases is not None:
                failures.append(self._row_failures(cases, path, self.blocking))

        checked = (
            pd.concat([f for f in failures if len(f)], ignore_index=True) if any(len(f) for f in failures) else _empty()
        )
        failed_rows = set(checked["row"])
        good = candidates.drop(index=list(failed_rows), errors="ignore") if failed_rows else candidates

        key_failures = self._key_failures(good, frame.get(RECORD_COLUMN, None))
        if len(key_failures):
            checked = pd.concat([checked, key_failures], ignore_index=True)
            good = good.drop(index=list(set(key_failures["row"])))

        advisories = _empty()
        if self.advisory is not None and len(good):
            cases = _failure_cases(self.advisory, good)
            if cases is not None:
                advisories = self._row_failures(cases, path, self.advisory)
        return Checked(valid=good, failures=checked, advisories=advisories)

    def check_levels(self, rows: Levels, path: Path) -> LevelsChecked:
        """`check` for a batch held as levels: the same failures, advisories and valid rows, found by coercing
        and checking each level's distinct entries once (a row fails a column's rule when its entry does)
        and validating only the rows so flagged the way `check` does; the valid rows' typed values are each
        level's entries converted once (`typed`), taken by row."""
        columns = rows.columns
        missing = [n for n in self.required if n not in columns]
        if missing:
            raise FileRejected(
                path,
                f"missing required column(s) {', '.join(map(repr, missing))}",
                f"columns {', '.join(self.required)}",
            )
        levels = [*rows.levels, *rows.tail]
        fields = {f.name: f for f in self.arrow_fields}
        done = [self._kept.get(level.key) if level.key else None for level in levels]
        coerced, parse_bad, ready = [], [], []
        for level, kept in zip(levels, done):
            start = kept.count if kept is not None else 0  # a lasting level: its new entries only
            if kept is not None and kept.empty is not None and start == len(level.entries):  # nothing new
                typed, failed, arrow = kept.empty, _empty(), {}
            elif isinstance(level.entries, pa_arrow.Table):
                typed, failed, arrow = self._coerce_arrow(level.entries.slice(start), fields)
                if level.objects is not None:  # the columns kept as Python objects beside the table
                    data = level.objects.iloc[start:].reset_index(drop=True)
                    more, more_failed = self._coerce(data[[c for c in data.columns if c in self.columns]])
                    both = {**dict(typed.items()), **dict(more.items())}
                    typed = pd.DataFrame({n: both[n] for n in level.names if n in both}, index=typed.index)
                    failed = pd.concat([f for f in (failed, more_failed) if len(f)] or [_empty()], ignore_index=True)
            else:
                data = level.entries_frame(start)
                typed, failed = self._coerce(data[[c for c in data.columns if c in self.columns]])
                arrow = {}
            bad = np.zeros(len(typed), dtype=bool)
            bad[np.asarray(failed["row"].tolist(), dtype=np.intp)] = True
            coerced.append(typed)
            parse_bad.append(bad)
            ready.append(arrow)
        blocking = _level_masks(self.blocking, coerced, self._placed) if not self.key else None
        advisory = _level_masks(self.advisory, coerced, self._placed) if self.advisory is not None else []
        if blocking is None or advisory is None:  # rules that cannot be told entry by entry: the whole batch
            return self._checked_whole(rows, path)

        from flows.steps.store import frame_to_table  # the same conversion the frame path writes with

        converted: dict[str, tuple[pa_arrow.Array | pa_arrow.ChunkedArray, np.ndarray]] = {}
        masks, notes = [], []
        for i, (level, typed) in enumerate(zip(levels, coerced)):
            rest = [c for c in typed.columns if c not in ready[i]]
            chunks = {}
            if len(typed):
                table = frame_to_table(typed[rest], pa_arrow.schema([fields[c] for c in rest]))
                chunks = {name: column.chunks for name, column in zip(table.column_names, table.columns)}
            chunks = {name: ready[i][name] if name in ready[i] else chunks.get(name, []) for name in typed.columns}
            mask, note = blocking[i] | parse_bad[i], advisory[i] if self.advisory is not None else None
            if level.key:
                kept = done[i] or _Kept()
                if kept.empty is None:
                    kept.empty = typed.head(0)
                kept.count += len(typed)
                for name, more in chunks.items():
                    parts = kept.chunks.setdefault(name, [])
                    parts.extend(more)
                chunks = kept.chunks
                kept.mask = mask = np.concatenate([kept.mask, mask])
                if note is not None:
                    kept.note = note = np.concatenate([kept.note, note])
                self._kept[level.key] = kept
            masks.append(mask)
            notes.append(note)
            for name, parts in chunks.items():
                converted[name] = (pa_arrow.chunked_array(parts, type=fields[name].type), level.at)

        flagged = np.zeros(len(rows), dtype=bool)
        for level, mask in zip(levels, masks):
            flagged |= mask[level.at]
        valid = ~flagged
        failures = _empty()
        suspects = np.flatnonzero(flagged)
        if len(suspects):
            checked = self.check(rows.frame(suspects), path)  # the rows' own failures, as `check` words them
            failures = checked.failures
            valid[np.asarray(checked.valid.index, dtype=np.intp)] = True

        advisories = _empty()
        if self.advisory is not None:
            noted = np.zeros(len(rows), dtype=bool)
            for level, note in zip(levels, notes):
                noted |= note[level.at]
            noted &= valid
            if noted.any():
                subset = rows.frame(np.flatnonzero(noted)).drop(columns=[RECORD_COLUMN])
                typed, _ = self._coerce(subset[[c for c in subset.columns if c in self.columns]])
                cases = _failure_cases(self.advisory, typed)
                if cases is not None:
                    advisories = self._row_failures(cases, path, self.advisory)

        return LevelsChecked(np.flatnonzero(valid), failures, advisories, converted)

    def _coerce_arrow(
        self, table: pa_arrow.Table, fields: dict[str, pa_arrow.Field]
    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list]]:
        """`_coerce` for entries held as Arrow (their values as Python objects are the raw values): a column
        already of its Parquet type is its own typed column (its Arrow chunks, returned by name) and
        becomes, as pandas, what `_coerce` makes of it (text, Int64; lists of text stay Arrow-backed, so a
        rule on them must read those as it reads lists); any other column is coerced from its Python values
        as `_coerce` does."""
        out: dict[str, object] = {}
        ready: dict[str, list] = {}
        other: list[str] = []
        for name in table.column_names:
            if name not in self.columns:
                continue
            column, dtype = table.column(name), self.columns[name].dtype
            pandas_type = getattr(dtype, "type", None)
            if column.type != fields[name].type or dtype is None:  # e.g. a date held as its text
                other.append(name)
                continue
            if (pa_arrow.types.is_string(column.type) and isinstance(pandas_type, pd.StringDtype)) or (
                pa_arrow.types.is_int64(column.type) and isinstance(pandas_type, pd.Int64Dtype)
            ):
                out[name] = column.to_pandas(types_mapper={column.type: pandas_type}.get)
            elif pa_arrow.types.is_list(column.type) and pandas_type == np.dtype(object):
                # kept as Arrow for the rules (schemas/tic.py `_each_matches` reads Arrow lists as they are)
                out[name] = pd.Series(pd.arrays.ArrowExtensionArray(column))
            else:
                other.append(name)
                continue
            ready[name] = column.chunks
        failures = _empty()
        if other:
            data = {}
            for name in other:
                values = table.column(name).to_pylist()
                data[name] = np.fromiter(values, dtype=object, count=len(values))
            typed, failures = self._coerce(pd.DataFrame(data, dtype=object))
            out.update(typed.items())
        frame = pd.DataFrame({n: out[n] for n in table.column_names if n in out}, index=pd.RangeIndex(table.num_rows))
        return frame, failures, ready

    def _checked_whole(self, rows: Levels, path: Path) -> LevelsChecked:
        """`check_levels` by way of the whole batch's frame (`check`)."""
        from flows.steps.store import frame_to_table

        checked = self.check(rows.frame(), path)
        valid = np.asarray(checked.valid.index, dtype=np.intp)
        fields = {f.name: f for f in self.arrow_fields}
        typed = checked.valid.reset_index(drop=True)
        table = frame_to_table(typed, pa_arrow.schema([fields[c] for c in typed.columns]))
        at = np.arange(len(valid), dtype=np.intp)
        where = np.full(len(rows), -1, dtype=np.intp)
        where[valid] = at
        converted = {n: (c.combine_chunks(), where) for n, c in zip(table.column_names, table.columns)}
        return LevelsChecked(valid, checked.failures, checked.advisories, converted)

    def _coerce(self, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        out = {}
        found: list[dict[str, object]] = []
        for name in data.columns:
            dtype = self.columns[name].dtype
            values = data[name]
            if dtype is None:
                out[name] = values
                continue
            if str(dtype).lower() in ("bool", "boolean"):
                coerced, bad = _text_to_bool(values)
            elif isinstance(dtype, pandas_engine.Date):
                coerced, bad = _text_to_date(values, dtype.to_datetime_kwargs.get("format", "%Y-%m-%d"))
            else:
                fast = _decimals(dtype, values) if isinstance(dtype, pandas_engine.Decimal) else None
                coerced, bad = (fast, []) if fast is not None else _try_coerce(dtype, values)
            out[name] = coerced
            found += [
                {
                    "row": row,
                    "column": name,
                    "check": f"coerce_dtype('{dtype}')",
                    "failure_value": values.loc[row],
                    "reason": f"{name}: cannot read {values.loc[row]!r} as {dtype}",
                }
                for row in bad
            ]
        return pd.DataFrame(out, index=data.index), pd.DataFrame(found, columns=FAILURE_COLUMNS)

    def _row_failures(self, cases: pd.DataFrame, path: Path, schema: pa.DataFrameSchema) -> pd.DataFrame:
        unplaced = cases[cases["index"].isna()]
        if len(unplaced):
            first = unplaced.iloc[0]
            raise FileRejected(
                path,
                f"schema rule {first['check']} failed for column {first['column']!r}: {first['failure_case']}",
                f"the {self.name} layout",
            )
        rows = cases.rename(columns={"index": "row", "failure_case": "failure_value"}).copy()
        names, reasons = [], []
        for context, column, check, number in rows[["schema_context", "column", "check", "check_number"]].itertuples(
            index=False
        ):
            found = _find_check(schema, context, column, number)
            generated = (
                found is not None and found.error and found.name and str(found.error).startswith(f"{found.name}(")
            )
            if found is not None and found.error and not generated:  # a custom rule: its name and message
                names.append(found.name or str(check))
                reasons.append(str(found.error))
            elif check == "not_nullable":
                names.append("not_nullable")
                reasons.append(f"{column} is required but blank")
            else:  # a built-in rule: its stable name (`isin`), and its argument in words in the reason
                label = str(found.error) if generated else str(check)
                names.append(found.name if generated else str(check))
                reasons.append(f"{column} must be {_describe(label)}")
        rows["check"], rows["reason"] = names, reasons
        # A frame-wide check reports one entry per column of a failing row: keep one, naming no
        # single column or value (its reason names the columns the rule relates).
        frame_wide = rows["schema_context"] == "DataFrameSchema"
        rows.loc[frame_wide, ["column", "failure_value"]] = None
        rows = rows.drop_duplicates(subset=["row", "check", "column"])
        return rows[FAILURE_COLUMNS].reset_index(drop=True)

    def _key_failures(self, good: pd.DataFrame, records: pd.Series | None) -> pd.DataFrame:
        """Rows whose key was seen before in this file (first occurrence wins)."""
        if not self.key or not len(good):
            return _empty()
        # 64-bit hashes of the key columns stand in for the keys (memory stays small per row).
        hashes = pd.util.hash_pandas_object(good[self.key].astype(object), index=False).to_numpy()
        where = (
            records.loc[good.index] if records is not None else pd.Series(good.index.astype(str), index=good.index)
        ).to_numpy()
        found = []
        for position, (digest, locator) in enumerate(zip(hashes.tolist(), where.tolist())):
            first = self._first_seen.setdefault(digest, locator)
            if first != locator:
                row = good.index[position]
                key = [None if pd.isna(v) else v for v in good.loc[row, self.key].tolist()]
                found.append(
                    {
                        "row": row,
                        "column": ",".join(self.key),
                        "check": f"unique_key (first seen at {first})",
                        "failure_value": json.dumps(key, default=str),
                        "reason": f"duplicate of the row at {first} on ({', '.join(self.key)})",
                    }
                )
        return pd.DataFrame(found, columns=FAILURE_COLUMNS)


_PHRASES = {
    "greater_than_or_equal_to": ">= {}",
    "greater_than": "> {}",
    "less_than_or_equal_to": "<= {}",
    "less_than": "< {}",
    "isin": "one of {}",
    "notin": "none of {}",
    "str_matches": "text matching {}",
    "str_length": "text of length {}",
    "in_range": "in the range {}",
    "equal_to": "equal to {}",
}


def _failure_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame | None:
    """Pandera's failure cases for `frame` (lazy validation), or None when every row passes.

    Pandera's lazy validation costs about 5 us a row even when nothing fails (each rule builds its
    failure frames, and nulls are found column by column). So each rule is first run once on the
    whole batch, through Pandera's own `Check` call (the same function, the same handling of nulls),
    only to learn which rows fail; Pandera then validates just those rows, and its failure cases are
    what gets reported: the same rules, wording and order as validating the whole batch, because
    every rule here is row-wise (a row's outcome does not depend on the other rows). When a rule's
    outcome cannot be placed on rows (a rule that raises, or returns one bool), Pandera validates the
    whole batch as before.
    """
    rows = _failing_rows(schema, frame)
    if rows is not None and not rows.any():
        return None
    try:
        schema.validate(frame if rows is None else frame[rows], lazy=True)
    except SchemaErrors as exc:
        return exc.failure_cases
    return None


def _failing_rows(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> np.ndarray | None:
    """A mask of the rows failing some rule of `schema`; None when that cannot be told row by row."""
    if not _row_wise(schema) or not frame.index.is_unique:
        return None
    failing = np.zeros(len(frame), dtype=bool)
    for name, column in schema.columns.items():
        if name not in frame.columns:
            if column.required:
                return None  # Pandera reports the missing column (a file-level failure)
            continue
        values = frame[name]
        if not column.nullable and values.hasnans:  # as Pandera's check_nullable
            failing |= values.isna().to_numpy(dtype=bool)
        for check in column.checks:
            if not _mark(check, values, frame.index, failing):
                return None
    for check in schema.checks:
        if not _mark(check, frame, frame.index, failing):
            return None
    return failing


def _as_floats(values: pd.Series) -> pd.Series:
    return pd.Series(
        [float("nan") if v is None else float(v) for v in values.tolist()], index=values.index, dtype=object
    )


def _level_masks(
    schema: pa.DataFrameSchema, frames: list[pd.DataFrame], placed: dict[tuple, int | None]
) -> list[np.ndarray] | None:
    """For each level's coerced entries (`frames`), a mask of the entries failing some rule of `schema`: a
    column's rules on the level holding the column, a frame rule on the one level whose columns it reads.
    None when that cannot be told entry by entry (a rule that is not row-wise, a frame rule reading the
    columns of more than one level, or one whose outcome cannot be placed)."""
    if not _row_wise(schema) or schema.index is not None:
        return None
    masks = [np.zeros(len(frame), dtype=bool) for frame in frames]
    for frame, failing in zip(frames, masks):
        if not len(frame):  # no entry to flag (a lasting level with no new entries)
            continue
        for name in frame.columns:
            column = schema.columns.get(name)
            if column is None:
                continue
            values = frame[name]
            if not column.nullable and values.hasnans:
                failing |= values.isna().to_numpy(dtype=bool)
            for check in column.checks:
                if not _mark(check, values, frame.index, failing):
                    return None
    layout = tuple(tuple(frame.columns) for frame in frames)
    for number, check in enumerate(schema.checks):
        key = (id(schema), number, layout)  # where a rule reads depends only on the levels' columns
        if key not in placed:
            found = [i for i, frame in enumerate(frames) if _reads_only(check, frame)]
            placed[key] = found[0] if len(found) == 1 else None
        where = placed[key]
        if where is None:
            return None
        frame = frames[where]
        if len(frame) and not _mark(check, frame, frame.index, masks[where]):
            return None
    return masks


def _reads_only(check: pa.Check, frame: pd.DataFrame) -> bool:
    """True when a frame rule runs on `frame` (its columns are there); False when it asks for a column the
    frame lacks (KeyError). A rule that raises anything else is not placed (None from `_level_masks`)."""
    try:
        _check_fn(check, frame)(frame.head(0), **check._check_kwargs)
    except KeyError:
        return False
    except Exception:  # noqa: BLE001 - judged on the whole batch instead
        return False
    return True


def _row_wise(schema: pa.DataFrameSchema) -> bool:
    """True when the schema holds only what `_failing_rows` knows how to place on rows: column
    nullability and checks, and frame checks (no index, uniqueness, parsers, defaults or dtypes)."""
    if schema.index is not None or schema.unique or schema.dtype is not None or getattr(schema, "parsers", None):
        return False
    if getattr(schema, "drop_invalid_rows", False) or schema.strict not in (False, None):
        return False
    for column in schema.columns.values():
        if column.unique or column.regex or column.dtype is not None or column.default is not None:
            return False
        if getattr(column, "parsers", None) or getattr(column, "drop_invalid_rows", False):
            return False
    return all(check.groupby is None and not check.raise_warning for check in _all_checks(schema))


def _all_checks(schema: pa.DataFrameSchema) -> list[pa.Check]:
    return list(schema.checks) + [check for column in schema.columns.values() for check in column.checks]


def _mark(check: pa.Check, data: pd.Series | pd.DataFrame, index: pd.Index, failing: np.ndarray) -> bool:
    """Set `failing` where `check` fails on `data`; False when its outcome cannot be placed on rows.

    The check's own function runs as Pandera runs it (nulls dropped from a column first when the
    check ignores them). A frame check here flags a row whose columns are all null too, which
    Pandera passes: flagging more rows than fail is safe (Pandera decides on the rows flagged),
    and it saves a null scan of the whole frame.
    """
    try:
        if check.element_wise or check.groupby is not None:
            output = check(data).check_output
        else:
            if isinstance(data, pd.Series) and check.ignore_na and data.hasnans:
                data = data.dropna()
            output = _check_fn(check, data)(data, **check._check_kwargs)
        if isinstance(output, (bool, np.bool_)) and output:
            return True
        if not isinstance(output, pd.Series) or not output.index.equals(data.index):
            return False  # as Pandera: failures it cannot place on rows
        failed = ~output.astype(bool).to_numpy(dtype=bool)
        if not failed.any():
            return True
        positions = index.get_indexer(output.index[failed])
    except Exception:  # noqa: BLE001 - Pandera validates the whole batch and reports the error itself
        return False
    if (positions < 0).any():
        return False
    failing[positions] = True
    return True


def _check_fn(check: pa.Check, data: pd.Series | pd.DataFrame) -> object:
    """The function `check` runs on `data`, fetched as `Check.__call__` fetches it: a built-in rule
    (isin, ge, str_matches) holds a dispatcher by type, and the schema's deep copy (see __init__) holds
    a copy made before Pandera registered its pandas functions; until the current one is fetched
    (after registering, which `get_backend` does), each built-in rule raised KeyError here, and the
    first batch of every file was validated whole."""
    check.get_backend(data)
    name = getattr(check._check_fn, "__name__", None)
    return check.get_builtin_check_fn(name) if name is not None and check.is_builtin_check(name) else check._check_fn


def _describe(check: str) -> str:
    """'greater_than_or_equal_to(0)' -> '>= 0': a built-in Pandera check in words."""
    name, _, args = check.partition("(")
    phrase = _PHRASES.get(name)
    return phrase.format(args.removesuffix(")")) if phrase else check  # only the call's own ")": isin((...))


def _find_check(schema: pa.DataFrameSchema, context: str, column: object, number: object) -> pa.Check | None:
    """The Check object behind a failure case (to report its stable name and its message)."""
    if number is None or (isinstance(number, float) and np.isnan(number)):
        return None
    checks = (
        schema.checks
        if context == "DataFrameSchema"
        else schema.columns[column].checks
        if column in schema.columns
        else []
    )
    index = int(number)
    return checks[index] if 0 <= index < len(checks) else None


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FAILURE_COLUMNS)


def _try_coerce(dtype: object, values: pd.Series) -> tuple[pd.Series, list[object]]:
    try:
        return dtype.try_coerce(values), []  # type: ignore[attr-defined]
    except ParserError as exc:
        if exc.failure_cases is not None:
            bad = list(exc.failure_cases["index"])
        else:  # Pandera could not say which values failed (e.g. 9999-12-31 overflows): ask each one
            bad = [index for index, value in values.items() if pd.notna(value) and not _coerces(dtype, value)]
    rest = values.drop(index=bad)
    try:
        coerced = dtype.try_coerce(rest)  # type: ignore[attr-defined]
    except ParserError:  # pragma: no cover - element-wise detection missed something
        return values, list(values.index)
    return coerced.reindex(values.index), bad


def _decimals(dtype: pandas_engine.Decimal, values: pd.Series) -> pd.Series | None:
    """`dtype.try_coerce(values)` when every value coerces, each distinct value coerced once (prices
    repeat across a file's provider groups); None when one does not (the caller then asks Pandera).

    Values are told apart by type and text, not by `==`: True == 1 == Decimal(1) == 1.0, and
    -0.0 == 0.0, yet each coerces to its own result (or fails) on its own.
    """
    cells = values.to_numpy(dtype=object)
    present = np.flatnonzero(~values.isna().to_numpy(dtype=bool))
    seen: dict[tuple[type, object], object] = {}
    exp, context = dtype._exp, dtype._ctx
    out = np.full(len(cells), pd.NA, dtype=object)  # a missing value: NA, as Pandera's Decimal.coerce_value
    Decimal = decimal.Decimal
    try:
        for position, value in zip(present.tolist(), cells[present].tolist()):
            kind = type(value)
            if kind is Decimal and value.is_finite():  # the common case, quantized as below without a lookup
                out[position] = value.quantize(exp, context=context)
                continue
            key = (kind, value if kind is str or kind is int else repr(value))
            found = seen.get(key)
            if found is None:
                # as coerce_value, `Decimal(str(value)).quantize(...)`, without the text round trip where it
                # is exact (a finite Decimal, an int)
                if kind is decimal.Decimal and value.is_finite():
                    found = value.quantize(exp, context=context)
                elif kind is int:
                    found = decimal.Decimal(value).quantize(exp, context=context)
                else:
                    found = dtype.coerce_value(value)
                seen[key] = found
            out[position] = found
    except Exception:  # noqa: BLE001 - a value that does not coerce: Pandera finds and reports it
        return None
    return pd.Series(out, index=values.index, name=values.name, dtype=object)


def _coerces(dtype: object, value: object) -> bool:
    try:
        dtype.try_coerce(pd.Series([value], dtype=object))  # type: ignore[attr-defined]
        return True
    except ParserError:
        return False


def _text_to_date(values: pd.Series, fmt: str) -> tuple[pd.Series, list[object]]:
    """Calendar dates from text in `fmt`, any year 1-9999 (no pandas nanosecond range: files say
    9999-12-31 for 'never expires'). Each distinct value is parsed once."""

    def parse(value: object) -> object:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.datetime.strptime(str(value).strip(), fmt).date()
        except ValueError:
            return ValueError

    present_mask = values.notna().to_numpy(dtype=bool)
    if values.index.is_unique:  # each distinct value parsed once, spread back by its code (in C)
        codes, distinct = pd.factorize(values.to_numpy(dtype=object)[present_mask])
        parsed_distinct = np.empty(len(distinct), dtype=object)
        parsed_distinct[:] = [parse(v) for v in distinct]
        if not any(v is ValueError for v in parsed_distinct):
            out = np.full(len(values), None, dtype=object)
            out[present_mask] = parsed_distinct[codes]
            return pd.Series(out, index=values.index, dtype=object), []
    present = values[present_mask]
    mapping = {v: parse(v) for v in present.unique()}
    parsed = present.map(mapping).to_numpy(dtype=object)
    failed = np.fromiter((v is ValueError for v in parsed), dtype=bool, count=len(parsed))
    # placed by position, not label: an index with repeated labels (which skips the path above) works too
    out = np.full(len(values), None, dtype=object)
    out[np.flatnonzero(present_mask)[~failed]] = parsed[~failed]
    return pd.Series(out, index=values.index, dtype=object), list(present.index[failed])


def _text_to_bool(values: pd.Series) -> tuple[pd.Series, list[object]]:
    def parse(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        text = str(value).strip().lower()
        return True if text in TRUE_TEXT else False if text in FALSE_TEXT else ValueError

    parsed = values.map(parse)
    bad = list(parsed.index[parsed.map(lambda v: v is ValueError)])
    return parsed.where(~parsed.index.isin(bad), None).astype("boolean"), bad
