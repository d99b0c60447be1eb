"""The service on a real server process: parity with the embedded store, bodies, tenancy,
bad input, group commit, shutdown, discovery and compaction through the service."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pyarrow as pa
import pytest

import memgraph_ops
from memgraph_ops import Lake, load_settings
from memgraph_ops.client import AuthError, Client, RemoteStore, ServiceUnavailableError, connect
from memgraph_ops.errors import InputError
from memgraph_ops.service import endpoint, wire
from memgraph_ops.service.keys import KeyRing
from memgraph_ops.store import Store
from tests.factories import event, session
from tests.service.conftest import Keys, Server


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


def agent(eid: str, id_: str, **fields: Any) -> dict[str, Any]:
    return event(eid, "Agent", id_, name="helper", **fields)


def _table(events: list[dict[str, Any]]) -> pa.Table:
    """Events as one Arrow table (from_pylist takes its columns from the first row only)."""
    names = list(dict.fromkeys(k for e in events for k in e))
    return pa.Table.from_pylist([{k: e.get(k) for k in names} for e in events])


def _post(server: Server, key: str | None, body: bytes, media: str) -> httpx.Response:
    headers = {"Content-Type": media}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(f"{server.url}/v1/events", content=body, headers=headers, timeout=60)


def _max_seq(server: Server, keys: Keys) -> int:
    response = httpx.get(
        f"{server.url}/v1/ops/max_seq", headers={"Authorization": f"Bearer {keys.admin}"}
    )
    return int(response.json()["max_seq"])


def test_reads_through_the_service_equal_the_embedded_store(
    server: Server, keys: Keys, home: Path
) -> None:
    as_json, as_jsonl, as_arrow = session("s1", 3), session("s2", 2), session("s3", 2)
    for e in as_arrow:  # a nested dict would become an Arrow struct: keep the columns flat
        e.pop("parameters", None)
    nodes = [e["id"] for e in as_json + as_jsonl + as_arrow if e["kind"] == "node"]
    with Client(server.url, keys.acme) as client:
        first = client.ingest(as_json)
        jsonl = "\n".join(json.dumps(e) for e in as_jsonl).encode()
        second = _post(server, keys.acme, jsonl, wire.NDJSON)
        third = client.ingest(_table(as_arrow))
        assert (first.accepted, first.quarantined) == (len(as_json), 0)
        assert second.status_code == 200, second.text
        assert second.json()["accepted"] == len(as_jsonl)
        assert (third.accepted, third.quarantined) == (len(as_arrow), 0)
        again = client.ingest(as_json)  # idempotent on event_id
        assert (again.accepted, again.duplicates) == (0, len(as_json))

        remote: dict[str, Any] = {
            "context": {s: client.context(s, last=2) for s in ("s1", "s2", "s3", "nope")},
            "node": {n: client.node(n) for n in [*nodes, "nope"]},
            "edges": {
                (n, d, t): client.edges(n, direction=d, type=t)
                for n in ["s1-p1", "s1-r0", "s2-p1", "s3-t1"]
                for d in ("out", "in", "both")
                for t in (None, "FOLLOWS")
            },
            "sessions": client.sessions("user-1"),
        }
    assert server.stop() == 0
    assert endpoint.read(home) is None  # removed on shutdown

    with Store.open(home / "hot.duckdb") as store:
        assert remote["context"] == {s: store.context(s, last=2) for s in remote["context"]}
        assert remote["context"]["s1"][-1]["responses"][0]["tool_calls"][0]["tool_name"]
        assert remote["node"] == {n: store.node(n) for n in remote["node"]}
        assert remote["node"]["nope"] is None and remote["node"]["s1-p0"]["content"]
        for (n, d, t), frame in remote["edges"].items():
            assert frame.equals(store.edges(n, direction=d, type=t)), (n, d, t)
        assert remote["edges"][("s1-p1", "out", "FOLLOWS")].height == 1
        assert remote["sessions"].equals(store.sessions("user-1"))
        assert sorted(remote["sessions"]["session_id"]) == ["s1", "s2", "s3"]


def test_a_tenant_key_reads_and_writes_only_its_tenant(server: Server, keys: Keys) -> None:
    acme_events = session("s1", 2, user="u-acme")
    with Client(server.url, keys.acme) as acme, Client(server.url, keys.globex) as globex:
        assert acme.ingest(acme_events).accepted == len(acme_events)
        assert acme.node("s1-p0") is not None and acme.context("s1")
        before = _max_seq(server, keys)

        # every read endpoint, as globex: nothing of acme's is there
        assert globex.node("s1") is None and globex.node("s1-p0") is None
        assert globex.context("s1") == []
        assert globex.edges("s1-p1").is_empty() and globex.edges("s1-r0").is_empty()
        assert globex.sessions("u-acme").is_empty()
        assert globex.quarantine().is_empty()
        status = globex.status()
        assert status["principal"] == {"role": "tenant", "tenant": "globex"}
        assert "store" not in status  # counts of every tenant are the admin's business
        for path in ("/v1/nodes/s1", "/v1/nodes/s1-p0", "/v1/sessions/s1/context"):
            r = httpx.get(server.url + path, headers={"Authorization": f"Bearer {keys.globex}"})
            assert r.status_code == 404 and r.json() == {"detail": r.json()["detail"]}
            unknown = httpx.get(
                server.url + path.replace("s1", "zz"),
                headers={"Authorization": f"Bearer {keys.globex}"},
            )
            assert unknown.json() == r.json()  # the same answer as for an id nobody has

        # writes naming acme are refused whole; into acme's session, event by event
        with pytest.raises(AuthError, match="tenant 'globex' only"):
            globex.ingest([agent("g1", "a-g"), *session("s9", 1)])
        sneaky = event("g2", "Prompt", "g-p", session_id="s1", content="hi")
        del sneaky["tenant"]
        into = globex.ingest([sneaky])
        assert (into.accepted, into.quarantined) == (0, 1)
        assert into.rejected[0]["reason"] == "session s1 belongs to another tenant"
        arrow = _table([agent("g3", "a-h", tenant="acme")])
        with pytest.raises(AuthError, match="nothing was written"):
            globex.ingest(arrow)
        # an event without tenant gets the key's
        own = agent("g4", "a-g")
        del own["tenant"]
        assert globex.ingest([own]).accepted == 1
        assert globex.node("a-g")["tenant"] == "globex"
        assert acme.node("a-g") is None
        # ids are global: acme's key may not overwrite or delete globex's node by its id
        takeover = agent("g5", "a-g", tenant="acme")
        refused = acme.ingest([takeover])
        assert (refused.accepted, refused.quarantined) == (0, 1)
        assert refused.rejected[0]["reason"] == "id a-g belongs to another tenant"
        assert globex.node("a-g")["tenant"] == "globex"

        # a tenant key has no business with the operator endpoints
        ops = httpx.get(
            f"{server.url}/v1/ops/max_seq", headers={"Authorization": f"Bearer {keys.acme}"}
        )
        assert ops.status_code == 403
    assert _max_seq(server, keys) == before + 1  # only g4 landed


def test_a_missing_wrong_or_revoked_key_writes_nothing(
    server: Server, keys: Keys, home: Path
) -> None:
    body = json.dumps(session("s1", 1)).encode()
    assert _post(server, None, body, wire.JSON).status_code == 401
    assert _post(server, "mgk_000000000000_" + "x" * 43, body, wire.JSON).status_code == 401
    assert _post(server, "not-a-key", body, wire.JSON).status_code == 401
    r = httpx.get(f"{server.url}/v1/nodes/s1", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    KeyRing(home).revoke(keys.acme_id)
    with Client(server.url, keys.acme) as revoked, pytest.raises(AuthError, match="401"):
        revoked.ingest(session("s1", 1))
    assert _max_seq(server, keys) == 0


def test_bad_bodies_get_a_4xx_with_a_reason_and_the_server_stays_up(
    server: Server, keys: Keys
) -> None:
    good = session("s1", 1)
    arrow = wire.ipc_bytes(_table([agent("a1", "a-1")]))
    cases = [
        (b'[{"event_id": "e1", ', wire.JSON, 400, "not valid JSON"),
        (b'{"event_id": "e1"}', wire.JSON, 400, "JSON array"),
        (json.dumps(good).encode(), "text/csv", 415, "unsupported content type"),
        (json.dumps(good).encode(), "", 415, "unsupported content type"),
        (arrow[: len(arrow) // 2], wire.ARROW, 400, "Arrow IPC stream"),
        (b"", wire.ARROW, 400, "empty"),
        (b"x" * (100 * 1024 * 1024), wire.JSON, 413, "larger than this server's limit"),
    ]
    for body, media, status, reason in cases:
        response = _post(server, keys.acme, body, media)
        assert response.status_code == status, (media, response.text[:300])
        assert reason in response.json()["detail"]
    # Declared too large: refused from the headers alone, before any of the body is sent.
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        raw.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + keys.acme.encode() + b"\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        assert raw.recv(65536).startswith(b"HTTP/1.1 413")
    # A JSONL body: a line that is not JSON is quarantined, its neighbours land.
    lines = [json.dumps(good[0]), "{not json", json.dumps(good[1])]
    response = _post(server, keys.acme, "\n".join(lines).encode(), wire.NDJSON)
    assert response.status_code == 422
    result = response.json()
    assert (result["received"], result["accepted"], result["quarantined"]) == (3, 2, 1)
    assert result["rejected"][0]["reason"].startswith("line 2: not valid JSON")
    # Invalid events: 422 naming each, valid neighbours land.
    bad = {**event("e-bad", "Prompt", "p-bad"), "occurred_at": "yesterday"}
    with Client(server.url, keys.acme) as client:
        mixed = client.ingest([bad, *good[2:]])
        assert mixed.quarantined == 1 and mixed.accepted == len(good) - 2
        assert mixed.rejected[0]["event_id"] == "e-bad"
        with pytest.raises(InputError, match="list of event objects"):
            client.ingest({"event_id": "x"})
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    assert _max_seq(server, keys) == len(good)


def test_concurrent_single_event_writes_share_commits(
    serve: Callable[..., Server], keys: Keys, home: Path
) -> None:
    server = serve("--commit-window-ms", "100")
    writers = 32
    barrier = threading.Barrier(writers)
    results: dict[str, int] = {}

    def write(n: int) -> None:
        barrier.wait()
        result = client.ingest([agent(f"e{n}", f"agent-{n}")])
        results[f"e{n}"] = result.accepted

    with Client(server.url, keys.acme) as client:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert results == {f"e{n}": 1 for n in range(writers)}
    commits = server.metric("memgraph_commit_requests_count")
    assert server.metric("memgraph_commit_requests_sum") == writers
    assert commits < writers, f"{commits} commits for {writers} requests: nothing was grouped"
    assert server.stop() == 0
    with Store.open(home / "hot.duckdb") as store:
        assert all(store.node(f"agent-{n}") for n in range(writers))
        assert store.counts()["events"] == writers


def test_sigterm_with_writes_in_flight_loses_no_acknowledged_event(
    serve: Callable[..., Server], keys: Keys, home: Path
) -> None:
    server = serve("--commit-window-ms", "20")
    acked: list[str] = []
    lock = threading.Lock()
    started = threading.Event()

    def write(worker: int) -> None:
        # No retries: an event counts only if this server acknowledged it.
        with Client(server.url, keys.acme, retry_for=0) as client:
            for n in range(10_000):
                eid = f"w{worker}-{n}"
                try:
                    client.ingest([agent(eid, eid)])
                except (ServiceUnavailableError, AuthError, InputError):
                    return
                with lock:
                    acked.append(eid)
                    if len(acked) >= 100:
                        started.set()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    assert started.wait(60), "no writes were acknowledged"
    assert server.stop(signal.SIGTERM) == 0
    for t in threads:
        t.join(60)
    assert endpoint.read(home) is None
    with Store.open(home / "hot.duckdb") as store:
        missing = [eid for eid in acked if store.node(eid) is None]
        assert missing == []
        # nothing beyond what was acknowledged, at most the requests answered as the
        # connection closed (committed, the answer lost): one per writer
        assert len(acked) <= store.counts()["events"] <= len(acked) + len(threads)


def test_a_stale_endpoint_file_is_detected_and_replaced(
    serve: Callable[..., Server], keys: Keys, home: Path
) -> None:
    server = serve()
    with Client(server.url, keys.acme) as client:
        client.ingest(session("s1", 1))
    server.stop(signal.SIGKILL)
    stale = endpoint.read(home)
    assert stale is not None and stale.pid == server.process.pid
    assert endpoint.discover(home) is None
    # The facade, given that root, opens the file itself (the acknowledged events are in it).
    with memgraph_ops.open(home) as mg:
        assert type(mg.store) is Store
        assert mg.status()["hot"]["events"] == len(session("s1", 1))
    again = serve()
    assert endpoint.read(home) == again.endpoint and again.endpoint.pid != stale.pid
    live = endpoint.discover(home)
    assert live is not None and live.url == again.url


def test_compaction_through_the_service(server: Server, keys: Keys, home: Path) -> None:
    events = session("s1", 3) + session("s2", 2, user="user-2")
    with Client(server.url, keys.acme) as client:
        acked = [e for e in events if client.ingest([e]).accepted == 1]
    assert len(acked) == len(events)
    # a file ingested by the facade of this data root goes through the server as well
    from_file = session("s3", 1, user="user-3")
    lines = [json.dumps(e) for e in from_file] + ["not json"]
    (home.parent / "s3.jsonl").write_text("\n".join(lines) + "\n")
    with memgraph_ops.open(home) as mg:
        result = mg.ingest_file(home.parent / "s3.jsonl")
        assert (result.accepted, result.quarantined) == (len(from_file), 1)
        assert isinstance(mg.store, RemoteStore)
        assert mg.store.quarantine(10)["reason"].to_list() == [
            f"line {len(from_file) + 1}: not valid JSON (Expecting value: line 1 column 1 (char 0))"
        ]
    events, acked = events + from_file, acked + from_file
    env = {**os.environ, "MEMGRAPH_HOME": str(home), "MEMGRAPH_REDACTION": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "memgraph_ops.cli", "compact", "--home", str(home), "--json"],
        capture_output=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert (report["events"], report["trimmed"]) == (len(events), len(events))
    lake = Lake(load_settings(home).lake_uri)
    in_lake = lake.scan("event_log").select("event_id").collect()["event_id"]
    assert sorted(in_lake.to_list()) == sorted(_ids(acked))
    # HOT was trimmed by the server (the CLI never opened the file: it is the server's)
    with Client(server.url, keys.admin) as admin:
        counts = admin.status()["store"]
        assert (counts["events"], counts["max_seq"]) == (0, len(events))
        # a re-sent event stays a duplicate after compaction (remembered ids)
        assert admin.ingest(events[:3]).duplicates == 3
    # archive (lake -> vault) and restore (vault -> HOT, written through the server)
    with memgraph_ops.open(home) as mg:
        assert isinstance(mg.store, RemoteStore)
        assert mg.archive(["s1"]).archived == 1
        restored = mg.restore("s1")
        assert restored.restored and restored.nodes == 1 + 3 * 3
        assert mg.restore("s1").restored is False  # idempotent
        assert mg.store.restored()["session_id"].to_list() == ["s1"]
    with Client(server.url, keys.acme) as client:
        assert [c["prompt"]["id"] for c in client.context("s1")] == ["s1-p0", "s1-p1", "s1-p2"]
    # and the embedded-mode facade in this process goes through the server too
    settings = load_settings(home)
    store = connect(settings)
    assert isinstance(store, RemoteStore) and store.max_seq() == len(events)
    assert store.identity().store_id
    frame = store.session_activity()
    assert isinstance(frame, pl.DataFrame) and frame.height == 0
    # the rest of the operator surface, each against what the server's store then says
    assert store.renumber_above(0) == 0  # every seq is above 0 already
    remembered = pa.table(
        {
            "event_id": ["old-1"],
            "id": ["old-node"],
            "seq": pa.array([1], pa.int64()),
            "ingested_at": pa.array([datetime.now(UTC)], pa.timestamp("us", "UTC")),
        }
    )
    assert store.remember_event_ids(remembered) == 1
    assert store.remember_event_ids(remembered) == 0
    assert store.ingest([agent("old-1", "old-node")]).duplicates == 1  # remembered
    assert store.forget_restored(["s1"]) == 1 and store.restored().height == 0
    assert store.forget_restored() == 0
    store.checkpoint()
    assert store.counts()["retired_event_ids"] >= len(events) + 1
    store.close()


def test_connect_chooses_by_configuration(
    server: Server, keys: Keys, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMGRAPH_URL", server.url)
    monkeypatch.delenv("MEMGRAPH_API_KEY", raising=False)
    with pytest.raises(Exception, match="MEMGRAPH_API_KEY is not set"):
        connect(load_settings(home))
    monkeypatch.setenv("MEMGRAPH_API_KEY", keys.globex)
    client = connect(load_settings(home))
    assert isinstance(client, Client)
    assert client.status()["principal"]["tenant"] == "globex"
    client.close()


def test_a_full_queue_answers_503_with_retry_after_and_drops_nothing(
    serve: Callable[..., Server], keys: Keys, home: Path
) -> None:
    server = serve("--queue-size", "1", "--commit-window-ms", "0")
    answers: dict[str, httpx.Response] = {}
    lock = threading.Lock()

    def write(eid: str, barrier: threading.Barrier) -> None:
        body = json.dumps([agent(eid, eid)]).encode()
        barrier.wait()
        response = _post(server, keys.acme, body, wire.JSON)
        with lock:
            answers[eid] = response

    for round_ in range(5):  # until the queue overflowed once (each commit takes milliseconds)
        barrier = threading.Barrier(24)
        threads = [
            threading.Thread(target=write, args=(f"r{round_}-{n}", barrier)) for n in range(24)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        if any(r.status_code == 503 for r in answers.values()):
            break
    refused = {e for e, r in answers.items() if r.status_code == 503}
    acked = {e for e, r in answers.items() if r.status_code == 200}
    assert refused, "the queue never filled"
    assert acked | refused == set(answers)
    for eid in refused:
        assert answers[eid].headers["retry-after"] == "1"
        assert "write queue is full" in answers[eid].json()["detail"]
    assert server.stop() == 0
    with Store.open(home / "hot.duckdb") as store:
        # what was acknowledged landed; what was refused was never queued
        assert {e for e in answers if store.node(e) is not None} == acked


def test_node_ids_with_slashes_read_back_whatever_they_end_with(server: Server, keys: Keys) -> None:
    ids = ["a/edges", "a/edges/edges", "b/c"]
    with Client(server.url, keys.acme) as client:
        assert client.ingest([agent(f"slash-{i}", n) for i, n in enumerate(ids)]).accepted == 3
        client.ingest(session("s1", 2))
        for node_id in ids:  # sent percent-encoded: a node, never the edges of a shorter id
            assert (client.node(node_id) or {}).get("id") == node_id, node_id
            assert client.edges(node_id).height == 0
        assert client.node("s1-p1/edges") is None
        assert client.edges("s1-p1").height > 0
    raw = httpx.get(  # an unencoded path still means the edges of `s1-p1`
        f"{server.url}/v1/nodes/s1-p1/edges", headers={"Authorization": f"Bearer {keys.acme}"}
    )
    assert raw.status_code == 200 and len(raw.json()) > 0
