"""Graphs shared by many agents: cached Format E snapshots, exact lookups, atomic diffs.

One `SharedGraphs` per data-root owner (the embedded process, or `memgraph-ops serve`) serves
every reader and agent of it:

- `snapshot(graph_id)` is the graph as Format E text with its version, built once per change
  and shared. The version is the first 16 hex digits of the text's SHA-256: equal versions mean
  equal text, whoever asks and whenever. A cached snapshot is reused only while nothing that
  could change it has happened: HOT's change stamp for the graph (moved by every write to it,
  and by every trim, erasure or restore, `Store.change_stamp`) and the lake's nodes and edges
  tables (a commit by any process, such as a compaction, retention run or erasure, shows as the
  next Delta log file, `Lake.committed_after`). Checking both costs microseconds.
- `apply_diff(graph_id, text, base_version)` checks every line against the graph
  (`memory.diffs.problems`) and refuses the whole diff, listing every reason, if one fails. If
  the graph moved past the base, the diff applies only if it commutes with the changes in
  between (`memory.diffs.commutes`), else `GraphConflictError` (409 over HTTP). A diff that
  passes is committed in one store transaction as ordinary graph events, so compaction,
  redaction, vault and erasure see it like any other write; the commit is refused if the graph
  changed after the check (then it is checked again).

A graph belongs to a tenant: its nodes and edges are the tenant's events whose `session_id` is
the graph id. A session's graph is the graph named by the session id.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memgraph_ops.errors import GraphConflictError, InputError, RejectedError, StaleWriteError
from memgraph_ops.graph_types import TypeRegistry
from memgraph_ops.memory import diffs
from memgraph_ops.memory.format_e import (
    Diff,
    Graph,
    Node,
    parse,
    parse_diff,
    serialize,
    serialize_diff,
)
from memgraph_ops.memory.graphs import GraphState
from memgraph_ops.model import edge_key

HISTORY = 256
"""Versions of a graph remembered for diffs written against an older one."""
GRAPHS = 1_024
"""Graphs whose snapshot is kept in memory (the least recently read are dropped)."""
ATTEMPTS = 8
"""How often a diff is checked again when the graph changed between its check and commit."""


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Snapshot:
    graph_id: str
    tenant: str | None
    version: str
    text: str
    graph: Graph
    state: GraphState = field(repr=False)

    def node(self, node_id: str) -> Node | None:
        return self.state.nodes_by_id.get(node_id)

    @classmethod
    def from_text(cls, graph_id: str, tenant: str | None, version: str, text: str) -> Snapshot:
        """A snapshot received as text (from the service)."""
        graph = parse(text)
        nodes = {n.id: n for n in graph.nodes}
        state = GraphState(graph, frozenset({tenant} if tenant else ()), {}, nodes)
        return cls(graph_id, tenant, version, text, graph, state)


@dataclass(frozen=True)
class Applied:
    graph_id: str
    version: str
    """The graph's version after the diff."""
    base: str
    events: int
    commuted: bool
    """The graph had moved past the base; the diff commuted with the changes in between."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "graph_id": self.graph_id, "version": self.version, "base": self.base,
            "events": self.events, "commuted": self.commuted,
        }  # fmt: skip


@dataclass
class _Entry:
    stamp: Hashable
    snapshot: Snapshot
    history: list[tuple[str, diffs.Changes]]
    """(version, changes from the previous version), oldest first."""


Load = Callable[[str, str | None], tuple[GraphState, Hashable]]
"""(graph id, tenant) → the graph's state and the stamp it was read at."""
Fresh = Callable[[str, Hashable], bool]
"""(graph id, stamp) → whether nothing that could change the graph happened since."""
Commit = Callable[[list[dict[str, Any]], str, str, Hashable], Hashable]
"""(events, graph id, tenant, stamp the diff was checked at) → commit atomically and return
the graph's stamp just after the commit, or raise StaleWriteError if the graph changed since
the stamp."""


class SharedGraphs:
    def __init__(
        self,
        load: Load,
        fresh: Fresh,
        commit: Commit,
        types: Callable[[str], TypeRegistry],
    ) -> None:
        self._load, self._fresh, self._commit, self._types = load, fresh, commit, types
        self._entries: OrderedDict[tuple[str, str | None], _Entry] = OrderedDict()
        self._locks: dict[tuple[str, str | None], threading.Lock] = {}
        self._guard = threading.Lock()
        self._applied: OrderedDict[tuple[str, str | None, str, str], Applied] = OrderedDict()

    def _lock(self, key: tuple[str, str | None]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    # reading ------------------------------------------------------------------------------

    def snapshot(self, graph_id: str, *, tenant: str | None = None) -> Snapshot:
        """The graph as Format E text and its version (an empty graph if it has no nodes)."""
        key = (graph_id, tenant)
        entry = self._entries.get(key)
        if entry is not None and self._fresh(graph_id, entry.stamp):
            return entry.snapshot
        with self._lock(key):
            return self._rebuild(key).snapshot

    def _rebuild(self, key: tuple[str, str | None]) -> _Entry:
        """The entry of a graph, read again unless it is fresh (call with the graph's lock)."""
        entry = self._entries.get(key)
        if entry is not None and self._fresh(key[0], entry.stamp):
            return entry
        state, stamp = self._load(*key)
        text = serialize(state.graph)
        tenant = key[1] or (next(iter(state.tenants)) if len(state.tenants) == 1 else None)
        snapshot = Snapshot(key[0], tenant, version_of(text), text, state.graph, state)
        history = list(entry.history) if entry is not None else []
        if entry is None or entry.snapshot.version != snapshot.version:
            changes = (
                diffs.Changes.between(entry.snapshot.graph, state.graph)
                if entry is not None
                else diffs.Changes()
            )
            history = [*history, (snapshot.version, changes)][-HISTORY:]
        fresh = _Entry(stamp, snapshot, history)
        with self._guard:
            self._entries[key] = fresh
            self._entries.move_to_end(key)
            while len(self._entries) > GRAPHS:
                self._entries.popitem(last=False)
        return fresh

    def _after(
        self, key: tuple[str, str | None], entry: _Entry, diff: Diff, owner: str, stamp: Hashable
    ) -> Snapshot:
        """The snapshot after a committed diff, from the one it was checked against (no
        reading back: the stamp is the one the commit left, so any later write still shows)."""
        before = entry.snapshot
        graph = diffs.applied(before.graph, diff)
        kept = set(graph.edges)
        edge_ids = {e: i for e, i in before.state.edge_ids.items() if e in kept}
        edge_ids |= {e: edge_key(e.src, e.rel, e.dst) for e in diff.add_edges}
        nodes = {n.id: n for n in graph.nodes}
        state = GraphState(graph, before.state.tenants | {owner}, edge_ids, nodes)
        text = serialize(graph)
        snapshot = Snapshot(key[0], before.tenant or owner, version_of(text), text, graph, state)
        history = [*entry.history, (snapshot.version, diffs.Changes.between(before.graph, graph))]
        with self._guard:
            self._entries[key] = _Entry(stamp, snapshot, history[-HISTORY:])
            self._entries.move_to_end(key)
        return snapshot

    def node(self, graph_id: str, node_id: str, *, tenant: str | None = None) -> Node | None:
        """A node by its exact id (never a fuzzy match); None if the graph has no such id."""
        return self.snapshot(graph_id, tenant=tenant).node(node_id)

    # writing ------------------------------------------------------------------------------

    def apply_diff(
        self,
        graph_id: str,
        diff_text: str,
        base_version: str | None = None,
        *,
        tenant: str | None = None,
    ) -> Applied:
        """Apply a Format E diff whole, or refuse it whole (see the module's docstring).

        `base_version` defaults to the diff's `<base_snapshot>`; if both are given they must
        agree. Raises FormatEError for text that is not a diff, RejectedError listing every
        reason a line cannot be applied, GraphConflictError if the graph moved and the diff
        does not commute. Sending the same diff against the same base again (a retry) returns
        the first application's result and changes nothing."""
        diff = parse_diff(diff_text)
        if base_version is not None and base_version != diff.base:
            raise InputError(
                f"the diff names base {diff.base!r} but {base_version!r} was given as its base"
            )
        key = (graph_id, tenant)
        retry = (graph_id, tenant, diff.base, hashlib.sha256(diff_text.encode()).hexdigest())
        with self._lock(key):
            if retry in self._applied:
                return self._applied[retry]
            for attempt in range(ATTEMPTS):
                entry = self._rebuild(key)
                commuted = self._check(entry, diff, tenant)
                snapshot = entry.snapshot
                owner = tenant or snapshot.tenant
                if owner is None:
                    raise InputError(
                        f"graph {graph_id!r} has no nodes yet or several tenants': name the tenant"
                    )
                events = diffs.events(
                    diff,
                    graph_id=graph_id,
                    tenant=owner,
                    edge_ids=snapshot.state.edge_ids,
                    node_types={n.id: n.type for n in snapshot.graph.nodes},
                    event_prefix=f"diff-{retry[3][:20]}-{snapshot.version}-{attempt}",
                    at=datetime.now(UTC),
                )
                try:
                    stamp = self._commit(events, graph_id, owner, entry.stamp)
                except StaleWriteError:
                    continue  # another writer changed the graph after the check: check again
                after = self._after(key, entry, diff, owner, stamp)
                applied = Applied(graph_id, after.version, diff.base, len(events), commuted)
                self._applied[retry] = applied
                while len(self._applied) > HISTORY * 4:
                    self._applied.popitem(last=False)
                return applied
        raise GraphConflictError(
            f"graph {graph_id!r} kept changing while the diff was checked ({ATTEMPTS} tries)",
            current=self.snapshot(graph_id, tenant=tenant).version,
        )

    def _check(self, entry: _Entry, diff: Diff, tenant: str | None) -> bool:
        """Raise unless `diff` applies to the entry's graph; True if it commuted."""
        snapshot = entry.snapshot
        commuted = diff.base != snapshot.version
        if commuted:
            versions = [v for v, _ in entry.history]
            if diff.base not in versions:
                raise GraphConflictError(
                    f"graph {snapshot.graph_id!r} is at version {snapshot.version}; its base "
                    f"{diff.base} is not a version this server knows: read the snapshot again",
                    current=snapshot.version,
                )
            since = versions[::-1].index(diff.base)  # the latest time the graph had that text
            changes = diffs.Changes()
            for _, step in entry.history[len(versions) - since :]:
                changes = changes | step
            if not diffs.commutes(diff, changes):
                raise GraphConflictError(
                    f"graph {snapshot.graph_id!r} moved from {diff.base} to {snapshot.version} "
                    "and changed what the diff names: read the snapshot again and rewrite the "
                    "diff",
                    current=snapshot.version,
                )
        owner = tenant or snapshot.tenant
        types = self._types(owner) if owner is not None else TypeRegistry.empty("")
        reasons = diffs.problems(snapshot.graph, diff, types)
        if reasons:
            raise RejectedError(reasons)
        return commuted

    def import_text(self, graph_id: str, text: str, *, tenant: str | None = None) -> Applied:
        """Make the graph hold exactly the Format E snapshot `text` (one atomic diff from the
        current version: what it lacks is added, what it has beyond the text removed)."""
        wanted = parse(text)
        current = self.snapshot(graph_id, tenant=tenant)
        have = {n.id: n for n in current.graph.nodes}
        want = {n.id: n for n in wanted.nodes}
        changed = {i for i in have.keys() & want.keys() if have[i] != want[i]}
        diff = Diff(
            current.version,
            add_nodes=tuple(n for i, n in want.items() if i not in have or i in changed),
            remove_nodes=tuple(i for i in have if i not in want or i in changed),
            add_edges=tuple(e for e in wanted.edges if e not in set(current.graph.edges)),
            remove_edges=tuple(e for e in current.graph.edges if e not in set(wanted.edges)),
        )
        return self.apply_diff(graph_id, serialize_diff(diff), tenant=tenant)
