"""Benchmark: how fast, and in how much memory, hostile TiC files are refused.

    .venv/bin/python benchmarks/bench_bombs.py [--scale-mb 3000] [--code-dir DIR] [--timeout 300]

Generates (once, into benchmarks/data/bombs/, gitignored) the inputs of issue 12 part 4, each a
valid TiC prefix followed by:

  spaces        ~3 GB of spaces inside `in_network: [` (the issue's bomb: ~2.9 MB of gzip)
  string        a ~1 GB string as `reporting_entity_name`
  deep          1,000,000 levels of `[` as a header value
  spaces/string again with the ratio rule off (PAYERBENCH_TIC_MAX_EXPANSION=1e9), so the absolute
                limits (PAYERBENCH_MAX_ITEM_BYTES, blank-space runs) have to stop them on their own
  normal        a real-shaped in-network file (benchmarks/tic_generate.py) whose gzip is about the size
                of the spaces bomb's, scanned to the end: the yardstick for "refused in seconds"
  hospital deep   a hospital JSON (CMS v3, plain: the adapter refuses .gz) with 64,000 levels of `[`
                  in an item (~130 KB; ijson's path strings made it cost ~10 GB)
  hospital string a hospital JSON with a 512 MB string in an item (past the 16 MiB string limit)

The hospital rows run flows.sources.hospital_mrf.read_file in a process capped at 2 GB of address
space (RLIMIT_AS), so code from before the fix fails with MemoryError instead of taking the machine.

Each file is extracted in its own process (flows.engines.tic_scan.extract, the settings from the
environment); it prints the outcome, wall seconds, peak RSS (VmHWM) and the time as a multiple of
the normal file's scan. `--code-dir` runs another checkout (e.g. `git archive <old commit>`
unpacked) on the same files: the before/after comparison. Targets: every bomb refused within a few
seconds, peak RSS under 200 MB (the ratio-off cases are bounded by the 256 MiB item limit instead).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "bombs"
MB = 1024 * 1024

CHILD = """
import json, re, resource, sys, time
if sys.argv[2] == "hospital":  # the pre-fix hospital reader needs ~10 GB for 64k levels: cap it
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
t0 = time.perf_counter()
from pathlib import Path
from flows.sources.base import FileRejected
from flows.engines.tic_scan import extract
try:
    from flows.settings import from_env
    from flows.engines.tic_stream import Limits
    options = {"limits": Limits.of(from_env())}
except ImportError:  # a checkout from before the limits existed
    import os
    options = {"max_expansion": float(os.environ.get("PAYERBENCH_TIC_MAX_EXPANSION", "500"))}
try:
    if sys.argv[2] == "hospital":
        from flows.settings import Settings
        from flows.sources.base import ReadContext
        from flows.sources.hospital_mrf import read_file
        ctx = ReadContext(settings=from_env() if "from_env" in dir() else Settings(),
                          codes_of_interest=frozenset(["0440T", "0441T", "0442T"]))
        rows = sum(len(b.frame) for b in read_file(Path(sys.argv[1]), ctx))
        outcome = f"loaded: {rows} rows"
    else:
        ex = extract(Path(sys.argv[1]), frozenset(["0440T", "0441T", "0442T"]), **options)
        outcome = f"loaded: {len(ex.items)} target items, {ex.uncompressed_bytes:,} bytes via {ex.path_used}"
except FileRejected as exc:
    outcome = "REFUSED " + str(exc)
except BaseException as exc:
    outcome = f"CRASHED {type(exc).__name__}: {exc}"
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
print(json.dumps({"seconds": time.perf_counter() - t0, "rss_mb": peak, "outcome": outcome}))
"""


def write_gz(path: Path, *parts: bytes | tuple[bytes, int]) -> Path:
    """Gzip of `parts` streamed to disk; (block, n) repeats a block n times."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as out:
        for part in parts:
            block, times = part if isinstance(part, tuple) else (part, 1)
            for _ in range(times):
                out.write(packer.compress(block))
        out.write(packer.flush())
    tmp.replace(path)
    print(
        f"generated {path.name} ({path.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return path


def inputs(scale_mb: int) -> dict[str, Path]:
    head = b'{"reporting_entity_name": "bench", "reporting_entity_type": "x", "last_updated_on": "2026-01-01", "version": "1.0.0", '
    spaces = write_gz(DATA / f"spaces_{scale_mb}mb.json.gz", head, b'"in_network": [', (b" " * MB, scale_mb), b"]}")
    string_mb = max(scale_mb // 3, 1)
    string = write_gz(
        DATA / f"string_{string_mb}mb.json.gz",
        b'{"reporting_entity_name": "',
        (b"a" * MB, string_mb),
        b'", "version": "1.0.0", "in_network": []}',
    )
    deep = write_gz(
        DATA / "deep_1e6.json.gz", head, b'"plan": ', b"[" * 1_000_000, b"]" * 1_000_000, b', "in_network": []}'
    )
    normal = DATA / f"normal_like_{scale_mb}mb_bomb.json"
    normal_gz = normal.with_name(normal.name + ".gz")
    if not normal_gz.exists():
        target = spaces.stat().st_size
        size_mb = max(target * 9 / 1e6, 2)  # tic_generate's files gzip ~9:1
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "tic_generate.py"),
                str(normal),
                "--size-mb",
                f"{size_mb:.1f}",
                "--big-item-mb",
                "2",
                "--gzip",
            ],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        normal.unlink()
        print(f"generated {normal_gz.name} ({normal_gz.stat().st_size / 1e6:.2f} MB)", flush=True)
    hospital = (ROOT / "tests" / "fixtures" / "hospital__standard_charge" / "valid_v3.json").read_bytes()
    anchor = b'"description": "Office visit (unrelated item)"'
    before, after = hospital.split(anchor)
    hospital_deep = write_plain(
        DATA / "hospital_deep_64k.json", before, anchor, b', "x": ', b"[" * 64_000, b"]" * 64_000, after
    )
    hospital_string = write_plain(
        DATA / "hospital_string_512mb.json", before, anchor, b', "x": "', (b"a" * MB, 512), b'"', after
    )
    return {
        "spaces": spaces,
        "string": string,
        "deep": deep,
        "normal": normal_gz,
        "hospital deep": hospital_deep,
        "hospital string": hospital_string,
    }


def write_plain(path: Path, *parts: bytes | tuple[bytes, int]) -> Path:
    """`parts` written as they are (hospital files are read uncompressed); (block, n) repeats a block."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with tmp.open("wb") as out:
            for part in parts:
                block, times = part if isinstance(part, tuple) else (part, 1)
                for _ in range(times):
                    out.write(block)
        tmp.replace(path)
    return path


def run(path: Path, code_dir: Path, env_extra: dict[str, str], timeout: float, kind: str = "tic") -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_dir), **env_extra}
    started = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), kind],
            capture_output=True,
            text=True,
            env=env,
            cwd=code_dir,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {
            "seconds": time.perf_counter() - started,
            "rss_mb": float("nan"),
            "outcome": f"still running after {timeout:.0f} s (killed)",
        }
    if out.returncode != 0 or not out.stdout.strip():
        return {
            "seconds": time.perf_counter() - started,
            "rss_mb": float("nan"),
            "outcome": f"child died (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}",
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale-mb", type=int, default=3000, help="MB of spaces in the bomb (default 3000, the issue's)"
    )
    parser.add_argument(
        "--code-dir", type=Path, default=ROOT, help="checkout whose flows/ is measured (default: this one)"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds before a child is killed (default 300)")
    args = parser.parse_args()
    files = inputs(args.scale_mb)
    ratio_off = {"PAYERBENCH_TIC_MAX_EXPANSION": "1000000000"}
    cases = [
        ("normal", files["normal"], {}),
        ("spaces", files["spaces"], {}),
        ("string", files["string"], {}),
        ("deep", files["deep"], {}),
        ("spaces, ratio off", files["spaces"], ratio_off),
        ("string, ratio off", files["string"], ratio_off),
        ("hospital deep", files["hospital deep"], {}),
        ("hospital string", files["hospital string"], {}),
    ]
    print(f"\ncode: {args.code_dir}")
    base = None
    failures = []
    for label, path, env in cases:
        m = run(path, args.code_dir, env, args.timeout, "hospital" if label.startswith("hospital") else "tic")
        if label == "normal":
            base = m["seconds"]
        times = f"{m['seconds'] / base:5.1f}x normal" if base else ""
        print(
            f"  {label:<18} {path.stat().st_size / 1e6:7.2f} MB {'gz' if path.suffix == '.gz' else '  '}  {m['seconds']:7.2f} s  peak RSS {m['rss_mb']:6.0f} MB  "
            f"{times}\n      {m['outcome'][:260]}",
            flush=True,
        )
        if label != "normal":
            bound = 200 if "ratio off" not in label else 600
            if not m["outcome"].startswith("REFUSED") or m["seconds"] > 10 or not m["rss_mb"] < bound:
                failures.append(f"{label}: {m['seconds']:.1f} s, {m['rss_mb']:.0f} MB, {m['outcome'][:60]}")
    print("\nTARGETS MET" if not failures else "\nTARGETS MISSED:\n  " + "\n  ".join(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
