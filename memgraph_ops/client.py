"""Talking to `memgraph-ops serve`: the same methods as the embedded store, over HTTP.

- `Client(url, api_key)`: what an agent runtime needs (`ingest`, `context`, `node`, `edges`,
  `sessions`, `quarantine`, `status`), with a tenant or admin key;
- `RemoteStore(url, token)`: the `Store` surface the pipeline uses (compaction, archive,
  restore, retention), over the operator endpoints, so `lake.compaction.compact(store, …)` and
  the others run unchanged. `memgraph_ops.open(home).store` returns one by itself when a
  server owns that data root (see `memgraph_ops.service.endpoint`);
- `connect(settings)`: embedded or remote by configuration alone (`MEMGRAPH_URL` and
  `MEMGRAPH_API_KEY`, or `[service] url` in memgraph.toml), so runtime code does not change.

Requests that fail to connect, lose their connection or get a 503 are sent again, the same
body, until `retry_for` seconds have passed (honouring Retry-After): safe, because ingest is
idempotent on `event_id` and every operator write is idempotent too.
"""

from __future__ import annotations

import io
import os
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
import polars as pl
import pyarrow as pa

from memgraph_ops import errors
from memgraph_ops.config import Settings, load_settings
from memgraph_ops.errors import ConfigError, InputError, StoreError, TransientError
from memgraph_ops.events import EventInput
from memgraph_ops.service import wire
from memgraph_ops.store import IngestResult, SpanStage, Store, StoreIdentity, SubjectRows
from memgraph_ops.store.hot import Direction

if TYPE_CHECKING:
    from memgraph_ops.graph_types import TypeRegistry
    from memgraph_ops.imports.traces import OtelImportReport
    from memgraph_ops.memory.format_e import Node
    from memgraph_ops.memory.shared import Applied, Snapshot

DEFAULT_RETRY_SECONDS = 60.0


class ServiceUnavailableError(StoreError, TransientError):
    """The service cannot be reached, or stayed busy (503) for as long as we retried."""


class AuthError(ConfigError):
    """The service refused the API key (401) or what the key asked for (403)."""


class _Http:
    """One pooled HTTP client, with the retries described above."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        retry_for: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.url = url.rstrip("/")
        self.retry_for = retry_for
        self.client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(300.0, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            verify=verify,
            trust_env=False,  # a proxy from the environment has no business on this path
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        ok: Sequence[int] = (200,),
    ) -> httpx.Response:
        request = self.client.build_request(
            method, path, params=params, content=content, json=json, headers=headers
        )
        response = self._send(request, stream=False)
        if response.status_code in ok:
            return response
        raise _error(response, self.url)

    @contextmanager
    def stream(self, path: str, *, params: Mapping[str, Any]) -> Iterator[httpx.Response]:
        response = self._send(self.client.build_request("GET", path, params=params), stream=True)
        try:
            if response.status_code != 200:
                response.read()
                raise _error(response, self.url)
            yield response
        finally:
            response.close()

    def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            try:
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                # Connection refused or reset, or lost mid-request: the same body again.
                if time.monotonic() + delay > deadline:
                    raise ServiceUnavailableError(
                        f"the memgraph service at {self.url} cannot be reached ({exc!r}); "
                        f"retried for {self.retry_for:.0f}s. Is `memgraph-ops serve` running?"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if response.status_code != 503:
                return response
            wait = _retry_after(response, delay)
            if time.monotonic() + wait > deadline:
                if stream:
                    response.read()
                raise _error(response, self.url)
            response.close()
            time.sleep(wait)
            delay = min(delay * 2, 1.0)

    def close(self) -> None:
        self.client.close()


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", default)), 0.0), 30.0)
    except ValueError:
        return default


def _error(response: httpx.Response, url: str) -> Exception:
    """The exception for an error answer, naming what the service said."""
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:500]}
    detail = body.get("detail") if isinstance(body, dict) else body
    if not isinstance(detail, str):  # FastAPI's validation errors: a list of problems
        detail = "; ".join(
            f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}"
            for d in (detail if isinstance(detail, list) else [])
            if isinstance(d, dict)
        ) or str(detail)
    status = response.status_code
    named = getattr(errors, str(body.get("error", "")) if isinstance(body, dict) else "", None)
    if named is errors.RejectedError and isinstance(body.get("reasons"), list):
        return errors.RejectedError([str(r) for r in body["reasons"]])
    if named is errors.GraphConflictError:
        return errors.GraphConflictError(detail, current=str(body.get("current", "")))
    if isinstance(named, type) and issubclass(named, errors.MemgraphError):
        return named(detail) if status != 503 else ServiceUnavailableError(detail)
    if status in (401, 403):
        return AuthError(f"the memgraph service at {url} refused the request ({status}): {detail}")
    if status == 503:
        return ServiceUnavailableError(f"the memgraph service at {url} is busy: {detail}")
    if 400 <= status < 500:
        return InputError(f"the memgraph service refused the request ({status}): {detail}")
    return StoreError(f"the memgraph service at {url} failed ({status}): {detail}")


def _tenant(tenant: str | None) -> dict[str, str]:
    return {"tenant": tenant} if tenant is not None else {}


def _path(template: str, value: str) -> str:
    return template.format(quote(value, safe=""))


class Client:
    """The embedded store's domain methods, over HTTP, for one API key.

    >>> with Client("http://127.0.0.1:8765", api_key) as client:   # doctest: +SKIP
    ...     client.ingest([{"event_id": "e1", "op": "upsert", ...}])
    ...     client.context("session-1", last=10)
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        verify: ssl.SSLContext | bool = True,
        retry_for: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self._http = _Http(url, api_key, verify=verify, retry_for=retry_for)
        self.url = self._http.url
        self._snapshots: dict[tuple[str, str | None], Snapshot] = {}

    def ingest(self, events: EventInput, *, source: str | None = None) -> IngestResult:
        """Send events; returns what landed (quarantined events are named in `rejected`, as
        with the embedded store; not an exception). Retried as sent on connection errors."""
        if isinstance(events, pl.DataFrame):
            events = events.to_arrow()
        if isinstance(events, pa.RecordBatch):
            events = pa.Table.from_batches([events])
        if isinstance(events, pa.Table):
            body, media = wire.ipc_bytes(events), wire.ARROW
        elif isinstance(events, str | bytes | dict):
            raise InputError(
                "events must be a list of event objects, an Arrow table or a polars frame, "
                f"not {type(events).__name__}"
            )
        else:
            body, media = wire.dumps(list(events)), wire.JSON
        params = {"source": source} if source is not None else None
        response = self._http.request(
            "POST",
            "/v1/events",
            content=body,
            params=params,
            headers={"Content-Type": media},
            ok=(200, 422),
        )
        return IngestResult(**response.json())

    def context(self, session_id: str, *, last: int = 10) -> list[dict[str, Any]]:
        response = self._http.request(
            "GET", _path("/v1/sessions/{}/context", session_id), params={"last": last},
            ok=(200, 404),
        )  # fmt: skip
        if response.status_code == 404:  # unknown (or not this key's): the store says []
            return []
        result: list[dict[str, Any]] = wire.revive(response.json())
        return result

    def node(self, node_id: str) -> dict[str, Any] | None:
        response = self._http.request("GET", _path("/v1/nodes/{}", node_id), ok=(200, 404))
        if response.status_code == 404:
            return None
        result: dict[str, Any] = wire.revive(response.json())
        return result

    def edges(
        self, node_id: str, *, direction: Direction = "both", type: str | None = None
    ) -> pl.DataFrame:
        params = {"direction": direction, **({"type": type} if type is not None else {})}
        return self._frame(_path("/v1/nodes/{}/edges", node_id), params)

    def sessions(self, user_id: str) -> pl.DataFrame:
        return self._frame(_path("/v1/users/{}/sessions", user_id), {})

    def quarantine(self, limit: int = 100) -> pl.DataFrame:
        return self._frame("/v1/quarantine", {"limit": limit})

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._http.request("GET", "/v1/status").json()
        return result

    # shared graphs --------------------------------------------------------------------------

    def snapshot(self, graph_id: str, *, tenant: str | None = None) -> Snapshot:
        """A graph as Format E text with its version. The last snapshot of each graph is kept
        and revalidated with `If-None-Match`: an unchanged graph costs a 304 and no text."""
        from memgraph_ops.memory.shared import Snapshot

        key = (graph_id, tenant)
        cached = self._snapshots.get(key)
        headers = {"If-None-Match": f'"{cached.version}"'} if cached is not None else {}
        response = self._http.request(
            "GET", _path("/v1/graphs/{}", graph_id), params=_tenant(tenant), headers=headers,
            ok=(200, 304),
        )  # fmt: skip
        if response.status_code == 304 and cached is not None:
            return cached
        version = response.headers["X-Graph-Version"]
        snapshot = Snapshot.from_text(graph_id, tenant, version, response.text)
        self._snapshots[key] = snapshot
        return snapshot

    def graph_node(self, graph_id: str, node_id: str, *, tenant: str | None = None) -> Node | None:
        """A node of a graph by its exact id (None if the graph has no such id)."""
        from memgraph_ops.memory.format_e import Node

        response = self._http.request(
            "GET", f"/v1/graphs/{quote(graph_id, safe='')}/nodes/{quote(node_id, safe='')}",
            params=_tenant(tenant), ok=(200, 404),
        )  # fmt: skip
        if response.status_code == 404:
            return None
        body = response.json()
        return Node(body["id"], body["type"], body["name"], body["description"], body["properties"])

    def apply_diff(
        self,
        graph_id: str,
        diff: str,
        base_version: str | None = None,
        *,
        tenant: str | None = None,
    ) -> Applied:
        """Apply a Format E diff on the server, whole or not at all: RejectedError lists every
        reason (422), GraphConflictError says the graph moved past the base (409)."""
        from memgraph_ops.memory.shared import Applied

        if (
            base_version is not None
            and f"<base_snapshot>{base_version}</base_snapshot>" not in diff
        ):
            raise InputError(f"the diff does not name {base_version!r} as its base")
        response = self._http.request(
            "POST", _path("/v1/graphs/{}/diff", graph_id), content=diff.encode(),
            params=_tenant(tenant), headers={"Content-Type": "text/plain; charset=utf-8"},
        )  # fmt: skip
        return Applied(**response.json())

    def import_graph(self, graph_id: str, text: str, *, tenant: str | None = None) -> Applied:
        """Make a graph hold exactly a Format E snapshot (one atomic diff on the server)."""
        from memgraph_ops.memory.shared import Applied

        response = self._http.request(
            "PUT", _path("/v1/graphs/{}", graph_id), content=text.encode(),
            params=_tenant(tenant), headers={"Content-Type": "text/plain; charset=utf-8"},
        )  # fmt: skip
        return Applied(**response.json())

    def relevant_text(
        self,
        graph_id: str,
        query: str,
        *,
        max_nodes: int = 20,
        max_tokens: int | None = None,
        node_types: Sequence[str] | None = None,
        tenant: str | None = None,
    ) -> tuple[str, str]:
        """The part of a graph relevant to `query` as Format E, and the note on what was left
        out."""
        params: dict[str, Any] = {"q": query, "max_nodes": max_nodes, **_tenant(tenant)}
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if node_types:
            params["node_types"] = list(node_types)
        response = self._http.request(
            "GET", _path("/v1/graphs/{}/relevant", graph_id), params=params
        )
        return response.text, response.headers.get("X-Relevant-Note", "")

    def register_types(self, definition: Mapping[str, Any], *, tenant: str | None = None) -> int:
        """Register the tenant's custom node and edge types; returns the new version."""
        response = self._http.request(
            "PUT", "/v1/graph-types", json=dict(definition), params=_tenant(tenant)
        )
        return int(response.json()["version"])

    def _frame(self, path: str, params: Mapping[str, Any]) -> pl.DataFrame:
        response = self._http.request("GET", path, params=params, headers={"Accept": wire.ARROW})
        frame = pl.from_arrow(wire.read_ipc(response.content))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NoConnection:
    """Stands in for the DuckDB connection a RemoteStore does not have: a `Store` method with
    no operator endpoint yet fails saying so, instead of with an AttributeError."""

    def __init__(self, url: str) -> None:
        self._url = url

    def __getattr__(self, name: str) -> Any:
        raise StoreError(
            f"this operation needs the DuckDB file itself, which the memgraph service at "
            f"{self._url} owns, and the service has no endpoint for it yet: stop the server "
            "to run it on the file"
        )


class RemoteStore(Store):
    """The `Store` of a served data root, through the operator endpoints (admin key or the
    endpoint file's operator token). Same methods and results as the embedded store."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        path: Path | None = None,
        verify: ssl.SSLContext | bool = True,
        retry_for: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        # Deliberately not Store.__init__: there is no DuckDB connection on this side.
        self._client = Client(url, token, verify=verify, retry_for=retry_for)
        self._http = self._client._http
        self.url = self._client.url
        self.path = path or Path(urlsplit(url).netloc)
        self.read_only = False
        self._lock = threading.RLock()
        # the base class's methods that have no endpoint here fail naming the service
        self._con = _NoConnection(self.url)  # type: ignore[assignment]
        self._context_cache = OrderedDict()
        self.context_cache_size = 0

    def close(self) -> None:
        self._client.close()

    # ingest and reads: the same endpoints as a tenant's client ---------------------------

    def ingest(self, events: EventInput, *, source: str = "api") -> IngestResult:
        return self._client.ingest(events, source=source)

    def ingest_many(
        self,
        batches: Sequence[EventInput],
        *,
        source: str = "api",
        owner: str | None = None,
        spans: Sequence[SpanStage] = (),
        atomic: bool = False,
        expect: tuple[str, Hashable] | None = None,
    ) -> list[IngestResult]:
        # One request (one commit) per batch: remotely, the server groups commits itself.
        if atomic or expect is not None:
            raise ConfigError("all-or-nothing writes run in the server: use its graph endpoints")
        if spans:
            raise ConfigError(
                "spans are kept by the server: send OpenTelemetry traces to its /v1/traces"
            )
        if owner is not None:
            raise ConfigError(
                "RemoteStore writes with the operator token, for every tenant: to write as one "
                "tenant, use memgraph_ops.client.Client with that tenant's key"
            )
        return [self.ingest(batch, source=source) for batch in batches]

    def export_traces(self, document: Mapping[str, Any], *, tenant: str) -> OtelImportReport:
        """Send one OTLP/JSON export request to the server's `/v1/traces`."""
        from memgraph_ops.imports.traces import OtelImportReport

        response = self._http.request(
            "POST", "/v1/traces", content=wire.dumps(document), params={"tenant": tenant},
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        partial = response.json().get("partialSuccess") or {}
        rejected = int(partial.get("rejectedSpans", 0))
        spans = sum(
            len(scope.get("spans") or [])
            for resource in document.get("resourceSpans") or []
            for scope in resource.get("scopeSpans") or []
        )
        reasons = {partial["errorMessage"]: rejected} if rejected else {}
        return OtelImportReport(spans=spans, quarantined=rejected, reasons=reasons)

    def quarantine_unreadable(self, rows: list[tuple[str, str]], *, source: str) -> int:
        if not rows:
            return 0
        body = {"rows": [list(r) for r in rows], "source": source}
        return int(self._post("/v1/ops/quarantine_unreadable", body)["recorded"])

    def node(self, node_id: str) -> dict[str, Any] | None:
        return self._client.node(node_id)

    def edges(
        self, node_id: str, *, direction: Direction = "both", type: str | None = None
    ) -> pl.DataFrame:
        return self._client.edges(node_id, direction=direction, type=type)

    def context(self, session_id: str, *, last: int = 10) -> list[dict[str, Any]]:
        return self._client.context(session_id, last=last)

    def sessions(self, user_id: str) -> pl.DataFrame:
        return self._client.sessions(user_id)

    def quarantine(self, limit: int = 100) -> pl.DataFrame:
        return self._client.quarantine(limit)

    # compaction support ------------------------------------------------------------------

    def max_seq(self) -> int:
        return int(self._get("/v1/ops/max_seq")["max_seq"])

    def identity(self) -> StoreIdentity:
        return StoreIdentity(**self._get("/v1/ops/identity"))

    def renumber_above(self, watermark: int) -> int:
        return int(self._post("/v1/ops/renumber_above", {"watermark": watermark})["shift"])

    def remember_event_ids(self, event_ids: pa.Table) -> int:
        response = self._http.request(
            "POST", "/v1/ops/remember_event_ids", content=wire.ipc_bytes(event_ids),
            headers={"Content-Type": wire.ARROW},
        )  # fmt: skip
        return int(response.json()["remembered"])

    def events_after(self, seq: int, *, batch_rows: int) -> Iterator[pa.Table]:
        """Streamed: one table per record batch as the server sends it, never the whole
        backlog in memory. A stream cut short raises StoreError (rerun the compaction: it
        is exactly once)."""
        params = {"after": seq, "batch_rows": batch_rows}
        with self._http.stream("/v1/ops/events", params=params) as response:
            source = io.BufferedReader(_ChunkReader(response.iter_bytes()), 1 << 20)
            try:
                for batch in pa.ipc.open_stream(source):
                    yield pa.Table.from_batches([batch])
            except (httpx.HTTPError, pa.ArrowException, OSError) as exc:
                raise StoreError(
                    f"the events stream from the memgraph service at {self.url} ended early "
                    f"({exc}); rerun the compaction (it is exactly once)"
                ) from exc

    def trim(
        self,
        *,
        compacted_through: int,
        hot_window: timedelta,
        dedupe_window: timedelta,
        tenant_hot_windows: Mapping[str, timedelta] | None = None,
    ) -> int:
        body = {
            "compacted_through": compacted_through,
            "hot_window_seconds": hot_window.total_seconds(),
            "dedupe_window_seconds": dedupe_window.total_seconds(),
            "tenant_hot_window_seconds": {
                t: w.total_seconds() for t, w in (tenant_hot_windows or {}).items()
            },
        }
        return int(self._post("/v1/ops/trim", body)["dropped"])

    # sessions restored from the vault ----------------------------------------------------

    def restore_session(
        self, session_id: str, generation: int, rows: pa.Table, *, expires_at: datetime
    ) -> bool:
        response = self._http.request(
            "POST",
            "/v1/ops/restore_session",
            params={
                "session_id": session_id,
                "generation": generation,
                "expires_at": expires_at.isoformat(),
            },
            content=wire.ipc_bytes(rows),
            headers={"Content-Type": wire.ARROW},
        )
        return bool(response.json()["restored"])

    def forget_restored(self, session_ids: list[str] | None = None) -> int:
        return int(self._post("/v1/ops/forget_restored", {"session_ids": session_ids})["forgotten"])

    def session_activity(self) -> pl.DataFrame:
        return self._arrow("/v1/ops/session_activity")

    def restored(self) -> pl.DataFrame:
        return self._arrow("/v1/ops/restored")

    # status ------------------------------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/v1/ops/counts")
        return result

    def checkpoint(self) -> None:
        self._post("/v1/ops/checkpoint", None)

    # erasure: its HOT step and the file rewrite run inside the server --------------------

    def tenants(self) -> list[str]:
        return list(self._get("/v1/ops/tenants")["tenants"])

    def subject_sessions(self, user_ids: list[str], tenant: str | None) -> list[str]:
        body = {"user_ids": user_ids, "tenant": tenant}
        return list(self._post("/v1/ops/subject_sessions", body)["sessions"])

    def subject_texts(self, rows: SubjectRows) -> list[tuple[str | None, str]]:
        texts = self._post("/v1/ops/subject_texts", {"rows": rows.as_dict()})["texts"]
        return [(tenant, text) for tenant, text in texts]

    def find_subject(self, rows: SubjectRows) -> dict[str, Any]:
        return dict(self._post("/v1/ops/find_subject", {"rows": rows.as_dict()}))

    def erase_subject(self, rows: SubjectRows, *, re_redact: bool) -> dict[str, Any]:
        body = {"rows": rows.as_dict(), "re_redact": re_redact}
        return dict(self._post("/v1/ops/erase_subject", body))

    def places(self, needles: list[str]) -> list[str]:
        return list(self._post("/v1/ops/places", {"needles": needles})["places"])

    def rewrite_file(self) -> int:
        return int(self._post("/v1/ops/rewrite_file", None)["bytes"])

    # shared graphs: the server owns their cache and commits their diffs ------------------

    def snapshot(self, graph_id: str, *, tenant: str | None = None) -> Snapshot:
        return self._client.snapshot(graph_id, tenant=tenant)

    def apply_diff(
        self,
        graph_id: str,
        diff: str,
        base_version: str | None = None,
        *,
        tenant: str | None = None,
    ) -> Applied:
        return self._client.apply_diff(graph_id, diff, base_version, tenant=tenant)

    def import_graph(self, graph_id: str, text: str, *, tenant: str | None = None) -> Applied:
        return self._client.import_graph(graph_id, text, tenant=tenant)

    def register_types(self, tenant: str, definition: Mapping[str, Any]) -> TypeRegistry:
        self._client.register_types(definition, tenant=tenant)
        return self.graph_types(tenant)

    def graph_types(self, tenant: str, *, version: int | None = None) -> TypeRegistry:
        from memgraph_ops.graph_types import parse_definition

        if version is not None:
            raise ConfigError("older type registrations are read on the server's own store")
        body = self._http.request("GET", "/v1/graph-types", params={"tenant": tenant}).json()
        definition = {"nodes": body["nodes"], "edges": body["edges"]}
        return parse_definition(tenant, int(body["version"]), definition)

    def _get(self, path: str) -> Any:
        return self._http.request("GET", path).json()

    def _post(self, path: str, body: Any) -> Any:
        return self._http.request("POST", path, json=body).json()

    def _arrow(self, path: str) -> pl.DataFrame:
        response = self._http.request("GET", path)
        frame = pl.from_arrow(wire.read_ipc(response.content))
        assert isinstance(frame, pl.DataFrame)
        return frame


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (an HTTP response as it arrives)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def served_store(settings: Settings) -> RemoteStore | None:
    """The store of a data root through its live server (found by the endpoint file), or None
    when nobody serves it."""
    from memgraph_ops.service.endpoint import discover

    found = discover(settings.home)
    if found is None:
        return None
    return RemoteStore(found.url, found.token, path=settings.store_path, verify=found.verify())


def connect(settings: Settings | None = None) -> Store | Client:
    """The store to use, by configuration alone: a `Client` when `MEMGRAPH_URL` (or
    `[service] url` in memgraph.toml) names a service — with the key in `MEMGRAPH_API_KEY`,
    and `MEMGRAPH_CA_FILE` to trust a private TLS certificate — else the embedded store of the
    data root (which is itself remote if a server owns that root)."""
    settings = settings or load_settings()
    url = os.environ.get("MEMGRAPH_URL") or settings.service.get("url")
    if not url:
        from memgraph_ops.api import Memgraph

        return Memgraph(settings).store
    key = os.environ.get("MEMGRAPH_API_KEY")
    if not key:
        where = "MEMGRAPH_URL" if os.environ.get("MEMGRAPH_URL") else "[service] url"
        raise ConfigError(
            f"{where} names the memgraph service at {url}, but MEMGRAPH_API_KEY is not set: "
            "create a key on the server's data root with `memgraph-ops keys create --tenant T`"
        )
    cafile = os.environ.get("MEMGRAPH_CA_FILE")
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=cafile) if cafile else True
    return Client(str(url), key, verify=verify)
