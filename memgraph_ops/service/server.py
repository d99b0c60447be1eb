"""Running the service: `memgraph-ops serve`.

The server opens HOT itself, the way the facade does (so a new store follows its lake, and the
erasure tombstones inside `Store` hold for every request), never through discovery of itself.
It writes the endpoint file once the socket is bound and removes it on the way out.

Shutdown on SIGTERM or SIGINT: uvicorn stops accepting connections and waits for the requests
in flight; those waiting for a commit are answered as the writer commits them; then the writer
drains what is left, the store is closed and the endpoint file removed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from memgraph_ops.api import Memgraph
from memgraph_ops.config import Settings
from memgraph_ops.errors import ConfigError, StoreLockedError
from memgraph_ops.service import endpoint
from memgraph_ops.service.app import DEFAULT_MAX_BODY, Metrics, create_app
from memgraph_ops.service.keys import KeyRing
from memgraph_ops.service.writer import DEFAULT_QUEUE_SIZE, DEFAULT_WINDOW_MS, GroupWriter

log = logging.getLogger(__name__)
GRACEFUL_SECONDS = 30
"""How long shutdown waits for requests in flight before it cancels them."""


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    commit_window_ms: float = DEFAULT_WINDOW_MS
    queue_size: int = DEFAULT_QUEUE_SIZE
    max_body_bytes: int = DEFAULT_MAX_BODY
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None


class _Server(uvicorn.Server):
    """uvicorn, telling us once its sockets are bound and after it has shut down."""

    def __init__(self, config: uvicorn.Config, on_started: Any) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            bound = [s.getsockname() for server in self.servers for s in server.sockets]
            self._on_started(bound)


def serve(settings: Settings, options: ServeOptions | None = None) -> None:
    """Serve the data root of `settings` until SIGTERM/SIGINT."""
    options = options or ServeOptions()
    if (options.ssl_certfile is None) != (options.ssl_keyfile is None):
        raise ConfigError("TLS needs both --ssl-certfile and --ssl-keyfile")
    live = endpoint.discover(settings.home)
    if live is not None:
        raise StoreLockedError(
            f"{settings.home} is already served at {live.url} (pid {live.pid}); stop that "
            "server first, or point clients at it"
        )
    mg = Memgraph(settings)
    mg.discover_service = False  # this process is the service: open the file itself
    token = endpoint.new_token()
    try:
        store = mg.store
        metrics = Metrics()
        writer = GroupWriter(
            store,
            window_ms=options.commit_window_ms,
            queue_size=options.queue_size,
            on_commit=metrics.observe_commit,
        )
        try:
            app = create_app(
                store,
                writer,
                KeyRing(settings.home),
                operator_token=token,
                metrics=metrics,
                graphs=mg.graphs,
                max_body_bytes=options.max_body_bytes,
            )
            config = uvicorn.Config(
                app,
                host=options.host,
                port=options.port,
                ssl_certfile=options.ssl_certfile,
                ssl_keyfile=options.ssl_keyfile,
                lifespan="off",
                access_log=False,
                log_level="warning",
                timeout_graceful_shutdown=GRACEFUL_SECONDS,
            )
            scheme = "https" if options.ssl_certfile else "http"

            def started(bound: list[Any]) -> None:
                port = bound[0][1]
                url = f"{scheme}://{_local_host(options.host)}:{port}"
                endpoint.write(settings.home, url, token, cafile=options.ssl_certfile)
                print(
                    f"memgraph-ops: serving {settings.home} at {url} (pid {os.getpid()})",
                    file=sys.stderr,
                    flush=True,
                )

            with _quiet_reraise():
                _Server(config, started).run()
        finally:
            writer.close()  # commit whatever was accepted and is still queued
    finally:
        mg.close()
        endpoint.remove(settings.home, token)


def _local_host(host: str) -> str:
    """How a process on this machine reaches a server bound to `host`."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@contextmanager
def _quiet_reraise() -> Iterator[None]:
    """uvicorn re-raises the signal it stopped on once it has shut down; with the default
    handlers that kills the process before the store is closed. Ignore that second delivery:
    the shutdown is already under way."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
