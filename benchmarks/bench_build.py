"""The warehouse build alone: its CPU, wall time and RSS rise, as the build at the end of an ingest runs it.

    python benchmarks/bench_build.py WAREHOUSE_DIR [WAREHOUSE_DIR ...] [--repeat 3] [--changed NAME ...]

Each run is a fresh process: it imports what the ingest imports, hands malloc's free pages back, then plans the
build of WAREHOUSE_DIR with `--changed` (default: what ingesting one TiC file changes) marked as changed, and builds
(the marts those names reach are computed, the others copied from the current file). RSS is sampled every 3 ms;
the rise is the peak over the RSS at the build's start. Give a warehouse with the bundled data and one with a large
TiC file ingested as well to read the large file's marginal cost: the difference of the two lines.
Rebuilds the DuckDB file of each warehouse (the same rows: nothing else changes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

INGEST_CHANGES = ["advisory", "load_log", "tic__file", "tic__in_network_rate"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def child(warehouse_dir: str, changed: list[str]) -> None:
    os.environ["PAYERBENCH_WAREHOUSE_DIR"] = warehouse_dir
    from flows import catalog
    from flows.settings import from_env
    from flows.steps import warehouse

    settings = from_env()
    warehouse._give_back_free_memory()
    start = _rss_mb()
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.003)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    wall, cpu = time.perf_counter(), time.process_time()
    current = warehouse.plan(settings, catalog.SCHEMAS)
    current.changed = set(changed)
    current.needed = True
    result = warehouse._build(settings, current, warehouse.datasets_of(catalog.SCHEMAS))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done.set()
    sampler.join()
    print(
        json.dumps(
            {
                "start_mb": start,
                "rise_mb": peak[0] - start,
                "wall_s": wall,
                "cpu_s": cpu,
                "marts": len(result.marts_rebuilt),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouses", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--changed", nargs="+", default=INGEST_CHANGES)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.warehouses[0], args.changed)
        return
    runs: dict[str, list[dict]] = {w: [] for w in args.warehouses}
    for _ in range(args.repeat):  # interleaved: each warehouse's runs meet the same machine load
        for w in args.warehouses:
            out = subprocess.run(
                [sys.executable, __file__, w, "--child", "--changed", *args.changed],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[w].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for w, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("start_mb", "rise_mb", "wall_s", "cpu_s")}
        rises = ", ".join(f"+{r['rise_mb']:.0f}" for r in rs)
        print(
            f"{w}: start {med['start_mb']:.0f} MB, rise +{med['rise_mb']:.0f} MB "
            f"({rises}), wall {med['wall_s']:.2f} s, CPU {med['cpu_s']:.2f} s "
            f"(median of {len(rs)}; {rs[0]['marts']} SQL views recomputed)"
        )


if __name__ == "__main__":
    main()
