"""kill -9 of the server under load: every acknowledged event is in HOT after a restart, and
clients that retry (the same event ids) create no duplicates."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from memgraph_ops.client import Client
from memgraph_ops.service import endpoint
from memgraph_ops.store import Store
from tests.factories import event
from tests.service.conftest import Keys, Server

WRITERS = 8
EVENTS_EACH = 60


@pytest.mark.heavy
def test_kill_9_mid_load_loses_no_acknowledged_event_and_retries_add_no_duplicates(
    serve: Callable[..., Server], keys: Keys, home: Path
) -> None:
    first = serve()
    acked: list[str] = []
    accepted = duplicates = 0
    lock = threading.Lock()
    under_load = threading.Event()
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        nonlocal accepted, duplicates
        # Retries long enough to outlive the restart: the same body, the same event ids.
        with Client(first.url, keys.acme, retry_for=120) as client:
            for n in range(EVENTS_EACH):
                eid = f"w{worker}-{n}"
                try:
                    result = client.ingest([event(eid, "Agent", eid, name="helper")])
                except BaseException as exc:
                    failures.append(exc)
                    return
                with lock:
                    acked.append(eid)
                    accepted += result.accepted
                    duplicates += result.duplicates
                    if len(acked) >= 100:
                        under_load.set()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    assert under_load.wait(120), "no load reached the server"
    first.stop(signal.SIGKILL)
    with lock:
        acked_before_kill = list(acked)
    # the killed server's endpoint file is still there, and recognised as stale
    assert endpoint.read(home) is not None and endpoint.discover(home) is None

    second = serve(port=first.port)  # the clients keep their URL
    for t in threads:
        t.join(300)
    assert failures == []
    total = WRITERS * EVENTS_EACH
    assert sorted(acked) == sorted(f"w{w}-{n}" for w in range(WRITERS) for n in range(EVENTS_EACH))
    # a request committed just before the kill but never answered is retried: a duplicate
    assert accepted + duplicates == total and accepted <= total
    assert second.stop() == 0
    with Store.open(home / "hot.duckdb") as store:
        assert [e for e in acked_before_kill if store.node(e) is None] == []
        assert store.counts()["events"] == total  # every event exactly once
        assert store.max_seq() == total
