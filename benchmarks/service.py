"""The served store (`memgraph-ops serve`) measured over HTTP, side by side with the embedded
`Store` in the same run, and against the peer, Arize Phoenix.

- `service_writes`: single-event durable writes (one event per request, acknowledged after
  COMMIT) at 1, 8, 32 and 64 concurrent writers, on a served copy of the run's `hot_events`
  store; p50/p95/p99 and events/s; vs `Store.ingest([event])` called in-process (each call
  committed) on another copy. Goal: p95 < 10 ms at 32 writers.
- `service_batch`: the run's events as Arrow IPC bodies of `ingest_batch` rows over HTTP into
  an empty served store, vs `Store.ingest(table)` of the same tables into an empty embedded
  store. Goals: >= 100k events/s, <= 1.5x the embedded time.
- `service_reads`: `context(session, last=10)` over HTTP on the served `hot_events` store,
  first read of each session and repeat, one reader and 32 concurrent readers (read ops/s); vs
  the same calls in-process on a copy. Goals: p95 < 3 ms over HTTP, >= 10k read ops/s.
- `service_peer`: real conversations (`../shared/data/chats/`, Anthropic hh-rlhf, 2,312
  transcripts) sent as one request per conversation by 8 concurrent clients: to our service as
  events (the chat importer's mapping), to Phoenix as one OTLP trace per conversation
  (OpenInference LLM spans, `benchmarks/_phoenix_encode.py`); requests/s, p95, and the time
  until everything is stored (ours: acknowledged = committed; Phoenix answers before it writes,
  so we poll its SQLite until the spans are there). Phoenix is installed from PyPI into its own
  environment `.tools/phoenix` on first use.
- `otlp_peer`: the same OTLP protobuf requests (one trace per hh-rlhf conversation) to our
  `/v1/traces` (mapped to graph events, acknowledged after COMMIT) and to Phoenix's; spans/s
  answered and stored, p50/p95 acknowledgement. Goals: >= 5x Phoenix's stored spans/s, p95
  below Phoenix's.

Load comes from one asyncio client (httpx.AsyncClient) in the benchmark process, the same code
for both servers; on this 2-core machine client and server share the cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from benchmarks._common import ROOT, Goal, Result, Table, copy_store, percentiles, ratio
from benchmarks._data import Generator
from benchmarks._hot import arrow_rows
from benchmarks.workspace import Workspace
from memgraph_ops.imports.chat import conversation_events
from memgraph_ops.service import endpoint
from memgraph_ops.service.keys import KeyRing
from memgraph_ops.store import Store

CONCURRENCY = (1, 8, 32, 64)
READERS = 32
PEER_CONCURRENCY = 8
CHATS = ROOT.parent / "shared" / "data" / "chats" / "hh-rlhf-harmless-test.jsonl"
PHOENIX_ENV = ROOT / ".tools" / "phoenix"
PHOENIX_REQUIREMENTS = ("arize-phoenix==20.26.1", "opentelemetry-proto")
ARROW = "application/vnd.apache.arrow.stream"
TENANT = "bench"


# the served store ---------------------------------------------------------------------------


@contextlib.contextmanager
def served(home: Path, log: Path) -> Iterator[tuple[str, str]]:
    """Run `memgraph-ops serve` on `home` (free port); yields (url, tenant key)."""
    home.mkdir(parents=True, exist_ok=True)
    _, key = KeyRing(home).create(tenant=TENANT)
    env = os.environ | {"MEMGRAPH_HOME": str(home)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "memgraph_ops.cli", "serve", "--home", str(home),
             "--port", "0"],
            env=env, stdout=out, stderr=out, cwd=ROOT,
        )  # fmt: skip
    try:
        found = _wait(lambda: endpoint.discover(home), proc, what=f"the server (log: {log})")
        yield found.url, key
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait(probe: Callable[[], Any], proc: subprocess.Popen[bytes], *, what: str) -> Any:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within 120 s")


async def _load(
    url: str,
    requests: Sequence[tuple[str, bytes, dict[str, str]]],
    concurrency: int,
    *,
    method: str = "POST",
) -> tuple[list[float], float]:
    """Send `requests` (path, body, headers) with `concurrency` in flight; returns each
    request's latency (s) and the wall time. Any non-2xx answer fails the benchmark."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def worker() -> None:
            while not queue.empty():
                path, body, headers = queue.get_nowait()
                start = time.perf_counter()
                if method == "POST":
                    response = await client.post(path, content=body, headers=headers)
                else:
                    response = await client.get(path, headers=headers)
                latencies.append(time.perf_counter() - start)
                if response.status_code >= 300:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def _json_body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events, default=str).encode()


def _events(n: int, seed: int) -> list[dict[str, Any]]:
    rows = arrow_rows(Generator(seed=seed, globals_first=False).table(n))[:n]
    for row in rows:
        row["tenant"] = TENANT
        for key in ("seq", "ingested_at"):
            row.pop(key, None)
    return rows


# single-event writes ------------------------------------------------------------------------


def run_writes(ws: Workspace) -> Result:
    fixture = ws.hot()
    n = ws.sizes["single_events"]
    directory = ws.directory / "service-writes"
    home = directory / "home"
    copy_store(fixture.store_path, home / "hot.duckdb")
    embedded = Store.open(copy_store(fixture.store_path, directory / "embedded.duckdb"))
    total = n * len(CONCURRENCY)
    events = _events(total + n, seed=11)
    rows: list[list[Any]] = []
    data: dict[str, Any] = {}
    try:
        local = []
        for event in events[total:]:
            start = time.perf_counter()
            embedded.ingest([event])
            local.append(time.perf_counter() - start)
        data["embedded"] = percentiles(local)
        with served(home, directory / "server.log") as (url, key):
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            for level, concurrency in enumerate(CONCURRENCY):
                batch = events[level * n : (level + 1) * n]
                requests = [("/v1/events", _json_body([e]), headers) for e in batch]
                latencies, wall = asyncio.run(_load(url, requests, concurrency))
                stats = percentiles(latencies)
                data[f"http_{concurrency}"] = stats | {"events_per_s": round(n / wall)}
                rows.append(
                    [f"HTTP, {concurrency} writers", stats["p50_ms"], stats["p95_ms"],
                     stats["p99_ms"], round(n / wall), ratio(stats["p95_ms"],
                     data["embedded"]["p95_ms"])]
                )  # fmt: skip
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
    finally:
        embedded.close()
    local_stats = data["embedded"]
    rows.append(
        ["embedded Store.ingest([event]), 1 caller", local_stats["p50_ms"], local_stats["p95_ms"],
         local_stats["p99_ms"], round(1000 / local_stats["mean_ms"]), 1.0]
    )  # fmt: skip
    data["commits"] = _metric(metrics, "memgraph_commit_")
    at32 = data["http_32"]["p95_ms"]
    return Result(
        name="service_writes",
        params={"store_events": fixture.n_events, "requests_per_level": n},
        tables=[
            Table(
                "Single-event durable writes (each acknowledged after COMMIT)",
                ["who", "p50 ms", "p95 ms", "p99 ms", "events/s", "p95 vs embedded"],
                rows,
            )
        ],
        goals=[
            Goal(
                "write p95 < 10 ms at 32 writers",
                f"p95 {at32} ms",
                at32 < 10,
                f"embedded single-event ingest p95 {local_stats['p95_ms']} ms",
            )
        ],
        data=data,
        notes=[f"group commits seen in /metrics: {data['commits']}"],
    )


def _metric(text: str, fragment: str) -> dict[str, float]:
    """`name{labels} value` lines of a Prometheus text page whose name holds `fragment`
    (`_count` and `_sum` of a histogram)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or fragment not in line:
            continue
        name, _, value = line.rpartition(" ")
        if name.endswith(("_count", "_sum")):
            out[name] = float(value)
    return out


# batch ingest -------------------------------------------------------------------------------


def run_batch(ws: Workspace) -> Result:
    n = ws.sizes["hot_events"]
    batch = ws.sizes["ingest_batch"]
    directory = ws.directory / "service-batch"
    table = Generator(seed=3).table(n)
    table = table.set_column(
        table.schema.get_field_index("tenant"), "tenant", pa.array([TENANT] * table.num_rows)
    )
    tables = [table.slice(i, batch) for i in range(0, table.num_rows, batch)]
    bodies = [_arrow_body(t) for t in tables]
    directory.mkdir(parents=True, exist_ok=True)
    with Store.open(directory / "embedded.duckdb") as store:
        start = time.perf_counter()
        for t in tables:
            store.ingest(t)
        embedded_s = time.perf_counter() - start
    with served(directory / "home", directory / "server.log") as (url, key):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": ARROW}
        latencies, http_s = asyncio.run(_load(url, [("/v1/events", b, headers) for b in bodies], 1))
    rate = round(n / http_s)
    return Result(
        name="service_batch",
        params={"events": n, "batch_rows": batch},
        tables=[
            Table(
                "Batch ingest, Arrow IPC bodies",
                ["who", "seconds", "events/s", "vs embedded"],
                [
                    [
                        "HTTP POST /v1/events (Arrow IPC)",
                        round(http_s, 2),
                        rate,
                        ratio(http_s, embedded_s),
                    ],
                    [
                        "embedded Store.ingest(table)",
                        round(embedded_s, 2),
                        round(n / embedded_s),
                        1.0,
                    ],
                ],
            )
        ],
        goals=[
            Goal(">= 100k events/s over HTTP", f"{rate:,} events/s", rate >= 100_000),
            Goal(
                "<= 1.5x the embedded ingest time",
                f"{ratio(http_s, embedded_s)}x",
                http_s <= 1.5 * embedded_s,
            ),
        ],
        data={"http_s": http_s, "embedded_s": embedded_s, "per_request": percentiles(latencies)},
    )


def _arrow_body(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# context reads ------------------------------------------------------------------------------


def run_reads(ws: Workspace) -> Result:
    fixture = ws.hot()
    n = min(ws.sizes["context_queries"], len(fixture.sessions) // 2)
    rng = random.Random(9)
    picked = rng.sample(fixture.sessions, 2 * n)
    first, concurrent = picked[:n], picked[n:]
    directory = ws.directory / "service-reads"
    home = directory / "home"
    copy_store(fixture.store_path, home / "hot.duckdb")
    _retag(home / "hot.duckdb")
    embedded_path = copy_store(home / "hot.duckdb", directory / "embedded.duckdb")
    data: dict[str, Any] = {}
    with Store.open(embedded_path, read_only=True) as store:
        for label in ("embedded_first", "embedded_repeat"):
            times = []
            for session in first:
                start = time.perf_counter()
                store.context(session, last=10)
                times.append(time.perf_counter() - start)
            data[label] = percentiles(times)
    with served(home, directory / "server.log") as (url, key):
        headers = {"Authorization": f"Bearer {key}"}
        for label in ("http_first", "http_repeat"):
            requests = [(f"/v1/sessions/{s}/context?last=10", b"", headers) for s in first]
            latencies, _ = asyncio.run(_load(url, requests, 1, method="GET"))
            data[label] = percentiles(latencies)
        requests = [(f"/v1/sessions/{s}/context?last=10", b"", headers) for s in concurrent] * 2
        latencies, wall = asyncio.run(_load(url, requests, READERS, method="GET"))
        data["http_concurrent"] = percentiles(latencies) | {
            "ops_per_s": round(len(requests) / wall)
        }
    rows = [
        [label.replace("_", ", "), data[label]["p50_ms"], data[label]["p95_ms"],
         data[label]["p99_ms"]]
        for label in ("embedded_first", "embedded_repeat", "http_first", "http_repeat")
    ]  # fmt: skip
    conc = data["http_concurrent"]
    rows.append([f"http, {READERS} readers", conc["p50_ms"], conc["p95_ms"], conc["p99_ms"]])
    worst_http = max(data["http_first"]["p95_ms"], data["http_repeat"]["p95_ms"])
    worst_local = max(data["embedded_first"]["p95_ms"], data["embedded_repeat"]["p95_ms"])
    return Result(
        name="service_reads",
        params={"store_events": fixture.n_events, "sessions": n},
        tables=[Table("context(session, last=10)", ["who", "p50 ms", "p95 ms", "p99 ms"], rows)],
        goals=[
            Goal(
                "context p95 < 1 ms in process, first read and repeat",
                f"first {data['embedded_first']['p95_ms']} ms, repeat "
                f"{data['embedded_repeat']['p95_ms']} ms",
                worst_local < 1,
            ),
            Goal(
                "context p95 < 3 ms over HTTP, first read and repeat",
                f"first {data['http_first']['p95_ms']} ms, repeat "
                f"{data['http_repeat']['p95_ms']} ms",
                worst_http < 3,
            ),
            Goal(
                ">= 10k concurrent read ops/s",
                f"{conc['ops_per_s']:,} ops/s ({READERS} readers)",
                conc["ops_per_s"] >= 10_000,
            ),
        ],
        data=data,
    )


def _retag(path: Path) -> None:
    """Put the fixture's events under the benchmark tenant (a tenant key reads its own)."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE events SET tenant = ?", [TENANT])
    finally:
        con.close()


# the peer: Arize Phoenix --------------------------------------------------------------------


def conversations(limit: int | None = None) -> list[dict[str, Any]]:
    """hh-rlhf `chosen` transcripts as OpenAI-format conversations."""
    out = []
    turn = re.compile(r"\n\n(Human|Assistant): ")
    for n, line in enumerate(CHATS.read_text().splitlines()):
        parts = turn.split(json.loads(line)["chosen"])
        messages = [
            {"role": "user" if who == "Human" else "assistant", "content": text.strip()}
            for who, text in zip(parts[1::2], parts[2::2], strict=True)
        ]
        out.append({"id": f"hh-{n:05d}", "messages": messages})
    return out[:limit] if limit else out


def phoenix_python() -> Path:
    python = PHOENIX_ENV / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
        subprocess.run([uv, "venv", str(PHOENIX_ENV), "--python", sys.executable], check=True)
        subprocess.run(
            [uv, "pip", "install", "--python", str(python), *PHOENIX_REQUIREMENTS], check=True
        )
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def phoenix(directory: Path) -> Iterator[tuple[str, Path]]:
    python = phoenix_python()
    port = _free_port()
    work = directory / "phoenix"
    work.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "PHOENIX_WORKING_DIR": str(work), "PHOENIX_PORT": str(port), "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_GRPC_PORT": str(_free_port()), "PHOENIX_TELEMETRY_ENABLED": "false",
    }  # fmt: skip
    with open(directory / "phoenix.log", "ab") as out:
        proc = subprocess.Popen(
            [str(python.parent / "phoenix"), "serve"], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(healthy, proc, what="Phoenix")
        yield url, work / "phoenix.db"
    finally:
        _stop(proc)


def _phoenix_bodies(chats: list[dict[str, Any]], directory: Path) -> list[bytes]:
    source = directory / "conversations.json"
    source.write_text(json.dumps(chats))
    encoded = directory / "requests.bin"
    subprocess.run(
        [str(phoenix_python()), str(ROOT / "benchmarks" / "_phoenix_encode.py"), str(source),
         str(encoded)],
        check=True,
    )  # fmt: skip
    data = encoded.read_bytes()
    bodies, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 8], "big")
        bodies.append(data[offset + 8 : offset + 8 + size])
        offset += 8 + size
    return bodies


def _spans_stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM spans").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _phoenix_load(directory: Path, otlp: list[bytes], spans: int) -> dict[str, Any]:
    """Send the OTLP bodies to a fresh Phoenix; its latencies, and the time until all `spans`
    are in its SQLite (it answers before it writes)."""
    with phoenix(directory) as (url, db):
        headers = {"Content-Type": "application/x-protobuf"}
        start = time.perf_counter()
        latencies, wall = asyncio.run(
            _load(url, [("/v1/traces", b, headers) for b in otlp], PEER_CONCURRENCY)
        )
        deadline = time.monotonic() + 600
        while _spans_stored(db) < spans and time.monotonic() < deadline:
            time.sleep(0.2)  # polling its database, bounded by the deadline
        return percentiles(latencies) | {
            "wall_s": wall, "stored_s": time.perf_counter() - start,
            "stored_spans": _spans_stored(db),
        }  # fmt: skip


def run_peer(ws: Workspace) -> Result:
    directory = ws.directory / "service-peer"
    directory.mkdir(parents=True, exist_ok=True)
    chats = conversations(300 if ws.quick else None)
    spans = sum(1 + sum(m["role"] == "assistant" for m in c["messages"]) for c in chats)
    otlp = _phoenix_bodies(chats, directory)
    ours = [_json_body(conversation_events(c, tenant=TENANT)[0]) for c in chats]
    events = sum(len(json.loads(b)) for b in ours)
    data: dict[str, Any] = {"conversations": len(chats), "spans": spans, "events": events}
    data["phoenix"] = _phoenix_load(directory, otlp, spans)
    with served(directory / "home", directory / "server.log") as (url, key):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        latencies, wall = asyncio.run(
            _load(url, [("/v1/events", b, headers) for b in ours], PEER_CONCURRENCY)
        )
        data["ours"] = percentiles(latencies) | {"wall_s": wall, "stored_s": wall}
    rows = []
    for who, label in (("ours", "memgraph-ops serve (events, JSON)"),
                       ("phoenix", "Arize Phoenix 20.26 (OTLP protobuf, SQLite)")):  # fmt: skip
        d = data[who]
        rows.append(
            [
                label,
                d["p50_ms"],
                d["p95_ms"],
                round(len(chats) / d["wall_s"], 1),
                round(len(chats) / d["stored_s"], 1),
            ]
        )
    p, o = data["phoenix"], data["ours"]
    return Result(
        name="service_peer",
        params={"conversations": len(chats), "concurrency": PEER_CONCURRENCY},
        tables=[
            Table(
                f"{len(chats):,} real conversations (hh-rlhf), one request each, "
                f"{PEER_CONCURRENCY} clients",
                ["server", "p50 ms", "p95 ms", "answered conv/s", "stored conv/s"],
                rows,
            )
        ],
        goals=[
            Goal(
                "write p95 at or below Phoenix's",
                f"ours {o['p95_ms']} ms, Phoenix {p['p95_ms']} ms",
                o["p95_ms"] <= p["p95_ms"],
                "Phoenix answers before storing; ours after COMMIT",
            ),
            Goal(
                "conversations stored per second at or above Phoenix's",
                f"ours {len(chats) / o['stored_s']:.1f}/s, Phoenix "
                f"{len(chats) / p['stored_s']:.1f}/s",
                o["stored_s"] <= p["stored_s"],
            ),
        ],
        data=data,
        notes=[
            f"{events:,} events on our side, {spans:,} spans on Phoenix's "
            f"({p['stored_spans']:,} found in its SQLite at the end)."
        ],
    )


def run_otlp_peer(ws: Workspace) -> Result:
    """The same OTLP protobuf requests (one trace per real conversation, OpenInference AGENT
    and LLM spans) to our `/v1/traces` and to Phoenix's, `PEER_CONCURRENCY` clients each."""
    directory = ws.directory / "otlp-peer"
    directory.mkdir(parents=True, exist_ok=True)
    chats = conversations(300 if ws.quick else None)
    spans = sum(1 + sum(m["role"] == "assistant" for m in c["messages"]) for c in chats)
    otlp = _phoenix_bodies(chats, directory)
    data: dict[str, Any] = {"conversations": len(chats), "spans": spans}
    data["phoenix"] = _phoenix_load(directory, otlp, spans)
    with served(directory / "home", directory / "server.log") as (url, key):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
        latencies, wall = asyncio.run(
            _load(url, [("/v1/traces", b, headers) for b in otlp], PEER_CONCURRENCY)
        )
        data["ours"] = percentiles(latencies) | {"wall_s": wall, "stored_s": wall}
    rows = [
        [label, d["p50_ms"], d["p95_ms"], round(spans / d["wall_s"]), round(spans / d["stored_s"])]
        for label, d in (
            ("memgraph-ops serve /v1/traces (graph events, committed)", data["ours"]),
            ("Arize Phoenix 20.26 /v1/traces (SQLite)", data["phoenix"]),
        )
    ]
    p, o = data["phoenix"], data["ours"]
    return Result(
        name="otlp_peer",
        params={"conversations": len(chats), "concurrency": PEER_CONCURRENCY},
        tables=[
            Table(
                f"{len(chats):,} real conversations (hh-rlhf) as {spans:,} OTLP spans, one "
                f"protobuf request per conversation, {PEER_CONCURRENCY} clients",
                ["server", "p50 ms", "p95 ms", "answered spans/s", "stored spans/s"],
                rows,
            )
        ],
        goals=[
            Goal(
                "spans/s through /v1/traces >= 5x Phoenix's (stored)",
                f"{ratio(p['stored_s'], o['stored_s'])}x",
                p["stored_s"] >= 5 * o["stored_s"],
                "ours is acknowledged after COMMIT; Phoenix answers first and stores later",
            ),
            Goal(
                "p95 acknowledgement below Phoenix's",
                f"ours {o['p95_ms']} ms, Phoenix {p['p95_ms']} ms",
                o["p95_ms"] < p["p95_ms"],
            ),
        ],
        data=data,
        notes=[
            f"Phoenix stored {p['stored_spans']:,} of {spans:,} spans by the end; ours maps each "
            "trace to graph events (Session, Prompts, Responses, edges) and keeps its spans, "
            "in the same commit"
        ],
    )
