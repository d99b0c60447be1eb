"""A real S3 server for these tests: `moto_server` on loopback, started once per test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import MotoS3


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with MotoS3(tmp_path_factory.mktemp("moto") / "moto_server.log") as server:
        yield server


@pytest.fixture
def s3_lake(s3_server: MotoS3, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty bucket; the standard AWS variables point this process and its children at the
    server, and `MEMGRAPH_LAKE_URI` at `s3://<bucket>/lake`."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    uri = f"s3://{s3_server.new_bucket()}/lake"
    monkeypatch.setenv("MEMGRAPH_LAKE_URI", uri)
    return uri
