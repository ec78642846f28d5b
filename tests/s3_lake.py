"""An S3-compatible server on loopback for tests of a lake in an object store (moto in server mode).

`s3_server(monkeypatch)` starts `moto.server.ThreadedMotoServer` on 127.0.0.1 (a free port), points
the standard AWS_* variables at it (dummy keys, no instance-metadata lookups: nothing leaves the
machine) and yields a function that makes a bucket and returns its `s3://` URL. Processes started
while it runs (Dask workers) inherit the variables.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)

        def bucket() -> str:
            name = f"lake-{secrets.token_hex(4)}"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
            return f"s3://{name}/payerbench"

        yield bucket
    finally:
        server.stop()
