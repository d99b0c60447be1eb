"""The HTTP API (FastAPI): events in, hot reads, operator endpoints, health and metrics.

Every endpoint but /healthz, /readyz and /metrics needs `Authorization: Bearer <key>`: a
tenant key (reads and writes its own tenant only), an admin key, or the endpoint file's
operator token (both act for every tenant; only they reach /v1/ops/*). A tenant key never sees
another tenant's rows: what it may not see answers as if it did not exist.

Writes go through the group-commit writer (`memgraph_ops.service.writer`); reads call the
store directly from FastAPI's threadpool (the store serialises its one connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Final
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memgraph_ops.errors import (
    ConfigError,
    GraphConflictError,
    InputError,
    MemgraphError,
    NotArchivedError,
    RejectedError,
    RestoreRefusedError,
    StoreMismatchError,
    TransientError,
)
from memgraph_ops.imports.otlp import decode_request
from memgraph_ops.imports.traces import plan
from memgraph_ops.memory.format_e import node_line
from memgraph_ops.memory.relevant import relevant
from memgraph_ops.memory.shared import SharedGraphs
from memgraph_ops.model import STORED_EVENT_SCHEMA
from memgraph_ops.service import wire
from memgraph_ops.service.keys import KeyRing, Principal
from memgraph_ops.service.writer import GroupWriter, QueueFull, WriterStopped
from memgraph_ops.store import IngestResult, Store, SubjectRows

DEFAULT_MAX_BODY = 64 * 1024 * 1024
OPS_MAX_BODY = 2 * 1024 * 1024 * 1024
"""Operator uploads (restored sessions, remembered event ids) may be far bigger than events."""
DRAIN_LIMIT = 256 * 1024 * 1024
"""After a body passes its limit the rest is read and thrown away (never kept), up to this
much, so an ordinary client that sends the whole body before it reads still hears the 413
instead of a broken pipe. Past it the connection is simply closed."""
RETRY_AFTER_SECONDS = 1
SOURCE_PREFIX = "service:"
"""Quarantine rows written through the service record `service:<tenant>` (`service:admin` for
the admin and the operator) as their source, so a tenant sees only its own."""


class SubjectRowsBody(BaseModel):
    """`memgraph_ops.store.SubjectRows` on the wire (unknown fields refused)."""

    model_config = ConfigDict(extra="forbid")
    sessions: list[str] = []
    user_ids: list[str] = []
    event_ids: list[str] = []
    node_ids: list[str] = []
    clear_pattern: str | None = None
    token_pattern: str | None = None
    tenant: str | None = None


class Metrics:
    """The app's own Prometheus registry (never the process-global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "memgraph_http_requests", "HTTP requests by route and status",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "memgraph_http_request_seconds", "HTTP request latency by route", ["route"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30),
            registry=r,
        )  # fmt: skip
        self.commit_requests = Histogram(
            "memgraph_commit_requests", "Requests per group commit (one transaction)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=r,
        )  # fmt: skip
        self.commit_events = Histogram(
            "memgraph_commit_events", "Events per group commit",
            buckets=(1, 10, 100, 1_000, 10_000, 100_000, 1_000_000), registry=r,
        )  # fmt: skip
        self.commit_seconds = Histogram(
            "memgraph_commit_seconds", "Time to commit one group",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2), registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "memgraph_write_queue_depth", "Write requests waiting for the writer", registry=r
        )
        self.otel_spans = Counter(
            "memgraph_otel_spans", "OpenTelemetry spans received on /v1/traces", registry=r
        )

    def observe_commit(self, requests: int, events: int, seconds: float) -> None:
        self.commit_requests.observe(requests)
        self.commit_events.observe(events)
        self.commit_seconds.observe(seconds)


class _MeasureRequests:
    """Counts and times every request by its route template (never by ids in the path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)


_EVENTS_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "Events (the ingest contract): a JSON array, JSONL or an Arrow IPC "
        "stream. Events without `tenant` get the key's tenant.",
        "content": {
            wire.JSON: {"schema": {"type": "array", "items": {"type": "object"}}},
            wire.NDJSON: {"schema": {"type": "string"}},
            wire.ARROW: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_ARROW_BODY: Final = {
    "requestBody": {
        "required": True,
        "content": {wire.ARROW: {"schema": {"type": "string", "format": "binary"}}},
    }
}
_INGEST_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "every event landed or was already there"},
    400: {"description": "the body cannot be read (not JSON, not a complete Arrow stream)"},
    401: {"description": "no API key, or one that is not accepted"},
    403: {"description": "events for another tenant (nothing was written)"},
    413: {"description": "the body is larger than the server's limit"},
    415: {"description": "a content type other than JSON, JSONL or Arrow IPC"},
    422: {
        "description": "some events were quarantined (the body says which and why); the "
        "valid ones landed"
    },
    503: {
        "description": "the write queue is full or the server is stopping: retry after "
        "Retry-After seconds (safe: ingest is idempotent on event_id)"
    },
}
_TRACES_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "An OTLP `ExportTraceServiceRequest` (what OpenTelemetry's OTLP/HTTP "
        "exporters send).",
        "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
_NOT_FOUND = "not found"
_NODES: Final = "/v1/nodes/"
_GRAPHS: Final = "/v1/graphs/"
_FORMAT_E: Final = "text/plain; charset=utf-8"
_DIFF_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    409: {"description": "the graph moved past the base and the diff does not commute"},
    422: {"description": "refused whole; `reasons` lists every line that cannot apply"},
}
MAX_SEQ = 2**62
"""Seqs and watermarks are BIGINT in DuckDB: refuse larger numbers up front (422)."""
MAX_WINDOW_SECONDS = 100 * 365 * 86_400.0
"""Windows longer than a century are a mistake (and past timedelta's range soon after)."""


_bearer = HTTPBearer(
    auto_error=False,
    description="an API key (`memgraph-ops keys create`) or the endpoint file's operator token",
)


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(
            401,
            "missing API key: send `Authorization: Bearer <key>` "
            "(create one with `memgraph-ops keys create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    secret = credentials.credentials
    operator_token: str | None = request.app.state.operator_token
    if operator_token and hmac.compare_digest(secret.encode(), operator_token.encode()):
        return Principal("operator", "operator", None)
    keys: KeyRing = request.app.state.keys
    who = keys.authenticate(secret)
    if who is None:
        raise HTTPException(
            401,
            "API key not accepted: unknown, revoked or malformed",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return who


def _admin(who: Annotated[Principal, Depends(_principal)]) -> Principal:
    if not who.is_admin:
        raise HTTPException(403, "this endpoint needs an admin key or the operator token")
    return who


# At module level: FastAPI resolves these (string) annotations in the module's namespace.
Who = Annotated[Principal, Depends(_principal)]
Admin = Annotated[Principal, Depends(_admin)]


def create_app(
    store: Store,
    writer: GroupWriter,
    keys: KeyRing,
    *,
    operator_token: str | None = None,
    metrics: Metrics | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    graphs: SharedGraphs | None = None,
) -> FastAPI:
    """The API over an open store (written only through `writer`; graph diffs, which are
    all-or-nothing, through `graphs`, which commits to the store itself)."""
    metrics = metrics or Metrics()
    metrics.queue_depth.set_function(lambda: writer.depth)
    app = FastAPI(
        title="memgraph_ops",
        summary="The operational store (HOT) of LLM-Memory-Graph, served.",
        version="1",
    )
    app.add_middleware(_MeasureRequests, metrics=metrics)
    trace_locks = _StripedLocks()
    app.state.keys = keys
    app.state.operator_token = operator_token

    @app.exception_handler(MemgraphError)
    async def memgraph_error(request: Request, exc: MemgraphError) -> Response:
        # The class name travels so the client can raise the same error (the pipeline's
        # handling of, say, StoreMismatchError must not change across the network).
        status, headers = _status_of(exc)
        body: dict[str, Any] = {"detail": str(exc), "error": type(exc).__name__}
        if isinstance(exc, RejectedError):
            body["reasons"] = exc.reasons
        if isinstance(exc, GraphConflictError):
            body["current"] = exc.current
        return JSONResponse(body, status_code=status, headers=headers)

    # health and metrics ------------------------------------------------------------------

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """The process is up (and which process: the endpoint file's pid)."""
        return {"status": "ok", "pid": os.getpid()}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready"}})
    def readyz() -> Response:
        """Ready for writes: store open, writer alive, queue not full."""
        problems = [
            why
            for bad, why in (
                (not writer.alive, "the writer is not running"),
                (writer.full, "the write queue is full"),
            )
            if bad
        ]
        body = {"ready": not problems, "problems": problems, "queue_depth": writer.depth}
        return JSONResponse(body, status_code=503 if problems else 200)

    @app.get("/metrics", tags=["health"], response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # events in ---------------------------------------------------------------------------

    @app.post(
        "/v1/events", tags=["events"], openapi_extra=_EVENTS_BODY, responses=_INGEST_RESPONSES
    )
    async def post_events(
        request: Request,
        who: Who,
        source: Annotated[
            str | None, Query(description="quarantine source (admin and operator only)")
        ] = None,
    ) -> Response:
        """Ingest events (same contract as `Store.ingest`). Answered after the commit."""
        kind = _body_kind(request.headers.get("content-type"))
        # The local pipeline (`memgraph-ops ingest` of a file through the endpoint file's
        # token) sends batches of up to 50,000 events: bigger than agents' requests.
        limit = OPS_MAX_BODY if who.role == "operator" else max_body_bytes
        body = await _read_body(request, limit)
        batch, unreadable = await run_in_threadpool(_parse_events, kind, body)
        if who.tenant is not None:
            if source is not None:
                raise HTTPException(403, "only an admin key may set the quarantine source")
            batch = await run_in_threadpool(_own_tenant, batch, who.tenant)
        origin = _source_of(who, source)
        if unreadable:
            await _wait(writer.run(lambda: store.quarantine_unreadable(unreadable, source=origin)))
        result: IngestResult = await _wait(writer.submit(batch, source=origin, owner=who.tenant))
        answer = _with_unreadable(result.as_dict(), unreadable)
        return Response(
            wire.dumps(answer),
            status_code=422 if answer["quarantined"] else 200,
            media_type=wire.JSON,
        )

    @app.post(
        "/v1/traces",
        tags=["events"],
        openapi_extra=_TRACES_BODY,
        responses={
            200: {"description": "the spans landed (`partialSuccess` counts those that could "
                  "not be read or mapped; they are in the quarantine with their reasons)"},
            400: {"description": "the body is no OTLP export request"},
            401: {"description": "no API key, or one that is not accepted"},
            403: {"description": "a tenant key naming another tenant"},
            413: {"description": "the body is larger than the server's limit"},
            503: {"description": "the write queue is full or the server is stopping: retry "
                  "(safe: the same spans give the same events)"},
        },
    )  # fmt: skip
    async def post_traces(
        request: Request,
        who: Who,
        tenant: Annotated[
            str | None, Query(description="tenant of the spans (admin and operator only)")
        ] = None,
    ) -> Response:
        """OTLP/HTTP trace export (`ExportTraceServiceRequest` as protobuf or JSON, optionally
        gzip): OpenTelemetry GenAI and OpenInference spans become graph events."""
        if who.tenant is not None and tenant not in (None, who.tenant):
            raise HTTPException(403, "a tenant key writes its own tenant's spans only")
        target = who.tenant or tenant or "default"
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        body = await _read_body(request, max_body_bytes)
        spans, rejected = await run_in_threadpool(
            decode_request, body, media, request.headers.get("content-encoding")
        )
        origin = _source_of(who, None)
        traces = sorted({span.trace_id for span in spans})
        async with trace_locks.holding(traces):
            # Mapped outside the writer, from the spans kept for these traces; the events and
            # the spans to keep go through group commit like any other write (one transaction).
            delivery = await run_in_threadpool(plan, store, spans, rejected, tenant=target)
            if delivery.unreadable:
                rows = delivery.unreadable
                await _wait(writer.run(lambda: store.quarantine_unreadable(rows, source=origin)))
            result = await _wait(
                writer.submit(
                    delivery.events, source=origin, owner=who.tenant, spans=delivery.stage
                )
            )
            delivery.count(result)
        report = delivery.report
        metrics.otel_spans.inc(report.spans)
        return _export_response(media, report.quarantined, report.reasons)

    # reads -------------------------------------------------------------------------------

    @app.get("/v1/sessions/{session_id:path}/context", tags=["reads"])
    def context(
        session_id: str, who: Who, last: Annotated[int, Query(ge=0, le=100_000)] = 10
    ) -> Response:
        """A session's last `last` prompts with their responses and tool calls (404 for an
        unknown session, or one of another tenant)."""
        items = store.context(session_id, last=last)
        owner = store.tenants_of([session_id]).get(session_id)
        if owner is None and not items and store.node(session_id) is None:
            raise HTTPException(404, f"session {_NOT_FOUND}")
        if who.tenant is not None:
            if owner is not None:
                if owner != who.tenant:
                    raise HTTPException(404, f"session {_NOT_FOUND}")
            else:  # no Session node: each prompt must be the tenant's own
                items = [i for i in items if _tenant_of(store, i["prompt"]["id"]) == who.tenant]
                if not items:
                    raise HTTPException(404, f"session {_NOT_FOUND}")
        return Response(wire.dumps(items), media_type=wire.JSON)

    @app.get(_NODES + "{node_id:path}/edges", tags=["reads"])
    def edges(
        request: Request,
        node_id: str,
        who: Who,
        direction: Annotated[str, Query(pattern="^(out|in|both)$")] = "both",
        type: str | None = None,
    ) -> Response:
        """Current edges of a node (JSON records, or Arrow IPC with `Accept: …arrow.stream`)."""
        # The decoded path cannot tell the edges of node `a` from node `a/edges`: the path as
        # sent can (clients percent-encode ids, so a `/` inside one is `%2F`).
        raw = request.scope.get("raw_path", b"").decode("latin-1")
        sent = raw[raw.find(_NODES) + len(_NODES) :] if _NODES in raw else ""
        if sent and not sent.endswith("/edges"):
            return node(unquote(sent), who)
        if sent:
            node_id = unquote(sent.removesuffix("/edges"))
        frame = store.edges(node_id, direction=direction, type=type)  # type: ignore[arg-type]
        if who.tenant is not None:
            frame = frame.filter(pl.col("tenant") == who.tenant)
        return _frame(request, frame)

    @app.get(_NODES + "{node_id:path}", tags=["reads"])
    def node(node_id: str, who: Who) -> Response:
        """A node's current state by exact id (404 if unknown, deleted or another tenant's)."""
        state = store.node(node_id)
        if state is None or (who.tenant is not None and state.get("tenant") != who.tenant):
            raise HTTPException(404, f"node {_NOT_FOUND}")
        return Response(wire.dumps(state), media_type=wire.JSON)

    @app.get("/v1/users/{user_id:path}/sessions", tags=["reads"])
    def sessions(request: Request, user_id: str, who: Who) -> Response:
        """Sessions of a user, newest first (a tenant key sees its tenant's only)."""
        frame = store.sessions(user_id)
        if who.tenant is not None:
            frame = frame.filter(pl.col("tenant") == who.tenant)
        return _frame(request, frame)

    @app.get("/v1/quarantine", tags=["reads"])
    def quarantine(
        request: Request, who: Who, limit: Annotated[int, Query(ge=0, le=100_000)] = 100
    ) -> Response:
        """The newest quarantined events with their reasons (a tenant key: the ones it sent)."""
        if who.tenant is None:
            return _frame(request, store.quarantine(limit))
        return _frame(request, _tenant_quarantine(store, SOURCE_PREFIX + who.tenant, limit))

    # shared graphs (memgraph_ops.memory.shared) ------------------------------------------

    def _graphs() -> SharedGraphs:
        if graphs is None:
            raise HTTPException(404, "this server does not serve graphs")
        return graphs

    @app.get(_GRAPHS + "{graph_id:path}/nodes/{node_id:path}", tags=["graphs"])
    def graph_node(graph_id: str, node_id: str, who: Who, tenant: str | None = None) -> Response:
        """A node of a graph by its exact semantic id (404 if the graph has no such id)."""
        found = _graphs().node(graph_id, node_id, tenant=_graph_tenant(who, tenant))
        if found is None:
            raise HTTPException(404, f"node {_NOT_FOUND}")
        body = {**asdict(found), "line": node_line(found)}
        return Response(wire.dumps(body), media_type=wire.JSON)

    @app.get(_GRAPHS + "{graph_id:path}/relevant", tags=["graphs"])
    def graph_relevant(
        graph_id: str,
        who: Who,
        q: Annotated[str, Query(min_length=1, max_length=10_000)],
        max_nodes: Annotated[int, Query(ge=1, le=10_000)] = 20,
        max_tokens: Annotated[int | None, Query(ge=1)] = None,
        node_types: Annotated[list[str] | None, Query()] = None,
        tenant: str | None = None,
    ) -> Response:
        """The part of a graph relevant to `q`, within the budget, as Format E; the note on
        what was left out is in `X-Relevant-Note`."""
        snapshot = _graphs().snapshot(graph_id, tenant=_graph_tenant(who, tenant))
        found = relevant(
            snapshot.graph, q, node_types=node_types, max_nodes=max_nodes, max_tokens=max_tokens
        )
        headers = {"X-Relevant-Note": found.note, "X-Graph-Version": snapshot.version}
        return Response(found.text, media_type=_FORMAT_E, headers=headers)

    @app.post(_GRAPHS + "{graph_id:path}/diff", tags=["graphs"], responses=_DIFF_RESPONSES)
    def graph_diff(
        graph_id: str,
        who: Who,
        diff: Annotated[str, Body(media_type=_FORMAT_E)],
        tenant: str | None = None,
    ) -> Response:
        """Apply a Format E diff (`<operations>` block naming its `<base_snapshot>`) whole, or
        refuse it whole: 422 lists every reason, 409 says the graph moved past the base and
        the diff does not commute with what changed (read the snapshot again)."""
        applied = _graphs().apply_diff(graph_id, diff, tenant=_graph_tenant(who, tenant))
        headers = {"ETag": _etag(applied.version)}
        return Response(wire.dumps(applied.as_dict()), media_type=wire.JSON, headers=headers)

    @app.put(_GRAPHS + "{graph_id:path}", tags=["graphs"], responses=_DIFF_RESPONSES)
    def graph_import(
        graph_id: str,
        who: Who,
        text: Annotated[str, Body(media_type=_FORMAT_E)],
        tenant: str | None = None,
    ) -> Response:
        """Make the graph hold exactly this Format E snapshot (one atomic diff)."""
        applied = _graphs().import_text(graph_id, text, tenant=_graph_tenant(who, tenant))
        headers = {"ETag": _etag(applied.version)}
        return Response(wire.dumps(applied.as_dict()), media_type=wire.JSON, headers=headers)

    @app.get(
        _GRAPHS + "{graph_id:path}", tags=["graphs"], responses={304: {"description": "unchanged"}}
    )
    def graph_snapshot(
        graph_id: str, request: Request, who: Who, tenant: str | None = None
    ) -> Response:
        """The graph as Format E text; `ETag` is its version. Send it back as
        `If-None-Match` to get `304 Not Modified` while the graph has not changed."""
        snapshot = _graphs().snapshot(graph_id, tenant=_graph_tenant(who, tenant))
        etag = _etag(snapshot.version)
        headers = {"ETag": etag, "X-Graph-Version": snapshot.version}
        sent = request.headers.get("if-none-match", "")
        if etag in (t.strip() for t in sent.split(",")) or sent.strip() == "*":
            return Response(status_code=304, headers=headers)
        return Response(snapshot.text, media_type=_FORMAT_E, headers=headers)

    @app.put("/v1/graph-types", tags=["graphs"])
    def put_graph_types(
        who: Who, definition: Annotated[dict[str, Any], Body()], tenant: str | None = None
    ) -> dict[str, Any]:
        """Register the tenant's custom node and edge types (the whole set, a new version)."""
        owner = _graph_tenant(who, tenant)
        if owner is None:
            raise HTTPException(422, "name the tenant whose types these are (?tenant=)")
        registry = store.register_types(owner, definition)
        return {"tenant": owner, "version": registry.version, **registry.definition()}

    @app.get("/v1/graph-types", tags=["graphs"])
    def get_graph_types(who: Who, tenant: str | None = None) -> dict[str, Any]:
        """The tenant's custom node and edge types (version 0: none registered)."""
        owner = _graph_tenant(who, tenant)
        if owner is None:
            raise HTTPException(422, "name the tenant whose types to show (?tenant=)")
        registry = store.graph_types(owner)
        return {"tenant": owner, "version": registry.version, **registry.definition()}

    @app.get("/v1/status", tags=["reads"])
    def status(who: Who) -> Response:
        """The service's state; with an admin key also the store's counts."""
        body: dict[str, Any] = {
            "principal": {"role": who.role, "tenant": who.tenant},
            "service": {
                "pid": os.getpid(),
                "queue_depth": writer.depth,
                "queue_size": writer.queue_size,
                "commit_window_ms": writer.window * 1000,
                "max_body_bytes": max_body_bytes,
            },
        }
        if who.is_admin:
            body["store"] = store.counts()
        return Response(wire.dumps(body), media_type=wire.JSON)

    # operator endpoints: the store surface the pipeline uses (memgraph_ops.client.RemoteStore)

    @app.get("/v1/ops/identity", tags=["ops"])
    def identity(_: Admin) -> dict[str, Any]:
        return asdict(store.identity())

    @app.get("/v1/ops/max_seq", tags=["ops"])
    def max_seq(_: Admin) -> dict[str, int]:
        return {"max_seq": store.max_seq()}

    @app.get("/v1/ops/counts", tags=["ops"])
    def counts(_: Admin) -> Response:
        return Response(wire.dumps(store.counts()), media_type=wire.JSON)

    @app.get("/v1/ops/events", tags=["ops"], response_class=StreamingResponse)
    def events_after(
        _: Admin,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)],
        batch_rows: Annotated[int, Query(ge=1, le=10_000_000)],
    ) -> StreamingResponse:
        """Committed events with seq > `after`, as one Arrow IPC stream with one record batch
        per store batch (at most `batch_rows` rows), produced as it is sent."""
        tables = store.events_after(after, batch_rows=batch_rows)
        return StreamingResponse(
            wire.ipc_stream(tables, STORED_EVENT_SCHEMA), media_type=wire.ARROW
        )

    @app.post("/v1/ops/trim", tags=["ops"])
    async def trim(
        _: Admin,
        compacted_through: Annotated[int, Body(ge=0, le=MAX_SEQ)],
        hot_window_seconds: Annotated[float, Body(ge=0, le=MAX_WINDOW_SECONDS)],
        dedupe_window_seconds: Annotated[float, Body(ge=0, le=MAX_WINDOW_SECONDS)],
        tenant_hot_window_seconds: Annotated[
            dict[str, Annotated[float, Field(ge=0, le=MAX_WINDOW_SECONDS)]] | None, Body()
        ] = None,
    ) -> dict[str, int]:
        windows = {t: timedelta(seconds=s) for t, s in (tenant_hot_window_seconds or {}).items()}
        dropped = await _wait(
            writer.run(
                lambda: store.trim(
                    compacted_through=compacted_through,
                    hot_window=timedelta(seconds=hot_window_seconds),
                    dedupe_window=timedelta(seconds=dedupe_window_seconds),
                    tenant_hot_windows=windows,
                )
            )
        )
        return {"dropped": dropped}

    @app.post("/v1/ops/renumber_above", tags=["ops"])
    async def renumber_above(
        _: Admin, watermark: Annotated[int, Body(embed=True, ge=0, le=MAX_SEQ)]
    ) -> dict[str, int]:
        return {"shift": await _wait(writer.run(lambda: store.renumber_above(watermark)))}

    @app.post("/v1/ops/remember_event_ids", tags=["ops"], openapi_extra=_ARROW_BODY)
    async def remember_event_ids(request: Request, _: Admin) -> dict[str, int]:
        table = await _arrow_body(request)
        return {"remembered": await _wait(writer.run(lambda: store.remember_event_ids(table)))}

    @app.post("/v1/ops/restore_session", tags=["ops"], openapi_extra=_ARROW_BODY)
    async def restore_session(
        request: Request,
        _: Admin,
        session_id: str,
        generation: Annotated[int, Query(ge=0, le=MAX_SEQ)],
        expires_at: datetime,
    ) -> dict[str, bool]:
        rows = await _arrow_body(request)
        done = await _wait(
            writer.run(
                lambda: store.restore_session(session_id, generation, rows, expires_at=expires_at)
            )
        )
        return {"restored": done}

    @app.post("/v1/ops/forget_restored", tags=["ops"])
    async def forget_restored(
        _: Admin, session_ids: Annotated[list[str] | None, Body(embed=True)] = None
    ) -> dict[str, int]:
        return {"forgotten": await _wait(writer.run(lambda: store.forget_restored(session_ids)))}

    @app.post("/v1/ops/quarantine_unreadable", tags=["ops"])
    async def quarantine_unreadable(
        _: Admin,
        rows: Annotated[list[tuple[str, str]], Body()],
        source: Annotated[str, Body()],
    ) -> dict[str, int]:
        n = await _wait(writer.run(lambda: store.quarantine_unreadable(rows, source=source)))
        return {"recorded": n}

    @app.get("/v1/ops/session_activity", tags=["ops"])
    def session_activity(_: Admin) -> Response:
        return _arrow(store.session_activity().to_arrow())

    @app.get("/v1/ops/restored", tags=["ops"])
    def restored(_: Admin) -> Response:
        return _arrow(store.restored().to_arrow())

    @app.post("/v1/ops/checkpoint", tags=["ops"])
    async def checkpoint(_: Admin) -> dict[str, bool]:
        await _wait(writer.run(store.checkpoint))
        return {"done": True}

    # erasure: the HOT step and the file rewrite run here, in the process that owns the file

    @app.get("/v1/ops/tenants", tags=["ops"])
    def tenants(_: Admin) -> dict[str, list[str]]:
        return {"tenants": store.tenants()}

    @app.post("/v1/ops/subject_sessions", tags=["ops"])
    def subject_sessions(
        _: Admin, user_ids: Annotated[list[str], Body()], tenant: Annotated[str | None, Body()]
    ) -> dict[str, list[str]]:
        return {"sessions": store.subject_sessions(user_ids, tenant)}

    @app.post("/v1/ops/subject_texts", tags=["ops"])
    def subject_texts(_: Admin, rows: Annotated[SubjectRowsBody, Body(embed=True)]) -> Response:
        texts = store.subject_texts(SubjectRows.from_dict(rows.model_dump()))
        return Response(wire.dumps({"texts": texts}), media_type=wire.JSON)

    @app.post("/v1/ops/find_subject", tags=["ops"])
    def find_subject(
        _: Admin, rows: Annotated[SubjectRowsBody, Body(embed=True)]
    ) -> dict[str, Any]:
        return store.find_subject(SubjectRows.from_dict(rows.model_dump()))

    @app.post("/v1/ops/erase_subject", tags=["ops"])
    async def erase_subject(
        _: Admin,
        rows: Annotated[SubjectRowsBody, Body()],
        re_redact: Annotated[bool, Body()],
    ) -> dict[str, Any]:
        subject = SubjectRows.from_dict(rows.model_dump())
        found: dict[str, Any] = await _wait(
            writer.run(lambda: store.erase_subject(subject, re_redact=re_redact))
        )
        return found

    @app.post("/v1/ops/rewrite_file", tags=["ops"])
    async def rewrite_file(_: Admin) -> dict[str, int]:
        """Rewrite HOT's file without free blocks (the store reopens it in this process)."""
        return {"bytes": await _wait(writer.run(store.rewrite_file))}

    @app.post("/v1/ops/places", tags=["ops"])
    def places(_: Admin, needles: Annotated[list[str], Body(embed=True)]) -> dict[str, list[str]]:
        return {"places": store.places(needles)}

    return app


# helpers ------------------------------------------------------------------------------------


def _graph_tenant(who: Principal, tenant: str | None) -> str | None:
    """The tenant a graph request acts for: a tenant key's own (naming another is refused),
    or the one an admin names."""
    if who.tenant is not None:
        if tenant not in (None, who.tenant):
            raise HTTPException(403, "a tenant key reads and writes its own tenant's graphs")
        return who.tenant
    return tenant


def _etag(version: str) -> str:
    return f'"{version}"'


def _status_of(exc: MemgraphError) -> tuple[int, dict[str, str]]:
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exc, QueueFull | WriterStopped | TransientError):
        return 503, retry
    if isinstance(exc, RejectedError):
        return 422, {}
    if isinstance(exc, GraphConflictError):
        return 409, {}
    if isinstance(exc, InputError):
        return 400, {}
    if isinstance(exc, NotArchivedError):
        return 404, {}
    if isinstance(exc, RestoreRefusedError | StoreMismatchError):
        return 409, {}
    if isinstance(exc, ConfigError):
        return 500, {}
    return 500, {}


class _StripedLocks:
    """Locks by trace id (hashed onto a fixed set): deliveries of the same trace are mapped
    and written one after the other, so each maps every span the others kept."""

    def __init__(self, stripes: int = 256) -> None:
        self._locks = [asyncio.Lock() for _ in range(stripes)]

    @contextlib.asynccontextmanager
    async def holding(self, keys: list[str]) -> AsyncIterator[None]:
        stripes = sorted({hash(k) % len(self._locks) for k in keys})  # sorted: no deadlock
        async with contextlib.AsyncExitStack() as stack:
            for stripe in stripes:
                await stack.enter_async_context(self._locks[stripe])
            yield


def _export_response(media: str, rejected: int, reasons: dict[str, int]) -> Response:
    """An `ExportTraceServiceResponse` in the request's encoding; `partial_success` when some
    spans (or their events) were quarantined."""
    answer = ExportTraceServiceResponse()
    if rejected:
        answer.partial_success.rejected_spans = rejected
        answer.partial_success.error_message = "; ".join(
            f"{n} x {reason}" for reason, n in sorted(reasons.items())
        )[:2000]
    if media == "application/json":
        return Response(json_format.MessageToJson(answer), media_type="application/json")
    return Response(answer.SerializeToString(), media_type="application/x-protobuf")


async def _wait(future: Any) -> Any:
    return await asyncio.wrap_future(future)


def _body_kind(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media == wire.JSON:
        return "json"
    if media in wire.NDJSON_ALIASES:
        return "jsonl"
    if media == wire.ARROW:
        return "arrow"
    raise HTTPException(
        415,
        f"unsupported content type {media or '(none)'!r}: send events as {wire.JSON} (an "
        f"array), {wire.NDJSON} (one event per line) or {wire.ARROW} (an Arrow IPC stream)",
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass `limit` (from Content-Length,
    or counted while it streams in): nothing past the limit is kept in memory."""
    declared = request.headers.get("content-length")
    over = False
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise HTTPException(400, f"Content-Length is not a number: {declared!r}") from None
        over = length > limit
        if length > limit + DRAIN_LIMIT:
            raise _too_large(limit, length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        over = over or size > limit
        if over:
            if size > limit + DRAIN_LIMIT:
                break
            continue
        chunks.append(chunk)
    if over:
        raise _too_large(limit, int(declared) if declared else None)
    return b"".join(chunks)


def _too_large(limit: int, length: int | None) -> HTTPException:
    given = f" ({length:,} bytes)" if length is not None else ""
    return HTTPException(
        413,
        f"the body{given} is larger than this server's limit of {limit:,} bytes: send the "
        "events in smaller batches (or start the server with a larger --max-body-mib)",
    )


async def _arrow_body(request: Request) -> pa.Table:
    if (request.headers.get("content-type") or "").split(";")[0].strip() != wire.ARROW:
        raise HTTPException(415, f"send this as {wire.ARROW}")
    body = await _read_body(request, OPS_MAX_BODY)
    try:
        return wire.read_ipc(body)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


Unreadable = list[tuple[str, str]]


def _parse_events(kind: str, body: bytes) -> tuple[list[Any] | pa.Table, Unreadable]:
    """The events of a body, and (JSONL) the lines that are not JSON objects: those are
    quarantined as `memgraph-ops ingest` does with a file, the rest land."""
    if kind == "arrow":
        try:
            return wire.read_ipc(body), []
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
    if kind == "json":
        try:
            events = json.loads(body)
        except RecursionError:
            raise HTTPException(400, "the body is JSON nested too deep to read") from None
        except ValueError as exc:
            raise HTTPException(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(events, list):
            raise HTTPException(
                400, f"the body must be a JSON array of events, not a {type(events).__name__}"
            )
        return events, []
    events, unreadable = [], []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode()
        except UnicodeDecodeError as exc:
            text = raw.decode(errors="backslashreplace").rstrip("\r")
            unreadable.append((text, f"line {number}, byte {exc.start + 1}: not valid UTF-8"))
            continue
        try:
            event = json.loads(line)
        except RecursionError:
            unreadable.append((line.rstrip("\r"), f"line {number}: JSON nested too deep"))
            continue
        except ValueError as exc:
            unreadable.append((line.rstrip("\r"), f"line {number}: not valid JSON ({exc})"))
            continue
        if isinstance(event, dict):
            events.append(event)
        else:
            unreadable.append((line.rstrip("\r"), f"line {number}: not a JSON object"))
    return events, unreadable


def _own_tenant(batch: list[Any] | pa.Table, tenant: str) -> list[Any] | pa.Table:
    """The batch with the key's tenant filled in where events name none. Refuses (403, before
    anything is written) a batch naming another tenant. Ids and sessions another tenant owns
    are refused event by event inside the commit (`Store.ingest_many(owner=)`), where the
    lookup does not wait on the writer's lock (here it stalled group commits)."""
    if isinstance(batch, pa.Table):
        batch, named = _own_tenant_arrow(batch, tenant)
    else:
        named = set()
        for event in batch:
            if not isinstance(event, dict):
                continue  # quarantined by the store
            given = event.get("tenant")
            if given is None:
                event["tenant"] = tenant
            else:
                named.add(given if isinstance(given, str) else repr(given))
    others = sorted(named - {tenant})
    if others:
        raise HTTPException(
            403,
            f"this key writes for tenant {tenant!r} only; the request names "
            f"{', '.join(map(repr, others[:5]))} (nothing was written)",
        )
    return batch


def _own_tenant_arrow(table: pa.Table, tenant: str) -> tuple[pa.Table, set[str]]:
    n = table.num_rows
    if "tenant" not in table.column_names:
        return table.append_column("tenant", pa.array([tenant] * n, pa.string())), set()
    column = table["tenant"]
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise HTTPException(400, f"the tenant column must be text, not {column.type}")
    named = {str(v) for v in pc.unique(column.drop_null()).to_pylist()}
    index = table.column_names.index("tenant")
    return table.set_column(index, "tenant", pc.fill_null(column, tenant)), named


def _tenant_of(store: Store, node_id: str) -> str | None:
    state = store.node(node_id)
    return None if state is None else state.get("tenant")


def _source_of(who: Principal, source: str | None) -> str:
    if who.tenant is not None:
        return SOURCE_PREFIX + who.tenant
    return source or SOURCE_PREFIX + "admin"


def _tenant_quarantine(store: Store, source: str, limit: int) -> pl.DataFrame:
    """The newest `limit` quarantine rows from `source`. The store filters by nothing, so
    read more and more of the newest rows until enough are the tenant's or all were read."""
    want = max(limit, 1) * 4
    while True:
        rows = store.quarantine(want)
        mine = rows.filter(pl.col("source") == source)
        if mine.height >= limit or rows.height < want:
            return mine.head(limit)
        want *= 4


def _with_unreadable(result: dict[str, Any], unreadable: Unreadable) -> dict[str, Any]:
    if not unreadable:
        return result
    result["received"] += len(unreadable)
    result["quarantined"] += len(unreadable)
    for _, reason in unreadable:
        key = reason.split(": ", 1)[1] if ": " in reason else reason
        result["reasons"][key] = result["reasons"].get(key, 0) + 1
    result["rejected"] = [{"event_id": None, "reason": r} for _, r in unreadable] + result[
        "rejected"
    ]
    return result


def _frame(request: Request, frame: pl.DataFrame) -> Response:
    if wire.ARROW in (request.headers.get("accept") or ""):
        return _arrow(frame.to_arrow())
    return Response(wire.dumps(frame.to_dicts()), media_type=wire.JSON)


def _arrow(table: pa.Table) -> Response:
    return Response(wire.ipc_bytes(table), media_type=wire.ARROW)
