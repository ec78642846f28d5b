"""Benchmark: a TiC in-network .json.gz read from a loopback HTTP server vs from the local file, one run.

    .venv/bin/python benchmarks/bench_tic_network.py [--size-mb 512] [--repeat 1]

The file is SYNTHETIC (benchmarks/tic_generate.py, generated once into benchmarks/data/, gitignored;
`--size-mb` is the uncompressed size, the .gz is about 1/8 of it). Each reader runs in its own process
and is timed as a whole (interpreter start and imports included) up to the end of its read, then reads the
file a second time, timed alone (what each further file costs a process that reads many); peak RSS from
VmHWM over both:

  local    the sha256 of the local .json.gz (as the loader takes it before reading a file), then
           flows/engines/tic_scan.extract on it, then the rows (flows/sources/tic.py)
  network  the same on flows/fetch/stream.open_url(URL): the body streams from a loopback HTTP server
           through HttpFetcher (PAYERBENCH_MIRROR as URL prefix), never touching the disk

The server is a plain ThreadingHTTPServer in its own process (so it does not share the reader's GIL),
sending the file with sendfile(2), with Content-Length, ETag and Accept-Ranges like S3. Both readers must
give the same rows (a digest) and the network reader's sha256 of the body must be the file's. Targets:
network within 10 % of local, reader peak RSS <= 200 MB. On a shared 2-core machine the server takes a
share of the CPU: numbers are rough.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tic import COMMON, PEAK, ensure  # noqa: E402 - the same generator, data folder and child helpers

URL_PATH = "/mrf.bench.example/in-network/{name}"

# Each child reads the file `--plan-files` times, as `payerbench run` streams a crawl's plan: `plan` is the whole
# process, interpreter start, imports and the HTTP client's setup included, up to the end of the last read (what
# the user's command costs; the targets are judged on it); `seconds` the same up to the end of the first read
# (a process reading one file); `again` a further read alone (the reader's own throughput, start-up left out).
AGAIN = f"""
import os
files = int(os.environ.get("BENCH_PLAN_FILES", "4"))
laps = []
for _ in range(files - 1):
    lap = time.perf_counter()
    read()
    laps.append(time.perf_counter() - lap)
plan = time.perf_counter() - t0
print(json.dumps(dict(seconds=first, again=sorted(laps)[len(laps) // 2], plan=plan, rss_mb={PEAK}, **extra)))
"""

LOCAL = (
    COMMON
    + """
from flows.sources.tic import in_network_rows
from flows.engines.tic_scan import extract
import hashlib
path = Path(sys.argv[1])
def read():
    # the loader hashes a local file before reading it (flows/steps/load.py file_digest, 4 MB blocks): the
    # network reader hashes the same bytes on the way, so both paths pay for the sha256 the load log records
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            sha.update(block)
    ex = extract(path, CODES)
    return ex, digest(in_network_rows(ex, None))
ex, (n, h) = read()
first = time.perf_counter() - t0
extra = dict(rows=n, digest=h, uncompressed=ex.uncompressed_bytes, path_used=ex.path_used)
"""
    + AGAIN
)

NETWORK = (
    COMMON
    + """
from flows.settings import Settings
from flows.sources.tic import in_network_rows
from flows.engines.tic_scan import extract
from flows.fetch.http import HttpFetcher
from flows.fetch.stream import open_url
mirror, url = sys.argv[2], sys.argv[3]
settings = Settings(mirror=mirror, fetch_interval=0)
fetcher = HttpFetcher(settings)
def read():
    remote = open_url(url, settings, fetcher)
    try:
        ex = extract(remote, CODES)
        return remote, ex, digest(in_network_rows(ex, None))
    finally:
        remote.close()
remote, ex, (n, h) = read()
first = time.perf_counter() - t0
extra = dict(rows=n, digest=h, uncompressed=ex.uncompressed_bytes, path_used=ex.path_used,
             sha256=remote.sha256, passes=remote.passes, body_bytes=remote.bytes_read)
"""
    + AGAIN
)

SERVER = """
import email.utils, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
path, url_path = sys.argv[1], sys.argv[2]
size = os.path.getsize(path)
mtime = os.path.getmtime(path)
etag = f'"{size:x}-{int(mtime * 1e6):x}"'
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path.split("?")[0] != url_path:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        start = 0
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-") and self.headers.get("If-Range") in (None, etag):
            start = int(wanted[6:-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.send_header("Content-Type", "application/gzip")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.flush()
        with open(path, "rb") as f:
            try:
                self.connection.sendfile(f, start)
            except (BrokenPipeError, ConnectionResetError):
                pass
httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
httpd.daemon_threads = True
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""


def child(code: str, *args: str, plan_files: int = 4) -> dict:
    env = {**os.environ, "BENCH_PLAN_FILES": str(plan_files)}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=512, help="uncompressed size of the synthetic file")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each reader (the median is kept)")
    parser.add_argument(
        "--plan-files", type=int, default=4, help="files each process reads, as a run streams a crawl's plan"
    )
    args = parser.parse_args()

    _, gz = ensure(f"tic_{args.size_mb}mb.json", args.size_mb, 7)
    compressed = gz.stat().st_size
    url_path = URL_PATH.format(name=gz.name)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(gz), url_path], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        mirror = f"http://127.0.0.1:{port}"
        url = "https://" + url_path.lstrip("/") + "?sig=bench"
        runs: dict[str, list[dict]] = {"local": [], "network": []}
        for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits both alike
            runs["local"].append(child(LOCAL, str(gz), plan_files=args.plan_files))
            runs["network"].append(child(NETWORK, str(gz), mirror, url, plan_files=args.plan_files))
    finally:
        server.terminate()
        server.wait(timeout=10)

    median = {k: sorted(v, key=lambda m: m["plan"])[len(v) // 2] for k, v in runs.items()}
    again = {k: sorted(m["again"] for m in v)[len(v) // 2] for k, v in runs.items()}
    uncompressed = median["local"]["uncompressed"]
    print(
        f"SYNTHETIC in-network file {gz.name}: {compressed / 1e6:,.1f} MB gzip, {uncompressed / 1e6:,.1f} MB JSON "
        f"({os.cpu_count()} CPUs; loopback server in its own process; median of {args.repeat})"
    )
    for label, m in median.items():
        print(
            f"  {label:<8} {m['seconds']:6.2f} s  {compressed / 1e6 / m['seconds']:7.1f} MB/s compressed  "
            f"{uncompressed / 1e6 / m['seconds']:7.0f} MB/s uncompressed  peak RSS {m['rss_mb']:5.0f} MB  "
            f"rows {m['rows']:,} [{m['digest']}]  path {m['path_used']}"
        )
    first = median["local"]["seconds"] / median["network"]["seconds"]
    ratio = median["local"]["plan"] / median["network"]["plan"]
    plan_mb = compressed * args.plan_files / 1e6
    print(
        f"  a plan of {args.plan_files} files per process, start-up included (what `run` does after a crawl): "
        + "  ".join(f"{k} {m['plan']:5.2f} s {plan_mb / m['plan']:6.1f} MB/s compressed" for k, m in median.items())
        + f"  network / local {ratio:.2f} (target >= 0.90)"
    )
    print(f"  one file, start-up included: network / local {first:.2f}")
    print(
        "  a further file in the same process: "
        + "  ".join(f"{label} {s:5.2f} s {compressed / 1e6 / s:6.1f} MB/s compressed" for label, s in again.items())
        + f"  ratio {again['local'] / again['network']:.2f}"
    )
    failures = []
    if median["network"]["digest"] != median["local"]["digest"]:
        failures.append("the network reader's rows differ from the local reader's")
    if median["network"]["sha256"] != sha256_of(gz):
        failures.append("the sha256 of the streamed body is not the file's")
    if ratio < 0.9:
        failures.append(f"network path at {ratio:.0%} of local over a plan of {args.plan_files} files (target 90 %)")
    for label, m in median.items():
        if m["rss_mb"] > 200:
            failures.append(f"{label} reader peak RSS {m['rss_mb']:.0f} MB (target 200)")
    print("  " + ("; ".join(failures) if failures else "targets met") + f" ({time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
