"""Checking a Format E diff against a graph, and turning it into graph events.

A diff is applied whole or not at all. `problems` lists every reason it cannot be applied to a
graph: an id it removes or joins that the graph does not hold, an id it adds that the graph
holds already, a type or relation the tenant did not register, an endpoint of the wrong type,
a node removed while edges still use it, a line given twice.

**When the graph moved past the diff's base** (`commutes`): the diff still applies if it names
no node that was added, removed or rewritten in between, adds or removes no edge that was added
or removed in between, and removes no node whose edges changed in between. Such a diff reads
and writes only what is the same in the base and now, so every check gives the same answer
against either, and applying it now gives what applying it at the base and then the changes in
between would have given. Anything else is a conflict. Two agents adding edges to the same hub
node commute; two agents rewriting the same node do not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memgraph_ops.graph_types import TypeRegistry
from memgraph_ops.memory.format_e import Diff, Edge, Graph, Node
from memgraph_ops.model import EDGE_TYPES, NODE_TYPES, edge_key


def problems(graph: Graph, diff: Diff, types: TypeRegistry) -> list[str]:
    """Every reason `diff` cannot be applied to `graph` (empty: it can)."""
    nodes = {n.id: n for n in graph.nodes}
    edges = set(graph.edges)
    out = [f"{what} is given twice" for what in _repeats(diff)]
    removed = set(diff.remove_nodes)
    for node_id in diff.remove_nodes:
        if node_id not in nodes:
            out.append(f"cannot remove node {node_id}: the graph has no such id")
    for edge in diff.remove_edges:
        if edge not in edges:
            out.append(f"cannot remove edge {_show(edge)}: the graph has no such edge")
    after = {i: n for i, n in nodes.items() if i not in removed}
    for node in diff.add_nodes:
        out += _node_problems(node, types, exists=node.id in after)
        after[node.id] = node
    gone = set(diff.remove_edges)
    for edge in diff.add_edges:
        out += _edge_problems(edge, after, types, exists=edge in edges and edge not in gone)
    kept_edges = (edges - gone) | set(diff.add_edges)
    for node_id in removed - {n.id for n in diff.add_nodes}:
        using = sorted(_show(e) for e in kept_edges if node_id in (e.src, e.dst))
        if using and node_id in nodes:
            out.append(
                f"cannot remove node {node_id}: edges still use it "
                f"({', '.join(using[:5])}{' …' if len(using) > 5 else ''}); remove them too"
            )
    return list(dict.fromkeys(out))  # (an edge from a missing node to itself: said once)


def _repeats(diff: Diff) -> list[str]:
    lines = Counter(
        [f"node {n.id}" for n in diff.add_nodes]
        + [f"'- {i}'" for i in diff.remove_nodes]
        + [f"edge {_show(e)}" for e in (*diff.add_edges, *diff.remove_edges)]
    )
    return sorted(what for what, n in lines.items() if n > 1)


def _node_problems(node: Node, types: TypeRegistry, *, exists: bool) -> list[str]:
    out = []
    if exists:
        out.append(f"cannot add node {node.id}: the graph has it already (remove it first)")
    if node.type in NODE_TYPES:
        out.append(
            f"cannot add node {node.id}: {node.type} nodes come from their own events "
            "(a diff adds nodes of the tenant's custom types)"
        )
        return out
    spec = types.nodes.get(node.type)
    if spec is None:
        known = ", ".join(types.nodes) or "none registered"
        return [*out, f"node {node.id}: unknown type {node.type} (custom types: {known})"]
    event = {"op": "upsert", "kind": "node", "type": node.type, "id": node.id, "session_id": "g"}
    event |= {"name": node.name, "content": node.description, "attrs": node.properties}
    return out + [f"node {node.id}: {why}" for why in types.reasons(event)]


def _edge_problems(
    edge: Edge, nodes: Mapping[str, Node], types: TypeRegistry, *, exists: bool
) -> list[str]:
    out = []
    if exists:
        out.append(f"cannot add edge {_show(edge)}: the graph has it already")
    for end in (edge.src, edge.dst):
        if end not in nodes:
            out.append(f"edge {_show(edge)}: the graph has no node {end}")
    builtin = EDGE_TYPES.get(edge.rel)
    if builtin is None and edge.rel not in types.edges:
        known = ", ".join([*types.edges, *EDGE_TYPES])
        return [*out, f"edge {_show(edge)}: unknown relation {edge.rel} (known: {known})"]
    for end, node_id in (("src", edge.src), ("dst", edge.dst)):
        if node_id not in nodes:
            continue
        actual = nodes[node_id].type
        if builtin is not None:
            expected = getattr(builtin, end)
            if actual != expected:
                verb = "start" if end == "src" else "end"
                out.append(f"edge {_show(edge)}: {edge.rel} must {verb} at a {expected}")
        else:
            why = types.endpoint_reason(edge.rel, end, actual)
            if why is not None:
                out.append(f"edge {_show(edge)}: {why}")
    return out


def _show(edge: Edge) -> str:
    return f"{edge.src} -{edge.rel}-> {edge.dst}"


@dataclass(frozen=True)
class Changes:
    """What differs between two versions of a graph."""

    nodes: frozenset[str] = frozenset()
    """Ids of nodes added, removed or rewritten."""
    edges: frozenset[Edge] = frozenset()
    """Edges added or removed."""

    @classmethod
    def between(cls, before: Graph, after: Graph) -> Changes:
        return cls(
            frozenset(n.id for n in set(before.nodes) ^ set(after.nodes)),
            frozenset(set(before.edges) ^ set(after.edges)),
        )

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.nodes | other.nodes, self.edges | other.edges)


def commutes(diff: Diff, changes: Changes) -> bool:
    """Whether `diff` applies after `changes` (made since its base) as it would have before
    them: it names no node that changed, adds or removes no edge that changed, and removes no
    node whose edges changed (removing a node depends on its edges)."""
    named = {n.id for n in diff.add_nodes} | set(diff.remove_nodes)
    for edge in (*diff.add_edges, *diff.remove_edges):
        named |= {edge.src, edge.dst}
    if named & changes.nodes:
        return False
    if changes.edges & {*diff.add_edges, *diff.remove_edges}:
        return False
    touched = {i for e in changes.edges for i in (e.src, e.dst)}
    return not touched & set(diff.remove_nodes)


def applied(graph: Graph, diff: Diff) -> Graph:
    """The graph after a checked diff (what the store holds once its events are in)."""
    removed = set(diff.remove_nodes)
    nodes = {n.id: n for n in graph.nodes if n.id not in removed}
    nodes |= {n.id: n for n in diff.add_nodes}
    edges = (set(graph.edges) - set(diff.remove_edges)) | set(diff.add_edges)
    return Graph.of(nodes.values(), edges)


def events(
    diff: Diff,
    *,
    graph_id: str,
    tenant: str,
    edge_ids: Mapping[Edge, str],
    node_types: Mapping[str, str],
    event_prefix: str,
    at: datetime,
) -> list[dict[str, Any]]:
    """The graph events that apply a checked diff: removals first, then additions (a node
    removed and added again in one diff is replaced). `event_prefix` makes the event ids of
    one application unique; `edge_ids` gives the stored id of each edge the diff removes and
    `node_types` the type of each node it removes."""
    common = {"session_id": graph_id, "tenant": tenant, "occurred_at": at}
    out: list[dict[str, Any]] = []

    def add(event: dict[str, Any]) -> None:
        out.append({"event_id": f"{event_prefix}-{len(out)}", **common, **event})

    for edge in diff.remove_edges:
        add(
            {
                "op": "delete", "kind": "edge", "type": edge.rel, "src": edge.src,
                "dst": edge.dst, "id": edge_ids[edge],
            }
        )  # fmt: skip
    for node_id in diff.remove_nodes:
        add({"op": "delete", "kind": "node", "type": node_types[node_id], "id": node_id})
    for node in diff.add_nodes:
        add(
            {
                "op": "upsert", "kind": "node", "type": node.type, "id": node.id,
                "name": node.name, "content": node.description, "attrs": node.properties or None,
            }
        )  # fmt: skip
    for edge in diff.add_edges:
        add(
            {
                "op": "upsert", "kind": "edge", "type": edge.rel, "src": edge.src,
                "dst": edge.dst, "id": edge_key(edge.src, edge.rel, edge.dst),
            }
        )  # fmt: skip
    return out


__all__ = ["Changes", "applied", "commutes", "events", "problems"]
