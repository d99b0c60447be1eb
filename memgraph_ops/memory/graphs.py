"""Session graphs as Format E: the nodes and edges of a session (HOT and lake) in the shape
agents read.

Each built-in node type gives its name and description from its own fields:

| type | name | description |
|---|---|---|
| Session | user id | |
| Prompt | `system` for a system prompt | content |
| Response | model | content |
| ToolInvocation | tool name | parameters, `->` result, `!` error |
| Agent | name | role |
| Template | name@version | template |
| ContextSource | uri | content |
| a custom type | name | content, and its properties (`attrs`) as the fifth field |
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from memgraph_ops.graph_types import canonical_properties
from memgraph_ops.memory.format_e import Edge, Graph, Node
from memgraph_ops.model import NODE_TYPES


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def describe(item: Mapping[str, Any]) -> tuple[str, str]:
    """(name, description) of a node's state."""
    kind = item.get("type")
    if kind == "Session":
        return _text(item.get("user_id")), ""
    if kind == "Prompt":
        return ("system" if item.get("is_system") else ""), _text(item.get("content"))
    if kind == "Response":
        return _text(item.get("model")), _text(item.get("content"))
    if kind == "ToolInvocation":
        parts = [_text(item.get("parameters"))]
        if item.get("result") is not None:
            parts.append("-> " + _text(item["result"]))
        if item.get("error") is not None:
            parts.append("! " + _text(item["error"]))
        return _text(item.get("tool_name")), " ".join(p for p in parts if p)
    if kind == "Agent":
        return _text(item.get("name")), _text(item.get("role"))
    if kind == "Template":
        return f"{_text(item.get('name'))}@{_text(item.get('version'))}", _text(
            item.get("template")
        )
    if kind == "ContextSource":
        return _text(item.get("uri")), _text(item.get("content"))
    return _text(item.get("name")), _text(item.get("content"))


def properties(item: Mapping[str, Any]) -> str:
    """A custom node's properties (its `attrs` object) as Format E's fifth field."""
    if item.get("type") in NODE_TYPES or not item.get("attrs"):
        return ""
    try:
        values = json.loads(item["attrs"])
    except (TypeError, ValueError):
        return ""
    return canonical_properties(values) if isinstance(values, dict) and values else ""


SHARED_TYPES: Final = tuple(t.name for t in NODE_TYPES.values() if not t.session_scoped)
"""Node types sessions share (Agent, Template, ContextSource): in a graph when its edges use
them."""


@dataclass(frozen=True)
class GraphState:
    """A graph with what writing to it needs and Format E does not carry."""

    graph: Graph
    tenants: frozenset[str]
    edge_ids: Mapping[Edge, str]
    """The stored id of each edge (edges sent without one have `model.edge_key`)."""
    nodes_by_id: Mapping[str, Node]


def graph_of(nodes: Iterable[Mapping[str, Any]], edges: Iterable[Mapping[str, Any]]) -> Graph:
    """A graph from node and edge states (HOT's folded states or the lake's rows)."""
    return state_of(nodes, edges).graph


def state_of(nodes: Iterable[Mapping[str, Any]], edges: Iterable[Mapping[str, Any]]) -> GraphState:
    nodes, edges = list(nodes), list(edges)
    edge_ids = {Edge(str(e["src"]), str(e["type"]), str(e["dst"])): str(e["id"]) for e in edges}
    graph = Graph.of(
        (Node(str(n["id"]), str(n["type"]), *describe(n), properties(n)) for n in nodes),
        edge_ids,
    )
    tenants = frozenset(str(i["tenant"]) for i in (*nodes, *edges) if i.get("tenant"))
    return GraphState(graph, tenants, edge_ids, {n.id: n for n in graph.nodes})
