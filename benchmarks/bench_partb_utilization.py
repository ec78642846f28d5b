"""Benchmark: loading a full-size Part B geography-and-service file vs. a read-everything baseline.

Generates a SYNTHETIC utilization file in CMS's layout (benchmarks/synthetic_partb.py: made-up
codes and numbers, 30% of rows with thousands separators) of N rows (default 300,000, a little
more than CMS's ~270,000-row national file), with each code of interest planted once per geography
and place of service. Then measures, each in its own process:

  loader    flows.steps.load.load_file: streaming CSV with the codes-of-interest row filter ->
            chunked Pandera validation -> Parquet (plus the scope rows)
  baseline  pandas.read_csv of the whole file as text + keep the rows of the codes of interest
            (no validation, nothing written: the least any loader must do)

and prints wall time, rows/s, peak RSS of the process and the loader/baseline ratios.
Run: .venv/bin/python benchmarks/bench_partb_utilization.py [N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
sys.path.insert(0, str(ROOT / "benchmarks"))

import synthetic_partb  # noqa: E402

CODES = ["0440T", "0441T", "0442T", "64640", "64624", "64450"]


def generate(rows: int) -> Path:
    path = DATA / f"synthetic_partb_geo_service_2022_{rows}.csv"
    if not path.exists():
        synthetic_partb.write(path, list(synthetic_partb.bench_rows(rows, CODES)))
    return path


CHILD_LOADER = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from flows.settings import Settings
from flows import catalog
from flows.steps.load import load_file
from flows.lookups import codes_of_interest
s = Settings(warehouse_dir=Path(sys.argv[2]))
r = load_file(catalog.get("cms_partb_geo_service"), Path(sys.argv[1]), s, "bench", codes=codes_of_interest(s))
print(json.dumps({"seconds": time.perf_counter() - t0, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "kept": r.rows_loaded, "quarantined": r.rows_quarantined, "status": r.status}))
"""

CHILD_BASELINE = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas as pd
frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
kept = frame[frame["HCPCS_Cd"].isin(sys.argv[2].split(","))]
print(json.dumps({"seconds": time.perf_counter() - t0, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "kept": len(kept), "quarantined": 0, "status": "read and filtered (nothing validated or written)"}))
"""


def measure(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    path = generate(rows)
    size_mb = path.stat().st_size / 1e6
    print(f"input: {path.name}: {rows:,} rows, {size_mb:.1f} MB (synthetic)")
    with tempfile.TemporaryDirectory() as tmp:
        loader = measure(CHILD_LOADER, str(path), tmp)
    baseline = measure(CHILD_BASELINE, str(path), ",".join(CODES))
    for name, m in (("loader", loader), ("baseline", baseline)):
        print(
            f"{name:<9} {m['seconds']:7.2f} s  {rows / m['seconds']:>10,.0f} rows/s  {size_mb / m['seconds']:6.1f} MB/s  "
            f"peak RSS {m['rss_mb']:7.1f} MB  kept {m['kept']:,}  quarantined {m['quarantined']:,}  {m['status']}"
        )
    print(
        f"ratio loader/baseline: time {loader['seconds'] / baseline['seconds']:.2f}x, "
        f"peak RSS {loader['rss_mb'] / baseline['rss_mb']:.2f}x"
    )
    assert loader["kept"] == baseline["kept"] > 0, "the loader must keep exactly the rows of the codes of interest"
    assert loader["quarantined"] == 0 and loader["status"] == "loaded"


if __name__ == "__main__":
    main()
