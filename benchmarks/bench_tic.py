"""Benchmark: pulling the codes of interest out of multi-GB TiC in-network files.

    .venv/bin/python benchmarks/bench_tic.py [--sizes 1024,4096] [--no-baseline-above MB]

For each size it generates (once, into benchmarks/data/, gitignored) a SYNTHETIC schema-faithful
in-network file and its gzip copy (benchmarks/tic_generate.py: thousands of codes, targets rare,
decoys, a ~30 MB non-target item, escaped quotes and brackets, provider_references before
in_network; a 200 MB variant with provider_references after in_network checks correctness). Then,
each in its own process and measured in the same run:

  isal      python-isal decompression of the .gz to nothing (the ceiling for a .gz input)
  fast      payerbench's extractor (flows/engines/tic_scan.extract) on the .gz, building the rows
  fast-json the same on the uncompressed .json
  ijson     the common Python approach: ijson (yajl2_c) items() over in_network and
            provider_references, same codes, same row builder

It prints MB/s of uncompressed JSON (file size / wall time of the whole process, imports
included), peak RSS (VmHWM) and the ratio to ijson, checks that fast and ijson produce identical
rows, and compares with the targets: >= 900 MB/s and >= 20x ijson from the 1 GB .gz, peak RSS
<= 200 MB, flat from 1 GB to 4 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
sys.path.insert(0, str(ROOT))

PEAK = 'int(__import__("re").search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024'

COMMON = f"""
import hashlib, json, sys, time
t0 = time.perf_counter()
from pathlib import Path
CODES = frozenset(["0440T", "0441T", "0442T", "64640", "64624", "64450"])
def digest(rows):
    keys = ("billing_code", "negotiated_type", "negotiated_rate_usd", "negotiated_percentage", "billing_class",
            "setting", "service_codes", "billing_code_modifiers", "expiration_date", "provider_group_status",
            "provider_group_id", "npis", "tin_value")
    text = sorted(json.dumps([r[k] for k in keys], default=str) for r in rows)
    return len(text), hashlib.sha256("\\n".join(text).encode()).hexdigest()[:16]
def report(path, extra):
    seconds = time.perf_counter() - t0
    print(json.dumps(dict(seconds=seconds, rss_mb={PEAK}, **extra)))
"""

FAST = (
    COMMON
    + """
from flows.sources.tic import in_network_rows
from flows.engines.tic_scan import extract
path = Path(sys.argv[1])
ex = extract(path, CODES)
n, h = digest(in_network_rows(ex, path.parent))
report(path, dict(rows=n, digest=h, uncompressed=ex.uncompressed_bytes, path_used=ex.path_used,
                  fallback=ex.fallback_reason, items=len(ex.items)))
"""
)

IJSON = (
    COMMON
    + """
import ijson
from flows.sources.tic import in_network_rows
from flows.engines.tic_scan import Extract, id_text
from flows.engines.tic_stream import open_raw
path = Path(sys.argv[1])
ex = Extract(kind="in_network", path_used="ijson")
wanted = set()
raw, _, _ = open_raw(path)
for item in ijson.items(raw, "in_network.item", use_float=False):
    if item.get("billing_code") in CODES:
        ex.items.append(("", item))
        for rate in item.get("negotiated_rates") or []:
            for ref in rate.get("provider_references") or []:
                wanted.add(id_text(ref))
raw.close()
raw, _, _ = open_raw(path)
for entry in ijson.items(raw, "provider_references.item", use_float=False):
    if id_text(entry.get("provider_group_id")) in wanted:
        ex.provider_refs.setdefault(id_text(entry.get("provider_group_id")), []).append(entry)
raw.close()
n, h = digest(in_network_rows(ex, path.parent))
report(path, dict(rows=n, digest=h, items=len(ex.items), ijson_backend=ijson.backend))
"""
)

ISAL = (
    COMMON
    + """
from isal import igzip_threaded
path = Path(sys.argv[1])
total = 0
buf = bytearray(8 * 1024 * 1024)
with igzip_threaded.open(path, "rb", threads=1) as f:
    while n := f.readinto(buf):
        total += n
report(path, dict(uncompressed=total))
"""
)


def run(code: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed on {path.name}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure(name: str, size_mb: int, seed: int, pr_position: str = "before") -> tuple[Path, Path]:
    path = DATA / name
    gz = path.with_name(path.name + ".gz")
    if not (path.exists() and gz.exists()):
        DATA.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "tic_generate.py"),
                str(path),
                "--size-mb",
                str(size_mb),
                "--seed",
                str(seed),
                "--pr-position",
                pr_position,
                "--gzip",
            ],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        print(f"generated {name} ({size_mb} MB + gzip) in {time.perf_counter() - started:.0f} s", flush=True)
    return path, gz


def line(label: str, m: dict, size: int) -> str:
    return (
        f"  {label:<10} {m['seconds']:7.2f} s  {size / 1e6 / m['seconds']:8.0f} MB/s  peak RSS {m['rss_mb']:6.0f} MB"
        + (f"  rows {m['rows']:,} [{m['digest']}]" if "rows" in m else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1024,4096", help="uncompressed sizes in MB (default 1024,4096)")
    parser.add_argument(
        "--no-baseline-above",
        type=int,
        default=10**9,
        metavar="MB",
        help="skip the (slow) ijson baseline for files larger than this",
    )
    args = parser.parse_args()
    results = {}
    failures = []

    # correctness on the provider_references-after-in_network layout
    after, after_gz = ensure("tic_pr_after_200mb.json", 200, seed=5, pr_position="after")
    fast_after, base_after = run(FAST, after_gz), run(IJSON, after_gz)
    same = fast_after["digest"] == base_after["digest"] and fast_after["rows"] == base_after["rows"]
    print(
        f"provider_references after in_network (200 MB .gz): fast {fast_after['rows']:,} rows "
        f"[{fast_after['digest']}] via {fast_after['path_used']}, ijson [{base_after['digest']}]: "
        f"{'identical' if same else 'DIFFERENT'}"
    )
    if not same:
        failures.append("rows differ on the provider_references-after layout")

    for size in [int(s) for s in args.sizes.split(",")]:
        path, gz = ensure(f"tic_{size}mb.json", size, seed=7 if size <= 1024 else 11)
        truth = json.loads(path.with_name(path.name + ".truth.json").read_text())
        nbytes = path.stat().st_size
        print(
            f"\n{path.name}: {nbytes / 1e6:,.0f} MB JSON, {gz.stat().st_size / 1e6:,.0f} MB gzip "
            f"({nbytes / gz.stat().st_size:.1f}:1); targets {truth}",
            flush=True,
        )
        isal = run(ISAL, gz)
        fast = run(FAST, gz)
        fast_json = run(FAST, path)
        base = run(IJSON, gz) if size <= args.no_baseline_above else None
        print(line("isal", isal, nbytes))
        print(line("fast .gz", fast, nbytes) + f"  via {fast['path_used']}")
        print(line("fast .json", fast_json, nbytes))
        if base:
            print(line("ijson .gz", base, nbytes))
            ratio = base["seconds"] / fast["seconds"]
            identical = base["digest"] == fast["digest"] and base["rows"] == fast["rows"]
            print(
                f"  fast is {ratio:.1f}x ijson; rows {'identical' if identical else 'DIFFERENT'}; "
                f"fast reaches {isal['seconds'] / fast['seconds'] * 100:.0f}% of isal's decompression speed"
            )
            if not identical:
                failures.append(f"{size} MB: rows differ from ijson")
            if size == 1024 and ratio < 20:
                failures.append(f"1 GB: only {ratio:.1f}x ijson (target 20x)")
        mbps = nbytes / 1e6 / fast["seconds"]
        if size == 1024 and mbps < 900:
            failures.append(f"1 GB .gz: {mbps:.0f} MB/s (target 900)")
        if fast["rss_mb"] > 200:
            failures.append(f"{size} MB: peak RSS {fast['rss_mb']:.0f} MB (target 200)")
        results[size] = fast
    if len(results) > 1:
        rss = [m["rss_mb"] for m in results.values()]
        print(
            f"\npeak RSS across sizes: {', '.join(f'{r:.0f} MB' for r in rss)} (flat: {max(rss) - min(rss):.0f} MB spread)"
        )
    print("\nTARGETS MET" if not failures else "\nTARGETS MISSED:\n  " + "\n  ".join(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
