"""Benchmark: the commands a user runs, timed end to end (interpreter start and imports included).

    .venv/bin/python benchmarks/bench_commands.py [--repeat 3]

Each command runs as `.venv/bin/payerbench ...` in its own process against a warehouse built by this script
from the bundled raw/ (in a temporary folder), `--repeat` times; the median wall time and the peak RSS of the
process tree (RUSAGE_CHILDREN, the largest child) are printed beside the issue's target. The baseline, measured
in the same run, is the floor every command pays: the interpreter starting and importing the `payerbench`
console script's module (`python -c "import flows.cli"`); "over floor" is what the command itself costs.

  run (bundled, fresh)   `payerbench run` over the bundled raw/ into an empty warehouse (what `make run` does
                         after the install), reports included
  run (nothing new)      the same command again: every file unchanged, nothing rebuilt, no report re-rendered
  ingest tic (tiny)      `payerbench ingest tic <the bundled 200 KB excerpt> --force` into the built warehouse
  query select 1         `payerbench query "select 1"`
  report 0440T           `payerbench report --code 0440T` into a fresh folder (rendered, not served from cache)

The 1 GB TiC ingest rows of the issue's table are benchmarks/bench_tic.py's.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAYERBENCH = Path(sys.executable).with_name("payerbench")
TINY_TIC = ROOT / "raw" / "tic" / "uhc-ny_TEST_FILE_excerpt.json.gz"


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the largest child so far) of one command; a failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (the median is printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="payerbench-bench-"))
    try:
        floor = median([timed([sys.executable, "-c", "import flows.cli"])[0] for _ in range(args.repeat)])
        rows: list[tuple[str, float, float, float]] = []

        fresh = []
        for i in range(args.repeat):  # each into an empty warehouse, as `make run` on a fresh clone
            seconds, rss = timed([str(PAYERBENCH), "run", "--warehouse", str(work / f"fresh{i}")])
            fresh.append(seconds)
        rows.append(("run (bundled, fresh)", median(fresh), rss, 20.0))
        warehouse = ["--warehouse", str(work / "fresh0")]
        again = [timed([str(PAYERBENCH), "run", *warehouse]) for _ in range(args.repeat)]
        rows.append(("run (nothing new)", median([s for s, _ in again]), again[-1][1], 3.0))
        tiny = [timed([str(PAYERBENCH), "ingest", "tic", str(TINY_TIC), "--force", *warehouse])
                for _ in range(args.repeat)]  # fmt: skip
        rows.append(("ingest tic (tiny)", median([s for s, _ in tiny]), tiny[-1][1], 2.0))
        query = [timed([str(PAYERBENCH), "query", "select 1", *warehouse]) for _ in range(args.repeat)]
        rows.append(("query select 1", median([s for s, _ in query]), query[-1][1], 0.5))
        report = [
            timed([str(PAYERBENCH), "report", "--code", "0440T", "--out", str(work / f"report{i}"), *warehouse])
            for i in range(args.repeat)
        ]
        rows.append(("report 0440T", median([s for s, _ in report]), report[-1][1], 3.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"commands end to end, median of {args.repeat} (baseline, same run: `import flows.cli` {floor:.2f} s)")
    print(f"  {'command':<22} {'seconds':>8} {'over floor':>11} {'target':>8}   verdict")
    for name, seconds, _rss, target in rows:
        verdict = "met" if seconds <= target else f"MISSED by {seconds - target:.1f} s"
        print(f"  {name:<22} {seconds:8.2f} {seconds - floor:11.2f} {target:8.1f}   {verdict}")
    print(f"  peak RSS of the largest command: {rows[-1][2]:.0f} MB ({time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
