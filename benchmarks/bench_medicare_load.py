"""Benchmark: loading CMS's full PPRRVU (CSV, 19,090 rows) and OPPS Addendum B (XLSX, 17,559 rows).

The inputs are the real public files, read from the real-samples folder ($PAYERBENCH_REAL_SAMPLES,
default ../shared/real-samples); nothing is generated or downloaded. Each measurement runs in its
own process:

  loader    flows.steps.load.load_file: the source's adapter (streamed chunks) -> Pandera schema ->
            Parquet parts + load log, into a temporary warehouse (what `payerbench ingest` does)
  baseline  a plain pandas read of the same file (read_csv of the rows below the header /
            read_excel of the sheet), no validation and nothing written

and prints wall time, peak RSS, the RSS once the imports are done (so peak - startup is what the
file itself costs), rows, and the loader/baseline ratios. The loader runs twice: with the default
chunk size (PAYERBENCH_CHUNK_ROWS, 20,000 rows: each of these files is one chunk) and with
2,000-row chunks, to show that its memory is bounded by the chunk size, not the file size.
Run: .venv/bin/python benchmarks/bench_medicare_load.py [REAL_SAMPLES_DIR]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHUNK = 20_000  # Settings().chunk_rows
DEFAULT_SAMPLES = Path(os.environ.get("PAYERBENCH_REAL_SAMPLES", ROOT.parent / "shared" / "real-samples"))

FILES = {
    "PPRRVU2025_Oct.csv (PFS RVU, CSV)": ("cms_pfs_rvu", "cms-pfs-rvu/RVU25D/PPRRVU2025_Oct.csv"),
    "2023 January Addendum B (OPPS, XLSX)": (
        "cms_opps_addendum_b",
        "cms-opps-addendum-b/2023_January_Web_Addendum_B.12212022.xlsx",
    ),
}

MEMORY = """
import resource
def rss_mb():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

CHILD_LOADER = (
    MEMORY
    + """
import json, sys, tempfile, time
from pathlib import Path
from flows.settings import Settings
from flows import catalog
from flows.steps.load import load_file
startup = rss_mb()
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    settings = Settings(warehouse_dir=Path(tmp), chunk_rows=int(sys.argv[3]))
    r = load_file(catalog.get(sys.argv[1]), Path(sys.argv[2]), settings, "bench")
    seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "startup_mb": startup, "rows": r.rows_loaded,
                  "detail": f"{r.status}: read {r.rows_read:,}, loaded {r.rows_loaded:,}, quarantined {r.rows_quarantined:,}"}))
"""
)

CHILD_BASELINE = (
    MEMORY
    + """
import json, sys, time
import pandas as pd
startup = rss_mb()
path = sys.argv[2]
t0 = time.perf_counter()
if path.endswith(".xlsx"):
    frame = pd.read_excel(path, header=3, dtype=str)  # the header is on row 4
else:
    frame = pd.read_csv(path, skiprows=9, dtype=str, keep_default_na=False)  # the last header row is line 10
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "startup_mb": startup, "rows": len(frame),
                  "detail": "read only (no validation, nothing written)"}))
"""
)


def measure(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PREFECT_LOGGING_LEVEL": "ERROR"},
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    samples = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SAMPLES
    if not samples.is_dir():
        raise SystemExit(f"real sample files not found at {samples}; pass the folder or set PAYERBENCH_REAL_SAMPLES")
    for label, (source, name) in FILES.items():
        path = samples / name
        size_mb = path.stat().st_size / 1e6
        print(f"\n{label}: {path.name}, {size_mb:.1f} MB")
        loader = measure(CHILD_LOADER, source, str(path), str(DEFAULT_CHUNK))
        small = measure(CHILD_LOADER, source, str(path), "2000")
        baseline = measure(CHILD_BASELINE, source, str(path))
        for kind, m in (
            (f"loader ({DEFAULT_CHUNK:,}-row chunks)", loader),
            ("loader (2,000-row chunks)", small),
            ("baseline (pandas read)", baseline),
        ):
            print(
                f"  {kind:<30} {m['seconds']:6.2f} s  {m['rows'] / m['seconds']:>9,.0f} rows/s  peak RSS {m['peak_mb']:6.1f} MB"
                f"  (after imports {m['startup_mb']:5.1f} MB, file adds {m['peak_mb'] - m['startup_mb']:5.1f} MB)"
                f"  {m['rows']:,} rows  {m['detail']}"
            )
        print(
            f"  ratio loader/baseline: time {loader['seconds'] / baseline['seconds']:.2f}x, "
            f"peak RSS {loader['peak_mb'] / baseline['peak_mb']:.2f}x, "
            f"memory the file adds {(loader['peak_mb'] - loader['startup_mb']) / max(baseline['peak_mb'] - baseline['startup_mb'], 1e-9):.2f}x"
        )
        assert loader["rows"] == small["rows"] == baseline["rows"], "the loader must load every row the plain read sees"


if __name__ == "__main__":
    main()
