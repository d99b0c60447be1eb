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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from memgraph_ops.memory.format_e import Edge, Graph, Node


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


def graph_of(nodes: Iterable[Mapping[str, Any]], edges: Iterable[Mapping[str, Any]]) -> Graph:
    """A graph from node and edge states (HOT's folded states or the lake's rows)."""
    return Graph.of(
        (Node(str(n["id"]), str(n["type"]), *describe(n)) for n in nodes),
        (Edge(str(e["src"]), str(e["type"]), str(e["dst"])) for e in edges),
    )
