"""Spans for the OpenTelemetry import tests, and the graph a store ends up holding."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from memgraph_ops.imports.otlp import OtelEvent, OtelSpan
from memgraph_ops.state import fold
from memgraph_ops.store import Store

SPEC_EXAMPLES = Path(__file__).parent / "data" / "otel_spec_examples.json"
BASE_NS = 1_764_000_000_000_000_000


def hex_id(name: str, size: int) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[: size * 2]


def attribute(value: Any) -> Any:
    """As an instrumentation records it: structured values as JSON text, lists of scalars as
    OTLP arrays."""
    if isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    ):
        return json.dumps(value)
    return value


def span(
    trace: str,
    name_id: str,
    name: str,
    *,
    parent: str | None = None,
    start: float = 0.0,
    duration: float = 0.5,
    kind: str = "INTERNAL",
    status: str = "UNSET",
    attributes: dict[str, Any] | None = None,
    events: list[OtelEvent] | None = None,
) -> OtelSpan:
    """A span of trace `trace`, named `name_id` in the test; times in seconds from a base."""
    return OtelSpan(
        trace_id=hex_id(trace, 16),
        span_id=hex_id(trace + "/" + name_id, 8),
        parent_span_id=hex_id(trace + "/" + parent, 8) if parent else None,
        name=name,
        kind=kind,
        start_ns=BASE_NS + int(start * 1e9),
        end_ns=BASE_NS + int((start + duration) * 1e9),
        attributes={k: attribute(v) for k, v in (attributes or {}).items()},
        events=tuple(events or ()),
        status_code=status,
    )


def spec_examples() -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = json.loads(SPEC_EXAMPLES.read_text())
    return examples


def spec_spans(example: dict[str, Any]) -> list[OtelSpan]:
    """An example of the spec as spans: one second apart in the order shown, children inside
    nothing in particular (the spec shows no times)."""
    trace = example["source"]
    return [
        span(
            trace,
            s["span_id"] or f"span{i}",
            s["name"],
            parent=s.get("parent"),
            start=float(i),
            kind=s.get("kind") or "INTERNAL",
            status=s.get("status") or "UNSET",
            attributes=s.get("attributes") or {},
        )
        for i, s in enumerate(example["spans"])
    ]


_MOVING = ("created_at", "updated_at", "occurred_at", "seq", "event_id", "ingested_at")


def graph(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    """Every live node and edge of the store, by (kind, id), without times and seqs."""
    tables = list(store.events_after(0, batch_rows=100_000))
    if not tables:
        return {}
    rows = pa.concat_tables(tables).to_pylist()
    by_item: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_item[(row["kind"], row["id"])].append(row)
    out = {}
    for key, events in by_item.items():
        state = fold(events)
        if state is not None:
            out[key] = {k: v for k, v in state.items() if k not in _MOVING and v is not None}
    return out


def nodes(g: dict[tuple[str, str], dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [v for (kind, _), v in sorted(g.items()) if kind == "node" and v["type"] == type_]


def edges(g: dict[tuple[str, str], dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [v for (kind, _), v in sorted(g.items()) if kind == "edge" and v["type"] == type_]
