"""Format E: a graph as compact text for agents to share, and diffs against it.

The grammar, escaping and ordering rules are specified in `docs/format-e.md`; this module is
that specification's reference implementation. In short::

    ## Nodes
    + Process payment|FUNC|ProcessPayment.FN.001|Charges the card; retries twice
    ## Edges
    ProcessPayment.FN.001 -calls-> ChargeCard.FN.002

and a diff names the version it was written against::

    <operations>
    <base_snapshot>7</base_snapshot>
    + Refund|FUNC|Refund.FN.003|Gives the money back
    + Refund.FN.003 -calls-> ChargeCard.FN.002
    - ProcessPayment.FN.001 -calls-> ChargeCard.FN.002
    - ChargeCard.FN.002
    </operations>

`serialize` is deterministic (nodes by type then id, edges by source, relation and target), and
`parse(serialize(g)) == g` for every graph. Parse errors name every bad line at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from memgraph_ops.errors import InputError
from memgraph_ops.graph_types import BUILTIN_ABBREVIATIONS, canonical_properties
from memgraph_ops.model import NODE_TYPES

BUILTIN_BY_ABBREVIATION: Final = {v: k for k, v in BUILTIN_ABBREVIATIONS.items()}
_TYPE_ORDER: Final = {name: i for i, name in enumerate(NODE_TYPES)}

NODES_HEADER: Final = "## Nodes"
EDGES_HEADER: Final = "## Edges"
OPEN: Final = "<operations>"
CLOSE: Final = "</operations>"
_BASE = re.compile(r"^<base_snapshot>(?P<v>[^<]*)</base_snapshot>$")
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# An edge: id, ` -rel-> `, id. Ids have no unescaped space or `|`, so the split is unambiguous
# and no node line (which has three unescaped `|`) reads as an edge.
_EDGE_ID = r"(?:\\.|[^ \\|])+"
_EDGE = re.compile(rf"^(?P<src>{_EDGE_ID}) -(?P<rel>[A-Za-z][A-Za-z0-9_]*)-> (?P<dst>{_EDGE_ID})$")
_SEMANTIC = re.compile(r"^(?P<name>[A-Za-z0-9]+)\.(?P<abbr>[A-Z][A-Z0-9]*)\.(?P<n>\d{3,})$")

_ESCAPES: Final = {"\\": "\\\\", "|": "\\|", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ID_ESCAPES: Final = {**_ESCAPES, " ": "\\s"}
_UNESCAPES: Final = {"\\": "\\", "|": "|", "n": "\n", "r": "\r", "t": "\t", "s": " "}


@dataclass(frozen=True, order=True)
class Node:
    id: str
    type: str
    """The node type's name (`Prompt`, or a custom type such as `FUNC`)."""
    name: str = ""
    description: str = ""
    properties: str = ""
    """The node's properties as canonical JSON (`canonical_properties`), or empty."""


@dataclass(frozen=True, order=True)
class Edge:
    src: str
    rel: str
    dst: str


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()

    @classmethod
    def of(cls, nodes: Iterable[Node], edges: Iterable[Edge]) -> Graph:
        """A graph in canonical order (what `parse` returns and `serialize` writes)."""
        return cls(tuple(sorted(nodes, key=_node_key)), tuple(sorted(set(edges), key=_edge_key)))


@dataclass(frozen=True)
class Diff:
    base: str
    """The version of the graph the diff was written against."""
    add_nodes: tuple[Node, ...] = ()
    remove_nodes: tuple[str, ...] = ()
    add_edges: tuple[Edge, ...] = ()
    remove_edges: tuple[Edge, ...] = ()


@dataclass
class FormatEError(InputError):
    """Text that is not Format E: every problem, with its line number."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "not valid Format E: " + "; ".join(self.problems)


# --- writing ----------------------------------------------------------------------------------


def type_label(type_name: str) -> str:
    """What the TYPE field holds for a node type."""
    return BUILTIN_ABBREVIATIONS.get(type_name, type_name)


def serialize(graph: Graph) -> str:
    """The graph as Format E text (canonical: the same graph always gives the same bytes)."""
    lines = [NODES_HEADER]
    lines += [node_line(n) for n in sorted(graph.nodes, key=_node_key)]
    lines.append(EDGES_HEADER)
    lines += [edge_line(e) for e in sorted(set(graph.edges), key=_edge_key)]
    return "\n".join(lines) + "\n"


def node_line(node: Node) -> str:
    fields = [_escape(node.name), type_label(node.type), _escape_id(node.id)]
    fields.append(_escape(node.description))
    if node.properties:
        fields.append(_escape(node.properties))
    return "+ " + "|".join(fields)


def edge_line(edge: Edge) -> str:
    return f"{_escape_id(edge.src)} -{edge.rel}-> {_escape_id(edge.dst)}"


def serialize_diff(diff: Diff) -> str:
    lines = [OPEN, f"<base_snapshot>{diff.base}</base_snapshot>"]
    lines += [node_line(n) for n in diff.add_nodes]
    lines += ["+ " + edge_line(e) for e in diff.add_edges]
    lines += ["- " + edge_line(e) for e in diff.remove_edges]
    lines += ["- " + _escape_id(i) for i in diff.remove_nodes]
    lines.append(CLOSE)
    return "\n".join(lines) + "\n"


def _edge_key(edge: Edge) -> tuple[str, str, str]:
    # (a key of plain tuples sorts in C; the dataclass's own ordering runs Python per compare)
    return (edge.src, edge.rel, edge.dst)


def _node_key(node: Node) -> tuple[int, str, str]:
    return (_TYPE_ORDER.get(node.type, len(_TYPE_ORDER)), node.type, node.id)


_ESCAPE_TABLE: Final = str.maketrans(_ESCAPES)
_ID_ESCAPE_TABLE: Final = str.maketrans(_ID_ESCAPES)


# Most fields need no escape: finding that out is a C-speed search, escaping a translate.
_NEEDS_ESCAPE: Final = re.compile(r"[\\|\n\r\t]")
_ID_NEEDS_ESCAPE: Final = re.compile(r"[\\|\n\r\t ]")


def _escape(text: str) -> str:
    return text.translate(_ESCAPE_TABLE) if _NEEDS_ESCAPE.search(text) else text


def _escape_id(text: str) -> str:
    return text.translate(_ID_ESCAPE_TABLE) if _ID_NEEDS_ESCAPE.search(text) else text


# --- reading ----------------------------------------------------------------------------------


def parse(text: str, *, types: Mapping[str, str] | None = None) -> Graph:
    """A snapshot's graph. `types` maps the TYPE labels a graph may use to type names beyond
    the built-in abbreviations (default: any custom label is its own type name)."""
    problems: list[str] = []
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    section = None
    for number, line in _lines(text):
        if not line.strip():
            continue
        if line in (NODES_HEADER, EDGES_HEADER):
            if section == line or (section == EDGES_HEADER and line == NODES_HEADER):
                problems.append(f"line {number}: {line!r} again or out of order")
            section = line
            continue
        if section is None:
            problems.append(f"line {number}: text before {NODES_HEADER!r}")
        elif section == NODES_HEADER:
            node = _parse_node(line, number, problems, types)
            if node is not None:
                if node.id in nodes:
                    problems.append(f"line {number}: node id {node.id!r} twice")
                nodes[node.id] = node
        else:
            edge = _parse_edge(line, number, problems)
            if edge is not None:
                edges.append(edge)
    if problems:
        raise FormatEError(problems=problems)
    return Graph.of(nodes.values(), edges)


def parse_diff(text: str, *, types: Mapping[str, str] | None = None) -> Diff:
    """An `<operations>` block: its base version and its `+` / `-` lines."""
    problems: list[str] = []
    lines = [(n, line) for n, line in _lines(text) if line.strip()]
    if not lines or lines[0][1].strip() != OPEN or lines[-1][1].strip() != CLOSE:
        raise FormatEError(problems=[f"a diff is an {OPEN} … {CLOSE} block"])
    body = lines[1:-1]
    base = _BASE.match(body[0][1].strip()) if body else None
    if base is None:
        raise FormatEError(
            problems=["the block's first line must be <base_snapshot>VERSION</base_snapshot>"]
        )
    add_nodes: list[Node] = []
    remove_nodes: list[str] = []
    add_edges: list[Edge] = []
    remove_edges: list[Edge] = []
    for number, line in body[1:]:
        sign, rest = line[:2], line[2:]
        if sign not in ("+ ", "- "):
            problems.append(f"line {number}: an operation starts with '+ ' or '- '")
            continue
        if _EDGE.match(rest):
            edge = _parse_edge(rest, number, problems)
            if edge is not None:
                (add_edges if sign == "+ " else remove_edges).append(edge)
        elif sign == "+ ":
            node = _parse_node(line, number, problems, types)
            if node is not None:
                add_nodes.append(node)
        else:
            node_id = _unescape(rest, number, problems)
            if node_id is not None and node_id:
                remove_nodes.append(node_id)
            elif node_id == "":
                problems.append(f"line {number}: '- ' needs the id of the node to remove")
    if problems:
        raise FormatEError(problems=problems)
    return Diff(
        base.group("v").strip(), tuple(add_nodes), tuple(remove_nodes), tuple(add_edges),
        tuple(remove_edges),
    )  # fmt: skip


def _lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines, split at `\n` only (`str.splitlines` also splits at U+2028, U+0085 …,
    which descriptions may hold unescaped); a line ending `\r\n` loses its `\r` (a `\r`
    inside a field is escaped)."""
    return [(n, line.removesuffix("\r")) for n, line in enumerate(text.split("\n"), 1)]


def _parse_node(
    line: str, number: int, problems: list[str], types: Mapping[str, str] | None
) -> Node | None:
    if not line.startswith("+ "):
        problems.append(f"line {number}: a node line starts with '+ '")
        return None
    fields = _split(line[2:])
    if len(fields) not in (4, 5):
        problems.append(
            f"line {number}: a node has 4 fields (Name|TYPE|Id|description) and may have a "
            f"fifth (properties), got {len(fields)}"
        )
        return None
    raw_name, label, raw_id, raw_description = fields[:4]
    name = _unescape(raw_name, number, problems)
    node_id = _unescape(raw_id, number, problems)
    description = _unescape(raw_description, number, problems)
    properties = _properties(fields[4], number, problems) if len(fields) == 5 else ""
    if not _TYPE.match(label):
        problems.append(f"line {number}: TYPE {label!r} is not a type name")
        return None
    if node_id == "":
        problems.append(f"line {number}: the node has no id")
    if name is None or node_id is None or description is None or not node_id:
        return None
    if properties is None:
        return None
    type_name = BUILTIN_BY_ABBREVIATION.get(label) or (types or {}).get(label) or label
    return Node(node_id, type_name, name, description, properties)


def _properties(raw: str, number: int, problems: list[str]) -> str | None:
    """The fifth field: a JSON object, kept in canonical form (so round trips are exact)."""
    text = _unescape(raw, number, problems)
    if text is None:
        return None
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        problems.append(f"line {number}: the fifth field (properties) is a JSON object")
        return None
    return canonical_properties(values) if values else ""


def _parse_edge(line: str, number: int, problems: list[str]) -> Edge | None:
    match = _EDGE.match(line)
    if match is None:
        problems.append(f"line {number}: an edge is 'Source.Id -rel-> Target.Id'")
        return None
    src = _unescape(match.group("src"), number, problems)
    dst = _unescape(match.group("dst"), number, problems)
    if src is None or dst is None:
        return None
    return Edge(src, match.group("rel"), dst)


def _split(text: str) -> list[str]:
    """Fields split at unescaped `|` (escapes kept for `_unescape`)."""
    fields, current, escaped = [], [], False
    for c in text:
        if escaped:
            current += ["\\", c]
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(c)
    if escaped:
        current.append("\\")  # a lone trailing backslash: `_unescape` reports it
    fields.append("".join(current))
    return fields


def _unescape(text: str, number: int, problems: list[str]) -> str | None:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in _UNESCAPES:
                problems.append(f"line {number}: unknown escape {text[i : i + 2]!r}")
                return None
            out.append(_UNESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# --- semantic ids -----------------------------------------------------------------------------


def semantic_id(name: str, abbreviation: str, counter: int) -> str:
    """`{Name}.{TypeAbbr}.{Counter}`: the name in CamelCase without other characters, the
    counter with at least three digits (`ProcessPayment.FN.001`)."""
    camel = "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", name) if w)
    return f"{camel or 'Node'}.{abbreviation}.{counter:03d}"


def next_semantic_id(graph: Graph, name: str, abbreviation: str) -> str:
    """A semantic id for a new node: one more than the highest counter of `abbreviation`."""
    counters = [
        int(m.group("n"))
        for n in graph.nodes
        if (m := _SEMANTIC.match(n.id)) and m.group("abbr") == abbreviation
    ]
    return semantic_id(name, abbreviation, max(counters, default=0) + 1)
