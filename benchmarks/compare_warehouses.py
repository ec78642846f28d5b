"""Compare two built warehouses (e.g. one built before a refactor and one after): every table and view
both have must hold the same rows (same count, EXCEPT ALL empty both ways), with the as-of variable
unset and set to each date given; the report's queries (warehouse/sql/report/*.sql of each project,
run against its own warehouse for every code of interest) must return the same rows too.

    python benchmarks/compare_warehouses.py BEFORE.duckdb AFTER.duckdb \
        [--report-sql BEFORE_SQL_DIR AFTER_SQL_DIR] [--as-of 2025-06-01 ...] [--ignore-columns REGEX]

Two warehouses built over the same lake (copy the lake, rebuild only the DuckDB file) compare as is.
Two separate `payerbench run`s differ in what each run stamps (load ids, timestamps, paths): leave
those columns out with --ignore-columns (a regex on column names).

Prints one line per relation and a summary; exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

import duckdb

# the catalog describes the views: new views add rows and their layer is their kind, by design
DESCRIPTIVE = {"catalog"}


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where not internal and schema_name = 'main' "
        "union select view_name from duckdb_views() where not internal and schema_name = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[tuple]:
    return con.execute(sql, params or {}).fetchall()


def _differs(before: list[tuple], after: list[tuple]) -> str:
    """'' when the two row lists hold the same rows (as multisets), else a short description."""
    key = repr
    if sorted(map(key, before)) == sorted(map(key, after)):
        return ""
    a, b = set(map(key, before)), set(map(key, after))
    return f"{len(before)} vs {len(after)} rows; only before: {len(a - b)}, only after: {len(b - a)}"


def compare(
    before: Path, after: Path, as_of: list[dt.date], report_sql: tuple[Path, Path] | None, ignore: str | None = None
) -> int:
    cons = [duckdb.connect(str(p), read_only=True) for p in (before, after)]
    names = [_relations(c) for c in cons]
    common = sorted(names[0] & names[1])
    problems = 0
    print(f"only before: {sorted(names[0] - names[1]) or 'none'}")
    print(f"only after:  {sorted(names[1] - names[0]) or 'none'}")
    for when in [None, *as_of]:
        for con in cons:
            con.execute("RESET VARIABLE as_of" if when is None else f"SET VARIABLE as_of = DATE '{when}'")
        label = "as of (unset)" if when is None else f"as of {when}"
        checked = 0
        for name in common:
            cols = [[d[0] for d in c.execute(f'select * from "{name}" limit 0').description] for c in cons]
            kept = [[col for col in cs if not (ignore and re.fullmatch(ignore, col))] for cs in cols]
            rows = [
                _rows(c, f'select {", ".join(f"{chr(34)}{k}{chr(34)}" for k in ks) or "1"} from "{name}"')
                for c, ks in zip(cons, kept)
            ]
            diff = _differs(*rows) if cols[0] == cols[1] else f"columns differ: {cols[0]} vs {cols[1]}"
            if diff and name in DESCRIPTIVE:
                print(f"  {label}: {name}: differs (descriptive, not counted): {diff}")
                continue
            if diff:
                problems += 1
                print(f"  {label}: {name}: DIFFERS: {diff}")
            checked += 1
        print(
            f"{label}: {checked} relations compared, {sum(len(_rows(cons[0], f'select 1 from {n!r}'.replace(chr(39), chr(34)))) for n in common)} rows before"
        )
    if report_sql:
        codes = [r[0] for r in _rows(cons[0], "select billing_code from stg_billing_code order by 1")]
        queries = sorted(p.name for p in report_sql[0].glob("*.sql"))
        for con in cons:
            con.execute("RESET VARIABLE as_of")
        for query in queries:
            texts = [(d / query).read_text(encoding="utf-8") for d in report_sql]
            for code in codes:
                results = []
                for con, text in zip(cons, texts):
                    wanted = set(re.findall(r"\$(\w+)", text))
                    params = {k: v for k, v in {"code": code, "as_of": dt.date(9999, 12, 31)}.items() if k in wanted}
                    results.append(_rows(con, text, params))
                diff = _differs(*results)
                if diff:
                    problems += 1
                    print(f"  report/{query} for {code}: DIFFERS: {diff}")
        print(f"report queries: {len(queries)} x {len(codes)} codes compared")
    print("SAME" if not problems else f"{problems} DIFFERENCES")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--report-sql", nargs=2, type=Path, metavar=("BEFORE_DIR", "AFTER_DIR"))
    parser.add_argument("--as-of", nargs="*", type=dt.date.fromisoformat, default=[])
    parser.add_argument("--ignore-columns", help="regex: columns left out of the comparison (run stamps)")
    args = parser.parse_args()
    report_sql = tuple(args.report_sql) if args.report_sql else None
    return compare(args.before, args.after, args.as_of, report_sql, args.ignore_columns)


if __name__ == "__main__":
    sys.exit(main())
