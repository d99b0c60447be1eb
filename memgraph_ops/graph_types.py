"""Custom node and edge types, registered per tenant: graphs beyond the seven built-in types.

A system graph (functions, flows, requirements …) lives in the same store, lake and vault as
the agent sessions: its nodes are ordinary node events whose `type` is a custom type, whose
`session_id` is the graph id, whose `name` and `content` are the Format E name and description,
and whose properties are the JSON object in `attrs`. A tenant registers its types as one
definition (`Store.register_types`); each registration is a new version, kept::

    {"nodes": {"FUNC": {"abbreviation": "FN",
                        "properties": {"language": "string", "lines": "integer"},
                        "required": ["language"]}},
     "edges": {"calls": {"from": ["FUNC"], "to": ["FUNC"]}}}

At ingest, an event of a custom type is checked like a built-in one (`reasons`): the type is
registered for the event's tenant, a node has a graph id, a name and a semantic id of its type's
abbreviation (`ProcessPayment.FN.001`), fields of built-in types stay empty, each property has
its declared JSON type and the required ones are there; an edge joins the node types it allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from memgraph_ops.errors import InputError
from memgraph_ops.model import EDGE_TYPES, FIELDS, NODE_TYPES

PROPERTY_TYPES: Final = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
"""The JSON types a property may be declared with (a bool is not an integer here)."""
BUILTIN_ABBREVIATIONS: Final[dict[str, str]] = {
    "Session": "SES",
    "Prompt": "PRM",
    "Response": "RSP",
    "ToolInvocation": "TOOL",
    "Agent": "AGT",
    "Template": "TPL",
    "ContextSource": "CTX",
}
"""The abbreviation of each built-in node type (Format E's TYPE field, semantic ids)."""
NODE_FIELDS: Final = frozenset({"name", "content"})
"""The typed fields a custom node may set (its name and description); the rest go in `attrs`."""
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_ABBREVIATION = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")
_SEMANTIC = re.compile(r"^[A-Za-z0-9]+\.(?P<abbr>[A-Z][A-Z0-9]*)\.\d{3,}$")


@dataclass(frozen=True)
class CustomNodeType:
    name: str
    abbreviation: str
    properties: Mapping[str, str]
    """Property name → one of `PROPERTY_TYPES`."""
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomEdgeType:
    name: str
    sources: tuple[str, ...]
    """Node types (custom or built-in) the edge may start at."""
    targets: tuple[str, ...]


@dataclass(frozen=True)
class TypeRegistry:
    """A tenant's custom types at one version."""

    tenant: str
    version: int
    nodes: Mapping[str, CustomNodeType]
    edges: Mapping[str, CustomEdgeType]

    @classmethod
    def empty(cls, tenant: str) -> TypeRegistry:
        return cls(tenant, 0, {}, {})

    def abbreviation(self, node_type: str) -> str | None:
        """The semantic-id abbreviation of a node type (built-in or custom)."""
        if node_type in BUILTIN_ABBREVIATIONS:
            return BUILTIN_ABBREVIATIONS[node_type]
        custom = self.nodes.get(node_type)
        return custom.abbreviation if custom is not None else None

    def definition(self) -> dict[str, Any]:
        """The definition this registry was read from (`parse_definition` gives it back)."""
        return {
            "nodes": {
                t.name: {
                    "abbreviation": t.abbreviation,
                    "properties": dict(t.properties),
                    "required": list(t.required),
                }
                for t in self.nodes.values()
            },
            "edges": {
                t.name: {"from": list(t.sources), "to": list(t.targets)}
                for t in self.edges.values()
            },
        }

    def reasons(self, event: Mapping[str, Any]) -> list[str]:
        """Why an upsert of one of this registry's node types may not be stored (an edge's
        checks need its endpoints' types: `endpoint_reason`)."""
        spec = self.nodes.get(str(event.get("type")))
        if event.get("op") != "upsert" or event.get("kind") != "node" or spec is None:
            return []
        return _node_reasons(spec, event)

    def endpoint_reason(self, edge_type: str, end: str, node_type: str | None) -> str | None:
        """Why a custom edge may not start (`end="src"`) or end at a node of `node_type`
        (None: the node is not known yet, which is allowed as for built-in edges)."""
        spec = self.edges.get(edge_type)
        if spec is None or node_type is None:
            return None
        allowed = spec.sources if end == "src" else spec.targets
        if node_type in allowed:
            return None
        verb = "start" if end == "src" else "end"
        return f"{edge_type} must {verb} at a {' or '.join(allowed)}, not a {node_type}"


class TypeDefinitionError(InputError):
    """A type definition that cannot be registered: every problem, named."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("type definition not valid: " + "; ".join(problems))


def parse_definition(tenant: str, version: int, definition: Any) -> TypeRegistry:
    """A registry from its JSON definition; TypeDefinitionError lists every problem."""
    problems: list[str] = []
    if not isinstance(definition, Mapping):
        raise TypeDefinitionError(["a definition is an object with `nodes` and `edges`"])
    unknown = sorted(set(definition) - {"nodes", "edges"})
    if unknown:
        problems.append(f"unknown keys {unknown} (a definition has `nodes` and `edges`)")
    nodes = _node_types(definition.get("nodes") or {}, problems)
    edges = _edge_types(definition.get("edges") or {}, set(nodes) | set(NODE_TYPES), problems)
    if problems:
        raise TypeDefinitionError(problems)
    return TypeRegistry(tenant, version, nodes, edges)


def _node_types(raw: Any, problems: list[str]) -> dict[str, CustomNodeType]:
    if not isinstance(raw, Mapping):
        problems.append("`nodes` is an object of type name → {abbreviation, properties}")
        return {}
    out: dict[str, CustomNodeType] = {}
    seen_abbreviations = dict(
        (abbr, name) for name, abbr in BUILTIN_ABBREVIATIONS.items()
    )  # fmt: skip
    for name, spec in raw.items():
        where = f"node type {name!r}"
        if not _NAME.match(str(name)) or name in NODE_TYPES or name in EDGE_TYPES:
            problems.append(
                f"{where}: a name is a letter then letters, digits or _ (up to 64), "
                "and not a built-in type"
            )
            continue
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: give an object with `abbreviation`")
            continue
        extra = sorted(set(spec) - {"abbreviation", "properties", "required"})
        if extra:
            problems.append(f"{where}: unknown keys {extra}")
        abbreviation = spec.get("abbreviation")
        if not isinstance(abbreviation, str) or not _ABBREVIATION.match(abbreviation):
            problems.append(f"{where}: abbreviation must be capitals and digits, e.g. FN")
            continue
        if abbreviation in seen_abbreviations:
            owner = seen_abbreviations[abbreviation]
            problems.append(f"{where}: abbreviation {abbreviation} is already {owner}'s")
            continue
        seen_abbreviations[abbreviation] = name
        properties = spec.get("properties") or {}
        if not isinstance(properties, Mapping):
            problems.append(f"{where}: properties is an object of name → type")
            continue
        for prop, kind in properties.items():
            if kind not in PROPERTY_TYPES:
                problems.append(
                    f"{where}: property {prop!r} has type {kind!r} "
                    f"(one of {', '.join(PROPERTY_TYPES)})"
                )
        required = spec.get("required") or []
        if not isinstance(required, list) or any(r not in properties for r in required):
            problems.append(f"{where}: required lists declared properties only")
            continue
        out[name] = CustomNodeType(name, abbreviation, dict(properties), tuple(required))
    return out


def _edge_types(raw: Any, node_types: set[str], problems: list[str]) -> dict[str, CustomEdgeType]:
    if not isinstance(raw, Mapping):
        problems.append("`edges` is an object of relation → {from, to}")
        return {}
    out = {}
    for name, spec in raw.items():
        where = f"edge type {name!r}"
        if not _NAME.match(str(name)) or name in EDGE_TYPES or name in NODE_TYPES:
            problems.append(
                f"{where}: a name is a letter then letters, digits or _, and not a built-in type"
            )
            continue
        if not isinstance(spec, Mapping) or set(spec) - {"from", "to"}:
            problems.append(f"{where}: give an object with `from` and `to` lists of node types")
            continue
        ends = []
        for key in ("from", "to"):
            listed = spec.get(key)
            if not isinstance(listed, list) or not listed:
                problems.append(f"{where}: `{key}` is a non-empty list of node types")
                break
            unknown = [t for t in listed if t not in node_types]
            if unknown:
                problems.append(f"{where}: `{key}` names unknown node types {unknown}")
                break
            ends.append(tuple(listed))
        else:
            out[name] = CustomEdgeType(name, ends[0], ends[1])
    return out


def _node_reasons(spec: CustomNodeType, event: Mapping[str, Any]) -> list[str]:
    reasons = []
    if not event.get("session_id"):
        reasons.append(f"{spec.name} needs a session_id (the id of its graph)")
    if event.get("name") is None or not str(event["name"]).strip():
        reasons.append(f"{spec.name} needs name")
    node_id = str(event.get("id") or "")
    match = _SEMANTIC.match(node_id)
    if match is None or match.group("abbr") != spec.abbreviation:
        reasons.append(
            f"{spec.name} id {node_id!r} is not a semantic id Name.{spec.abbreviation}.NNN"
        )
    foreign = sorted(
        f for f in FIELDS if f not in NODE_FIELDS and event.get(f) not in (None, [], "")
    )
    if foreign:
        reasons.append(f"{spec.name} has no field {', '.join(foreign)} (properties go in attrs)")
    reasons += property_reasons(spec, event.get("attrs"))
    return reasons


def property_reasons(spec: CustomNodeType, attrs: Any) -> list[str]:
    """Why a node's properties (its `attrs` JSON object) do not fit its type's schema."""
    if attrs is None or attrs == "":
        values: Any = {}
    else:
        try:
            values = json.loads(attrs) if isinstance(attrs, str) else attrs
        except ValueError:
            return [f"{spec.name} attrs is not JSON"]
    if not isinstance(values, Mapping):
        return [f"{spec.name} properties (attrs) must be a JSON object"]
    reasons = []
    for prop, value in values.items():
        kind = spec.properties.get(prop)
        if kind is None:
            known = ", ".join(spec.properties) or "none"
            reasons.append(f"{spec.name} has no property {prop!r} (declared: {known})")
        elif value is not None and not _is(value, kind):
            reasons.append(f"{spec.name} property {prop!r} must be {kind}, got {value!r}")
    missing = [p for p in spec.required if values.get(p) is None]
    if missing:
        reasons.append(f"{spec.name} needs propert{'y' if len(missing) == 1 else 'ies'} {missing}")
    return reasons


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    return isinstance(value, PROPERTY_TYPES[kind])


def canonical_properties(values: Mapping[str, Any]) -> str:
    """Properties as the JSON text Format E and `attrs` hold (sorted keys, no spaces)."""
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
