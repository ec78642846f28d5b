"""Soak: SIGKILL `payerbench` writers many times at random moments, then count what was lost.

    python benchmarks/soak_kill.py [--kills 57] [--seed 7] [--tic-mb 40]

Same harness as tests/e2e/test_crash_recovery.py (tests/crashes.py), longer: runs, TiC ingests of
two synthetic files and builds, each killed 0-2 s after it takes the writer lock; after every kill
the DuckDB file must open read-only and the lock be free within a second. Then one run to the end
and a clean run in another warehouse. Prints kills, losses (committed rows missing compared with the
clean run), duplicates (files committed twice, repeated load ids), stale locks, unreadable DuckDB
files, leftovers and killed runs not recorded as crashed: all 0 when crash recovery works.
Uses a throwaway Prefect server of its own (PREFECT_HOME in a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.settings import PROJECT_DIR, Settings  # noqa: E402
from tests.crashes import Forker, damage, dataset_rows, generate_tic, kill_at_random, run_records  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=57)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tic-mb", type=float, default=40)
    parser.add_argument("--max-delay", type=float, default=2.0)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    root = Path(tempfile.mkdtemp(prefix="payerbench-soak-"))
    os.environ["PREFECT_HOME"] = str(root / "prefect")
    raw = root / "raw"
    shutil.copytree(PROJECT_DIR / "raw" / "reference", raw / "reference")
    shutil.copytree(PROJECT_DIR / "raw" / "payer_policy", raw / "payer_policy")
    tic = [generate_tic(raw / "tic" / f"in_network_{s}.json", args.tic_mb, s) for s in (1, 2)]
    settings = Settings(raw_dir=raw, warehouse_dir=root / "warehouse", render_reports=False)
    clean = Settings(raw_dir=raw, warehouse_dir=root / "clean", render_reports=False)
    where = ["--warehouse", str(settings.warehouse_dir), "--raw-dir", str(raw)]
    commands = [["run", "--no-report", *where], ["ingest", "tic", *map(str, tic), *where], ["build", *where]]
    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_DIR),
            "CI": "true",
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        }
        forker = Forker(env, root / "cli.log")
        started = time.perf_counter()
        try:
            soak = kill_at_random(forker, settings, commands, args.kills, args.seed, args.max_delay)
            final = forker.run(["run", "--no-report", *where])
            forker.run(["run", "--no-report", "--warehouse", str(clean.warehouse_dir), "--raw-dir", str(raw)])
        finally:
            forker.close()
        elapsed = time.perf_counter() - started
    found = damage(settings)
    got, want = dataset_rows(settings), dataset_rows(clean)
    lost = sum(max(want.get(d, 0) - got.get(d, 0), 0) for d in want)
    extra = sum(max(got.get(d, 0) - want.get(d, 0), 0) for d in got)
    records = run_records(settings)
    flows = [pid for pid, command in soak.killed.items() if command != "build"]
    not_crashed = [pid for pid in flows if records.get(pid, {}).get("status") != "crashed"]
    print(f"kills: {soak.kills} of {args.kills} attempts (by command: {dict(soak.commands)}) in {elapsed:.0f} s")
    print(f"final run exit code: {final}")
    print(f"rows lost: {lost}; rows extra: {extra} (over {sum(want.values()):,} rows in {len(want)} datasets)")
    print(f"duplicates: {len(found['duplicate load ids']) + len(found['files committed twice'])}")
    print(
        f"committed loads without parts: {len(found['committed loads without their parts'])}; "
        f"unreconciled loads: {len(found['unreconciled loads'])}"
    )
    print(f"stale locks: {soak.stale_locks}; DuckDB files that did not open read-only: {soak.unreadable}")
    print(f"leftovers after the next run: {len(found['leftovers'])}")
    print(f"killed runs not recorded as crashed: {len(not_crashed)} of {len(flows)}")
    cleanups = [
        line
        for line in (root / "cli.log").read_text(errors="replace").splitlines()
        if "leftover(s) of a killed run" in line
    ]
    freed = sum(
        float(line.split(" leftover(s) of a killed run, ")[1].split(" MB")[0]) for line in cleanups if " MB (" in line
    )
    print(f"writers that cleaned up after a killed one: {len(cleanups)} (at least {freed:.0f} MB freed)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
