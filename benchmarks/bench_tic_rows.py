"""Benchmark: TiC rows from the scanner's matches to Parquet (issue 16 item 2, "rows at scanner speed").

    .venv/bin/python benchmarks/bench_tic_rows.py [--rows 50000] [--filler-mb 20] [--before /work/main]
        [--repeat 1] [--profile]
    .venv/bin/python benchmarks/bench_tic_rows.py --phases [FILE] [--before DIR] [--repeat 3]

Builds (once, into benchmarks/data/, gitignored) a SYNTHETIC dense in-network file: the header of a
synthetic plan, 5,000 provider references, about `--filler-mb` MB of non-target items, and target-code
items (0440T, 0441T, 0442T) holding about `--rows` rate rows (negotiated price x provider group), with
about 1 % of the prices bad (a rate written as a string, a negative rate) so quarantine is exercised.

Then, each in its own process and in the same run, it loads the file through the one loader
(`flows.steps.load.load_file`, the path `payerbench ingest tic` takes) with:

  before   the code at `--before` (default /work/main: the row-per-dict path)
  after    this checkout

and prints seconds of the load (extract -> Parquet, imports excluded; wall and CPU: on a shared machine CPU
seconds are the steadier figure), the seconds of the extract alone, rows/s (rows read / load seconds),
rows/s of the part after the extract, peak RSS, and whether the two wrote the same Parquet rows and
quarantine rows (lineage ids and timestamps aside). `--repeat N` keeps each side's fastest run.

`--phases [FILE]` (default: the 1 GB synthetic `.gz` of bench_tic_ingest.py) measures the load phase alone: in a
child per side and run, the file is extracted once, then its batches go through the loader's `_read_batches`
(build frames -> validate -> Parquet parts) with the extract handed over ready. It prints the CPU and wall
seconds of the phase and of its parts (frames = the rest; validate = `DatasetValidator.check` or `check_levels`,
which converts each level's entries to Arrow too; write = Arrow conversion + Parquet), and its working memory: the peak RSS sampled every 2 ms during the phase, less
the RSS after the imports and less the RSS after the extract.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
sys.path.insert(0, str(ROOT))

from benchmarks.tic_generate import item, price, provider_references  # noqa: E402 - after the path is set

N_REFS = 5000
TARGET_CODES = ("0440T", "0441T", "0442T")

CHILD = r"""
import json, re, shutil, sys, tempfile, time
from pathlib import Path
root, path, out, profile = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "1"
sys.path.insert(0, root)
from flows import catalog
from flows.engines import tic_scan
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.steps.load import load_file
import pandas, pandera, pyarrow  # imported before the clock starts: imports are not the rows' cost
import flows.steps.validate
from schemas import tic as _schemas

import os
paths = [Path(p) for p in str(path).split(os.pathsep)]
payers = None
codes = frozenset(["0440T", "0441T", "0442T", "64640", "64624", "64450", "27447", "99214", "97110", "0200", "81.54",
                   "0000", "1111", "2222", "0440"]) if len(paths) > 1 else frozenset(
                   ["0440T", "0441T", "0442T", "64640", "64624", "64450"])
seconds = {}
real_extract = tic_scan.extract
def timed_extract(*args, **kwargs):
    t, c = time.perf_counter(), time.process_time()
    try:
        return real_extract(*args, **kwargs)
    finally:
        seconds["extract"], seconds["extract_cpu"] = time.perf_counter() - t, time.process_time() - c
import flows.sources.tic as tic_source
tic_source.extract = timed_extract
for n, path in enumerate(paths):
    here = out / str(n)
    raw = here / "raw"
    shutil.copytree(Path(root) / "raw" / "reference", raw / "reference")
    settings = Settings(raw_dir=raw, warehouse_dir=here / "warehouse", reports_dir=here / "reports",
                        render_reports=False, inbox_dir=here / "inbox", chunk_rows=20_000 if len(paths) == 1 else 3)
    payers = payers or payer_directory(settings.payer_alias_file)
    if profile:
        import cProfile, pstats
        prof = cProfile.Profile()
        prof.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    record = load_file(catalog.get("tic"), path, settings, "bench", payers=payers, codes=codes)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profile:
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    rss = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
    print(json.dumps(dict(seconds=total, cpu=cpu, extract=seconds.get("extract"), extract_cpu=seconds.get("extract_cpu"),
                          rows=record.rows_read, loaded=record.rows_loaded, quarantined=record.rows_quarantined,
                          status=record.status, error=record.error, advisories=record.advisories, rss_mb=rss,
                          lake=str(settings.lake_dir), path=str(path))))
"""


PHASES = r"""
import gc, json, re, sys, threading, time
from pathlib import Path
root, path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
sys.path.insert(0, root)
from flows import catalog
from flows.lookups import payer_directory
from flows.settings import Settings
from flows.sources.base import ReadContext
from flows.steps import load, store
from flows.steps.load_log import LoadRecord, now_utc
import flows.sources.tic as tic_source
import flows.steps.validate as validate
import pandas, pandera, pyarrow, pyarrow.parquet  # imports are not the phase's cost
from schemas import tic as _schemas

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6

codes = frozenset(["0440T", "0441T", "0442T", "64640", "64624", "64450"])
raw = out / "raw"
import shutil
shutil.copytree(Path(root) / "raw" / "reference", raw / "reference")
settings = Settings(raw_dir=raw, warehouse_dir=out / "warehouse", reports_dir=out / "reports", render_reports=False,
                    inbox_dir=out / "inbox")
settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
payers = payer_directory(settings.payer_alias_file)
source = catalog.get("tic")
validator_of = load._validator(source, tic_source.RATE, payers)  # built before the clock (schemas compile once)
gc.collect()
rss_imports = rss()
result = tic_source.extract(path, codes, spill_dir=settings.warehouse_dir)
gc.collect()
rss_extract = rss()
tic_source.extract = lambda *a, **k: result  # the loader's read gets the extract ready

spent = {"validate": [0.0, 0.0], "write": [0.0, 0.0]}
def timed(name, fn):
    def wrapper(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **k)
        finally:
            spent[name][0] += time.perf_counter() - t
            spent[name][1] += time.process_time() - c
    return wrapper
validate.DatasetValidator.check = timed("validate", validate.DatasetValidator.check)
if hasattr(validate.DatasetValidator, "check_levels"):  # rows as levels: validation and their typed columns
    validate.DatasetValidator.check_levels = timed("validate", validate.DatasetValidator.check_levels)
load.frame_to_table = timed("write", load.frame_to_table)
store.LoadWriter.write = timed("write", store.LoadWriter.write)
if hasattr(store.LoadWriter, "write_slices"):  # rows as levels: taken and written a slice at a time
    store.LoadWriter.write_slices = timed("write", store.LoadWriter.write_slices)

peak = [0.0]
sampling = [True]
def sample():
    while sampling[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
record = LoadRecord(load_id="bench", run_id="bench", source="tic", source_file=path.name, source_path=str(path),
                    source_sha256="0" * 64, file_bytes=0, started_at=now_utc())
state = load._FileState(path, source, "bench", "bench", "0" * 64, now_utc())
writer = store.LoadWriter(settings.lake_dir, "bench")
context = ReadContext(settings=settings, codes_of_interest=codes, payers=payers, options={})
t0, c0 = time.perf_counter(), time.process_time()
load._read_batches(source, path, context, state, writer, record, payers, None)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
sampling[0] = False
sampler.join()
print(json.dumps(dict(wall=wall, cpu=cpu, validate=spent["validate"], write=spent["write"], rows=record.rows_read,
                      loaded=record.rows_loaded, quarantined=record.rows_quarantined, advisories=record.advisories,
                      rss_imports=rss_imports, rss_extract=rss_extract, peak=peak[0],
                      staging=str(writer.staging))))
"""


def phases(before: Path, path: Path, repeat: int) -> None:
    """The load phase alone (see the module docstring), before and after, alternating runs in the same minutes."""
    import statistics
    import tempfile

    print(f"{path.name}: the load phase (extract done), {repeat} run(s) each, alternating; medians")
    found: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for label, root in (("before", before), ("after", ROOT)):
                out = Path(tmp) / f"{label}{i}"
                child = _child(root, out, PHASES, str(path), str(out))
                found[label].append(json.loads(child.stdout.strip().splitlines()[-1]))
                if i == 0:
                    found[label][-1]["rows_json"] = lake_rows(Path(found[label][-1]["staging"]))
                shutil.rmtree(out, ignore_errors=True)
    for label, runs in found.items():
        med = lambda f, runs=runs: statistics.median(f(r) for r in runs)  # noqa: E731
        cpu, v, w = med(lambda r: r["cpu"]), med(lambda r: r["validate"][1]), med(lambda r: r["write"][1])
        r = runs[0]
        print(
            f"  {label:<7} {med(lambda r: r['wall']):5.2f} s wall  {cpu:5.2f} s CPU (frames {cpu - v - w:4.2f}, validate"
            f" {v:4.2f}, write {w:4.2f})  working memory {med(lambda r: r['peak'] - r['rss_imports']):4.0f} MB over the"
            f" imports ({med(lambda r: r['rss_imports']):.0f} MB), {med(lambda r: r['peak'] - r['rss_extract']):4.0f} MB"
            f" over the extract ({med(lambda r: r['rss_extract']):.0f} MB)  rows {r['rows']:,} loaded {r['loaded']:,}"
            f" quarantined {r['quarantined']:,} advisories {r['advisories']:,}"
        )
    same = found["before"][0]["rows_json"] == found["after"][0]["rows_json"]
    print(f"  same Parquet, quarantine and advisory rows: {same}")
    if not same:
        raise SystemExit(1)


def dense(path: Path, rows: int, filler_mb: float, seed: int = 16) -> Path:
    """A SYNTHETIC in-network file dense in the target codes (see the module docstring)."""
    if path.exists():
        return path
    rng = random.Random(seed)
    DATA.mkdir(parents=True, exist_ok=True)
    refs = provider_references(rng, N_REFS)
    # refs entries hold 1-3 groups, rates 1-3 refs (or one inline group) and 1-2 prices: ~6 rows per rate
    n_rates = max(1, rows // 6)
    per_item = max(1, n_rates // 9)

    def target_rate() -> str:
        prices = []
        for _ in range(rng.randint(1, 2)):
            p = price(rng)
            roll = rng.random()
            if roll < 0.005:
                p = p.replace('"negotiated_rate":', '"negotiated_rate":"', 1).replace(
                    ',"expiration', '","expiration', 1
                )
            elif roll < 0.01:
                p = p.replace('"negotiated_rate":', '"negotiated_rate":-', 1)
            prices.append(p)
        if rng.random() < 0.07:
            npis = ",".join(str(rng.randint(1000000000, 1999999999)) for _ in range(rng.randint(1, 8)))
            group = f'{{"npi":[{npis}],"tin":{{"type":"ein","value":"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"}}}}'
            return f'{{"provider_groups":[{group}],"negotiated_prices":[{",".join(prices)}]}}'
        ids = ",".join(str(rng.randrange(N_REFS)) for _ in range(rng.randint(1, 3)))
        return f'{{"provider_references":[{ids}],"negotiated_prices":[{",".join(prices)}]}}'

    filler_rate = [target_rate() for _ in range(2000)]
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '{"reporting_entity_name":"Synthetic Health Plan (benchmark data)",'
            '"reporting_entity_type":"health insurance issuer","plan_name":"SYNTHETIC PPO","plan_id_type":"ein",'
            '"plan_id":"00-0000000","plan_market_type":"group","issuer_name":"Synthetic Health Plan",'
            '"plan_sponsor_name":"Synthetic Employer","last_updated_on":"2026-11-01","version":"2.0.0",\n'
        )
        out.write('"provider_references":' + refs + ',\n"in_network":[\n')
        written, first, n = 0, True, 0
        targets = [TARGET_CODES[i % 3] for i in range(9)]
        while written < filler_mb * 1e6 or targets:
            if targets and written >= (9 - len(targets)) / 9 * filler_mb * 1e6:
                text = item(targets.pop(0), "CPT", [target_rate() for _ in range(per_item)])
            else:
                n += 1
                text = item(f"{10000 + n % 80000}", "CPT", [rng.choice(filler_rate) for _ in range(rng.randint(5, 60))])
            out.write(("" if first else ",\n") + text)
            first = False
            written += len(text)
        out.write("\n]}\n")
    return path


def _child(root: Path, out: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """`script` run in its own interpreter with the code at `root` first on the path (HOME: `out`); exits on failure."""
    child = subprocess.run(
        [sys.executable, "-c", script, str(root), *args],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(out)},
    )
    if child.returncode != 0:
        raise SystemExit(f"benchmark child failed ({root}):\n{child.stderr[-4000:]}")
    return child


def run(root: Path, path: Path | list[Path], out: Path, profile: bool) -> list[dict]:
    """Load `path` (or each of a list of paths, into a warehouse each) with the code at `root`, in a child."""
    if isinstance(path, list):
        path = os.pathsep.join(map(str, path))
    child = _child(root, out, CHILD, str(path), str(out), "1" if profile else "0")
    if profile:
        print(child.stderr)
    return [json.loads(line) for line in child.stdout.strip().splitlines() if line.startswith("{")]


def lake_rows(lake: Path) -> dict[str, list[str]]:
    """Every Parquet row of every dataset folder (quarantine included) as sorted JSON, lineage ids aside."""
    import pyarrow.parquet as pq

    volatile = {"load_id", "run_id", "loaded_at", "found_at", "extraction_seconds"}
    found: dict[str, list[str]] = {}
    for part in sorted(lake.rglob("*.parquet")):
        dataset = part.relative_to(lake).parts[0]
        if dataset.startswith("_load_log"):
            continue
        for row in pq.read_table(part).to_pylist():
            found.setdefault(dataset, []).append(
                json.dumps({k: v for k, v in row.items() if k not in volatile}, default=str, sort_keys=True)
            )
    return {k: sorted(v) for k, v in found.items()}


def compare_fixtures(before: Path) -> int:
    import tempfile

    paths = sorted(
        p
        for folder in (ROOT / "tests" / "fixtures").glob("tic*")
        for p in folder.rglob("*.json*")
        if "truncated" not in p.name and "html" not in p.name
    ) + sorted((ROOT / "raw" / "tic").glob("*.json.gz"))
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        old = run(before, paths, Path(tmp) / "before", False)
        new = run(ROOT, paths, Path(tmp) / "after", False)
        for a, b in zip(old, new):
            keys = ("status", "error", "rows", "loaded", "quarantined", "advisories")
            same = all(a[k] == b[k] for k in keys) and lake_rows(Path(a["lake"])) == lake_rows(Path(b["lake"]))
            differ += not same
            name = Path(a["path"]).relative_to(ROOT)
            print(
                f"  {'same' if same else 'DIFFERENT'}  {name}  {a['status']} rows {a['rows']} quarantined {a['quarantined']}"
            )
    print(f"{len(paths)} fixtures, {differ} different")
    return 1 if differ else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--filler-mb", type=float, default=20)
    parser.add_argument("--before", type=Path, default=Path("/work/main"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each load (slower)")
    parser.add_argument(
        "--fixtures",
        action="store_true",
        help="instead: load every TiC test fixture (tests/fixtures/tic*, raw/tic) in 3-row chunks with both "
        "checkouts and compare their Parquet and quarantine rows",
    )
    parser.add_argument(
        "--phases",
        nargs="?",
        type=Path,
        const=DATA / "tic_dense_synthetic_1024mb.json.gz",
        help="instead: time the load phase alone (after the extract) for FILE, before and after",
    )
    args = parser.parse_args()
    import tempfile

    if args.phases:
        phases(args.before, args.phases, args.repeat)
        return
    if args.fixtures:
        raise SystemExit(compare_fixtures(args.before))

    path = dense(DATA / f"tic_dense_{args.rows}_{args.filler_mb:g}mb.json", args.rows, args.filler_mb)
    size = path.stat().st_size
    print(f"{path.name}: {size / 1e6:.0f} MB (SYNTHETIC), loaded through flows.steps.load.load_file")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, root in (("before", args.before), ("after", ROOT)):
            best = None
            for i in range(args.repeat):
                out = Path(tmp) / f"{label}{i}"
                (m,) = run(root, path, out, args.profile)
                best = m if best is None or m["seconds"] < best["seconds"] else best
            results[label] = best
            rest = best["seconds"] - best["extract"]
            rest_cpu = best["cpu"] - best["extract_cpu"]
            print(
                f"  {label:<7} load {best['seconds']:6.2f} s wall, {best['cpu']:6.2f} s CPU (extract {best['extract_cpu']:5.2f}"
                f" s CPU, rows {rest_cpu:5.2f} s CPU)  {best['rows'] / best['seconds']:9,.0f} rows/s end to end (wall)"
                f"  {best['rows'] / best['cpu']:9,.0f} rows/s end to end (CPU)  {best['rows'] / rest_cpu:9,.0f} rows/s"
                f" after the extract (CPU)\n          rows {best['rows']:,} (loaded {best['loaded']:,}, quarantined"
                f" {best['quarantined']:,}, advisories {best['advisories']:,})  peak RSS {best['rss_mb']:.0f} MB"
                f"  [{rest:.2f} s wall after the extract]",
                flush=True,
            )
        same = lake_rows(Path(results["before"]["lake"])) == lake_rows(Path(results["after"]["lake"]))
    b, a = results["before"], results["after"]
    print(
        f"  speed-up end to end {b['seconds'] / a['seconds']:.1f}x wall, {b['cpu'] / a['cpu']:.1f}x CPU; same Parquet and quarantine rows: {same}"
    )
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
