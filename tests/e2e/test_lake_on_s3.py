"""TiC files streamed from their URLs by a two-worker Dask cluster into a lake on an S3-compatible server
(moto on loopback), then `payerbench build` and `payerbench query` answering from it as a local lake would.

The workers get only the files' URLs (served on loopback, as a payer's host would) and the lake's s3:// URL;
an audit hook in each worker process records every file it opens, and the test checks that none lies under
the coordinator's warehouse or raw folders, and that the coordinator's local lake folder was never made: the
workers' output reaches the coordinator only through the bucket.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pytest

from flows import catalog
from flows.cli import main
from flows.ingest import ingest, ingest_urls
from flows.settings import Settings
from flows.steps import load_log, warehouse
from flows.steps.lake import lake_root
from tests.conftest import BUNDLED_RAW, FIXTURES, query
from tests.fetch.server import MirrorServer
from tests.s3_lake import s3_server

pytestmark = pytest.mark.slow

OPENED: list[str] = []


def _record_opens() -> int:
    """Run in each worker process: remember every path it opens from now on (audit events, PEP 578)."""

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if event == "open" and args and isinstance(args[0], (str, bytes, Path)):
            OPENED.append(str(args[0]))

    if not OPENED:
        OPENED.append("<hooked>")
        sys.addaudithook(hook)
    return len(OPENED)


def _opened() -> list[str]:
    return list(OPENED)


def test_dask_workers_load_into_an_s3_lake_and_query_answers_from_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip("distributed")
    worker_files = tmp_path / "worker-side"  # the workers' own copies: not the coordinator's raw/
    worker_files.mkdir()
    names = sorted(p.name for p in (BUNDLED_RAW / "tic").glob("*.json.gz"))
    for name in names:
        shutil.copy(BUNDLED_RAW / "tic" / name, worker_files / name)
    shutil.copy(FIXTURES / "tic__in_network_rate" / "negative_rate.json", worker_files / "negative_rate.json")
    files = sorted(worker_files.iterdir())

    # the same files into a local lake, one after another in this process: what the S3 run must equal
    local = dataclasses.replace(settings, warehouse_dir=tmp_path / "local-warehouse")
    assert {r.status for r in ingest("tic", files, local)} <= {"loaded", "loaded_with_quarantine"}
    warehouse.build(local, catalog.SCHEMAS)
    sql = "select count(*), count(distinct source_file), sum(negotiated_rate_usd)::varchar from tic__in_network_rate"
    expected = query(local, sql)
    assert expected[0][0] > 0

    with s3_server(monkeypatch) as bucket, MirrorServer(tmp_path / "payer-host") as host:
        # AWS_* variables are set before the workers start: they inherit them; the files are on a "payer's host"
        urls = [f"https://mrf.payer.example/in-network/{p.name}" for p in files]
        for url, path in zip(urls, files, strict=True):
            host.put(url, path.read_bytes())
        s3 = dataclasses.replace(settings, lake_url=bucket(), mirror=host.url, fetch_interval=0)
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.run(_record_opens)
            records = ingest_urls("tic", urls, s3, dask_address=cluster.scheduler_address)
            opened = client.run(_opened)
        assert sorted(r.source_file for r in records) == sorted(p.name for p in files)
        assert {r.status for r in records} == {"loaded", "loaded_with_quarantine"}

        # the workers did the loading, streaming from the host and never reading the coordinator's disk
        worker_reads = [p for paths in opened.values() for p in paths]
        assert len(opened) == 2
        assert not any(p.startswith(str(worker_files)) for p in worker_reads)  # not the files: their URLs
        assert {s.path for s in host.requests if s.method == "GET"} >= {
            f"/mrf.payer.example/in-network/{p.name}" for p in files
        }
        coordinator = (str(s3.warehouse_dir), str(s3.raw_dir))
        assert "\n".join(p for p in worker_reads if p.startswith(coordinator)) == ""
        assert not s3.lake_dir.exists()  # nothing landed in the coordinator's local lake folder
        assert len(load_log.read(lake_root(s3))) == len(files)

        # `payerbench build` then `payerbench query`, from the environment as an operator would run them
        monkeypatch.setenv("PAYERBENCH_LAKE_URL", s3.lake_url or "")
        monkeypatch.setenv("PAYERBENCH_WAREHOUSE_DIR", str(s3.warehouse_dir))
        monkeypatch.setenv("PAYERBENCH_RAW_DIR", str(s3.raw_dir))
        assert main(["build"]) == 0
        capsys.readouterr()
        assert main(["query", "--format", "json", sql]) == 0
        answer = json.loads(capsys.readouterr().out)
    assert [tuple(row.values()) for row in answer] == expected
