"""Benchmark: the shared loader on a large policy extract vs. a load-everything baseline.

Generates a SYNTHETIC extract (clearly not real data: payer names cycle through the alias table,
policy ids are sequence numbers) with N rows, 1% of them defective, then measures in separate
processes:

  loader    flows.steps.load.load_file: streaming CSV -> chunked Pandera validation -> Parquet
  baseline  pandas.read_csv of the whole file + one Pandera validate() of the whole frame

and prints wall time, rows/s, peak RSS and the ratios. Run: .venv/bin/python benchmarks/bench_policy_load.py [N]
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"

HEADER = [
    "payer_name",
    "plan_type",
    "policy_id",
    "policy_title",
    "policy_url",
    "billing_code",
    "code_type",
    "coverage_status",
    "prior_authorization",
    "effective_date",
    "last_reviewed_date",
    "retrieved_date",
    "evidence",
    "source_confidence",
    "notes",
]
PAYERS = [
    "Aetna",
    "Cigna Health and Life Insurance Company",
    "UnitedHealthcare",
    "Anthem Blue Cross",
    "Noridian Healthcare Solutions",
]
CODES = ["0440T", "0441T", "0442T", "64640", "64624", "64450"]


def generate(rows: int) -> Path:
    path = DATA / f"synthetic_policy_extract_{rows}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            code = CODES[i % len(CODES)] if i % 100 else "440T"  # 1% invalid codes -> quarantine
            writer.writerow(
                [
                    PAYERS[i % len(PAYERS)],
                    "commercial",
                    f"SYN-{i:08d}",
                    "Synthetic policy",
                    f"https://example.org/policy/{i}",
                    code,
                    "CPT",
                    "experimental_investigational",
                    "unknown",
                    "2024-01-01",
                    "2024-06-01",
                    "2026-11-26",
                    "synthetic evidence text",
                    "inferred",
                    "synthetic row for benchmarking",
                ]
            )
    return path


CHILD_LOADER = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from flows.settings import Settings
from flows import catalog
from flows.steps.load import load_file
from flows.lookups import payer_directory
root = Path(sys.argv[2])
s = Settings(warehouse_dir=root)
payers = payer_directory(s.payer_alias_file)
r = load_file(catalog.get("payer_policy"), Path(sys.argv[1]), s, "bench", payers=payers)
print(json.dumps({"seconds": time.perf_counter() - t0, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "loaded": r.rows_loaded, "quarantined": r.rows_quarantined, "status": r.status}))
"""

CHILD_BASELINE = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas as pd, pandera.pandas as pa
from schemas.payer_policy import PayerPolicy
frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False).replace("", None)
frame["payer_group"] = "aetna"
try:
    PayerPolicy.validate(frame, lazy=True)
    bad = 0
except pa.errors.SchemaErrors as exc:
    bad = exc.failure_cases["index"].nunique()
print(json.dumps({"seconds": time.perf_counter() - t0, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "loaded": len(frame) - bad, "quarantined": bad, "status": "validated (nothing written)"}))
"""


def measure(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    path = generate(rows)
    size_mb = path.stat().st_size / 1e6
    print(f"input: {path.name}: {rows:,} rows, {size_mb:.1f} MB (synthetic)")
    with tempfile.TemporaryDirectory() as tmp:
        loader = measure(CHILD_LOADER, str(path), tmp)
    baseline = measure(CHILD_BASELINE, str(path))
    for name, m in (("loader", loader), ("baseline", baseline)):
        print(
            f"{name:<9} {m['seconds']:7.2f} s  {rows / m['seconds']:>10,.0f} rows/s  {size_mb / m['seconds']:6.1f} MB/s  "
            f"peak RSS {m['rss_mb']:7.1f} MB  loaded {m['loaded']:,}  quarantined {m['quarantined']:,}  {m['status']}"
        )
    print(
        f"ratio loader/baseline: time {loader['seconds'] / baseline['seconds']:.2f}x, "
        f"peak RSS {loader['rss_mb'] / baseline['rss_mb']:.2f}x"
    )
    assert loader["quarantined"] == rows // 100, "the loader must quarantine exactly the 1% defective rows"


if __name__ == "__main__":
    main()
