"""A real `memgraph-ops serve` process on a free loopback port, started and stopped by the
tests (no in-process app, no mocks)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from memgraph_ops.service import endpoint
from memgraph_ops.service.keys import KeyRing

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass
class Server:
    home: Path
    process: subprocess.Popen[bytes]
    endpoint: endpoint.Endpoint
    log: Path

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; SIGKILL if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
                raise AssertionError(
                    f"the server ignored signal {sig}; log:\n{self.stderr()}"
                ) from None
        return self.process.returncode

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def metric(self, name: str) -> float:
        """A value from /metrics (an unlabelled series, e.g. memgraph_commit_requests_count)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
        assert match, f"{name} not in /metrics"
        return float(match.group(1))


def start_server(home: Path, *options: str, port: int = 0) -> Server:
    """Start `memgraph-ops serve` on `home` and wait until it is ready."""
    home.mkdir(parents=True, exist_ok=True)
    log = home.parent / f"serve-{time.monotonic_ns()}.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "memgraph_ops.cli", "serve", "--home", str(home),
             "--port", str(port), *options],
            stdout=sink, stderr=sink, env=os.environ.copy(),
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        found = endpoint.read(home)
        if found is not None and found.pid == process.pid:
            try:
                ready = httpx.get(f"{found.url}/readyz", timeout=2, verify=found.verify())
                if ready.status_code == 200:
                    return Server(home, process, found, log)
            except httpx.TransportError:
                pass
        time.sleep(0.05)  # polling for the endpoint file and /readyz, bounded by the deadline
    process.kill()
    raise AssertionError(f"the server was not ready within {START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture
def serve(home: Path) -> Iterator[Callable[..., Server]]:
    """Start servers on the test's data root (options as on the command line); every one
    still running is stopped after the test."""
    started: list[Server] = []

    def start(*options: str, port: int = 0) -> Server:
        server = start_server(home, *options, port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(STOP_TIMEOUT)


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    return serve()


@dataclass(frozen=True)
class Keys:
    admin: str
    acme: str
    globex: str
    acme_id: str


@pytest.fixture
def keys(home: Path) -> Keys:
    ring = KeyRing(home)
    _, admin = ring.create(admin=True)
    acme_id, acme = ring.create(tenant="acme")
    _, globex = ring.create(tenant="globex")
    return Keys(admin=admin, acme=acme, globex=globex, acme_id=acme_id)
