"""The operational store (HOT): one DuckDB file, one owner process.

Events are appended to one wide `events` table in batches through Arrow. The store assigns
`seq` (monotonic, in commit order, so a compaction watermark never skips a late commit) and
`ingested_at`. Event ids are deduplicated against the events still in HOT and against the ids of
events already compacted and trimmed (kept for the dedupe window). Reads take the latest event
per id.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import duckdb
import polars as pl
import pyarrow as pa

from memgraph_ops import tombstones
from memgraph_ops.errors import InputError, RejectedError, StaleWriteError, StoreError
from memgraph_ops.events import (
    REQUEST,
    EventInput,
    Normalized,
    Validated,
    concat,
    endpoint_ids,
    to_frame,
    validate,
)
from memgraph_ops.graph_types import TypeRegistry, parse_definition
from memgraph_ops.model import EVENT_SCHEMA, NODE_TYPES, STORED_EVENT_SCHEMA
from memgraph_ops.state import fold
from memgraph_ops.store import _duckdb, subject
from memgraph_ops.store.seen import HASHES_SQL, SeenHashes, slot_for
from memgraph_ops.store.subject import SubjectRows

Direction = Literal["out", "in", "both"]
Refusal = Callable[[pl.DataFrame], pl.Series]
"""Given valid events, a reason per event to refuse it (null keeps it). Refused events are
quarantined with the reason and without their raw content."""
DEFAULT_MEMORY = "1GB"
"""DuckDB's memory limit unless configured (`duckdb_memory_limit`); None leaves DuckDB's own."""
F = TypeVar("F", bound=Callable[..., Any])
QUARANTINE_RAW_CHARS = 65_536
"""How much of a quarantined event's raw text is kept (the rest is summed up by its size and
sha256)."""
REJECTED_LISTED = 1_000
"""How many quarantined events an ingest result names one by one."""


def _locked(method: F) -> F:
    """Serialise a method on the store's one DuckDB connection (see `Store._using`)."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        with self._using():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


_NODE_COLUMNS = ", ".join(
    c for c in STORED_EVENT_SCHEMA.names if c not in ("src", "dst", "kind", "event_id")
)


@dataclass(frozen=True)
class IngestResult:
    """What one ingest call did."""

    received: int
    accepted: int
    duplicates: int
    quarantined: int
    first_seq: int | None
    last_seq: int | None
    reasons: dict[str, int]
    """Quarantine reasons and how many events had each (first reason of each event)."""
    rejected: list[dict[str, Any]] = field(default_factory=list)
    """`event_id` and first reason of each quarantined event (the first `REJECTED_LISTED`), so a
    caller can tell which of its events were refused and why."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoreIdentity:
    """Who a store is to the lake it compacts into. Compaction records `store_id` in every
    commit, so a lake can tell its own store from a new or swapped `hot.duckdb` (whose seqs
    restart at 1 and would fall under the lake's watermark)."""

    store_id: str
    seq_base: int
    """Every seq this store assigned is above this (it was renumbered to follow a lake)."""
    legacy: bool
    """The file predates store ids: taken as the store its lake was built from."""


class Store:
    """The operational store. Open it with `Store.open(path)`; use it as a context manager.

    Example:
        >>> with Store.open(tmp_path / "hot.duckdb") as store:   # doctest: +SKIP
        ...     store.ingest([{"event_id": "e1", "op": "upsert", ...}])
        ...     store.context("session-1", last=10)
    """

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = DEFAULT_MEMORY,
        home: Path | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self._memory_limit = _duckdb.memory_size(memory_limit) if memory_limit else None
        self._con = self._connect()
        self._lock = threading.RLock()
        if not read_only:
            with self._using():
                _duckdb.ensure_schema(self._con)
        self._context_cache: OrderedDict[str, list[tuple[Any, ...]]] = OrderedDict()
        self._seen = slot_for(path)
        # Built afresh from the file: another process may have written it since a store of this
        # process last held the slot.
        self._seen.hashes = None
        self._seen.span_traces = None
        self._tenants: OrderedDict[str, str] = OrderedDict()
        """Tenants of ids looked up (`tenants_of`), dropped with the context cache."""
        self._restored_any: bool | None = None
        """Whether `restored_events` holds rows (None: not known; this process is the file's
        only writer, so it changes only through the methods that reset it)."""
        self.context_cache_size = 10_000
        self._types: dict[str, TypeRegistry] = {}
        """Each tenant's custom types, read on first use (this process writes the file)."""
        self._generation = 0
        """Bumped by every change other than an ingest (trim, erasure, restore …)."""
        self._shared_changes = 0
        """Bumped by every ingest of a node that is not a session's own (Agent, Template …)."""
        self._session_seqs: dict[str, int] = {}
        """The last seq ingested into each session since the generation last moved."""
        # Erased subjects' events are refused whoever opened the store (see `tombstones`).
        self._erased: Refusal = tombstones.ingest_refusal(home or path.parent)

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """Hold the store's one DuckDB connection (not safe across threads), and name the file
        if DuckDB finds it damaged: it checks a block only when a query reads it, so damage can
        surface in any call."""
        with self._lock:
            try:
                yield
            except duckdb.Error as exc:
                corrupt = _duckdb.corrupt_error(self.path, exc)
                if corrupt is None:
                    raise
                raise corrupt from exc

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = DEFAULT_MEMORY,
        home: Path | None = None,
    ) -> Store:
        """Open (or create) the store's file. `home` is the data root whose erasure tombstones
        the store enforces (default: the file's directory, where the data root keeps it)."""
        return cls(Path(path), read_only=read_only, memory_limit=memory_limit, home=home)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ingest ---------------------------------------------------------------------------------

    def ingest(self, events: EventInput, *, source: str = "api") -> IngestResult:
        """Validate and append events; invalid ones go to quarantine with their reasons.

        Idempotent on `event_id`: events already in the store are skipped.
        """
        return self.ingest_many([events], source=source)[0]

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
        """Ingest several batches in one transaction, with one result per batch, as if each
        were ingested alone in order: the service's group commit (many writers, one commit).
        They are validated together (one pass costs about what a small batch costs alone),
        so an edge may name a node another batch of the same commit sends. With `owner` (the
        tenant a service key writes for), events of an id another tenant owns are refused.
        `spans` are OpenTelemetry spans to keep in the same transaction (`staged_spans` reads
        them; kept for the dedupe window, see `trim`). With `atomic`, an event that would be
        quarantined refuses them all: RejectedError names every reason, nothing is stored.
        With `expect` (a session id and its `change_stamp`), StaleWriteError refuses them if
        the session's stamp moved since (a graph diff checked against an older state)."""
        normalized, sizes = _normalize_group(batches)
        with self._using():
            if expect is not None and self.change_stamp(expect[0]) != expect[1]:
                raise StaleWriteError(f"session {expect[0]} changed since the write was checked")
            now = datetime.now(UTC)
            known = self._node_types(endpoint_ids(normalized.frame))
            custom = self._custom_types(normalized.frame["tenant"].unique().to_list())
            checked = validate(normalized, known, keep=(REQUEST,), custom=custom)
            checked = self._with_delete_sessions(checked)
            checked = self._refuse(checked)
            if owner is not None:
                checked = self._refuse_foreign(checked, owner)
            if atomic and not checked.quarantined.is_empty():
                raise RejectedError(
                    [
                        f"{e}: {r}"
                        for e, r in checked.quarantined.select("event_id", "reason").iter_rows()
                    ]
                )
            valid = checked.valid.with_row_index("_pos")
            con = self._con
            con.execute("BEGIN")
            try:
                fresh = self._fresh(valid)
                base = self.max_seq() + 1
                rows = fresh.select(
                    (pl.int_range(pl.len(), dtype=pl.Int64) + base).alias("seq"),
                    pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("ingested_at"),
                    *EVENT_SCHEMA.names,
                    REQUEST,
                )
                if rows.height:
                    table = rows.drop(REQUEST).to_arrow().cast(STORED_EVENT_SCHEMA)
                    con.register("_batch", table)
                    con.execute("INSERT INTO events SELECT * FROM _batch")
                    con.unregister("_batch")
                    con.execute(
                        "UPDATE meta SET value = ? WHERE key = 'next_seq'", [base + rows.height]
                    )
                self._quarantine(checked.quarantined, source, now)
                _stage_spans(con, spans, now)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            self._seen_hashes().add(fresh["_h"])
            self._note_changes(rows)
            if spans and self._seen.span_traces is not None:  # (None: read on first use)
                self._seen.span_traces.update(r[0] for staged in spans for r in staged.rows)
            self._write_through(rows)
        stored = rows.partition_by(REQUEST, as_dict=True)
        refused = checked.quarantined.partition_by(REQUEST, as_dict=True)
        return [
            _result(size, stored.get((i,), rows.clear()), refused.get((i,), _NO_REJECTS))
            for i, size in enumerate(sizes)
        ]

    def ingest_checked(
        self,
        events: EventInput,
        *,
        session_id: str,
        expect: Hashable,
        owner: str,
        source: str,
    ) -> Hashable:
        """Ingest all of `events` or none (RejectedError), only if the session's change stamp
        is still `expect` (StaleWriteError), and return its stamp just after the commit: no
        other write can come between the two."""
        with self._using():
            self.ingest_many(
                [events], source=source, owner=owner, atomic=True, expect=(session_id, expect)
            )
            return self.change_stamp(session_id)

    def _note_changes(self, rows: pl.DataFrame) -> None:
        """Move the change stamps (`change_stamp`) of what a commit wrote."""
        if rows.is_empty():
            return
        last = rows.group_by("session_id").agg(pl.col("seq").max()).drop_nulls("session_id")
        self._session_seqs.update(last.iter_rows())
        shared = [t.name for t in NODE_TYPES.values() if not t.session_scoped]
        if rows.select(((pl.col("kind") == "node") & pl.col("type").is_in(shared)).any()).item():
            self._shared_changes += 1

    def change_stamp(self, session_id: str) -> tuple[int, int, int]:
        """A value that changes whenever what HOT holds of a session (or graph) may have
        changed: by an ingest into it, by a change to a node sessions share (Agent, Template,
        ContextSource), or by a trim, erasure, renumbering or restore. Kept in memory (this
        process is the file's only writer), so a reader can check its cache in microseconds."""
        return self._generation, self._shared_changes, self._session_seqs.get(session_id, 0)

    # custom types ---------------------------------------------------------------------------

    def _custom_types(self, tenants: Sequence[str | None]) -> dict[str, TypeRegistry]:
        out = {}
        for tenant in tenants:
            if tenant is not None:
                registry = self.graph_types(tenant)
                if registry.nodes or registry.edges:
                    out[tenant] = registry
        return out

    @_locked
    def graph_types(self, tenant: str, *, version: int | None = None) -> TypeRegistry:
        """A tenant's custom types: the latest registration, or the one of `version` (an
        empty registry, version 0, if there is none)."""
        if version is None and tenant in self._types:
            return self._types[tenant]
        if version is None:
            sql = "SELECT version, definition FROM graph_types WHERE tenant = ? "
            found = self._con.execute(sql + "ORDER BY version DESC LIMIT 1", [tenant]).fetchall()
        else:
            sql = "SELECT version, definition FROM graph_types WHERE tenant = ? AND version = ?"
            found = self._con.execute(sql, [tenant, version]).fetchall()
        if not found:
            if version not in (None, 0):
                raise InputError(f"tenant {tenant!r} has no type registration {version}")
            registry = TypeRegistry.empty(tenant)
        else:
            registry = parse_definition(tenant, found[0][0], json.loads(found[0][1]))
        if version is None:
            self._types[tenant] = registry
        return registry

    @_locked
    def register_types(self, tenant: str, definition: Mapping[str, Any]) -> TypeRegistry:
        """Register a tenant's custom types (the whole set: it replaces the previous one) as a
        new version. Events already stored keep the types they were validated against."""
        if not tenant or not str(tenant).strip():
            raise InputError("register types for a tenant: the tenant is missing")
        current = self.graph_types(tenant)
        registry = parse_definition(tenant, current.version + 1, definition)
        if registry.definition() == current.definition():
            return current  # the same set again: no new version
        self._con.execute(
            "INSERT INTO graph_types VALUES (?, ?, ?, ?)",
            [tenant, registry.version, datetime.now(UTC), json.dumps(registry.definition())],
        )
        self._types[tenant] = registry
        return registry

    def _with_delete_sessions(self, checked: Validated) -> Validated:
        """Give node deletes sent without a session the session of the node they delete, so
        session reads (and the lake's per-session layout) see them."""
        valid = checked.valid
        orphan = (pl.col("op") == "delete") & pl.col("session_id").is_null()
        ids = valid.filter(orphan)["id"].unique().to_list()
        if not ids:
            return checked
        sessions = {
            node_id: session
            for node_id in ids
            for (session,) in self._rows_of("events", "session_id", node_id)
            if session is not None
        }
        filled = valid.with_columns(
            session_id=pl.when(orphan)
            .then(pl.col("id").replace_strict(sessions, default=None, return_dtype=pl.String))
            .otherwise(pl.col("session_id"))
        )
        return replace(checked, valid=filled)

    def _refuse(self, checked: Validated) -> Validated:
        if checked.valid.is_empty():
            return checked
        reasons = self._erased(checked.valid)
        if reasons.null_count() == len(reasons):
            return checked
        refused = (
            checked.valid.with_columns(reason=reasons.cast(pl.String), raw=pl.lit(None, pl.String))
            .filter(pl.col("reason").is_not_null())
            .select(checked.quarantined.columns)
        )
        return replace(
            checked,
            valid=checked.valid.filter(reasons.is_null()),
            quarantined=pl.concat([checked.quarantined, refused]),
        )

    def _refuse_foreign(self, checked: Validated, owner: str) -> Validated:
        """Quarantine events of ids (nodes, edges) or into sessions that another tenant owns:
        ids are global, and a tenant's key must not overwrite, delete or add to another
        tenant's items. Checked here, inside the commit, so the service's requests need no
        lookup of their own (one that waited on the store's lock stalled group commits)."""
        valid = checked.valid
        ids = pl.concat([valid["id"], valid["session_id"]]).drop_nulls().unique().to_list()
        foreign = [i for i, t in self.tenants_of(ids).items() if t != owner]
        if not foreign:
            return checked
        own_id = valid["id"].is_in(foreign)
        into = valid["session_id"].is_in(foreign).fill_null(False)
        refused = (
            valid.filter(own_id | into)
            .with_columns(
                reason=pl.when(pl.col("id").is_in(foreign))
                .then(pl.format("id {} belongs to another tenant", pl.col("id")))
                .otherwise(pl.format("session {} belongs to another tenant", pl.col("session_id"))),
                raw=pl.lit(None, pl.String),
            )
            .select(checked.quarantined.columns)
        )
        return replace(
            checked,
            valid=valid.filter(~(own_id | into)),
            quarantined=pl.concat([checked.quarantined, refused]),
        )

    def _fresh(self, valid: pl.DataFrame) -> pl.DataFrame:
        """The rows of `valid` whose event id the store has not seen, with the id's hash in
        `_h` (the caller adds it to the seen set once the rows are committed)."""
        if valid.is_empty():
            return valid.with_columns(_h=pl.lit(None, pl.UInt64))
        keys = valid.select("_pos", "event_id").to_arrow()
        self._con.register("_keys", keys)
        try:
            hashed = pl.from_arrow(
                _arrow(self._con, "SELECT _pos, hash(event_id) AS _h FROM _keys ORDER BY _pos")
            )
            assert isinstance(hashed, pl.DataFrame)
            valid = valid.with_columns(_h=hashed["_h"])
            maybe = self._seen_hashes().contains(valid["_h"])
            if not maybe.any():
                return valid
            # Confirm the hash matches against the tables: one scan, for repeats only.
            self._con.register("_maybe", keys.filter(maybe.to_arrow()))
            try:
                seen = _arrow(
                    self._con,
                    "SELECT event_id FROM events WHERE event_id IN (SELECT event_id FROM _maybe) "
                    "UNION SELECT event_id FROM retired_events "
                    "WHERE event_id IN (SELECT event_id FROM _maybe)",
                )
            finally:
                self._con.unregister("_maybe")
        finally:
            self._con.unregister("_keys")
        return valid.filter(~pl.col("event_id").is_in(pl.Series(seen.column(0)).implode()))

    def _seen_hashes(self) -> SeenHashes:
        """The hashes of the event ids in HOT, built on first use (one scan) and kept in step
        by ingest; methods that drop or remember ids reset it."""
        if self._seen.hashes is None:
            table = _arrow(self._con, HASHES_SQL)
            self._seen.hashes = SeenHashes(table.column(0))
        return self._seen.hashes

    # OpenTelemetry spans -----------------------------------------------------------------

    def staged_spans(self, tenant: str, trace_ids: Sequence[str]) -> list[str]:
        """The spans (JSON) kept for these traces (`ingest_many(spans=)`)."""
        if not trace_ids:
            return []
        known = self._seen.span_traces
        if known is None:
            with self._using():
                found = self._con.execute("SELECT DISTINCT trace_id FROM otel_spans").fetchall()
            known = self._seen.span_traces = {t for (t,) in found}
        if not any(t in known for t in trace_ids):
            return []
        rows: list[tuple[str, str, str, str]] = []
        with self._using():
            for trace_id in dict.fromkeys(trace_ids):
                # a lone equality on the hash, so DuckDB uses the index (see `_rows_of`)
                rows += self._con.execute(
                    "SELECT tenant, trace_id, span_id, span FROM otel_spans "
                    "WHERE hash(trace_id) = hash(?::VARCHAR)",
                    [trace_id],
                ).fetchall()
        wanted = set(trace_ids)
        return [
            span for owner, trace, _, span in sorted(rows) if owner == tenant and trace in wanted
        ]

    def quarantine_unreadable(self, rows: list[tuple[str, str]], *, source: str) -> int:
        """Quarantine input that never became an event (e.g. a line that is not JSON):
        (raw text, reason) pairs. Returns how many were recorded."""
        if not rows:
            return 0
        frame = pl.DataFrame(
            {
                "event_id": [None] * len(rows),
                "reason": [r for _, r in rows],
                "raw": [raw for raw, _ in rows],
            },
            schema={"event_id": pl.String, "reason": pl.String, "raw": pl.String},
        )
        with self._using():
            self._con.execute("BEGIN")
            try:
                self._quarantine(frame, source, datetime.now(UTC))
                self._con.execute("COMMIT")
            except BaseException:
                _rollback(self._con)
                raise
        return len(rows)

    def _quarantine(self, rows: pl.DataFrame, source: str, now: datetime) -> None:
        if rows.is_empty():
            return
        table = rows.with_columns(
            pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("quarantined_at"),
            pl.lit(source).alias("source"),
        ).to_arrow()
        self._con.register("_q", table)
        # A poison event can be 16 MiB: keep its start and its digest. Re-ingesting the same
        # bad file must not pile up copies of the same rejection.
        self._con.execute(
            """
            INSERT INTO quarantine
            WITH fresh AS (
                SELECT quarantined_at, source, event_id, reason,
                       CASE WHEN strlen(raw) > ? THEN left(raw, ?) || '… [' || strlen(raw)
                            || ' bytes in all, sha256 ' || sha256(raw) || ']'
                       ELSE raw END AS raw
                FROM _q)
            SELECT * FROM fresh
            WHERE NOT EXISTS (SELECT 1 FROM quarantine q
                              WHERE q.raw IS NOT DISTINCT FROM fresh.raw
                                AND q.reason = fresh.reason
                                AND q.event_id IS NOT DISTINCT FROM fresh.event_id)
            """,
            [QUARANTINE_RAW_CHARS, QUARANTINE_RAW_CHARS],
        )
        self._con.unregister("_q")

    def _node_types(self, ids: list[str]) -> pl.DataFrame | None:
        if not ids:
            return None
        if len(ids) <= 16:
            found = [
                (node_id, type_)
                for node_id in ids
                for table in self._tables()
                for kind, type_ in self._rows_of(table, "kind, type", node_id)
                if kind == "node"
            ]
            return pl.DataFrame(found, schema={"id": pl.String, "type": pl.String}, orient="row")
        self._con.register("_ids", pa.table({"id": ids}))
        try:
            got = _arrow(
                self._con,
                "SELECT DISTINCT e.id, e.type FROM "
                "(SELECT id, type, kind FROM events UNION ALL "
                " SELECT id, type, kind FROM restored_events) e SEMI JOIN _ids USING (id) "
                "WHERE e.kind = 'node'",
            )
        finally:
            self._con.unregister("_ids")
        return pl.from_arrow(got)  # type: ignore[return-value]

    # reads ----------------------------------------------------------------------------------

    def _forget_reads(self) -> None:
        """Drop what reads cached: after a trim, an erasure or a renumbering the file changed
        under them."""
        self._context_cache.clear()
        self._tenants.clear()
        self._restored_any = None
        self._generation += 1
        self._session_seqs.clear()

    def _tables(self) -> tuple[str, ...]:
        """The event tables point reads must look at: `restored_events` only while it holds
        rows (it is usually empty, and each point lookup costs ~0.5 ms on a large store)."""
        if self._restored_any is None:
            found = self._con.execute("SELECT 1 FROM restored_events LIMIT 1").fetchall()
            self._restored_any = bool(found)
        return _EVENT_TABLES if self._restored_any else _EVENT_TABLES[:1]

    def _rows_of(self, table: str, columns: str, item_id: str) -> list[tuple[Any, ...]]:
        """The `columns` of `table`'s rows for one item id: a point lookup through the index on
        `hash(id)`. DuckDB takes an index only for a lone equality predicate, so the id itself
        is compared here (two ids may share a hash)."""
        rows = self._con.execute(
            f"SELECT id, {columns} FROM {table} WHERE hash(id) = hash(?)", [item_id]
        ).fetchall()
        return [row[1:] for row in rows if row[0] == item_id]

    @_locked
    def tenants_of(self, ids: Sequence[str]) -> dict[str, str]:
        """The tenant of each known node or edge id (a session's is its Session node's);
        unknown ids are left out. Cached: the service checks it on every request of a tenant
        key, and a tenant key may not write an id another tenant owns."""
        found = {i: self._tenants[i] for i in ids if i in self._tenants}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if len(missing) <= 16:
            rows = [
                (item, tenant)
                for item in missing
                for table in self._tables()
                for (tenant,) in [r for r in self._rows_of(table, "tenant", item) if r[0]][:1]
            ]
        else:
            self._con.register("_ids", pa.table({"id": pa.array(missing, pa.string())}))
            try:
                rows = self._con.execute(
                    "SELECT e.id, any_value(e.tenant) FROM (SELECT id, tenant FROM events "
                    "UNION ALL SELECT id, tenant FROM restored_events) e SEMI JOIN _ids USING (id) "
                    "WHERE e.tenant IS NOT NULL GROUP BY e.id"
                ).fetchall()
            finally:
                self._con.unregister("_ids")
        for item, tenant in rows:
            found[item] = tenant
            self._tenants[item] = tenant
        while len(self._tenants) > self.context_cache_size * 10:
            self._tenants.popitem(last=False)
        return found

    @_locked
    def node(self, node_id: str) -> dict[str, Any] | None:
        """The current state of a node, by exact id; None if unknown or deleted (see
        `memgraph_ops.state` for how its events combine)."""
        names = ["kind", *_NODE_COLUMNS.split(", ")]
        events = [
            dict(zip(names, row, strict=True))
            for table in self._tables()
            for row in self._rows_of(table, f"kind, {_NODE_COLUMNS}", node_id)
            if row[0] == "node"
        ]
        return fold(events)

    @_locked
    def edges(
        self, node_id: str, *, direction: Direction = "both", type: str | None = None
    ) -> pl.DataFrame:
        """Current edges touching a node, optionally only outgoing/incoming and of one type."""
        parts = []
        if direction in ("out", "both"):
            parts.append(self._edge_rows("src", node_id))
        if direction in ("in", "both"):
            parts.append(self._edge_rows("dst", node_id))
        events = pl.concat(parts)
        states = [fold(group) for group in _by_id(events.to_dicts())]
        columns = [c for c in events.columns if c != "op"]
        frame = pl.DataFrame(
            [{c: state.get(c) for c in columns} for state in states if state is not None],
            schema={c: events.schema[c] for c in columns},
            orient="row",
        ).sort("seq")
        if type is not None:
            frame = frame.filter(pl.col("type") == type)
        return frame

    def _edge_rows(self, column: str, node_id: str) -> pl.DataFrame:
        tables = [
            _arrow(
                self._con,
                f"SELECT kind, {', '.join(_EDGE_KEEP)} FROM {table} WHERE {column} = ?",
                [node_id],
            )
            for table in self._tables()
        ]
        frame = pl.from_arrow(pa.concat_tables(tables))
        assert isinstance(frame, pl.DataFrame)
        return frame.filter(pl.col("kind") == "edge").drop("kind")

    @_locked
    def context(self, session_id: str, *, last: int = 10) -> list[dict[str, Any]]:
        """A session's recent context: the last `last` prompts, each with its responses and
        their tool invocations, oldest first."""
        rows = [
            dict(zip(_CONTEXT_FIELDS, row[1:], strict=True))
            for row in self._session_rows(session_id)
        ]
        by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in _CONTEXT_TYPES}
        for group in _by_id(rows):
            state = fold(group)
            if state is None:
                continue
            # An edit keeps a message in its place: order by when the message was created.
            item = {name: state.get(name) for name in _CONTEXT_FIELDS if name != "op"}
            item["occurred_at"] = state["created_at"]
            by_type[str(item["type"])].append(item)
        prompts, responses, tools = (by_type[t] for t in ("Prompt", "Response", "ToolInvocation"))
        prompts.sort(key=lambda p: (p["occurred_at"], p["seq"]))
        prompts = prompts[-last:] if last > 0 else []
        by_prompt: dict[str, list[dict[str, Any]]] = {p["id"]: [] for p in prompts}
        by_response: dict[str, list[dict[str, Any]]] = {}
        for r in sorted(responses, key=lambda r: (r["occurred_at"], r["seq"])):
            if r["prompt_id"] in by_prompt:
                r = _compact(r)
                r["tool_calls"] = by_response.setdefault(r["id"], [])
                by_prompt[r["prompt_id"]].append(r)
        for t in sorted(tools, key=lambda t: (t["occurred_at"], t["seq"])):
            if t["response_id"] in by_response:
                by_response[t["response_id"]].append(_compact(t))
        return [{"prompt": _compact(p), "responses": by_prompt[p["id"]]} for p in prompts]

    def _write_through(self, stored: pl.DataFrame) -> None:
        """Append newly stored context rows to the sessions that are cached."""
        if not self._context_cache or stored.is_empty():
            return
        new = stored.filter(
            pl.col("session_id").is_in(list(self._context_cache))
            & (pl.col("kind") == "node")
            & pl.col("type").is_in(list(_CONTEXT_TYPES))
        )
        for (session,), group in new.group_by("session_id"):
            rows = group.select(pl.col("seq").alias("_seq"), *_CONTEXT_FIELDS).rows()
            self._context_cache[str(session)].extend(rows)

    def _session_rows(self, session_id: str) -> list[tuple[Any, ...]]:
        """The context rows of a session, from the write-through cache or the session index.

        The store is the only writer of its file, so the cache stays exact: every ingest
        appends its rows to the cached sessions, every trim drops the cache."""
        rows = self._context_cache.get(session_id)
        if rows is not None:
            self._context_cache.move_to_end(session_id)
            return rows
        rows = [
            row[2:]
            for table in self._tables()
            for row in self._con.execute(_CONTEXT_SQL.format(table=table), [session_id]).fetchall()
            if row[0] == "node" and row[1] in _CONTEXT_TYPES
        ]
        self._context_cache[session_id] = rows
        if len(self._context_cache) > self.context_cache_size:
            self._context_cache.popitem(last=False)
        return rows

    @_locked
    def session_items(self, session_id: str) -> list[dict[str, Any]]:
        """The current state of every node and edge of a session in HOT (events and restored
        copies; deleted items left out), as `memgraph_ops.state.fold` gives it."""
        columns = ", ".join(EVENT_SCHEMA.names)
        rows: list[dict[str, Any]] = []
        for table in self._tables():
            cursor = self._con.execute(
                f"SELECT seq, {columns} FROM {table} WHERE session_id = ?", [session_id]
            )
            names = [d[0] for d in cursor.description]
            rows += [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        items = []
        for group in _by_id(rows):
            state = fold(group)
            if state is not None:
                items.append({**state, "kind": group[0]["kind"]})
        return items

    @_locked
    def sessions(self, user_id: str) -> pl.DataFrame:
        """Sessions of a user (the data subject), newest first."""
        columns = ["id", "op", "seq", "occurred_at", "tenant", "user_id", "tags", "forked_from"]
        select = ", ".join(columns)
        candidates = [
            session
            for table in self._tables()
            for (session,) in self._con.execute(
                f"SELECT DISTINCT id FROM {table} "
                "WHERE user_id = ? AND kind = 'node' AND type = 'Session'",
                [user_id],
            ).fetchall()
        ]
        events = [
            dict(zip(columns, row[:-2], strict=True))
            for session in dict.fromkeys(candidates)
            for table in self._tables()
            for row in self._rows_of(table, f"{select}, kind, type", session)
            if row[-2:] == ("node", "Session")
        ]
        rows = [
            {
                "session_id": state["id"],
                **{c: state.get(c) for c in ("tenant", "user_id", "tags", "forked_from")},
                "created_at": state["created_at"],
                "updated_at": state["updated_at"],
            }
            for state in map(fold, _by_id(events))
            if state is not None and state.get("user_id") == user_id
        ]
        return pl.DataFrame(
            rows,
            schema={
                "session_id": pl.String,
                "tenant": pl.String,
                "user_id": pl.String,
                "tags": pl.List(pl.String),
                "forked_from": pl.String,
                "created_at": pl.Datetime("us", "UTC"),
                "updated_at": pl.Datetime("us", "UTC"),
            },
            orient="row",
        ).sort("updated_at", descending=True)

    @_locked
    def quarantine(self, limit: int = 100) -> pl.DataFrame:
        """The most recent quarantined events, with their reasons."""
        table = _arrow(
            self._con, "SELECT * FROM quarantine ORDER BY quarantined_at DESC LIMIT ?", [limit]
        )
        return pl.from_arrow(table)  # type: ignore[return-value]

    # compaction support ---------------------------------------------------------------------

    @_locked
    def max_seq(self) -> int:
        """The highest seq assigned so far (0 if none)."""
        return int(_scalar(self._con, "SELECT value FROM meta WHERE key = 'next_seq'")) - 1

    @_locked
    def identity(self) -> StoreIdentity:
        """Who this store is to the lake it compacts into (see `StoreIdentity`)."""
        meta = dict(self._con.execute("SELECT key, value FROM meta").fetchall())
        return StoreIdentity(
            store_id=str(meta.get("store_id", "")),
            seq_base=int(meta.get("seq_base", 0)),
            legacy=meta.get("legacy") == "1",
        )

    def renumber_above(self, watermark: int) -> int:
        """Shift every seq this store assigned so that all lie above `watermark` (a lake's
        watermark from another store: this one replaces it). Order is kept; nothing else
        changes. Returns the shift (0 if every seq was above it already)."""
        with self._using():
            con = self._con
            con.execute("BEGIN")
            try:
                base = int(_scalar(con, "SELECT value FROM meta WHERE key = 'seq_base'") or 0)
                shift = max(0, watermark - base)
                if shift:
                    for table in ("events", "retired_events"):
                        con.execute(f"UPDATE {table} SET seq = seq + ?", [shift])
                    con.execute(
                        "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + ? AS VARCHAR) "
                        "WHERE key IN ('next_seq', 'seq_base')",
                        [shift],
                    )
                con.execute("DELETE FROM meta WHERE key = 'legacy'")
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            self._forget_reads()
        return shift

    def remember_event_ids(self, event_ids: pa.Table) -> int:
        """Treat these event ids (`event_id`, `id`, `seq`, `ingested_at` columns: compacted by a
        store this one replaces) as seen, so re-sent copies are still deduplicated for the
        dedupe window. Returns how many were new to this store."""
        with self._using():
            con = self._con
            con.register("_remembered", event_ids)
            con.execute("BEGIN")
            try:
                n = _scalar(
                    con,
                    "INSERT INTO retired_events SELECT r.event_id, r.id, r.seq, r.ingested_at "
                    "FROM _remembered r ANTI JOIN retired_events x ON x.event_id = r.event_id",
                )
                con.execute("COMMIT")
                self._seen.hashes = None  # rebuilt with the remembered ids on the next ingest
            except BaseException:
                _rollback(con)
                raise
            finally:
                con.unregister("_remembered")
        return int(n or 0)

    def events_after(self, seq: int, *, batch_rows: int) -> Iterator[pa.Table]:
        """Committed events with seq > `seq`, in seq order, in tables of at most `batch_rows`."""
        high = self.max_seq()
        low = seq
        while low < high:
            with self._using():
                table = _arrow(
                    self._con,
                    "SELECT * FROM events WHERE seq > ? AND seq <= ? ORDER BY seq",
                    [low, min(low + batch_rows, high)],
                )
            low = min(low + batch_rows, high)
            if table.num_rows:
                yield table.cast(STORED_EVENT_SCHEMA)

    def trim(
        self,
        *,
        compacted_through: int,
        hot_window: timedelta,
        dedupe_window: timedelta,
        tenant_hot_windows: Mapping[str, timedelta] | None = None,
    ) -> int:
        """Drop the events of an item (node or edge id) once the lake has all of them (seq <=
        `compacted_through`) and all are older than the hot window (of their tenant, if it has
        its own); remember their ids for the dedupe window. Returns rows dropped."""
        now = datetime.now(UTC)
        cutoffs = pa.table(
            {
                "tenant": pa.array(list(tenant_hot_windows or {}), pa.string()),
                "cutoff": pa.array(
                    [now - w for w in (tenant_hot_windows or {}).values()],
                    pa.timestamp("us", "UTC"),
                ),
            }
        )
        old = (
            "seq <= ? AND ingested_at <= coalesce("
            "(SELECT c.cutoff FROM _cutoffs c WHERE c.tenant = e.tenant), ?)"
        )
        # An item's events go together, once all of them are old: reads fold an item's events
        # (`memgraph_ops.state`), so keeping only the newest would lose the fields it omits.
        expired = f"id NOT IN (SELECT e.id FROM events e WHERE e.id IS NOT NULL AND NOT ({old}))"
        bounds = [compacted_through, now - hot_window]
        with self._using():
            con = self._con
            con.register("_cutoffs", cutoffs)
            con.execute("BEGIN")
            try:
                con.execute(
                    f"INSERT INTO retired_events SELECT event_id, id, seq, ? FROM events "
                    f"WHERE {expired}",
                    [now, *bounds],
                )
                dropped = _scalar(con, f"DELETE FROM events WHERE {expired}", bounds)
                con.execute(
                    "DELETE FROM retired_events WHERE retired_at < ?", [now - dedupe_window]
                )
                con.execute("DELETE FROM otel_spans WHERE received_at < ?", [now - dedupe_window])
                self._forget_reads()
                con.execute("COMMIT")
                self._seen.hashes = None  # rebuilt without the expired ids on the next ingest
            except BaseException:
                _rollback(con)
                raise
            finally:
                con.unregister("_cutoffs")
        return int(dropped)

    # sessions restored from the vault -------------------------------------------------------

    def restore_session(
        self, session_id: str, generation: int, rows: pa.Table, *, expires_at: datetime
    ) -> bool:
        """Put a session's archived rows (`STORED_EVENT_SCHEMA`) back for reading until
        `expires_at`, in one transaction. Returns False, changing nothing, if this generation of
        the session is already restored."""
        with self._using():
            con = self._con
            con.execute("BEGIN")
            try:
                current = con.execute(
                    "SELECT generation FROM vault_restores WHERE session_id = ?", [session_id]
                ).fetchall()
                if current and current[0][0] == generation:
                    _rollback(con)
                    return False
                if current:  # an older generation: replace it
                    con.execute("DELETE FROM restored_events WHERE session_id = ?", [session_id])
                    con.execute("DELETE FROM vault_restores WHERE session_id = ?", [session_id])
                con.register("_restored", rows.cast(STORED_EVENT_SCHEMA))
                con.execute("INSERT INTO restored_events SELECT * FROM _restored")
                con.unregister("_restored")
                con.execute(
                    "INSERT INTO vault_restores VALUES (?, ?, ?, ?, ?)",
                    [session_id, generation, rows.num_rows, datetime.now(UTC), expires_at],
                )
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            self._context_cache.pop(session_id, None)
            self._tenants.pop(session_id, None)
            self._restored_any = True
            self._generation += 1
        return True

    def forget_restored(self, session_ids: list[str] | None = None) -> int:
        """Drop restored copies: of `session_ids`, or (None) of every expired one. Returns
        the number of sessions dropped."""
        with self._using():
            con = self._con
            con.execute("BEGIN")
            try:
                if session_ids is None:
                    gone = [
                        s
                        for (s,) in con.execute(
                            "SELECT session_id FROM vault_restores WHERE expires_at <= ?",
                            [datetime.now(UTC)],
                        ).fetchall()
                    ]
                else:
                    gone = list(session_ids)
                if gone:
                    con.register("_gone", pa.table({"session_id": pa.array(gone, pa.string())}))
                    con.execute(
                        "DELETE FROM restored_events WHERE session_id IN (SELECT * FROM _gone)"
                    )
                    n = _scalar(
                        con, "DELETE FROM vault_restores WHERE session_id IN (SELECT * FROM _gone)"
                    )
                    con.unregister("_gone")
                else:
                    n = 0
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            for session in gone:
                self._context_cache.pop(session, None)
                self._tenants.pop(session, None)
            self._restored_any = None
            if gone:
                self._generation += 1
        return int(n)

    @_locked
    def session_activity(self) -> pl.DataFrame:
        """The newest event time per session among the events in HOT."""
        return pl.from_arrow(  # type: ignore[return-value]
            _arrow(
                self._con,
                "SELECT session_id, max(occurred_at) AS last_at FROM events "
                "WHERE session_id IS NOT NULL GROUP BY session_id",
            )
        )

    @_locked
    def restored(self) -> pl.DataFrame:
        """Sessions currently restored from the vault, with their generation and expiry."""
        return pl.from_arrow(  # type: ignore[return-value]
            _arrow(self._con, "SELECT * FROM vault_restores ORDER BY restored_at")
        )

    # status ---------------------------------------------------------------------------------

    @_locked
    def counts(self) -> dict[str, Any]:
        """Rows per table and per event kind/type, and the file's size on disk."""
        con = self._con
        by_type = con.execute(
            "SELECT kind, type, count(*) FROM events GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        total = _scalar(con, "SELECT count(*) FROM events")
        quarantined = _scalar(con, "SELECT count(*) FROM quarantine")
        retired = _scalar(con, "SELECT count(*) FROM retired_events")
        restored = con.execute(
            "SELECT count(*), coalesce(sum(events), 0) FROM vault_restores"
        ).fetchall()[0]
        files = [self.path, self.path.with_name(self.path.name + ".wal")]
        return {
            "path": str(self.path),
            "events": int(total),
            "events_by_type": {f"{k}:{t}": int(n) for k, t, n in by_type},
            "quarantined": int(quarantined),
            "retired_event_ids": int(retired),
            "restored_sessions": int(restored[0]),
            "restored_events": int(restored[1]),
            "max_seq": self.max_seq(),
            "bytes": sum(f.stat().st_size for f in files if f.exists()),
        }

    def checkpoint(self) -> None:
        self._con.execute("CHECKPOINT")

    # erasure --------------------------------------------------------------------------------
    # The SQL lives in `memgraph_ops.store.subject`; arguments and results are plain data, so a
    # remote store mirrors these methods over HTTP.

    @_locked
    def tenants(self) -> list[str]:
        """Every tenant with events (or restored events) in HOT, sorted."""
        return subject.tenants(self._con)

    @_locked
    def subject_sessions(self, user_ids: list[str], tenant: str | None) -> list[str]:
        """Sessions whose Session node names one of `user_ids` (in `tenant`, or any), sorted."""
        return subject.sessions(self._con, user_ids, tenant)

    @_locked
    def subject_texts(self, rows: SubjectRows) -> list[tuple[str | None, str]]:
        """`(tenant, text)` of every text in the subject's own rows, JSON leaf by leaf."""
        return subject.texts(self._con, rows)

    def _check_patterns(self, rows: SubjectRows) -> None:
        """Refuse a pattern DuckDB's regex engine (RE2) cannot read, naming it, before any
        statement runs (through the service such a pattern once answered 500)."""
        for name in ("clear_pattern", "token_pattern"):
            pattern = getattr(rows, name)
            if pattern is None:
                continue
            try:
                self._con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
            except duckdb.Error as exc:
                raise InputError(
                    f"{name} is not a regular expression DuckDB reads: {exc}"
                ) from None

    @_locked
    def find_subject(self, rows: SubjectRows) -> dict[str, Any]:
        """What HOT holds of the subject (counts and other people's sessions; see
        `subject.find`). Reads only."""
        self._check_patterns(rows)
        return subject.find(self._con, rows)

    @_locked
    def erase_subject(self, rows: SubjectRows, *, re_redact: bool) -> dict[str, Any]:
        """Delete the subject's rows in one transaction (re-redacting other people's rows that
        hold the subject's values when asked); returns what was there (as `find_subject`).
        DuckDB keeps the deleted bytes in free blocks: `rewrite_file` next."""
        self._check_patterns(rows)
        found = subject.erase(self._con, rows, re_redact=re_redact)
        self._forget_reads()
        return found

    @_locked
    def places(self, needles: list[str]) -> list[str]:
        """`table.column` places of this store holding any needle, in any letter case."""
        return subject.places(self._con, needles)

    @_locked
    def rewrite_file(self) -> int:
        """Rewrite the store's file with only its live data, in place, and carry on with it;
        returns the new size in bytes. DuckDB keeps deleted rows in free blocks until then.

        `COPY FROM DATABASE` copies tables and indexes into a fixed-name copy beside the file,
        which then replaces it (fsync, rename); the connection is closed around the rename and
        reopened with the same settings, so whoever holds this store (a server, a notebook)
        keeps using it. A crash leaves at most that one copy, which the next rewrite (or
        `remove_file_leftovers`) deletes."""
        if self.read_only:
            raise StoreError(f"the store {self.path} is open read-only: it cannot be rewritten")
        fresh = _duckdb.copy_live(self._con, self.path)
        self._con.close()
        try:
            return _duckdb.replace_file(self.path, fresh)
        finally:
            self._con = self._connect()  # the new file, or the old one if the rename failed

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = _duckdb.connect(self.path, read_only=self.read_only)
        if self._memory_limit:
            # DuckDB's default (80% of RAM) lets its buffer pool grow through a long compaction
            # read; a cap keeps the process small (peak RSS compacting 5M events: 2.26 GiB
            # uncapped, 1.27 GiB at 256MB, see benchmarks/RESULTS.md).
            con.execute("SET memory_limit = ?", [self._memory_limit])
        return con


_EVENT_TABLES = ("events", "restored_events")
"""Reads look at both: events, and sessions restored from the vault."""

_EDGE_KEEP = [
    "seq", "op", "id", "type", "src", "dst", "session_id", "tenant", "occurred_at",
    "time_delta_ms", "context_overlap", "latency_ms", "model_version", "invocation_order",
    "success", "template_version", "variable_bindings", "override_sections", "version_diff",
    "duration_ms", "confidence_score", "handoff_reason", "context_summary", "context_type",
    "relevance_score", "attrs",
]  # fmt: skip

_CONTEXT_FIELDS = [
    "id", "op", "type", "occurred_at", "content", "is_system", "model", "template_id",
    "prompt_id", "finish_reason", "prompt_tokens", "completion_tokens", "total_tokens",
    "response_id", "tool_name", "parameters", "result", "error", "duration_ms", "success", "seq",
]  # fmt: skip

# Only the session predicate in SQL: DuckDB uses the index for a lone equality.
_CONTEXT_SQL = (
    f"SELECT kind, type, seq, {', '.join(_CONTEXT_FIELDS)} FROM {{table}} WHERE session_id = ?"
)
_CONTEXT_TYPES = frozenset({"Prompt", "Response", "ToolInvocation"})


def _normalize_group(batches: Sequence[EventInput]) -> tuple[Normalized, list[int]]:
    """The batches as one normalised input tagged by batch (`REQUEST`), and each one's size.
    Lists of events are joined before normalising: normalising costs ~3 ms per call whatever
    the size, and a group commit may hold hundreds of one-event batches."""
    if all(isinstance(b, list) for b in batches):
        lists = cast(list[list[Any]], batches)
        sizes = [len(b) for b in lists]
        joined = to_frame([event for batch in lists for event in batch])
        tags = pl.Series(REQUEST, [i for i, n in enumerate(sizes) for _ in range(n)], pl.Int32)
        return replace(joined, frame=joined.frame.with_columns(tags)), sizes
    parts = [to_frame(events) for events in batches]
    return concat(parts), [p.frame.height for p in parts]


_NO_REJECTS = pl.DataFrame(schema={"event_id": pl.String, "reason": pl.String})


def _result(received: int, rows: pl.DataFrame, quarantined: pl.DataFrame) -> IngestResult:
    """One batch's outcome: each event it sent was accepted, quarantined, or a duplicate (of an
    event in the store, or of one sent earlier, with the same content)."""
    first_reasons = quarantined.with_columns(pl.col("reason").str.split("; ").list.first())
    counts = first_reasons["reason"].value_counts(sort=True)
    first = int(rows["seq"][0]) if rows.height else None
    return IngestResult(
        received=received,
        accepted=rows.height,
        duplicates=received - rows.height - quarantined.height,
        quarantined=quarantined.height,
        first_seq=first,
        last_seq=first + rows.height - 1 if first is not None else None,
        reasons=dict(zip(counts["reason"].to_list(), counts["count"].to_list(), strict=True)),
        rejected=first_reasons.head(REJECTED_LISTED).select("event_id", "reason").to_dicts(),
    )


@dataclass(frozen=True)
class SpanStage:
    """OpenTelemetry spans to keep for one tenant (`memgraph_ops.imports.traces`)."""

    tenant: str
    rows: Sequence[tuple[str, str, str, str]]
    """(trace id, span id, session id, span JSON) of spans not kept yet (the caller read
    what is kept, under its per-trace lock)."""
    moved: Mapping[str, str] = field(default_factory=dict)
    """Traces whose kept spans map to another session now, and that session."""


def _stage_spans(con: Any, stages: Sequence[SpanStage], now: datetime) -> None:
    """Keep the spans of every stage with one insert (inside the caller's transaction)."""
    for staged in stages:
        for trace_id, session_id in staged.moved.items():
            con.execute(
                "UPDATE otel_spans SET session_id = ? WHERE hash(trace_id) = "
                "hash(?::VARCHAR) AND trace_id = ? AND tenant = ?",
                [session_id, trace_id, trace_id, staged.tenant],
            )
    rows = [(staged.tenant, *row) for staged in stages for row in staged.rows]
    if not rows:
        return
    names = ("tenant", "trace_id", "span_id", "session_id", "span")
    table = pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)})
    con.register("_spans", table)
    try:
        con.execute(
            "INSERT INTO otel_spans SELECT tenant, trace_id, span_id, session_id, span, ? "
            "FROM _spans",
            [now],
        )
    finally:
        con.unregister("_spans")


def _rollback(con: Any) -> None:
    """Roll back, keeping the error that got us here: after a failed COMMIT (out of memory, disk
    full) DuckDB has no transaction left to roll back."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _scalar(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def _arrow(con: Any, sql: str, params: list[Any] | None = None) -> pa.Table:
    relation = con.sql(sql, params=params)
    return relation.to_arrow_table()


def _by_id(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their item id, in order of first appearance."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["id"], []).append(row)
    return list(groups.values())


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}
