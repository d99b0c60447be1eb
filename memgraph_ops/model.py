"""The graph's data model: node and edge types, their fields, and the event schema.

One wide Arrow schema carries every event: the envelope (`event_id`, `op`, `kind`, `type`, `id`
or `src`/`dst`, `session_id`, `tenant`, `occurred_at`), a typed column for every field of every
node and edge type (analytics never parse JSON for latency or tokens), and a JSON `attrs`
column for anything else. Validation lives in `memgraph_ops.validation`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final, Literal

import pyarrow as pa

SCHEMA_VERSION: Final = 1

Op = Literal["upsert", "delete"]
Kind = Literal["node", "edge"]
OPS: Final = ("upsert", "delete")
KINDS: Final = ("node", "edge")

TS = pa.timestamp("us", tz="UTC")
STR = pa.string()
STR_LIST = pa.list_(pa.string())

# Fields whose values are JSON documents; dict or list input is serialised to a JSON string.
JSON_FIELDS: Final = frozenset(
    {"metadata", "variables", "parameters", "result", "variable_bindings", "attrs"}
)
LIST_FIELDS: Final = frozenset({"tags", "tools_available", "capabilities", "override_sections"})

# Every typed field of every node and edge type, with its Arrow type.
FIELDS: Final[dict[str, pa.DataType]] = {
    # Session
    "user_id": STR,
    "tags": STR_LIST,
    "metadata": STR,
    "forked_from": STR,
    # Prompt
    "content": STR,
    "is_system": pa.bool_(),
    "template_id": STR,
    "template_version": STR,
    "variables": STR,
    "model": STR,
    "temperature": pa.float64(),
    "max_tokens": pa.int64(),
    "tools_available": STR_LIST,
    # Response
    "prompt_id": STR,
    "finish_reason": STR,
    "prompt_tokens": pa.int64(),
    "completion_tokens": pa.int64(),
    "total_tokens": pa.int64(),
    # ToolInvocation
    "response_id": STR,
    "tool_name": STR,
    "parameters": STR,
    "result": STR,
    "error": STR,
    "duration_ms": pa.float64(),
    "success": pa.bool_(),
    # Agent
    "name": STR,
    "role": STR,
    "capabilities": STR_LIST,
    # Template
    "version": STR,
    "template": STR,
    "parent_id": STR,
    # ContextSource (`source_kind` because `kind` is the event's node/edge discriminator)
    "uri": STR,
    "source_kind": STR,
    # edges
    "time_delta_ms": pa.float64(),
    "context_overlap": pa.float64(),
    "latency_ms": pa.float64(),
    "model_version": STR,
    "invocation_order": pa.int64(),
    "variable_bindings": STR,
    "override_sections": STR_LIST,
    "version_diff": STR,
    "confidence_score": pa.float64(),
    "handoff_reason": STR,
    "context_summary": STR,
    "context_type": STR,
    "relevance_score": pa.float64(),
}

ENVELOPE: Final[dict[str, pa.DataType]] = {
    "event_id": STR,
    "op": STR,
    "kind": STR,
    "type": STR,
    "id": STR,
    "src": STR,
    "dst": STR,
    "session_id": STR,
    "tenant": STR,
    "occurred_at": TS,
}

EVENT_SCHEMA: Final = pa.schema(
    [
        *(pa.field(n, t) for n, t in ENVELOPE.items()),
        *(pa.field(n, t) for n, t in FIELDS.items()),
        pa.field("attrs", STR),
    ]
)
"""An event as accepted from users (before the store assigns `seq` and `ingested_at`)."""

STORED_EVENT_SCHEMA: Final = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("ingested_at", TS, nullable=False),
        *EVENT_SCHEMA,
    ]
)
"""An event as kept in the operational store."""


@dataclass(frozen=True)
class NodeType:
    name: str
    fields: tuple[str, ...]
    required: tuple[str, ...] = ()
    session_scoped: bool = True


@dataclass(frozen=True)
class EdgeType:
    name: str
    src: str
    dst: str
    fields: tuple[str, ...]
    required: tuple[str, ...] = field(default=())


NODE_TYPES: Final[dict[str, NodeType]] = {
    t.name: t
    for t in (
        NodeType("Session", ("user_id", "tags", "metadata", "forked_from")),
        NodeType(
            "Prompt",
            (
                "content",
                "is_system",
                "template_id",
                "template_version",
                "variables",
                "model",
                "temperature",
                "max_tokens",
                "tools_available",
                "metadata",
            ),
            required=("content",),
        ),
        NodeType(
            "Response",
            (
                "prompt_id",
                "content",
                "finish_reason",
                "prompt_tokens",
                "completion_tokens",
                "total_tokens",
                "model",
                "metadata",
            ),
            required=("prompt_id",),
        ),
        NodeType(
            "ToolInvocation",
            (
                "response_id",
                "tool_name",
                "parameters",
                "result",
                "error",
                "duration_ms",
                "success",
                "metadata",
            ),
            required=("response_id", "tool_name"),
        ),
        NodeType(
            "Agent", ("name", "role", "capabilities"), required=("name",), session_scoped=False
        ),
        NodeType(
            "Template",
            ("name", "version", "template", "variables", "parent_id"),
            required=("name", "version", "template"),
            session_scoped=False,
        ),
        NodeType(
            "ContextSource",
            ("uri", "source_kind", "content", "metadata"),
            session_scoped=False,
        ),
    )
}

# Edges that order things in time point back in time: a later Prompt FOLLOWS the earlier one
# (so a prompt with two incoming FOLLOWS edges is a fork), a Response RESPONDS_TO its Prompt.
EDGE_TYPES: Final[dict[str, EdgeType]] = {
    t.name: t
    for t in (
        EdgeType("FOLLOWS", "Prompt", "Prompt", ("time_delta_ms", "context_overlap")),
        EdgeType("RESPONDS_TO", "Response", "Prompt", ("latency_ms", "model_version")),
        EdgeType("INVOKES", "Response", "ToolInvocation", ("invocation_order", "success")),
        EdgeType("INSTANTIATES", "Prompt", "Template", ("template_version", "variable_bindings")),
        EdgeType("INHERITS", "Template", "Template", ("override_sections", "version_diff")),
        EdgeType("HANDLED_BY", "Prompt", "Agent", ("duration_ms", "confidence_score")),
        EdgeType("TRANSFERS_TO", "Response", "Agent", ("handoff_reason", "context_summary")),
        EdgeType("REFERENCES", "Prompt", "ContextSource", ("context_type", "relevance_score")),
    )
}

FINISH_REASONS: Final = ("stop", "length", "tool_calls", "content_filter", "function_call", "error")

# Fields that must lie in [0, 1] and fields that must not be negative.
UNIT_INTERVAL_FIELDS: Final = ("context_overlap", "confidence_score", "relevance_score")
NON_NEGATIVE_FIELDS: Final = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "max_tokens",
    "duration_ms",
    "latency_ms",
    "time_delta_ms",
    "invocation_order",
)

SEMVER_PATTERN: Final = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

NODE_FIELDS: Final = tuple(dict.fromkeys(f for t in NODE_TYPES.values() for f in t.fields))
EDGE_FIELDS: Final = tuple(dict.fromkeys(f for t in EDGE_TYPES.values() for f in t.fields))


def edge_key(src: str, type_: str, dst: str) -> str:
    """The id of an edge that was sent without one: stable, so re-sent edges upsert."""
    return f"{src}|{type_}|{dst}"


def imported_event_id(conversation_id: str, node_or_edge_id: str) -> str:
    """The event id of a node or edge imported from a conversation (`import-chat`): stable
    across imports, and derivable, so the vault need not store it."""
    digest = hashlib.sha256(
        "\x1f".join((conversation_id, node_or_edge_id, "import-chat")).encode()
    ).hexdigest()
    return f"chat-{digest[:32]}"
