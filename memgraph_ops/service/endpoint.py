"""The endpoint file: how a process given a data root finds the server that owns it.

While `memgraph-ops serve` runs, `<home>/service/endpoint.json` (mode 0600) holds the URL, the
server's pid, when it started and a random operator token: whoever may read the data root may
run the pipeline on it, and the token lets them through the operator endpoints. It is written
after the socket is bound (so it holds the real port, also for `--port 0`) and removed on
shutdown. A server killed with `kill -9` leaves it behind: `discover` treats a file whose pid is
gone, or whose server does not answer `/healthz` as that pid within a short timeout, as absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import ssl
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from memgraph_ops._files import atomic_write

HEALTH_TIMEOUT = 2.0
"""Seconds a live server has to answer /healthz before its endpoint file counts as stale."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    pid: int
    started_at: str
    token: str
    cafile: str | None = None
    """The server's TLS certificate (served with --ssl-certfile), to verify it locally."""

    def verify(self) -> ssl.SSLContext | bool:
        """What an httpx client should verify the server with."""
        return ssl.create_default_context(cafile=self.cafile) if self.cafile else True


def endpoint_path(home: Path) -> Path:
    return home / "service" / "endpoint.json"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write(home: Path, url: str, token: str, *, cafile: str | None = None) -> Endpoint:
    endpoint = Endpoint(
        url=url,
        pid=os.getpid(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        token=token,
        cafile=cafile,
    )
    path = endpoint_path(home)
    atomic_write(path, json.dumps(asdict(endpoint), indent=2) + "\n")
    os.chmod(path, 0o600)  # the token opens the operator endpoints
    return endpoint


def remove(home: Path, token: str) -> None:
    """Remove the endpoint file if it is still this server's (a newer server may have replaced a
    file it took for stale)."""
    current = read(home)
    if current is not None and current.token == token:
        endpoint_path(home).unlink(missing_ok=True)


def read(home: Path) -> Endpoint | None:
    """The endpoint file as written, live or not; None if there is none or it is unreadable."""
    try:
        document = json.loads(endpoint_path(home).read_text())
        return Endpoint(**document)
    except (OSError, ValueError, TypeError):
        return None


def discover(home: Path, *, timeout: float = HEALTH_TIMEOUT) -> Endpoint | None:
    """The live server of this data root, or None (no endpoint file, or a stale one)."""
    endpoint = read(home)
    if endpoint is None or not _alive(endpoint.pid):
        return None
    import httpx  # only now: most commands find no endpoint file and need no HTTP client

    # The pid alone could be reused by another process: the server must answer as itself.
    with contextlib.suppress(httpx.HTTPError, ValueError, OSError):
        response = httpx.get(
            f"{endpoint.url}/healthz", timeout=timeout, verify=endpoint.verify(), trust_env=False
        )
        if response.status_code == 200 and response.json().get("pid") == endpoint.pid:
            return endpoint
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
