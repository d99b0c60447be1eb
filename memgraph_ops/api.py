"""The Python API: one object over a data root, for notebooks, runtimes, the CLI and Dagster.

    >>> import memgraph_ops
    >>> mg = memgraph_ops.open("store")                  # doctest: +SKIP
    >>> mg.ingest(events)                                 # HOT
    >>> mg.compact()                                      # HOT -> LAKE, exactly once
    >>> mg.store.context("session-1", last=10)            # hot read
    >>> mg.lake.nodes(as_of=3)                            # Delta time travel
    >>> mg.retention(dry_run=True)                        # what would be archived/deleted
    >>> mg.restore("session-1")                           # VAULT -> HOT, in milliseconds

The operational store is opened on first use only, because DuckDB lets one process write it:
a notebook that only reads the lake never takes the store's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from memgraph_ops.config import Settings, load_settings
from memgraph_ops.events import EventInput
from memgraph_ops.graph_types import TypeRegistry
from memgraph_ops.imports.files import iter_event_batches
from memgraph_ops.lake import CompactionReport, Lake, Redactor, compact, no_redaction
from memgraph_ops.lake.compaction import adopt_store
from memgraph_ops.memory.format_e import Graph, Node
from memgraph_ops.memory.graphs import GraphState, state_of
from memgraph_ops.memory.relevant import Relevant, relevant
from memgraph_ops.memory.shared import Applied, SharedGraphs, Snapshot
from memgraph_ops.privacy.pseudonyms import Pseudonymizer, key_status
from memgraph_ops.retention import (
    RetentionPlan,
    RetentionPolicy,
    RetentionReport,
    held_sessions,
    lake_sessions,
    plan,
    vault_sessions,
)
from memgraph_ops.retention import apply as apply_retention
from memgraph_ops.store import IngestResult, Store
from memgraph_ops.vault import ArchiveReport, RestoreResult, Vault

if TYPE_CHECKING:
    from memgraph_ops.client import RemoteStore
    from memgraph_ops.erasure import Request, Subject
    from memgraph_ops.privacy.redact import Redactor as PiiRedactor

Progress = Callable[[int, int], None]


class Memgraph:
    """A data root: operational store, lake, and the operations over them."""

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.settings = settings
        self.read_only = read_only
        # Owner-only before anything writes below it: HOT holds raw personal data.
        settings.secure_home(create=not read_only)
        self.lake = Lake(settings.lake_uri)
        self.vault = Vault(
            settings.vault_path, home=settings.home, group_bytes=settings.vault_group_bytes
        )
        self._store: Store | None = None
        self._redactor: PiiRedactor | None = None
        self._graphs: SharedGraphs | None = None

    discover_service: bool = True
    """Whether `store` goes through a server that owns this data root (found by its endpoint
    file, `memgraph_ops.service.endpoint`). The server itself sets it False."""

    @property
    def store(self) -> Store:
        """HOT: through the service when a live server owns this data root (a RemoteStore,
        same methods), else the DuckDB file itself."""
        if self._store is None:
            self.settings.secure_home()
            remote = self._served_store() if self.discover_service else None
            if remote is not None:
                # The server opened the file (and followed the lake) itself.
                self._store = remote
                return remote
            self._store = Store.open(
                self.settings.store_path,
                read_only=self.read_only,
                memory_limit=self.settings.duckdb_memory_limit,
                home=self.settings.home,
            )
            # A new (or lost and recreated) store file follows the lake's watermark at once, so
            # none of its events can fall under what the lake already has.
            fresh = not self.read_only and self._store.max_seq() == 0
            if fresh and max(self.lake.watermarks().values()) > 0:
                adopt_store(self._store, self.lake, dedupe_window=self.settings.dedupe_window)
        return self._store

    def _served_store(self) -> Store | None:
        from memgraph_ops.client import served_store  # httpx only when it is needed

        return served_store(self.settings)

    def existing_store(self) -> Store | None:
        """The operational store if it is open or its file exists; never creates one."""
        if self._store is None and not self.settings.store_path.exists():
            return None
        return self.store

    def open_store(self) -> Store | None:
        """The store if this object has it open already (opening nothing)."""
        return self._store

    def close_store(self) -> None:
        """Close the store (its DuckDB file is free for a rewrite); the next use reopens it."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        if self._redactor is not None:
            self._redactor.scanner.close()
        self.close_store()

    def __enter__(self) -> Memgraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest(self, events: EventInput, *, source: str = "api") -> IngestResult:
        """Validate and append events to HOT (idempotent on event_id)."""
        return self.store.ingest(events, source=source)

    def ingest_file(
        self, path: str | Path, *, batch_rows: int = 50_000, progress: Progress | None = None
    ) -> IngestResult:
        """Stream a JSONL or Parquet event file into HOT; returns the totals."""
        path = Path(path)
        totals: dict[str, Any] = {
            "received": 0, "accepted": 0, "duplicates": 0, "quarantined": 0,
            "first_seq": None, "last_seq": None, "reasons": {},
        }  # fmt: skip
        for batch in iter_event_batches(path, batch_rows=batch_rows):
            bad = self.store.quarantine_unreadable(batch.unreadable, source=str(path))
            result = self.store.ingest(batch.events, source=str(path))
            _accumulate(totals, result, unreadable=bad)
            for _, reason in batch.unreadable:
                key = reason.split(": ", 1)[1] if ": " in reason else reason
                totals["reasons"][key] = totals["reasons"].get(key, 0) + 1
            if progress:
                progress(totals["received"], 0)
        return IngestResult(**totals)

    def redactor(self) -> Redactor:
        """The redaction applied before the lake, from the settings (built once, so its cache
        of scanned texts lives as long as this object). Raises ConfigError without a key."""
        if not self.settings.redaction:
            return no_redaction
        if self._redactor is None:
            # Presidio and spaCy load here, when compaction first needs them, not on import.
            from memgraph_ops.privacy.redact import PrivacyConfig
            from memgraph_ops.privacy.redact import Redactor as PiiRedactor

            self._redactor = PiiRedactor(
                Pseudonymizer.from_environment(self.settings.home),
                PrivacyConfig.from_mapping(self.settings.privacy),
            )
        return self._redactor

    def compact(
        self,
        *,
        redact: Redactor | None = None,
        progress: Progress | None = None,
        batch_rows: int | None = None,
        adopt_store: bool = False,
    ) -> CompactionReport:
        """Move new events into the lake exactly once, redacted, then trim HOT past the hot
        window. `adopt_store` renumbers a store the lake does not know (a lost or replaced
        `hot.duckdb`) instead of refusing it."""
        s = self.settings
        redact = redact or self.redactor()
        return compact(
            self.store,
            self.lake,
            batch_rows=batch_rows or s.compact_batch,
            hot_window=s.hot_window,
            dedupe_window=s.dedupe_window,
            redact=redact,
            lock_dir=s.home,
            progress=progress,
            tenant_hot_windows=self.retention_policy().hot_windows(),
            adopt=adopt_store,
        )

    # vault and retention -----------------------------------------------------------------------

    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy.from_mapping(self.settings.retention)

    def plan_retention(self, *, now: datetime | None = None) -> RetentionPlan:
        """What retention would archive and delete now (changes nothing)."""
        return plan(
            self.retention_policy(),
            lake_sessions(self.lake),
            vault_sessions(self.vault.index()),
            hot_activity=self._hot_activity(),
            pseudonym=self._pseudonym(),
            now=now,
        )

    def retention(self, *, dry_run: bool = False, now: datetime | None = None) -> RetentionReport:
        """Archive inactive sessions, delete expired ones (keeping anonymous aggregates), expire
        restored copies; with `dry_run`, only say what would happen."""
        return apply_retention(
            self.plan_retention(now=now),
            self.retention_policy(),
            lake=self.lake,
            vault=self.vault,
            store=None if dry_run else self.store,
            dry_run=dry_run,
        )

    def archive(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        inactive_days: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ArchiveReport:
        """Move sessions from the lake into the vault: the given ones, or every lake session
        inactive for `inactive_days` (default: the policy's archive age). Sessions under legal
        hold are never archived."""
        if session_ids is None:
            policy = self.retention_policy()
            days = policy.archive_after_days if inactive_days is None else inactive_days
            sessions = lake_sessions(self.lake)
            cutoff = datetime.now(UTC) - timedelta(days=days)
            session_ids = sessions.filter(pl.col("last_at") <= cutoff)["session_id"].to_list()
        held = set(self._held(session_ids))
        report = self.vault.archive(
            self.lake, [s for s in session_ids if s not in held], dry_run=dry_run, progress=progress
        )
        report.held = sorted(held)
        return report

    def restore(self, session_id: str) -> RestoreResult:
        """Bring an archived session back into the operational store (a read copy that expires
        after the policy's `restored_ttl_days`). Idempotent."""
        return self.vault.restore(self.store, session_id, ttl=self.retention_policy().restored_ttl)

    # shared memory ------------------------------------------------------------------------------

    # shared graphs (memgraph_ops.memory.shared) --------------------------------------------

    def graph_state(self, graph_id: str, *, tenant: str | None = None) -> GraphState:
        """A graph's nodes and edges (of `tenant`, or of every tenant): what the lake holds
        for that graph (session) id, overlaid by what HOT holds newer, with the agents and
        context sources its edges point at. Empty for an unknown graph."""
        nodes = {r["id"]: r for r in self.lake.nodes(session_id=graph_id, tenant=tenant).to_dicts()}
        edges = {r["id"]: r for r in self.lake.edges(session_id=graph_id, tenant=tenant).to_dicts()}
        store = self.existing_store()
        for item in store.session_items(graph_id) if store is not None else []:
            if tenant is None or item.get("tenant") == tenant:
                (edges if item["kind"] == "edge" else nodes)[item["id"]] = item
        ends = {e["dst"] for e in edges.values()} | {e["src"] for e in edges.values()}
        shared = [i for i in ends if i not in nodes]
        if shared:
            lake_shared = self.lake.nodes(
                types=["Agent", "ContextSource", "Template"], tenant=tenant
            )
            nodes |= {
                row["id"]: row for row in lake_shared.filter(pl.col("id").is_in(shared)).to_dicts()
            }
            for node_id in shared if store is not None else []:
                found = store.node(node_id)  # type: ignore[union-attr]
                if found is not None and (tenant is None or found.get("tenant") == tenant):
                    nodes[node_id] = found
        return state_of(nodes.values(), edges.values())

    def session_graph(self, session_id: str) -> Graph:
        """A session's graph for agents (Format E: `memgraph_ops.memory.format_e.serialize`)."""
        return self.graph_state(session_id).graph

    @property
    def graphs(self) -> SharedGraphs:
        """Snapshots, lookups and diffs of graphs, cached for every reader of this object."""
        if self._graphs is None:
            self._graphs = SharedGraphs(
                self._load_graph, self._graph_fresh, self._commit_graph, self._graph_types
            )
        return self._graphs

    def _load_graph(self, graph_id: str, tenant: str | None) -> tuple[GraphState, Hashable]:
        # Stamps first: a write after them moves them, so the next read builds again.
        versions = tuple((name, self.lake.version(name)) for name in ("nodes", "edges"))
        store = self.existing_store()
        stamp = store.change_stamp(graph_id) if store is not None else None
        return self.graph_state(graph_id, tenant=tenant), (stamp, versions)

    def _graph_fresh(self, graph_id: str, stamp: Hashable) -> bool:
        hot, versions = cast(tuple[Hashable, tuple[tuple[str, int | None], ...]], stamp)
        store = self._store if self._store is not None else self.existing_store()
        now = store.change_stamp(graph_id) if store is not None else None
        return bool(now == hot and not self.lake.committed_after(dict(versions)))

    def _commit_graph(
        self, events: list[dict[str, Any]], graph_id: str, tenant: str, stamp: Hashable
    ) -> Hashable:
        hot, versions = cast(tuple[Hashable, Any], stamp)
        after = self.store.ingest_checked(
            events, session_id=graph_id, expect=hot, owner=tenant, source="graph-diff"
        )
        return after, versions

    def _graph_types(self, tenant: str) -> TypeRegistry:
        return self.store.graph_types(tenant)

    def _remote(self) -> RemoteStore | None:
        """The service that owns this data root, if one does (graph calls go through it)."""
        from memgraph_ops.client import RemoteStore  # (imported already when a store opened)

        store = self.store
        return store if isinstance(store, RemoteStore) else None

    def snapshot(self, graph_id: str, *, tenant: str | None = None) -> Snapshot:
        """A graph as Format E text with its version, from memory while it has not changed."""
        remote = self._remote()
        if remote is not None:
            return remote.snapshot(graph_id, tenant=tenant)
        return self.graphs.snapshot(graph_id, tenant=tenant)

    def graph_node(self, graph_id: str, node_id: str, *, tenant: str | None = None) -> Node | None:
        """A node of a graph by its exact id (None if the graph has no such id)."""
        return self.snapshot(graph_id, tenant=tenant).node(node_id)

    def apply_diff(
        self,
        graph_id: str,
        diff: str,
        base_version: str | None = None,
        *,
        tenant: str | None = None,
    ) -> Applied:
        """Apply a Format E diff atomically, or refuse it whole (`memgraph_ops.memory.shared`)."""
        remote = self._remote()
        if remote is not None:
            return remote.apply_diff(graph_id, diff, base_version, tenant=tenant)
        return self.graphs.apply_diff(graph_id, diff, base_version, tenant=tenant)

    def import_graph(self, graph_id: str, text: str, *, tenant: str | None = None) -> Applied:
        """Make a graph hold exactly a Format E snapshot (one atomic diff)."""
        remote = self._remote()
        if remote is not None:
            return remote.import_graph(graph_id, text, tenant=tenant)
        return self.graphs.import_text(graph_id, text, tenant=tenant)

    def register_types(self, tenant: str, definition: Mapping[str, Any]) -> TypeRegistry:
        """Register a tenant's custom node and edge types (`memgraph_ops.graph_types`)."""
        return self.store.register_types(tenant, definition)

    def graph_types(self, tenant: str) -> TypeRegistry:
        """A tenant's custom node and edge types (version 0: none registered)."""
        return self.store.graph_types(tenant)

    def relevant(
        self,
        graph_id: str,
        query: str,
        *,
        node_types: list[str] | None = None,
        max_nodes: int = 20,
        max_tokens: int | None = None,
        tenant: str | None = None,
    ) -> Relevant:
        """The part of a graph relevant to `query`, within a budget (see
        `memgraph_ops.memory.relevant`)."""
        return relevant(
            self.snapshot(graph_id, tenant=tenant).graph, query, node_types=node_types,
            max_nodes=max_nodes, max_tokens=max_tokens,
        )  # fmt: skip

    # erasure ------------------------------------------------------------------------------------

    def plan_erasure(self, subject: Subject) -> dict[str, Any]:
        """What erasing `subject` would remove or re-redact, per layer (changes nothing)."""
        from memgraph_ops.erasure import plan as plan_erasure

        return plan_erasure(self, subject)

    def erase(self, subject: Subject) -> Request:
        """Erase `subject` from every layer, verify byte by byte, and sign a receipt (see
        `memgraph_ops.erasure`). Raises ErasureFailed if it cannot finish; rerun to resume."""
        from memgraph_ops.erasure import erase

        return erase(self, subject)

    def _held(self, session_ids: Sequence[str]) -> list[str]:
        policy = self.retention_policy()
        if not policy.hold:
            return []
        sessions = lake_sessions(self.lake).filter(pl.col("session_id").is_in(list(session_ids)))
        return held_sessions(policy, sessions, self._pseudonym())

    def _hot_activity(self) -> pl.DataFrame | None:
        if not self.settings.store_path.exists():
            return None
        return self.store.session_activity()

    def _pseudonym(self) -> Callable[[str, str], str] | None:
        """How user ids look in the lake, to match legal holds by user (needs the key only
        when a hold names users)."""
        if not self.settings.redaction or not self.retention_policy().hold.users:
            return None
        pseudonyms = Pseudonymizer.from_environment(self.settings.home)
        return pseudonyms.subject

    def status(self) -> dict[str, Any]:
        """Counts, logical and physical bytes per layer, what cleanup would reclaim, and which
        pseudonym key is in use."""
        hot = self.store.counts() if self.settings.store_path.exists() else {"events": 0}
        return {
            "home": str(self.settings.home),
            "pseudonym_key": key_status(self.settings.home),
            "hot": hot,
            "lake": {"uri": self.settings.lake_uri, "tables": self.lake.stats()},
            "vault": self.vault.stats(),
        }


def _accumulate(totals: dict[str, Any], result: IngestResult, *, unreadable: int) -> None:
    totals["received"] += result.received + unreadable
    totals["accepted"] += result.accepted
    totals["duplicates"] += result.duplicates
    totals["quarantined"] += result.quarantined + unreadable
    if result.first_seq is not None and totals["first_seq"] is None:
        totals["first_seq"] = result.first_seq
    if result.last_seq is not None:
        totals["last_seq"] = result.last_seq
    for reason, n in result.reasons.items():
        totals["reasons"][reason] = totals["reasons"].get(reason, 0) + n


def open(home: str | Path | None = None, *, read_only: bool = False, **overrides: Any) -> Memgraph:
    """Open a data root (default: `$MEMGRAPH_HOME`, else `./store`)."""
    return Memgraph(load_settings(home, **overrides), read_only=read_only)
