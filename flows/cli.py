"""`payerbench`: the command line (also `python -m flows`).

Exit codes: 0 success; 1 a file was rejected or failed (the others were still loaded), a
status check found a problem, or the warehouse does not build; 2 a usage error (bad SQL, unknown
source, a bad setting, missing warehouse); 3 the warehouse is busy (another run held its lock for
longer than PAYERBENCH_LOCK_TIMEOUT). Library code raises the typed errors of flows/errors.py; `main`
prints each one's message and returns its `exit_code`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import decimal
import gc
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

# Quiet, offline-friendly Prefect defaults for a command-line tool (explicit settings win).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

# the exit codes (0, 1, 2, 3) are the errors' own: flows/errors.py; EXIT_BUSY is here for callers of `main`
from flows.errors import EXIT_BUSY, EXIT_DATA, EXIT_OK, EXIT_USAGE, PayerbenchError  # noqa: E402, F401
from flows.ops.console import console as _console  # noqa: E402
from flows.ops.console import exit_code, print_load_table  # noqa: E402
from flows.ops.console import exit_for as _exit_for  # noqa: E402
from flows.settings import ENV_VARS, Settings, from_env  # noqa: E402
from flows.steps.names import safe_name  # noqa: E402

READ_ONLY_STATEMENTS = {"SELECT"}  # not EXPLAIN: EXPLAIN ANALYZE runs the statement it explains
# What a query (or a PIVOT, which DuckDB parses as MULTI) may begin with, and keywords that only a
# writing or configuring statement uses (an unquoted column of one of these names must be "quoted").
QUERY_STARTS = {"select", "with", "from", "pivot", "unpivot", "values", "table", "describe", "show", "summarize", "("}
WRITE_KEYWORDS = {
    "insert",
    "update",
    "delete",
    "merge",
    "create",
    "drop",
    "alter",
    "truncate",
    "copy",
    "export",
    "import",
    "attach",
    "detach",
    "install",
    "load",
    "force",
    "set",
    "reset",
    "pragma",
    "checkpoint",
    "vacuum",
    "analyze",
    "call",
    "use",
    "begin",
    "commit",
    "rollback",
    "abort",
    "prepare",
    "execute",
    "deallocate",
    "comment",
    "returning",
    "secret",
    "extension",
}
# OWASP's rule for CSV meant for spreadsheets: a cell starting with one of these is a formula there
# (plus LF and NUL, as OWASP ASVS 1.2.10 lists NUL); such a cell is written with a leading '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
# ... except a cell that is only a number (-12.5, +3, -1e5): a spreadsheet reads it as that number.
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _iso_date(text: str) -> dt.date:
    """An argparse type: a calendar date written YYYY-MM-DD (argparse turns the error into a usage message)."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD (e.g. 2025-06-01)") from None


def _settings(args: argparse.Namespace) -> Settings:
    settings = from_env().replace(warehouse_dir=args.warehouse, raw_dir=args.raw_dir)
    if getattr(args, "accept_cms_license", False):
        settings = settings.replace(accept_cms_license=True)
    if getattr(args, "mirror", None):
        settings = settings.replace(mirror=args.mirror)
    return settings


# --- commands ---------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from rich.text import Text

    from flows.run_pipeline import run_pipeline

    settings = _settings(args)
    if args.no_report:
        settings = settings.replace(render_reports=False)
    if args.inbox:
        settings = settings.replace(inbox_dir=args.inbox)
    started = dt.datetime.now()
    with _download_bars() if args.fetch else contextlib.nullcontext():
        summary = run_pipeline(settings, land=args.land or bool(args.inbox), fetch=args.fetch, offline=args.offline)
    elapsed = (dt.datetime.now() - started).total_seconds()
    if summary.fetch is not None:
        print_fetch(summary.fetch)
    if summary.landings:
        print_landings(summary.landings, settings)
    print_load_table(summary.records, f"payerbench run {summary.run_id}")
    console = _console()
    build = summary.build
    state = "not rebuilt (nothing new)" if build is not None and not build.rebuilt else "rebuilt"
    console.print(f"warehouse: {settings.duckdb_path} {state}  ({elapsed:.1f} s)", highlight=False)
    if build is not None and build.rebuilt and build.marts_rebuilt:
        console.print(f"marts rebuilt: {', '.join(build.marts_rebuilt)}", highlight=False)
    for path in summary.reports:
        console.print(f"report: {path}", highlight=False)
    for path in summary.reports_unchanged:
        console.print(f"report unchanged (its data did not change): {path}", highlight=False)
    for error in summary.report_errors:
        console.print(Text(f"report failed: {safe_name(error)}", style="red"), highlight=False)
    code = _exit_for(summary.records)
    return code if code != EXIT_OK or (not summary.report_errors and summary.ok) else EXIT_DATA


def print_fetch(report) -> None:  # type: ignore[no-untyped-def]
    """One line per fetch step, then what needs a person (the licence line once)."""
    from rich.text import Text

    console = _console()
    for line in report.lines:
        console.print(Text(f"fetch: {safe_name(line)}"), highlight=False)
    for change in report.changes:  # a person reviews the draft extract rows it wrote
        console.print(Text(f"review: {safe_name(change)}", style="yellow"), highlight=False)
    for problem in report.problems:
        console.print(Text(f"fetch problem: {safe_name(problem)}", style="red"), highlight=False)


@contextlib.contextmanager
def _download_bars() -> Iterator[None]:
    """A progress bar per download while it streams, on a terminal only (stderr: stdout stays the summary)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from flows.fetch.run import PROGRESS

    bars: dict[str, object] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        console=Console(stderr=True), transient=True,
    ) as progress:  # fmt: skip

        def heard(url: str, done: int, total: int | None) -> None:
            if url not in bars:
                bars[url] = progress.add_task(safe_name(url.rsplit("/", 1)[-1])[:40], total=total)
            progress.update(bars[url], completed=done, total=total)  # type: ignore[arg-type]

        token = PROGRESS.set(heard)
        try:
            yield
        finally:
            PROGRESS.reset(token)


def cmd_fetch(args: argparse.Namespace) -> int:
    from flows.fetch_sources import fetch_sources

    settings = _settings(args)
    with _download_bars():
        report = fetch_sources(args.targets or None, settings, offline=args.offline)
    print_fetch(report)
    return EXIT_DATA if report.problems else EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from flows import catalog
    from flows.ingest import ingest

    settings = _settings(args)
    source = catalog.get(args.source)
    options: dict[str, str] = {}
    for item in args.option or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            print(f"payerbench ingest: option {item!r} is not KEY=VALUE (e.g. -o data_year=2022)", file=sys.stderr)
            return EXIT_USAGE
        options[name.strip()] = value.strip()
    source.check_options(options)
    urls = [p for p in args.paths if p.lower().startswith(("http://", "https://"))]
    if urls:  # streamed from the network, never written to disk (unless --keep)
        if len(urls) != len(args.paths) or args.toc or args.download or args.dask_address:
            print(
                "payerbench ingest: give either URLs or files (URLs take no --toc/--download/--dask-address)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        from flows.ingest import ingest_urls

        records = ingest_urls(
            args.source, urls, settings, keep=args.keep, force=args.force, options=options, build=not args.no_build
        )
        print_load_table(records, f"payerbench ingest {args.source}")
        return _exit_for(records)
    if args.keep:
        print("payerbench ingest: --keep applies to URLs (a copy of each file as it streams)", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.paths + ([args.toc] if args.toc else []) if not Path(p).exists()]
    if missing:
        print(f"payerbench ingest: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    if not args.paths and not args.toc:
        with_toc = ", ".join(catalog.with_hook("expand"))
        print(f"payerbench ingest: give the files to load (or --toc for {with_toc})", file=sys.stderr)
        return EXIT_USAGE
    flags = [
        f
        for f, given in (("--toc", args.toc), ("--download", args.download), ("--dask-address", args.dask_address))
        if given
    ]
    if refusal := catalog.refused_flags(source, flags):
        print(f"payerbench ingest: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    from flows import lean_build

    title = f"payerbench ingest {args.source}"
    # the build may leave this process (flows/lean_build.py: it prints the table and exits as below)
    with lean_build.allowed("ingest", title) if args.exec_build else contextlib.nullcontext():
        records = ingest(
            args.source,
            [Path(p) for p in args.paths] or None,
            settings,
            build=not args.no_build,
            force=args.force,
            options=options,
            toc=Path(args.toc) if args.toc else None,
            download=args.download,
            dask_address=args.dask_address,
        )
    print_load_table(records, title)
    return _exit_for(records)


def cmd_report(args: argparse.Namespace) -> int:
    # The report imports about a million objects that live to the end (pandas, matplotlib, nbconvert, IPython):
    # with the default thresholds the collector walks them again at every third full pass (0.2 s); a short
    # command can leave its garbage for the next, rarer pass.
    gc.set_threshold(10_000, 50, 100)
    from flows.report.flow import render_benchmark_reports

    settings = _settings(args)
    if args.out:
        settings = settings.replace(reports_dir=args.out)
    if not settings.duckdb_path.exists():
        print(
            f"payerbench report: no warehouse at {settings.duckdb_path}; run `payerbench run` (or `payerbench build`) "
            "first, or point --warehouse at one",
            file=sys.stderr,
        )
        return EXIT_USAGE
    as_of = args.as_of
    from flows.report.data import check_payers

    payers = [p.strip().lower() for p in args.payer] if args.payer else None
    try:
        check_payers(payers)
    except ValueError as exc:
        print(f"payerbench report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from schemas.fields import BILLING_CODE_RE

    codes = [c.strip().upper() for c in args.code] if args.code else None
    bad = [safe_name(c) for c in codes or [] if not BILLING_CODE_RE.match(c)]
    if bad:  # a code names the report's files: `../x` or `a/b` would write outside the reports folder
        print(f"payerbench report: {', '.join(bad)} is not a CPT/HCPCS code (e.g. 0440T)", file=sys.stderr)
        return EXIT_USAGE
    results = render_benchmark_reports(settings, codes, as_of, payers=payers, include_synthetic=args.include_synthetic)
    failed = [r for r in results if isinstance(r, str)]
    for result in results:
        if isinstance(result, str):
            print(f"payerbench report: {result}", file=sys.stderr)
        else:
            print(f"{result.billing_code}: {result.html} and {result.markdown} ({result.seconds:.1f} s)")
    return EXIT_DATA if failed else EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from flows import catalog
    from flows.steps import warehouse

    result = warehouse.build(_settings(args), catalog.SCHEMAS)
    print(f"built {result.path}: {len(result.views)} tables and views over {result.files} Parquet files")
    return EXIT_OK


def _refuse_writes(sql: str) -> str | None:
    """Why `sql` is not one read-only statement, or None. (The connection is sandboxed as well:
    flows/steps/sandbox.py; this check refuses writes before anything runs and names them.)"""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return f"cannot parse the SQL: {str(exc).strip().splitlines()[0]}"
    if len(statements) != 1:
        return f"expected exactly one SQL statement, got {len(statements)}"
    try:
        kind = statements[0].type.name
    except ValueError:  # a statement kind this DuckDB client has no name for (e.g. UPDATE EXTENSIONS)
        return "refused: a statement that is not a query; `query` is read-only (SELECT, PIVOT, UNPIVOT only)"
    if kind == "MULTI":
        return _refuse_multi(statements[0].query)
    if kind not in READ_ONLY_STATEMENTS:
        return f"refused: {kind} statements are not allowed; `query` is read-only (SELECT, PIVOT, UNPIVOT only)"
    return None


def _refuse_multi(sql: str) -> str | None:
    """A PIVOT without an IN list parses as MULTI (DuckDB first gathers the pivoted values into a
    temporary enum, then selects). Accept it only when it is a query through and through: it starts
    as a query does, pivots, and no keyword of any writing statement appears anywhere in it (a
    `CREATE TABLE t AS PIVOT ...` or `INSERT INTO t PIVOT ...` is MULTI too)."""
    import duckdb

    words = [
        re.match(r"\w*", sql[offset:]).group(0).lower() or sql[offset]  # type: ignore[union-attr]
        for offset, kind in duckdb.tokenize(sql)
        if kind in (duckdb.token_type.keyword, duckdb.token_type.operator)
    ]
    writes = sorted(set(words) & WRITE_KEYWORDS)
    if writes:
        return (
            f"refused: {writes[0].upper()} inside a PIVOT statement; `query` is read-only (SELECT, PIVOT, UNPIVOT only)"
        )
    if not words or words[0] not in QUERY_STARTS or not {"pivot", "unpivot"} & set(words):
        return "refused: a compound statement that is not one PIVOT query; `query` is read-only (SELECT, PIVOT, UNPIVOT only)"
    return None


def _jsonable(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact: money is never turned into a binary float
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _csv_cell(value: object, raw: bool) -> str:
    """A CSV cell; unless `raw`, text a spreadsheet would run as a formula gets a leading '."""
    text = _cell(value)
    if raw or isinstance(value, (int, float, decimal.Decimal)) or not text.startswith(FORMULA_STARTS):
        return text
    return text if PLAIN_NUMBER.fullmatch(text) else "'" + text


def _write_csv(rows: Iterable[list[str]]) -> None:
    """CSV rows on stdout ending in \\n. Written with \\r\\n line ends, then cut to \\n: Python 3.11's csv
    quotes a cell holding the line terminator's characters only, so a bare CR would otherwise split a row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
        sys.stdout.write(buffer.getvalue()[:-2] + "\n")
        buffer.seek(0)
        buffer.truncate()


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from flows.steps.sandbox import connect_read_only, describe_refusal, is_refusal

    if args.raw and args.format != "csv":
        print("payerbench query: --raw applies only to --format csv", file=sys.stderr)
        return EXIT_USAGE
    problem = _refuse_writes(args.sql)
    if problem:
        print(f"payerbench query: {problem}", file=sys.stderr)
        return EXIT_USAGE
    settings = _settings(args)
    con = connect_read_only(settings)
    try:
        cursor = con.execute(args.sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        print(f"payerbench query: {describe_refusal(exc, settings) if is_refusal(exc) else exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        con.close()
    if args.format == "csv":
        _write_csv(
            [[_csv_cell(c, args.raw) for c in columns], *([_csv_cell(v, args.raw) for v in row] for row in rows)]
        )
    elif args.format == "json":
        json.dump([{c: _jsonable(v) for c, v in zip(columns, row)} for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from rich.table import Table

        table = Table(show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        from rich.text import Text

        for row in rows:
            table.add_row(*[Text(_cell(v)) for v in row])
        console = _console()
        console.print(table)
        console.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", highlight=False)
    return EXIT_OK


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


def cmd_status(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from flows.ops import run_summary
    from flows.ops import status as status_mod
    from flows.steps import load_log

    settings = _settings(args)
    from flows.steps.lake import lake_root

    log = load_log.read(lake_root(settings))
    if log.empty:
        print(f"no loads recorded under {settings.lake_url or settings.lake_dir}; run `payerbench run` first")
        return EXIT_DATA
    now = None
    if args.now:
        try:
            now = dt.datetime.fromisoformat(args.now)
        except ValueError:
            print(
                f"payerbench status: --now {args.now!r} is not an ISO date or time (e.g. 2027-01-31)", file=sys.stderr
            )
            return EXIT_USAGE
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    report = status_mod.collect(settings, now)
    if args.format == "json":
        json.dump(_status_json(report), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return report.exit_code
    console = _console()
    if args.all or args.files:
        latest = log if args.all else log.groupby(["source", "source_path"], sort=False).tail(1)
        table = Table(
            title=f"load log ({'every attempt' if args.all else 'latest attempt per file'})", title_justify="left"
        )
        for column in ["source", "file", "status", "read", "loaded", "quarantined", "attempted (UTC)", "run"]:
            table.add_column(column, justify="right" if column in ("read", "loaded", "quarantined") else "left")
        for r in latest.itertuples(index=False):
            table.add_row(
                Text(r.source),
                Text(safe_name(r.source_file)),
                Text(r.status),
                f"{r.rows_read:,}",
                f"{r.rows_loaded:,}",
                f"{r.rows_quarantined:,}",
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                Text(safe_name(r.run_id)),
            )
        console.print(table)
    table = Table(
        title=f"datasets at {report.now:%Y-%m-%d %H:%M} UTC (freshness: time since the source's newest load)",
        title_justify="left",
    )
    for column in [
        "source",
        "dataset",
        "last loaded (UTC)",
        "newest file",
        "files",
        "rows",
        "quarantined",
        "newest period",
        "cadence",
        "freshness",
    ]:
        table.add_column(column, justify="right" if column in ("files", "rows", "quarantined") else "left")
    styles = {"fresh": "green", "stale": "red", "no data": "dim", "on change": ""}
    for d in report.datasets:
        table.add_row(
            Text(d.source),
            Text(d.dataset),
            _when(d.last_loaded_at),
            Text(safe_name(d.newest_file or "")),
            f"{d.files:,}",
            f"{d.rows:,}",
            f"{d.rows_quarantined:,}",
            Text(d.newest_period or ""),
            d.freshness.cadence,
            Text(d.freshness.describe(), style=styles.get(d.freshness.verdict, "")),
        )
    console.print(table)
    if report.last_runs:
        runs = Table(title="latest run of each flow", title_justify="left")
        for column in ["flow", "run", "ended (UTC)", "status", "files loaded / seen", "elapsed"]:
            runs.add_column(column)
        for flow, run in sorted(report.last_runs.items()):
            files = run.get("files") or {}
            state = run_summary.effective_status(run)
            runs.add_row(
                Text(safe_name(flow)),
                Text(safe_name(run.get("run_id"))),
                str(run.get("ended_at") or "-")[:16].replace("T", " "),
                Text(state, style="green" if state == "ok" else "" if state == "running" else "red"),
                f"{files.get('loaded', 0)} / {files.get('seen', 0)}",
                f"{float(run.get('elapsed_s') or 0):.1f} s",
            )
        console.print(runs)
    if any(f.last_checked_at for f in report.fetches.values()):
        fetched = Table(title="fetched from the publishers (raw/fetch_manifest/)", title_justify="left")
        for column in ["source", "last check (UTC)", "last change upstream", "newest listed", "loaded", "note"]:
            fetched.add_column(column)
        for f in report.fetches.values():
            fetched.add_row(
                Text(f.source),
                (f.last_checked_at or "never")[:16].replace("T", " "),
                (f.last_changed_at or "never")[:16].replace("T", " "),
                Text(f.published or ""),
                Text(f.loaded or ""),
                Text(
                    f"publisher lists {f.published}; loaded: {f.loaded or 'none'}" if f.newer_published else "",
                    style="yellow",
                ),
            )
        console.print(fetched)
    for change in report.policy_changes:
        console.print(Text.assemble(("policy page changed", "yellow"), " ", safe_name(change)), highlight=False)
    for run in report.crashed_runs:
        console.print(
            Text.assemble(
                ("crashed", "red"),
                f" run {safe_name(run.get('run_id'))} ({safe_name(run.get('flow'))}, started "
                f"{str(run.get('started_at'))[:16].replace('T', ' ')} UTC, pid {run.get('pid')}: "
                f"{safe_name(run.get('command'))})",
            ),
            highlight=False,
            soft_wrap=True,
        )
    for problem in report.problems:
        console.print(Text.assemble(("problem", "red"), " ", safe_name(problem)), highlight=False, soft_wrap=True)
    if not report.problems:
        console.print("no problems: every source with data is fresh and the latest runs succeeded", highlight=False)
    return report.exit_code


def _status_json(report) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "now": report.now.isoformat(),
        "exit_code": report.exit_code,
        "problems": report.problems,
        "datasets": [
            {
                "source": d.source,
                "dataset": d.dataset,
                "last_loaded_at": d.last_loaded_at.isoformat() if d.last_loaded_at else None,
                "newest_file": d.newest_file,
                "files": d.files,
                "rows": d.rows,
                "rows_quarantined": d.rows_quarantined,
                "newest_period": d.newest_period,
                "cadence": d.freshness.cadence,
                "freshness": d.freshness.verdict,
            }
            for d in report.datasets
        ],
        "last_runs": report.last_runs,
        "crashed_runs": report.crashed_runs,
        "policy_changes": report.policy_changes,
        "fetches": {
            name: {**dataclasses.asdict(f), "newer_published": f.newer_published} for name, f in report.fetches.items()
        },
    }


def print_landings(landings: Sequence[object], settings: Settings) -> None:
    """Per inbox file: what happened to it and where it went (or why it stayed). Names are data:
    control characters are shown escaped (`safe_name`) and [brackets] print as they are (Text, not markup)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"inbox {safe_name(settings.inbox_dir)}"), title_justify="left")
    for column in ["file", "status", "source", "now at (under raw/)", "note"]:
        table.add_column(column)
    styles = {"landed": "green", "duplicate": "dim", "left": "red", "refused": "red", "waiting": "yellow"}
    for item in landings:
        table.add_row(
            Text(safe_name(item.inbox_path)),
            Text(item.status, style=styles.get(item.status, "")),
            Text(item.source or ""),
            Text(safe_name(item.target_path or "")),
            Text(safe_name(item.message)),
        )
    _console().print(table)


def cmd_land(args: argparse.Namespace) -> int:
    from flows.land_inbox import land_inbox

    settings = _settings(args)
    if args.inbox:
        settings = settings.replace(inbox_dir=args.inbox)
    if not settings.inbox_dir.is_dir():
        print(
            f"no inbox folder at {safe_name(settings.inbox_dir)}: nothing to land (create it, or set "
            "PAYERBENCH_INBOX_DIR)"
        )
        return EXIT_OK
    landings = land_inbox(settings, settle_seconds=args.settle)
    if not landings:
        print(f"the inbox {safe_name(settings.inbox_dir)} is empty")
        return EXIT_OK
    print_landings(landings, settings)
    return EXIT_DATA if any(item.needs_attention for item in landings) else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.ops import deployments

    return deployments.serve(Path(args.file) if args.file else None, only=args.only or None)


def cmd_sources(args: argparse.Namespace) -> int:
    from flows import catalog

    settings = _settings(args)
    for source in catalog.SOURCES.values():
        print(f"{source.name:<14} {source.description}")
        print(f"{'':<14} datasets: {', '.join(source.datasets)}; files: {settings.source_dir(source.name)}")
        for name, meaning in source.options:
            print(f"{'':<14} ingest option -o {name}=...: {meaning}")
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--warehouse",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="warehouse folder (default: ./warehouse or $PAYERBENCH_WAREHOUSE_DIR)",
    )
    common.add_argument(
        "--raw-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="raw files folder (default: ./raw or $PAYERBENCH_RAW_DIR)",
    )
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show Prefect's logs")

    env_help = "\n".join(f"  {var:<26} {desc}" for var, (_, desc) in ENV_VARS.items())
    parser = argparse.ArgumentParser(
        prog="payerbench",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Payer policy and reimbursement pipeline for CPT 0440T-0442T.",
        epilog=f"environment variables:\n{env_help}",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetching = argparse.ArgumentParser(add_help=False)
    fetching.add_argument(
        "--accept-cms-license",
        action="store_true",
        help="you have read and accept the AMA CPT licence CMS shows before its PFS, OPPS and ASC files "
        "(https://www.cms.gov/license/ama); recorded in the fetch manifest (or PAYERBENCH_ACCEPT_CMS_LICENSE=yes)",
    )
    fetching.add_argument(
        "--mirror",
        metavar="URL_OR_DIR",
        help="read every fetched URL https://HOST/PATH?QUERY from URL_OR_DIR/HOST/PATH?QUERY (or PAYERBENCH_MIRROR)",
    )
    fetching.add_argument("--offline", action="store_true", help="fetch nothing; say what would be fetched")

    p = sub.add_parser(
        "fetch",
        parents=[common, fetching],
        help="download the sources' new releases from CMS into raw/<source>/fetched/ (no load)",
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="SOURCE",
        help="sources or deployment groups to fetch (default: every source that has a fetch step)",
    )
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser(
        "run",
        parents=[common, fetching],
        help="ingest every source's raw files, build the warehouse, render reports",
    )
    p.add_argument("--fetch", action="store_true", help="first fetch every source's new releases (see `fetch`)")
    p.add_argument("--no-report", action="store_true", help="skip rendering the benchmark reports")
    p.add_argument("--land", action="store_true", help="first move the files dropped in the inbox into raw/")
    p.add_argument(
        "--inbox", metavar="DIR", help="the inbox to land first (implies --land; default $PAYERBENCH_INBOX_DIR)"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "land", parents=[common], help="move files dropped in the inbox into raw/<source>/ (told by content)"
    )
    p.add_argument("--inbox", metavar="DIR", help="the drop folder (default ./inbox or $PAYERBENCH_INBOX_DIR)")
    p.add_argument(
        "--settle",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="leave files modified less than this long ago (still being written?) for later (default 10)",
    )
    p.set_defaults(func=cmd_land)

    p = sub.add_parser(
        "serve", parents=[common], help="serve the scheduled deployments of prefect.yaml (needs a Prefect server)"
    )
    p.add_argument("--file", metavar="YAML", help="deployment definitions (default: the project's prefect.yaml)")
    p.add_argument("--only", action="append", metavar="NAME", help="serve only this deployment (repeatable)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("report", parents=[common], help="render the benchmark report (HTML + Markdown) for codes")
    p.add_argument(
        "--code",
        action="append",
        metavar="CODE",
        help="billing code (repeatable; default: every target code in raw/reference/billing_codes.csv)",
    )
    p.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        type=_iso_date,
        help="data as of this date: Medicare releases in effect then, files published by then (default today)",
    )
    p.add_argument(
        "--payer",
        action="append",
        metavar="GROUP",
        help="show coverage and negotiated rates of this payer group only (repeatable: aetna, bcbs, cigna, "
        "unitedhealthcare, medicare, other; default every group)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="where to write the reports (default ./reports or $PAYERBENCH_REPORTS_DIR)"
    )
    p.add_argument(
        "--include-synthetic",
        action="store_true",
        help="show rows from synthetic demonstration files inline, marked (default: real data only; synthetic rows "
        "only in the report's demonstration-data appendix)",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("ingest", parents=[common], help="load the given files of one source, then rebuild")
    p.add_argument("source", help="source name (see `payerbench sources`)")
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files to load, or https:// URLs read as they stream (tic; never written to disk unless --keep)",
    )
    p.add_argument(
        "--keep", action="store_true", help="with URLs: also keep a copy of each file in raw/<source>/fetched/"
    )
    p.add_argument("--no-build", action="store_true", help="skip rebuilding the DuckDB file")
    p.add_argument("--force", action="store_true", help="load files again even if their sha256 was loaded before")
    p.add_argument("--toc", metavar="FILE", help="tic: a table of contents; load the files it lists (local copies)")
    p.add_argument("--download", action="store_true", help="tic with --toc: download listed files not found locally")
    p.add_argument(
        "--dask-address",
        metavar="ADDR",
        help="tic: run file loads on this Dask scheduler (default $PAYERBENCH_DASK_ADDRESS)",
    )
    p.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="a fact about the files the source cannot read from them, e.g. -o data_year=2022 "
        "(`payerbench sources` lists each source's options)",
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("query", parents=[common], help="run one read-only SQL query against the warehouse")
    p.add_argument("sql", help='one SELECT (or PIVOT / UNPIVOT) statement, e.g. "select * from coverage_matrix"')
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument(
        "--raw",
        action="store_true",
        help="with --format csv: write every cell as it is (by default a cell starting with = + - @ "
        "tab or CR, which a spreadsheet would run as a formula, gets a leading ')",
    )
    p.set_defaults(func=cmd_query)

    p = sub.add_parser(
        "status",
        parents=[common],
        help="per dataset: loads, rows, newest period, freshness; exit 1 when stale or the last run failed",
    )
    p.add_argument("--files", action="store_true", help="also the load log's latest attempt per file")
    p.add_argument("--all", action="store_true", help="also every attempt of the load log")
    p.add_argument("--now", metavar="WHEN", help="judge freshness as of this ISO date or time (default: now)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("build", parents=[common], help="rebuild the DuckDB file from the committed loads")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("sources", parents=[common], help="list the sources and their datasets")
    p.set_defaults(func=cmd_sources)
    return parser


@contextlib.contextmanager
def _local_prefect(runs_flows: bool) -> Iterator[None]:
    """Without a Prefect server (no PREFECT_API_URL), flows run as plain calls (flows/orchestration.py):
    no API is started for them. Where Prefect itself is needed all the same (a Dask task runner), it starts
    a temporary server (stopped when this process dies: flows/ingest.py `load_source`), and flow-run
    heartbeats (a server's crashed-run detection) are off: each flow's exit would wait up to a second for
    their thread. With a server, nothing changes."""
    from flows.orchestration import api_may_be_configured, prefect_imported

    if not runs_flows or not (prefect_imported() or api_may_be_configured()):  # no Prefect import (about 0.9 s):
        yield  # `query`, `status`, `sources`, and flows run as plain calls (a Dask runner: flows/ingest.py)
        return
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


CONSOLE_SCRIPT = "payerbench"
"""The console script's name (pyproject.toml [project.scripts]): `main()` run as it may exec its ingest's build."""

FLOW_COMMANDS = {cmd_run, cmd_ingest, cmd_land, cmd_build, cmd_report, cmd_fetch}


def main(argv: Sequence[str] | None = None, *, exec_build: bool | None = None) -> int:
    """Entry point of the `payerbench` console script and `python -m flows`.

    `exec_build`: whether `ingest` may end in its build re-executed without pandas (flows/lean_build.py). Default:
    only when this process is the command (`python -m flows` passes True; the console script calls `main()`: its
    `sys.argv[0]` is the `payerbench` script); a program or test calling `main([...])`, or `main()` with a
    sys.argv of its own (a test runner's, `python -c`), keeps its process as it is and builds in it."""
    if exec_build is None:
        exec_build = argv is None and Path(sys.argv[0]).name == CONSOLE_SCRIPT
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("warehouse", "raw_dir", "verbose"):
        if not hasattr(args, name):
            setattr(args, name, None)
    if args.verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    args.exec_build = exec_build

    def body() -> int:
        with _local_prefect(args.func in FLOW_COMMANDS):
            return args.func(args)

    return exit_code(args.command, body)  # library code raises; here an error becomes an exit code
