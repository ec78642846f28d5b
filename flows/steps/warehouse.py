"""Build the analysts' DuckDB file: views over committed Parquet, then the SQL in warehouse/sql.

The database is rebuilt into a temporary file and renamed over `payerbench.duckdb`, so an
analyst's open (read-only) connection keeps reading the previous snapshot and never meets a
lock held by the pipeline. Every dataset view lists its Parquet files explicitly, taken from
the load log's committed loads: a load in progress (or one that crashed) is invisible. Parts
are read by column name, so a part written before a column was added to its schema still reads
(the column is NULL in its rows). The `load_log` view reads the log's current generation by glob
(flows/steps/load_log.py): every attempt (an `unchanged` file, a rejected one) is visible at once,
without a rebuild, since each log row is itself a committed file. The generation is part of the
build's state, so a merge into a new generation rebuilds (`compact_load_log` does it at once when
nothing else changed); the old generation stays for readers of the previous build until `prune`
finds it both unused by the current build and older than the grace period.

Every file a reader of a build can reach is immutable while that build is current and for the
grace period after: Parquet parts are never rewritten (a load's folder is renamed in whole), the
empty files that give a view over no loads its columns are named by their schema, and the DuckDB
file and `.build_state.json` are replaced by rename.

Incremental: `plan` compares what the file was built from (the committed loads of each dataset,
the text of each SQL file, the dataset schemas, the lake's location; kept in `.build_state.json`
beside it) with what is there now. `build_if_changed` rebuilds only when something differs and
reports the SQL views whose inputs changed (`marts_rebuilt`), following the SQL files' references.
When only loads changed or the date moved (no SQL, macro or schema change), the build starts from a copy
of the current file and replaces only what changed (`_write_incremental`); any doubt builds from nothing.

A lake in an object store (PAYERBENCH_LAKE_URL, flows/steps/lake.py): the build copies the Parquet
files its views list (the committed parts, the load log's current generation) into a local folder,
`settings.lake_read_dir` (warehouse/lake-copy/, same layout), and the views read those copies. Why
not DuckDB's httpfs extension reading s3:// directly: the duckdb wheel does not bundle httpfs, and
`INSTALL httpfs` downloads it from DuckDB's extension repository at run time, which an offline
install or CI cannot do; the analysts' sandbox (flows/steps/sandbox.py) also turns extension loading
and remote access off on purpose. The copy is cheap to keep current: a part never changes once its
load committed (its name carries the load id), so each one is downloaded once, by the first build
that lists it. The `load_log` view then shows the log as of the build (locally it reads the
current generation by glob, so attempts after the build show at once).

Marts are ready when read. Each warehouse/sql/marts/<mart>.sql is built twice: as the view
`live.<mart>` (schema `live`: computed when read, as of the session's `as_of` variable, see
macros/as_of_date.sql) and as the table `<mart>` (schema main, what an unqualified name reads),
materialised as of the current date (`current_as_of()`, the report's default `--as-of`), which the
table `mart_as_of` records per mart. A report as of today, or an analyst's `select ... from
benchmark_rate`, reads stored rows; a report as of an earlier date reads the `live` views. Inside
`live`, a mart's view reads the other marts' views (DuckDB resolves a view's unqualified names in
its own schema first), so a `live` view never mixes in the tables' date. A build recomputes the
tables whose inputs changed (`affected_views`) and copies the others from the previous file; the
date is part of the build's state, so the first build on a later day (a nothing-new run included)
recomputes the marts that read the as-of date, and only those.

Memory: the build runs at the end of every `ingest` and `run`, and sets their peak (`payerbench ingest` run as a
command builds in its own process re-executed without the loader's libraries: flows/lean_build.py). Its connection gets
`settings.build_threads` threads and a DuckDB `memory_limit` of `settings.build_memory_limit`, so the marts' hash
tables spill to a folder beside the file being built (in the warehouse folder) instead of growing; DuckDB removes
it with the connection. What cannot spill (e.g. a list aggregate's lists) can still run out of memory within the
limit: a mart that does is computed once more without it, the marts after it keep it (`_create_table`); anything
else that does makes the whole build run once more without it (`_build`); the log says so either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from flows.errors import BuildOutOfMemory, SqlBuildError, WarehouseCorrupt
from flows.settings import Settings
from flows.steps import load_log
from flows.steps.lake import ObjectPath, lake_root, write_file_atomic
from flows.steps.load_log import COMMITTED
from flows.steps.lock import warehouse_lock
from flows.steps.warehouse_datasets import FINDINGS, Datasets, datasets
from flows.steps.warehouse_datasets import digest as _digest
from schemas import fields

# Lean on purpose: this module imports neither pandas nor pandera (nor the loader or the sources), nor Arrow (nor
# flows/steps/store.py, which imports it) but where a function needs it, and DuckDB only in the functions that
# connect, so `flows/lean_build.py` builds in a process that never mapped them (pyarrow alone is ~40 MB of a build's
# peak) and the load process (which calls `compact_load_log`) maps DuckDB only when it really builds. What the
# build needs of the datasets' Pandera schemas and of the Arrow layouts comes in as `Datasets`, made by the caller
# that has them (flows/steps/warehouse_datasets.py).
if TYPE_CHECKING:  # pragma: no cover
    import duckdb


def __getattr__(name: str) -> Any:
    if name == "connect_read_only":  # the analysts' connection lives in flows/steps/sandbox.py (imports DuckDB)
        from flows.steps.sandbox import connect_read_only

        return connect_read_only
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


logger = logging.getLogger(__name__)

SYSTEM_VIEWS = {
    "load_log": "One row per attempt to load one file: counts read / loaded / quarantined, status, error.",
    "quarantine": "One row per failed rule on a quarantined row: file, record, column, check, value, raw record.",
    "advisory": "One row per advisory finding on a row that loaded anyway.",
}


STATE_NAME = ".build_state.json"

LIVE_SCHEMA = "live"
"""The schema of the marts' views: `live.<mart>` computes a mart when read, as of the session's `as_of`."""
MART_AS_OF = "mart_as_of"
"""The table recording, per materialised mart, the as-of date its rows answer for."""
MART_AS_OF_DOC = (
    "One row per mart: the as-of date its table holds rows for (the build's date). "
    f"{LIVE_SCHEMA}.<mart> computes the mart when read, as of the session's as_of variable."
)
DATE_MOVED = "current date"
"""In `BuildPlan.changed` when the date moved since the last build: the marts that read as_of_date() are recomputed."""
AS_OF_MACRO = "as_of_date"


def current_as_of() -> dt.date:
    """The date the marts' tables are materialised as of: today, the report's default `--as-of`."""
    return dt.date.today()


def datasets_of(schemas: Mapping[str, Any]) -> Datasets:
    """`schemas` as `Datasets`: itself, or made from the dataset -> schema model mapping (imports pandera)."""
    if isinstance(schemas, Datasets):
        return schemas
    return datasets(schemas)


@dataclass
class BuildResult:
    path: Path
    views: list[str]
    files: int
    rebuilt: bool = True
    # SQL views (staging and marts, dependency order) whose inputs changed since the last build
    marts_rebuilt: list[str] = field(default_factory=list)
    reason: str = ""
    incremental: bool = False  # built from a copy of the previous file (`_write_incremental`), not from nothing


@dataclass
class BuildPlan:
    """Whether the DuckDB file is out of date, and which of its inputs changed."""

    needed: bool
    reason: str
    changed: set[str]  # datasets, system views and SQL views whose content or definition changed
    state: dict[str, object]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_quote(str(p)) for p in paths) + "]"


def _committed_parts(settings: Settings, folder: str, load_ids: list[str]) -> list[Path]:
    lake = lake_root(settings)
    parts: list[Path] = []
    for load_id in load_ids:
        parts += _local_files(settings, lake / folder / load_id, f"{folder}/{load_id}")
    return parts


def _local_files(settings: Settings, where: Path | ObjectPath, relative: str) -> list[Path]:
    """The Parquet files directly in one folder of the lake, as local paths the views can list: the
    files themselves, or (lake in an object store) their copies under `settings.lake_read_dir`,
    each downloaded once (whole, then renamed into place: a reader never meets part of one)."""
    if not isinstance(where, ObjectPath):
        return sorted(where.glob("*.parquet"))
    local = []
    for remote in sorted(where.glob("*.parquet")):
        target = settings.lake_read_dir / relative / remote.name
        if not target.exists():
            write_file_atomic(target, remote.read_bytes())
        local.append(target)
    return local


# The SQL layers, in build order: a file may read the relations of its own layer and of the layers
# before it (and the build's own relations, BUILTIN_RELATIONS); only staging reads the datasets.
# warehouse/sql/report/ holds the report's queries (run by flows/report.py, not built as views):
# they may read any view but no dataset either. macros/ holds DuckDB macros (one per file, named
# as the file), created before every view.
LAYERS = {"staging": "staging", "intermediate": "intermediate", "marts": "mart"}  # folder -> catalog kind
REPORT_DIR = "report"
MACRO_DIR = "macros"
# Relations the build itself makes from the load log and schemas/fields.py: readable from every layer.
BUILTIN_RELATIONS = frozenset({*SYSTEM_VIEWS, "enum_payer_group", "enum_coverage_status", "enum_source_confidence"})


class SqlView(NamedTuple):
    name: str
    sql: str
    doc: str  # the file's leading comment: its grain
    layer: str  # staging / intermediate / marts
    reads: frozenset[str]  # relations and macros the SQL names (parsed, CTEs left out)


_PARSED: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
"""SQL text -> what it names: a process plans and builds several times (plan, build, the report's checks), and
parsing every file each time is most of a plan's cost."""


def _parse(con: duckdb.DuckDBPyConnection | None, label: str, sql: str) -> tuple[set[str], set[str]]:
    """(tables, functions) one SELECT names, parsed by DuckDB itself (json_serialize_sql); remembered per text."""
    if sql not in _PARSED:
        assert con is not None, "a connection is needed for text not parsed before"
        _PARSED[sql] = tuple(frozenset(found) for found in _parse_now(con, label, sql))  # type: ignore[assignment]
    tables, functions = _PARSED[sql]
    return set(tables), set(functions)


def _parse_now(con: duckdb.DuckDBPyConnection, label: str, sql: str) -> tuple[set[str], set[str]]:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise SqlBuildError(f"warehouse/sql/{label} does not parse: {tree.get('error_message')}")
    if len(tree["statements"]) != 1:
        raise SqlBuildError(f"warehouse/sql/{label} must hold exactly one SELECT")
    tables: set[str] = set()
    functions: set[str] = set()
    ctes: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                tables.add(node["table_name"].lower())
            if "function_name" in node:
                functions.add(str(node["function_name"]).lower())
            for entry in (node.get("cte_map") or {}).get("map", []):
                ctes.add(entry["key"].lower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree["statements"])
    return tables - ctes, functions


def sql_macros(sql_dir: Path) -> list[tuple[str, str]]:
    """(name, sql) for each warehouse/sql/macros/*.sql file, each defining the macro named as the file."""
    macros = [(p.stem, p.read_text(encoding="utf-8")) for p in sorted((sql_dir / MACRO_DIR).glob("*.sql"))]
    for name, sql in macros:
        if not re.search(rf"(?is)^\s*(--[^\n]*\n\s*)*create\s+(or\s+replace\s+)?macro\s+{re.escape(name)}\s*\(", sql):
            raise SqlBuildError(f"warehouse/sql/{MACRO_DIR}/{name}.sql must define the macro {name}")
    return macros


def sql_views(sql_dir: Path, datasets: Iterable[str], con: duckdb.DuckDBPyConnection | None = None) -> list[SqlView]:
    """The views of warehouse/sql/{staging,intermediate,marts}/*.sql in dependency order, taken from
    the relations each file's SQL reads (parsed, not guessed from names). Raises `SqlBuildError`,
    naming the file, on SQL that does not parse, a relation that is neither a dataset, a built-in
    relation nor another SQL file, a layer reading a later one or a dataset outside staging, and a cycle.
    `datasets`: the names of the dataset views (from the caller's schemas). `con`: a connection to parse with (the
    build's: a DuckDB instance opened only to parse keeps ~8 MB of the build's peak after it is closed)."""
    datasets = frozenset(datasets)
    macros = {name for name, _ in sql_macros(sql_dir)}
    stray = sorted(
        str(p.relative_to(sql_dir))
        for p in sql_dir.rglob("*.sql")
        if p.relative_to(sql_dir).parts[0] not in (*LAYERS, REPORT_DIR, MACRO_DIR)
        or len(p.relative_to(sql_dir).parts) != 2
    )
    if stray:
        raise SqlBuildError(
            f"warehouse/sql/{stray[0]} is in no layer folder ({', '.join((*LAYERS, REPORT_DIR, MACRO_DIR))})"
        )
    paths: dict[str, tuple[str, Path]] = {}
    for folder in LAYERS:
        for path in sorted((sql_dir / folder).glob("*.sql")):
            if path.stem in paths or path.stem in datasets | BUILTIN_RELATIONS | macros:
                raise SqlBuildError(f"warehouse/sql/{folder}/{path.name}: the name {path.stem} is taken twice")
            paths[path.stem] = (folder, path)
    # a connection only to parse text not parsed before in this process (opening one costs ~50 ms, and a build
    # lists the views several times: plan, build, affected_views)
    texts = {path: path.read_text(encoding="utf-8") for _, path in paths.values()}
    texts |= {path: path.read_text(encoding="utf-8") for path in sorted((sql_dir / REPORT_DIR).glob("*.sql"))}
    own = con is None and any(text not in _PARSED for text in texts.values())
    con = _connect() if own else con
    views: dict[str, SqlView] = {}
    try:
        for name, (folder, path) in paths.items():
            sql = texts[path]
            tables, functions = _parse(con, f"{folder}/{path.name}", sql)
            views[name] = SqlView(name, sql, _leading_comment(sql), folder, frozenset(tables | (functions & macros)))
        for path in sorted((sql_dir / REPORT_DIR).glob("*.sql")):
            tables, _ = _parse(con, f"{REPORT_DIR}/{path.name}", texts[path])
            _check_reads(f"{REPORT_DIR}/{path.name}", REPORT_DIR, tables, views, datasets)
    finally:
        if own and con is not None:
            con.close()
    for view in views.values():
        _check_reads(f"{view.layer}/{view.name}.sql", view.layer, view.reads - macros, views, datasets)

    ordered: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            cycle = " -> ".join(f"{n}.sql" for n in visiting[visiting.index(name) :] + [name])
            raise SqlBuildError(f"warehouse/sql/{views[name].layer}/{name}.sql: circular reference: {cycle}")
        visiting.append(name)
        for dep in sorted(views[name].reads & views.keys()):
            visit(dep)
        visiting.pop()
        ordered.append(name)

    for name in views:
        visit(name)
    return [views[name] for name in ordered]


def _check_reads(
    label: str, layer: str, reads: Iterable[str], views: dict[str, SqlView], datasets: frozenset[str]
) -> None:
    layers = list(LAYERS)
    for relation in sorted(reads):
        if relation in BUILTIN_RELATIONS:
            continue
        if relation in datasets:
            if layer != "staging":
                raise SqlBuildError(
                    f"warehouse/sql/{label} reads the dataset {relation} directly: "
                    f"only staging/ reads datasets, read it through a staging view"
                )
        elif relation in views:
            other = views[relation].layer
            if layer != REPORT_DIR and layers.index(other) > layers.index(layer):
                raise SqlBuildError(f"warehouse/sql/{label} reads {other}/{relation}.sql, a later layer than {layer}/")
        else:
            raise SqlBuildError(f"warehouse/sql/{label} reads {relation}, which is no dataset, view or SQL file")


def _leading_comment(sql: str) -> str:
    lines = []
    for line in sql.splitlines():
        if line.startswith("--"):
            lines.append(line[2:].strip())
        elif line.strip():
            break
    return " ".join(lines).strip()


def _enum_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Tables of the enumerations defined once in schemas/fields.py (so SQL never retypes them)."""
    tables = {
        "enum_payer_group": (
            "One row per payer group: the five named groups and `other`.",
            "payer_group VARCHAR, payer_group_name VARCHAR, is_named_group BOOLEAN, sort_order INTEGER",
            [
                (g, fields.PAYER_GROUP_NAMES[g], g in fields.PAYER_GROUPS, i)
                for i, g in enumerate(fields.ALL_PAYER_GROUPS)
            ],
        ),
        "enum_coverage_status": (
            "One row per coverage status, with the coarse position used for consensus.",
            "coverage_status VARCHAR, coverage_position VARCHAR",
            [(s, fields.COVERAGE_POSITION.get(s)) for s in fields.COVERAGE_STATUSES],
        ),
        "enum_source_confidence": (
            "One row per source-confidence label; strength_rank 1 is the strongest evidence.",
            "source_confidence VARCHAR, strength_rank INTEGER",
            [(c, i + 1) for i, c in enumerate(fields.SOURCE_CONFIDENCE)],
        ),
    }
    for name, (doc, columns, rows) in tables.items():
        con.execute(f"CREATE TABLE {name} ({columns})")
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        con.execute(f"COMMENT ON TABLE {name} IS {_quote(doc)}")
    return [(name, doc) for name, (doc, _, _) in tables.items()]


def build(settings: Settings, schemas: Mapping[str, Any]) -> BuildResult:
    """Rebuild the DuckDB file from the load log and warehouse/sql; swap it in atomically.

    `schemas` maps every dataset to its schema model (the caller's catalog: steps never look it up), or is the
    `Datasets` made from them."""
    schemas = datasets_of(schemas)
    with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
        return _build(settings, plan(settings, schemas), schemas)


def build_if_changed(settings: Settings, schemas: Mapping[str, Any]) -> BuildResult:
    """Rebuild only when a load committed, a SQL file or a schema changed, or the file is missing."""
    schemas = datasets_of(schemas)
    with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
        current = plan(settings, schemas)
        if not current.needed:
            return BuildResult(path=settings.duckdb_path, views=[], files=0, rebuilt=False, reason=current.reason)
        return _build(settings, current, schemas)


LOG_GENERATION = "load_log generation"
"""In `BuildPlan.changed` when the log was merged into a new generation (no view's rows changed)."""


def _sql_texts(sql_dir: Path) -> list[tuple[str, str]]:
    """(view name, SQL) of every view file, read but not parsed: parsing all of them (`sql_views`) is most of
    a plan's cost, and a plan that finds nothing changed needs only their text. A .sql file outside the layer
    folders, or a name taken twice, is listed under its path, so it counts as a change and the build (which
    runs `sql_views`) names the error."""
    found: dict[str, str] = {}
    for path in sorted(sql_dir.rglob("*.sql")):
        relative = path.relative_to(sql_dir)
        if relative.parts[0] in (REPORT_DIR, MACRO_DIR) and len(relative.parts) == 2:
            continue
        layered = relative.parts[0] in LAYERS and len(relative.parts) == 2 and path.stem not in found
        found[path.stem if layered else str(relative)] = path.read_text(encoding="utf-8")
    return sorted(found.items())


LOG_COLUMNS = ("load_id", "status", "datasets", "rows_loaded", "rows_quarantined", "advisories")
"""The load log's columns the build reads (`load_log.read_rows`: no pandas)."""


def _committed(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in log if row["status"] in COMMITTED]


def _state(settings: Settings, log: list[dict[str, Any]], log_generation: int, schemas: Datasets) -> dict[str, object]:
    """What the DuckDB file is built from: per input a digest (see `plan`). `log`: `load_log.read_rows`."""
    done = _committed(log)
    loads: dict[str, list[str]] = {dataset: [] for dataset in schemas}
    for row in done:
        for dataset in row["datasets"] if row["datasets"] is not None else ():
            loads.setdefault(dataset, []).append(row["load_id"])
    inputs = {dataset: _digest(*sorted(ids)) for dataset, ids in loads.items() if dataset in schemas}
    inputs["quarantine"] = _digest(*sorted(row["load_id"] for row in done if row["rows_quarantined"] > 0))
    inputs["advisory"] = _digest(*sorted(row["load_id"] for row in done if row["advisories"] > 0))
    inputs["load_log"] = _digest(*sorted(row["load_id"] for row in done))  # SQL reads it for committed loads only
    inputs.update({f"sql:{name}": _digest(sql) for name, sql in sql_macros(settings.sql_dir)})
    inputs.update({f"sql:{name}": _digest(sql) for name, sql in _sql_texts(settings.sql_dir)})
    schema = _digest(
        schemas.fingerprint,
        *schemas.system_schemas,  # the findings' and the load log's Arrow layouts
        fields.ALL_PAYER_GROUPS,
        fields.PAYER_GROUP_NAMES,
        fields.COVERAGE_STATUSES,
        fields.COVERAGE_POSITION,
        fields.SOURCE_CONFIDENCE,
        Path(__file__).read_bytes(),
        str(lake_root(settings)),
    )
    return {
        "schema": schema,
        "load_log": bool(len(log)),
        "log_generation": log_generation,
        "inputs": inputs,
        "as_of": current_as_of().isoformat(),  # the marts' tables answer as of it: a new day recomputes them
    }


def plan(settings: Settings, schemas: Mapping[str, Any]) -> BuildPlan:
    """Compare the inputs now with those the current DuckDB file was built from."""
    schemas = datasets_of(schemas)
    generation, log = load_log.read_rows(lake_root(settings), LOG_COLUMNS)
    state = _state(settings, log, generation, schemas)
    inputs: dict[str, str] = state["inputs"]  # type: ignore[assignment]
    everything = {k.removeprefix("sql:") for k in inputs}
    state_file = settings.warehouse_dir / STATE_NAME
    try:
        before = json.loads(state_file.read_text(encoding="utf-8")) if settings.duckdb_path.exists() else None
    except (OSError, ValueError):
        before = None
    if before is None:
        return BuildPlan(True, "no warehouse built yet", everything, state)
    if before.get("schema") != state["schema"]:
        return BuildPlan(True, "the dataset schemas, the build code or the lake's location changed", everything, state)
    old: dict[str, str] = before.get("inputs") or {}
    changed = {k.removeprefix("sql:") for k in inputs.keys() | old.keys() if inputs.get(k) != old.get(k)}
    changed &= everything  # a deleted SQL file leaves no view behind to rebuild
    if before.get("load_log") != state["load_log"]:  # the view switches from empty to the log's glob
        changed.add("load_log")
    if before.get("log_generation") != state["log_generation"]:  # the view's glob moves to the new generation
        changed.add(LOG_GENERATION)
    if before.get("as_of") != state["as_of"]:  # a new day: the marts' tables answer as of yesterday
        changed.add(DATE_MOVED)
    if not changed and set(old) != set(inputs):
        changed = {"catalog"}  # a SQL file was removed: its view must go
    if not changed:
        return BuildPlan(False, "up to date: no new loads, SQL or schema changes, same date", set(), state)
    loaded = sorted(c for c in changed if c in schemas)
    sql = sorted(c for c in changed if f"sql:{c}" in inputs or f"sql:{c}" in old)
    reasons = [f"new loads of {', '.join(loaded)}" if loaded else "", f"SQL changed: {', '.join(sql)}" if sql else ""]
    if DATE_MOVED in changed:
        reasons.append(f"the date moved to {state['as_of']}: the marts' tables answer as of it")
    if not any(reasons):
        reasons = [
            "new loads (quarantined rows only)"
            if changed & {"quarantine", "advisory"}
            else f"the load log was merged (generation {state['log_generation']})"
            if changed == {LOG_GENERATION}
            else "the load log changed"
        ]
    return BuildPlan(True, "; ".join(r for r in reasons if r), changed, state)


# The load log is a per-file lookup: one row per load, which a view reads only for the files behind
# its own rows (stg_source_file's is_synthetic, joined by load_id). Every load changes it, but not
# what a view joining through it shows: a view that reads the log directly is rebuilt on every load,
# and passes that on to its readers only when its own SQL changed (its other inputs, e.g. a new load
# of its own datasets, still do).
PER_FILE_LOOKUP = "load_log"


def affected_views(sql_dir: Path, changed: set[str], datasets: Iterable[str]) -> list[str]:
    """SQL views (dependency order) that read, directly or through other views or macros, anything in
    `changed`, plus those whose own SQL changed (a change of the load log reaches direct readers only)."""
    affected: list[str] = []
    passing = set(changed) - {PER_FILE_LOOKUP}  # what passes a change on to its readers
    if DATE_MOVED in changed:  # a new date reaches what reads the as-of date
        passing.add(AS_OF_MACRO)
    for view in sql_views(sql_dir, datasets):
        if view.name in changed or view.reads & passing:
            affected.append(view.name)
            passing.add(view.name)
        elif PER_FILE_LOOKUP in changed and PER_FILE_LOOKUP in view.reads:
            affected.append(view.name)
    return affected


def _build(settings: Settings, current: BuildPlan, schemas: Datasets) -> BuildResult:
    import duckdb

    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    lake = lake_root(settings)
    done = _committed(load_log.read_rows(lake, LOG_COLUMNS)[1])
    committed = [row["load_id"] for row in done]
    lost = [
        row["load_id"]
        for row in done
        if row["rows_loaded"] > 0 and not any((lake / d / row["load_id"]).is_dir() for d in row["datasets"] or ())
    ]
    if lost:
        raise WarehouseCorrupt(
            f"the load log lists {len(lost)} committed load(s) whose Parquet files are missing "
            f"(first: {lost[0]}); warehouse/lake was changed outside payerbench. Delete "
            f"{settings.warehouse_dir} and run `payerbench run` to rebuild it from raw/."
        )
    target = settings.duckdb_path
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    limited = bool(settings.build_memory_limit)
    before = _recorded_state(settings)
    built = None
    refusal = _incremental_refusal(settings, current, schemas, before)
    if not refusal:
        try:
            built = _write_incremental(settings, current, schemas, committed, tmp, limited)
        except _NotIncremental as exc:
            refusal = str(exc)
        except Exception as exc:  # any doubt: today's full build, from nothing
            refusal = f"it failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    if refusal:
        logger.info("warehouse: a full build, not an incremental one: %s", refusal)
    try:
        views, files = (
            built if built is not None else _write_database(settings, current, schemas, committed, tmp, limited)
        )
    except duckdb.OutOfMemoryException as exc:
        if not limited:
            raise _out_of_memory("the warehouse build", exc) from None
        logger.warning(
            "the warehouse build ran out of memory within PAYERBENCH_BUILD_MEMORY_LIMIT (%d bytes) and could not "
            "spill (%s); building again without the limit. Raise the limit, or give the warehouse folder room to "
            "spill, to keep the build's memory bounded",
            settings.build_memory_limit,
            str(exc).splitlines()[0],
        )
        try:
            views, files = _write_database(settings, current, schemas, committed, tmp, False)
        except duckdb.OutOfMemoryException as again:
            raise _out_of_memory("the warehouse build", again) from None
    os.replace(tmp, target)
    # since when a build has read this log generation: the builds on older ones were replaced then (load_log.prune)
    generation = current.state["log_generation"]
    since = before.get("log_generation_since") if before.get("log_generation") == generation else None
    state = {
        **current.state,
        "log_generation_since": since if isinstance(since, (int, float)) else time.time(),
        # which file this state describes, and which DuckDB wrote it: the next build may start from a copy of it
        DUCKDB_FILE: _file_identity(target),
        DUCKDB_VERSION: duckdb.__version__,
    }
    # written last: a crash before it means "rebuild"
    write_file_atomic(settings.warehouse_dir / STATE_NAME, json.dumps(state, indent=1, sort_keys=True))
    return BuildResult(
        path=target,
        views=views,
        files=files,
        rebuilt=True,
        marts_rebuilt=affected_views(settings.sql_dir, current.changed, schemas),
        reason=current.reason,
        incremental=built is not None,
    )


def _connect(path: str = ":memory:", config: dict[str, object] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection: DuckDB is imported here, by the functions that connect (see the imports above)."""
    import duckdb

    return duckdb.connect(path, config=config or {})


def _connect_for_build(settings: Settings, path: Path, limited: bool) -> duckdb.DuckDBPyConnection:
    """The build's connection: `settings.build_threads` threads and, when `limited`, `settings.build_memory_limit`,
    spilling to a folder beside the file being built (in the warehouse folder, removed with the connection)."""
    config: dict[str, object] = {"temp_directory": str(path) + ".spill"}
    if settings.build_threads:
        config["threads"] = settings.build_threads
    if limited and settings.build_memory_limit:
        config["memory_limit"] = f"{settings.build_memory_limit}B"
    return _connect(str(path), config)


def _write_database(
    settings: Settings,
    current: BuildPlan,
    schemas: Datasets,
    committed: list[str],
    tmp: Path,
    limited: bool,
) -> tuple[list[str], int]:
    """Build the DuckDB file at `tmp` (views, enumerations, marts, catalog); returns its relations and the number of
    Parquet files they list. On any error the partial file is removed and the previous database stays in place."""
    import duckdb

    tmp.unlink(missing_ok=True)
    views: list[str] = []
    files = 0
    catalog: list[tuple[str, str, str]] = []
    _give_back_free_memory()
    con = _connect_for_build(settings, tmp, limited)
    try:
        # each view binds every view it reads, down to read_parquet, so a mart reading benchmark_rate five
        # times read the Parquet footers of every TiC part five times over: with the cache, once (1 GB TiC
        # ingest: the build's peak RSS +38 MB instead of +120 MB, 0.8 s instead of 1.4 s for that mart)
        con.execute("SET parquet_metadata_cache = true")
        empty = schemas.empty_files(settings, str(current.state["schema"]))
        for dataset, doc in schemas.items():
            parts = [empty[dataset]]
            parts += _committed_parts(settings, dataset, committed)
            files += len(parts) - 1
            _dataset_view(con, dataset, doc, parts, "CREATE VIEW")
            catalog.append((dataset, "dataset", doc))
            views.append(dataset)

        _system_views(con, settings, current, committed, "CREATE VIEW", empty)
        for name, doc in SYSTEM_VIEWS.items():
            catalog.append((name, "system", doc))
            views.append(name)

        for name, doc in _enum_tables(con):
            catalog.append((name, "enumeration", doc))
            views.append(name)

        for name, sql in sql_macros(settings.sql_dir):
            try:
                con.execute(sql)
            except duckdb.Error as exc:
                raise SqlBuildError(f"warehouse/sql/{MACRO_DIR}/{name}.sql does not build: {exc}") from None
        con.execute(f"CREATE SCHEMA {LIVE_SCHEMA}")
        ordered = sql_views(settings.sql_dir, schemas, con)
        for view in ordered:
            # a mart's view lives in `live` (its table takes the plain name, below); its reads of other marts
            # resolve to their `live` views, the rest to main
            qualified = f"{LIVE_SCHEMA}.{view.name}" if view.layer == "marts" else view.name
            try:
                con.execute(f"CREATE VIEW {qualified} AS\n{view.sql.rstrip().rstrip(';')}")
            except duckdb.Error as exc:
                raise SqlBuildError(f"warehouse/sql/{view.layer}/{view.name}.sql does not build: {exc}") from None
            con.execute(f"COMMENT ON VIEW {qualified} IS {_quote(view.doc)}")
        marts = [view for view in ordered if view.layer == "marts"]
        _materialise(con, settings, marts, current, schemas, settings.build_memory_limit if limited else 0)
        for view in ordered:
            catalog.append((view.name, LAYERS[view.layer], view.doc))
            views.append(view.name)
        catalog.append((MART_AS_OF, "system", MART_AS_OF_DOC))
        views.append(MART_AS_OF)

        con.execute("CREATE TABLE catalog (name VARCHAR, kind VARCHAR, description VARCHAR)")
        con.executemany("INSERT INTO catalog VALUES (?, ?, ?)", catalog)
        con.execute("COMMENT ON TABLE catalog IS 'Every table and view an analyst can query, with its grain.'")
        con.execute("CHECKPOINT")
        con.close()
    except BaseException:
        con.close()
        _remove_partial(tmp)
        raise
    return views, files


def _remove_partial(tmp: Path) -> None:
    """A build's unfinished file, its write-ahead log and its spill folder, removed; the previous database stays in
    place, untouched."""
    tmp.unlink(missing_ok=True)
    tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    shutil.rmtree(str(tmp) + ".spill", ignore_errors=True)


def _dataset_view(con: duckdb.DuckDBPyConnection, dataset: str, doc: str, parts: list[Path], verb: str) -> None:
    """The view of one dataset over `parts` (its empty file first) and its comment `doc`."""
    # By column name: a part written before a column was added to the schema reads it as NULL
    # (the empty file, first, keeps the current schema's column order and types).
    con.execute(f"{verb} {dataset} AS SELECT * FROM read_parquet({_parquet_list(parts)}, union_by_name = true)")
    con.execute(f"COMMENT ON VIEW {dataset} IS {_quote(doc)}")


def _system_views(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    current: BuildPlan,
    committed: list[str],
    verb: str,
    empty: Mapping[str, Path],
) -> None:
    """The views `load_log`, `quarantine` and `advisory` (SYSTEM_VIEWS) and their comments. `empty`: their empty files
    (`Datasets.empty_files`)."""
    lake = lake_root(settings)
    log_parts = [empty["load_log"]]
    if current.state["load_log"]:  # a glob that matches nothing fails, so only once a row exists
        # this generation only: its files stay while this build is current (load_log.prune)
        generation = load_log.generation_dir(lake, current.state["log_generation"])
        if isinstance(generation, ObjectPath):  # its files as of now, copied (see the module's docstring)
            copied = _local_files(settings, generation, generation.path.removeprefix(lake.path + "/"))
            generation = copied[0].parent if copied else generation
        log_parts.append(generation / "*.parquet")
    # one row per attempt (a generation never holds a row twice; this only guards the view)
    con.execute(
        f"{verb} load_log AS SELECT * FROM read_parquet({_parquet_list(log_parts)}) "
        "QUALIFY row_number() OVER (PARTITION BY load_id ORDER BY started_at) = 1 ORDER BY started_at"
    )
    for name, folder in FINDINGS.items():
        parts = [empty[name]] + _committed_parts(settings, folder, committed)
        con.execute(f"{verb} {name} AS SELECT * FROM read_parquet({_parquet_list(parts)})")
    for name, doc in SYSTEM_VIEWS.items():
        con.execute(f"COMMENT ON VIEW {name} IS {_quote(doc)}")


# Incremental builds. When only loads changed (a dataset's committed loads, the quarantine, the advisories, the
# load log or its generation) or the date moved, and nothing the file's definitions are made from (SQL, macros,
# schemas, this module, the lake's location), the build starts from a copy of the current file: it replaces the
# changed datasets' views and the system views, recomputes the marts those changes reach (`affected_views`) and
# leaves the rest (views, enumerations, other marts, catalog, comments) as they are. The previous file is never
# opened for writing: the copy is built at the temporary path and renamed over it, as a full build is.
INCREMENTAL_CHANGES = frozenset({"quarantine", "advisory", "load_log", LOG_GENERATION, DATE_MOVED})
"""Besides datasets, what `BuildPlan.changed` may hold for an incremental build."""
DUCKDB_FILE = "duckdb_file"
"""In the build state: (size, mtime_ns) of the DuckDB file it describes (a crash between the rename and the state's
write leaves a state that describes an older file: then the next build is a full one)."""
DUCKDB_VERSION = "duckdb_version"
"""In the build state: the DuckDB that wrote the file (another one may write another storage version)."""
MAX_FREE_SHARE = 0.5
"""An incremental build starts from a copy only while at most this share of its blocks is free. Dropping a mart
frees its blocks, which DuckDB reuses but does not give back, so a file rebuilt in place many times can carry
free space a fresh build would not (the used blocks are what a fresh build holds). Above half, a full build
writes a compact file: the file stays under about twice its content, and the rule needs no counter."""


class _NotIncremental(Exception):
    """The copy of the previous file is no base for an incremental build (the message says why)."""


def _file_identity(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _incremental_refusal(
    settings: Settings, current: BuildPlan, schemas: Datasets, before: Mapping[str, object]
) -> str:
    """'' when the build may start from a copy of the current file, else why not."""
    import duckdb

    target = settings.duckdb_path
    if not target.exists() or not before:
        return "no previous file or no state recorded for it"
    if not current.changed or not current.changed <= set(schemas) | INCREMENTAL_CHANGES:
        return "more than loads or the date changed"
    old = before.get("inputs")
    new = current.state["inputs"]
    if before.get("schema") != current.state["schema"] or not isinstance(old, dict) or old.keys() != new.keys():
        return "the schemas, the build code or the SQL files changed"
    if any(old[key] != new[key] for key in new if key.startswith("sql:")):  # type: ignore[attr-defined]
        return "a SQL file or macro changed"
    if before.get(DUCKDB_VERSION) != duckdb.__version__:
        return "the previous file was written by another DuckDB"
    if before.get(DUCKDB_FILE) != _file_identity(target):
        return "the recorded state does not describe the current file"
    if target.with_name(target.name + ".wal").exists():
        return "the previous file has a write-ahead log"
    return ""


def _write_incremental(
    settings: Settings,
    current: BuildPlan,
    schemas: Datasets,
    committed: list[str],
    tmp: Path,
    limited: bool,
) -> tuple[list[str], int]:
    """Build the DuckDB file at `tmp` from a copy of the current one (see INCREMENTAL_CHANGES); returns what
    `_write_database` returns. Raises `_NotIncremental` when the copy is no base for it; on any error the copy is
    removed and the previous file stays as it was (the caller then builds from nothing)."""
    import duckdb

    tmp.unlink(missing_ok=True)
    shutil.copyfile(settings.duckdb_path, tmp)
    _give_back_free_memory()
    try:
        con = _connect_for_build(settings, tmp, limited)
    except BaseException:
        _remove_partial(tmp)
        raise
    try:
        total, free = con.execute("SELECT total_blocks, free_blocks FROM pragma_database_size()").fetchone()
        if total and free > MAX_FREE_SHARE * total:
            raise _NotIncremental(f"{free} of the previous file's {total} blocks are free (more than {MAX_FREE_SHARE})")
        ordered = sql_views(settings.sql_dir, schemas, con)
        marts = [view for view in ordered if view.layer == "marts"]
        try:
            recorded = [mart for (mart,) in con.execute(f"SELECT mart FROM main.{MART_AS_OF}").fetchall()]
            tables = {
                name
                for (name,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                    "AND database_name = current_database()"
                ).fetchall()
            }
            views = [name for (name,) in con.execute("SELECT name FROM main.catalog ORDER BY rowid").fetchall()]
        except duckdb.Error as exc:
            raise _NotIncremental(f"the previous file lacks a table of the build ({exc})") from None
        names = [mart.name for mart in marts]
        if sorted(recorded) != sorted(names) or not {*names, MART_AS_OF, "catalog"} <= tables:
            raise _NotIncremental("the previous file's marts are not the marts of warehouse/sql")
        con.execute("SET parquet_metadata_cache = true")
        empty = schemas.empty_files(settings, str(current.state["schema"]))
        files = 0
        for dataset, doc in schemas.items():
            parts = _committed_parts(settings, dataset, committed)
            files += len(parts)
            if dataset in current.changed:
                _dataset_view(con, dataset, doc, [empty[dataset], *parts], "CREATE OR REPLACE VIEW")
        _system_views(con, settings, current, committed, "CREATE OR REPLACE VIEW", empty)
        affected = set(affected_views(settings.sql_dir, current.changed, schemas))
        as_of = dt.date.fromisoformat(str(current.state["as_of"]))
        limit = settings.build_memory_limit if limited else 0
        con.execute("SET VARIABLE as_of = ?", [as_of])
        for mart in marts:  # dependency order: a mart reads the tables of the marts before it, already recomputed
            if mart.name not in affected:
                continue
            con.execute(f"DROP TABLE main.{mart.name}")
            _create_table(con, mart.name, mart.sql.rstrip().rstrip(";"), limit)
            con.execute(f"COMMENT ON TABLE main.{mart.name} IS {_quote(mart.doc)}")
        con.execute("RESET VARIABLE as_of")
        con.execute(f"UPDATE {MART_AS_OF} SET as_of_date = ?", [as_of])
        con.execute("CHECKPOINT")
        con.close()
    except BaseException:
        con.close()
        _remove_partial(tmp)
        raise
    return views, files


def _materialise(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    marts: list[SqlView],
    current: BuildPlan,
    schemas: Datasets,
    limit: int = 0,
) -> None:
    """The table `<mart>` of each mart as of `current.state["as_of"]`, in dependency order (a mart's SQL, run in
    main, reads the tables of the marts before it), and the row recording that date in `mart_as_of`. A mart whose
    inputs did not change (`affected_views`) is copied from the previous file when that one holds it as of the
    same date; the others are computed."""
    import duckdb

    as_of = dt.date.fromisoformat(str(current.state["as_of"]))
    affected = set(affected_views(settings.sql_dir, current.changed, schemas))
    previous = _previous_marts(con, settings, as_of)
    con.execute("SET VARIABLE as_of = ?", [as_of])
    try:
        for mart in marts:
            if mart.name in (previous or ()) and mart.name not in affected:
                source = f"SELECT * FROM previous.main.{mart.name}"
            else:
                source = mart.sql.rstrip().rstrip(";")
            try:
                _create_table(con, mart.name, source, limit)
            except duckdb.OutOfMemoryException:
                raise  # not the SQL's fault: `_build` retries without the memory limit
            except duckdb.Error as exc:
                raise SqlBuildError(f"warehouse/sql/marts/{mart.name}.sql does not materialise: {exc}") from None
            con.execute(f"COMMENT ON TABLE main.{mart.name} IS {_quote(mart.doc)}")
    finally:
        con.execute("RESET VARIABLE as_of")
        if previous is not None:
            con.execute("DETACH previous")
    con.execute(f"CREATE TABLE {MART_AS_OF} (mart VARCHAR, as_of_date DATE)")
    con.executemany(f"INSERT INTO {MART_AS_OF} VALUES (?, ?)", [(mart.name, as_of) for mart in marts])
    con.execute(f"COMMENT ON TABLE {MART_AS_OF} IS {_quote(MART_AS_OF_DOC)}")


def _create_table(con: duckdb.DuckDBPyConnection, name: str, source: str, limit: int) -> None:
    """`CREATE TABLE main.<name> AS <source>`. Within the build's memory limit, a mart that runs out of memory (what
    it holds cannot all spill: e.g. a list aggregate's lists) is computed once more without the limit, which then
    applies again to the marts after it, and the log says so; the rest of the build is not redone."""
    import duckdb

    create = f"CREATE TABLE main.{name} AS\n{source}"
    if not limit:  # no limit of ours to lift
        con.execute(create)
        return
    try:
        con.execute(create)
    except duckdb.OutOfMemoryException as exc:
        logger.warning(
            "the mart %s ran out of memory within PAYERBENCH_BUILD_MEMORY_LIMIT (%d bytes) and could not spill (%s); "
            "computing it again without the limit. Raise the limit to keep the build's memory bounded",
            name,
            limit,
            str(exc).splitlines()[0],
        )
        con.execute("RESET memory_limit")
        try:
            con.execute(create)
        except duckdb.OutOfMemoryException as again:  # not worth a whole build without the limit: that fails too
            raise _out_of_memory(f"the mart {name}", again) from None
        finally:
            con.execute(f"SET memory_limit = '{limit}B'")


def _out_of_memory(what: str, exc: duckdb.OutOfMemoryException) -> BuildOutOfMemory:
    """The error a build that ran out of memory without our limit ends with: nothing left to lift."""
    return BuildOutOfMemory(
        f"{what} ran out of memory with no PAYERBENCH_BUILD_MEMORY_LIMIT in force ({str(exc).splitlines()[0]}); "
        "the previous payerbench.duckdb is unchanged. Free memory, or run `payerbench build` on a machine with more"
    )


def _previous_marts(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date) -> set[str] | None:
    """The marts the current DuckDB file holds as tables as of `as_of`, attached as `previous` (None: none to
    reuse: no file, one from before marts were materialised, or one that cannot be opened)."""
    import duckdb

    if not settings.duckdb_path.exists():
        return None
    try:
        con.execute(f"ATTACH {_quote(str(settings.duckdb_path))} AS previous (READ_ONLY)")
    except duckdb.Error:
        return None
    try:
        rows = con.execute(f"SELECT mart FROM previous.main.{MART_AS_OF} WHERE as_of_date = ?", [as_of]).fetchall()
    except duckdb.Error:
        rows = []
    return {mart for (mart,) in rows}


def _give_back_free_memory() -> None:
    """Hand the C allocator's free pages back to the system before DuckDB allocates its own: the loads of
    this process freed their rows, but malloc keeps the pages (glibc's `malloc_trim`; a no-op elsewhere).
    A 1 GB TiC ingest starts its build ~70 MB lower, and the build is that command's peak."""
    with contextlib.suppress(
        OSError, AttributeError, TypeError
    ):  # not glibc (TypeError: Windows' CDLL(None)): nothing to do
        ctypes.CDLL(None).malloc_trim(0)


def _recorded_state(settings: Settings) -> dict[str, object]:
    try:
        state = json.loads((settings.warehouse_dir / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def log_generation_in_use(settings: Settings) -> tuple[int, float] | None:
    """The oldest load-log generation the current DuckDB file may read, and since when the builds
    that read older ones are gone (None: there is no DuckDB file). For `load_log.prune`.

    The state file is written just after the DuckDB file is swapped in, so it can lag behind by one
    build, never lead: every generation from the one it names onwards is kept. Without a readable
    state file, every generation is kept."""
    if not settings.duckdb_path.exists():
        return None
    state = _recorded_state(settings)
    generation, since = state.get("log_generation"), state.get("log_generation_since")
    if not isinstance(generation, int) or not isinstance(since, (int, float)):
        return 0, time.time()
    return generation, float(since)


def compact_load_log(settings: Settings, schemas: Mapping[str, Any], at: int = load_log.COMPACT_AT) -> int:
    """Merge the load log into a new generation once `at` parts pile up, move the DuckDB `load_log`
    view onto it, and remove generations that no build reads and that were superseded longer than
    `settings.log_grace_seconds` ago. Held under the writer lock (re-entered by `run` and `ingest`).
    Returns the number of files merged.

    The view moves at once only when the merge is all that changed: otherwise the flow's own build
    (or the next `build`) moves it together with the new loads."""
    with warehouse_lock(settings.warehouse_dir, settings.lock_timeout):
        merged = load_log.compact(lake_root(settings), at)
        if merged and settings.duckdb_path.exists():
            schemas = datasets_of(schemas)
            current = plan(settings, schemas)
            if current.changed == {LOG_GENERATION}:
                _build(settings, current, schemas)
        load_log.prune(lake_root(settings), settings.log_grace_seconds, log_generation_in_use(settings))
        return merged
