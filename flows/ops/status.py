"""`payerbench status`: per dataset what is loaded and whether it is fresh, and what needs a person.

Per dataset: the last successful load, files, rows (every loaded snapshot, as its view shows),
quarantined rows, the newest period the data states, and the freshness verdict of its source
(see flows/sources/cadence.py for what "stale" means and why; flows/catalog.py declares each
source's cadence). Problems, each of which makes the exit code 1 so a cron job or monitor can alert:
- a source is stale (no new file loaded for longer than its cadence allows);
- the latest run of a flow failed, or had problems (a rejected file, a file left in the inbox,
  a report that did not render), or crashed: it was killed before it ended (its record still says
  `started` and its process is gone, or a later writer already marked it `crashed`);
- a file whose latest attempt was rejected or failed is still there.
Crashed runs of the last `CRASH_DAYS` days are listed even when a later run of the same flow
succeeded (then they do not alert: that later run cleaned up after them).
A source that has never loaded anything is shown as `no data` but does not alert: not every
installation uses every source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from flows import catalog
from flows.ops import run_summary
from flows.settings import Settings
from flows.steps import leftovers, load_log
from flows.steps.load_log import COMMITTED
from flows.steps.store import QUARANTINE

CRASH_DAYS = 7
POLICY_DAYS = 30  # policy page changes listed (the fetch run that found each flagged it for review)


@dataclass
class SourceFreshness:
    source: str
    cadence: str
    stale_after: dt.timedelta | None
    last_loaded_at: dt.datetime | None  # newest committed load of any of its files
    last_checked_at: dt.datetime | None  # newest attempt of any kind (the schedule ran)
    verdict: str  # fresh | stale | no data | on change

    @property
    def age(self) -> dt.timedelta | None:
        return None if self.last_loaded_at is None else self._now - self.last_loaded_at

    _now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC), repr=False)

    def describe(self) -> str:
        """e.g. 'fresh (2 d old)', 'stale (45 d old, cadence monthly allows 38 d)'."""
        if self.verdict in ("no data", "on change") or self.age is None:
            return self.verdict
        days = f"{self.age.total_seconds() / 86400:.0f} d old"
        if self.verdict == "stale":
            return f"stale ({days}; {self.cadence} allows {self.stale_after.days} d)"  # type: ignore[union-attr]
        return f"fresh ({days})"


@dataclass
class DatasetStatus:
    source: str
    dataset: str
    last_loaded_at: dt.datetime | None
    newest_file: str | None
    files: int
    rows: int
    rows_quarantined: int
    newest_period: str | None
    freshness: SourceFreshness


@dataclass
class FetchStatus:
    """What the fetch manifest says about one source that has a fetch step."""

    source: str
    last_checked_at: str | None  # newest row of any outcome: the last time the publisher was asked
    last_changed_at: str | None  # newest row whose file landed (downloaded or re-issued): the last change upstream
    published: str | None  # newest release the publisher lists (seen by discovery, downloaded or not)
    loaded: str | None  # newest release whose landed file is loaded (its sha256 in a committed load)
    last_outcome: str | None

    @property
    def newer_published(self) -> bool:
        return self.published is not None and (self.loaded is None or self.published > self.loaded)

    def describe(self) -> str:
        """e.g. 'checked 2026-12-04, changed 2026-10-02; publisher lists RVU26B; loaded: RVU26A'."""
        if self.last_checked_at is None:
            return "never fetched"
        parts = [f"checked {self.last_checked_at[:10]}", f"changed {(self.last_changed_at or 'never')[:10]}"]
        if self.newer_published:
            parts.append(f"publisher lists {self.published}; loaded: {self.loaded or 'none'}")
        elif self.loaded:
            parts.append(f"loaded {self.loaded} (the newest listed)")
        return "; ".join(parts)


def fetch_status(settings: Settings, done) -> dict[str, FetchStatus]:  # type: ignore[no-untyped-def]
    """Per source with a fetch step: last check, last change upstream, newest release listed vs loaded."""
    from flows.fetch import manifest

    rows = manifest.read(settings.raw_dir)
    found = {}
    for name in catalog.with_hook("fetch"):
        step = catalog.SOURCES[name].fetch
        assert step is not None
        # its own rows, and the rows of the download it shares with other sources (the PFS zip's 304, say)
        mine = [
            r for r in rows if r.source == name or r.logical_key.split(":")[0] == step.key and r.landed_path is None
        ]
        landed = [r for r in mine if r.outcome in ("downloaded", "reissued")]
        loaded_shas = set(done.loc[done["source"] == name, "source_sha256"])
        releases = [r.release for r in mine if r.release and r.outcome not in ("failed", "offline")]
        loaded = [r.release for r in landed if r.release and r.sha256 in loaded_shas]
        found[name] = FetchStatus(
            name,
            max((r.fetched_at for r in mine), default=None),
            max((r.fetched_at for r in landed), default=None),
            max(releases, default=None),
            max(loaded, default=None),
            mine[-1].outcome if mine else None,
        )
    return found


@dataclass
class Status:
    now: dt.datetime
    datasets: list[DatasetStatus]
    sources: dict[str, SourceFreshness]
    bad_files: list[dict[str, object]]
    last_runs: dict[str, dict[str, object]]
    crashed_runs: list[dict[str, object]] = field(default_factory=list)  # the last CRASH_DAYS days, oldest first
    fetches: dict[str, FetchStatus] = field(default_factory=dict)  # sources with a fetch step
    policy_changes: list[str] = field(default_factory=list)  # policy pages changed in the last POLICY_DAYS days

    @property
    def problems(self) -> list[str]:
        lines = [
            f"stale: {s.source}: no new file loaded since {s.last_loaded_at:%Y-%m-%d %H:%M} UTC "
            f"({s.describe().removeprefix('stale (').rstrip(')')}); check its download or landing job, "
            f"and whether the publisher has released a new file"
            for s in self.sources.values()
            if s.verdict == "stale"
        ]
        for flow, run in sorted(self.last_runs.items()):
            state = run_summary.effective_status(run)
            if state == "crashed":
                lines.append(
                    f"last {flow} run {run.get('run_id')} (started {str(run.get('started_at'))[:16]}) crashed: "
                    f"{crash_detail(run)}"
                )
            elif state not in ("ok", "running"):
                detail = "; ".join(str(p) for p in run.get("problems") or []) or str(run.get("error"))
                lines.append(
                    f"last {flow} run {run.get('run_id')} ({str(run.get('ended_at'))[:16]}) "
                    f"{'failed' if run.get('status') == 'failed' else 'had problems'}: {detail}"
                )
        lines += [f"{f['status']}: {f['source']}/{f['source_file']}: {f['error']}" for f in self.bad_files]
        return lines

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def collect(settings: Settings, now: dt.datetime | None = None) -> Status:
    """Read the load log, the lake and the run records; judge each source's freshness at `now`."""
    now = now or dt.datetime.now(dt.UTC)
    from flows.steps.lake import lake_root

    log = load_log.read(lake_root(settings))  # the lake itself (local or s3://): what is committed now
    done = log[log["status"].isin(COMMITTED)]
    sources = {name: _freshness(name, log, done, now) for name in catalog.SOURCES}
    # row counts from the parts DuckDB reads: the local lake, or the build's local copies of an s3:// lake's parts
    quarantined = _quarantined_rows(settings.lake_read_dir, done)
    con = duckdb.connect()
    datasets = []
    try:
        for source in catalog.SOURCES.values():
            for dataset in source.datasets:
                mask = done["datasets"].map(lambda names, d=dataset: names is not None and d in list(names))
                loads = done[mask & (done["source"] == source.name)]
                parts = [
                    p
                    for load_id in loads["load_id"]
                    for p in sorted((settings.lake_read_dir / dataset / load_id).glob("*.parquet"))
                ]
                rows, period = _rows_and_period(con, parts, source.cadence, dataset)
                newest = loads.iloc[-1] if len(loads) else None
                datasets.append(
                    DatasetStatus(
                        source.name,
                        dataset,
                        last_loaded_at=None if newest is None else newest["ended_at"].to_pydatetime(),
                        newest_file=None if newest is None else newest["source_file"],
                        files=int(loads["source_sha256"].nunique()),
                        rows=rows,
                        rows_quarantined=quarantined.get(dataset, 0),
                        newest_period=period,
                        freshness=sources[source.name],
                    )
                )
    finally:
        con.close()
    latest = log.groupby(["source", "source_path"], sort=False).tail(1) if len(log) else log
    bad = latest[latest["status"].isin(["rejected", "failed"])]
    bad_files = [
        {"source": r.source, "source_file": r.source_file, "status": r.status, "error": r.error}
        for r in bad.itertuples(index=False)
        if Path(r.source_path).exists() or "://" in str(r.source_path)  # a URL load: still listed upstream
    ]
    runs = run_summary.read_runs(settings)
    since = (now - dt.timedelta(days=CRASH_DAYS)).isoformat()
    crashed = [r for r in runs if str(r.get("started_at")) >= since and run_summary.effective_status(r) == "crashed"]
    from flows.fetch.policy_pages import policy_changes

    changes = policy_changes(settings, since=now - dt.timedelta(days=POLICY_DAYS))
    return Status(
        now, datasets, sources, bad_files, {str(r["flow"]): r for r in runs}, crashed, fetch_status(settings, done),
        changes,
    )  # fmt: skip


def crash_detail(run: dict[str, object]) -> str:
    """Why a run counts as crashed (its record's words once a writer marked it, else the same, now)."""
    if run.get("status") == "crashed" and run.get("error"):
        return str(run["error"])
    now = dt.datetime.now(dt.UTC)
    return f"{leftovers.crashed_record(run, now)['error']}; the next run or build removes what it left"


def _freshness(source: str, log, done, now: dt.datetime) -> SourceFreshness:  # type: ignore[no-untyped-def]
    cadence = catalog.SOURCES[source].cadence if source in catalog.SOURCES else None
    loaded = done.loc[done["source"] == source, "ended_at"]
    checked = log.loc[log["source"] == source, "ended_at"]
    last_loaded = loaded.max().to_pydatetime() if len(loaded) else None
    last_checked = checked.max().to_pydatetime() if len(checked) else None
    every = cadence.every if cadence else "undeclared"
    stale_after = cadence.stale_after if cadence else None
    if stale_after is None:
        verdict = "on change" if last_loaded is not None else "no data"
    elif last_loaded is None:
        verdict = "no data"
    else:
        verdict = "stale" if now - last_loaded > stale_after else "fresh"
    return SourceFreshness(source, every, stale_after, last_loaded, last_checked, verdict, _now=now)


def _rows_and_period(
    con: duckdb.DuckDBPyConnection,
    parts: list[Path],
    cadence,
    dataset: str,  # type: ignore[no-untyped-def]
) -> tuple[int, str | None]:
    if not parts:
        return 0, None
    period = cadence.periods.get(dataset) if cadence else None
    files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in parts) + "]"
    row = con.execute(f"select count(*), {period.sql if period else 'null'} from read_parquet({files})").fetchone()
    count, value = row or (0, None)
    return int(count), (f"{value} ({period.label})" if period and value is not None else None)


def _quarantined_rows(lake: Path, done) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rows quarantined per dataset by the committed loads (a row failing two rules counts once)."""
    parts = [
        p
        for load_id in done.loc[done["rows_quarantined"] > 0, "load_id"]
        for p in sorted((lake / QUARANTINE / load_id).glob("*.parquet"))
    ]
    if not parts:
        return {}
    files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in parts) + "]"
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"select dataset, count(distinct (load_id, source_record)) from read_parquet({files}) group by dataset"
        ).fetchall()
    finally:
        con.close()
    return {str(d): int(n) for d, n in rows}
