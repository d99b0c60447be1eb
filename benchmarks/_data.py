"""Synthetic but realistic event batches for the benchmarks (no dependency on the workload
generator, so every benchmark but `lake_bytes` runs on a bare checkout).

Sessions of 20-70 events: a Session node, 4-8 turns of Prompt → Response (200-800 chars of
text each), 0-2 ToolInvocations per response with JSON parameters and results, and the
RESPONDS_TO / INVOKES / FOLLOWS / HANDLED_BY / INSTANTIATES edges between them, to a few
global Agents and Templates. Text is cut from a Zipf-distributed word corpus, so it is unique
per event and compresses about as well as prose. Every column of `EVENT_SCHEMA` is present.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from memgraph_ops.model import EVENT_SCHEMA, STORED_EVENT_SCHEMA

TENANTS = ("acme", "globex", "initech", "umbrella", "hooli")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-3-70b")
TOOLS = ("search", "calculator", "sql_query", "http_get", "code_exec", "calendar", "email_send")
FINISH = ("stop", "stop", "stop", "length", "tool_calls")
N_AGENTS = 20
N_TEMPLATES = 50
BASE_US = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)

_CORPUS: str | None = None


def corpus() -> str:
    """About 16 MB of Zipf-distributed pseudo-English (deterministic)."""
    global _CORPUS
    if _CORPUS is None:
        rng = np.random.default_rng(12345)
        syllables = [
            "ka",
            "lo",
            "mi",
            "ne",
            "ru",
            "ta",
            "po",
            "si",
            "de",
            "an",
            "er",
            "th",
            "in",
            "on",
            "re",
            "st",
            "al",
            "ou",
            "ch",
            "ly",
        ]
        vocab = []
        for _ in range(8000):
            n = int(rng.integers(1, 4))
            vocab.append("".join(rng.choice(syllables, n)))
        ranks = np.arange(1, len(vocab) + 1)
        p = 1.0 / ranks**1.1
        words = rng.choice(np.array(vocab), size=3_000_000, p=p / p.sum())
        _CORPUS = " ".join(words.tolist())
    return _CORPUS


@dataclass
class _Ids:
    """A pool of UUID-formatted ids drawn from a seeded generator."""

    rng: np.random.Generator
    pool: list[str] = field(default_factory=list)

    def take(self) -> str:
        if not self.pool:
            raw = self.rng.bytes(16 * 65536).hex()
            self.pool = [
                f"{raw[i : i + 8]}-{raw[i + 8 : i + 12]}-{raw[i + 12 : i + 16]}-"
                f"{raw[i + 16 : i + 20]}-{raw[i + 20 : i + 32]}"
                for i in range(0, len(raw), 32)
            ]
        return self.pool.pop()


def agent_ids() -> list[str]:
    return [f"agent.{i:03d}" for i in range(N_AGENTS)]


def template_ids() -> list[str]:
    return [f"template.{i:03d}" for i in range(N_TEMPLATES)]


class Generator:
    """Deterministic stream of sessions; `batches(n_events, batch_rows)` cuts it into tables.

    Global Agent and Template nodes are emitted once, at the start of the first batch.
    """

    def __init__(self, seed: int = 0, *, globals_first: bool = True) -> None:
        self.rng = np.random.default_rng(seed)
        self.ids = _Ids(np.random.default_rng(seed + 1_000_003))
        self.text = corpus()
        self._globals_pending = globals_first
        self.sessions: list[str] = []

    def _slice(self, low: int, high: int) -> str:
        n = int(self.rng.integers(low, high))
        start = int(self.rng.integers(0, len(self.text) - n))
        return self.text[start : start + n]

    def _globals(self, rows: dict[str, dict[str, list[Any]]], emit: Any) -> None:
        for i, aid in enumerate(agent_ids()):
            emit(
                "Agent",
                "node",
                {
                    "id": aid,
                    "session_id": None,
                    "tenant": TENANTS[0],
                    "name": f"agent-{i}",
                    "role": ("planner", "coder", "critic")[i % 3],
                    "capabilities": list(TOOLS[: 2 + i % 5]),
                },
                BASE_US,
            )
        for i, tid in enumerate(template_ids()):
            emit(
                "Template",
                "node",
                {
                    "id": tid,
                    "session_id": None,
                    "tenant": TENANTS[0],
                    "name": f"template-{i}",
                    "version": f"1.{i % 7}.0",
                    "template": self._slice(200, 600),
                    "variables": json.dumps([{"name": "topic", "required": True}]),
                    "parent_id": template_ids()[i // 2] if i else None,
                },
                BASE_US,
            )

    def table(self, n_events: int) -> pa.Table:
        """At least `n_events` events (whole sessions), as an `EVENT_SCHEMA` table."""
        rows: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        count = 0

        def emit(type_: str, kind: str, fields: dict[str, Any], at_us: int) -> None:
            nonlocal count
            cols = rows[f"{kind}:{type_}"]
            cols["_ord"].append(count)
            cols["event_id"].append(self.ids.take())
            cols["type"].append(type_)
            cols["kind"].append(kind)
            cols["occurred_at"].append(at_us)
            for k, v in fields.items():
                cols[k].append(v)
            count += 1

        if self._globals_pending:
            self._globals(rows, emit)
            self._globals_pending = False
        rng = self.rng
        while count < n_events:
            sid = self.ids.take()
            self.sessions.append(sid)
            tenant = TENANTS[int(rng.integers(0, len(TENANTS)))]
            t = BASE_US + int(rng.integers(0, 30 * 86400)) * 1_000_000
            common = {"session_id": sid, "tenant": tenant}
            emit(
                "Session",
                "node",
                {
                    **common,
                    "id": sid,
                    "user_id": f"user-{int(rng.integers(0, 50_000)):05d}",
                    "tags": ["prod", TOOLS[int(rng.integers(0, 7))]],
                    "metadata": json.dumps({"client": "sdk-py", "region": "eu"}),
                },
                t,
            )
            previous = None
            model = MODELS[int(rng.integers(0, len(MODELS)))]
            for turn in range(int(rng.integers(4, 9))):
                t += int(rng.integers(5, 120)) * 1_000_000
                pid, rid = self.ids.take(), self.ids.take()
                templated = rng.random() < 0.3
                template = template_ids()[int(rng.integers(0, N_TEMPLATES))] if templated else None
                emit(
                    "Prompt",
                    "node",
                    {
                        **common,
                        "id": pid,
                        "content": self._slice(200, 800),
                        "is_system": turn == 0,
                        "model": model,
                        "template_id": template,
                        "template_version": "1.2.0" if templated else None,
                        "variables": json.dumps({"topic": self._slice(8, 30)})
                        if templated
                        else None,
                        "temperature": 0.7,
                        "max_tokens": 1024,
                        "tools_available": list(TOOLS[:3]),
                        "metadata": json.dumps({"turn": turn}),
                    },
                    t,
                )
                agent = agent_ids()[int(rng.integers(0, N_AGENTS))]
                emit(
                    "HANDLED_BY",
                    "edge",
                    {
                        **common,
                        "src": pid,
                        "dst": agent,
                        "duration_ms": float(rng.integers(5, 900)),
                        "confidence_score": float(rng.random()),
                    },
                    t,
                )
                if templated:
                    emit(
                        "INSTANTIATES",
                        "edge",
                        {**common, "src": pid, "dst": template, "template_version": "1.2.0"},
                        t,
                    )
                if previous is not None:
                    emit(
                        "FOLLOWS",
                        "edge",
                        {
                            **common,
                            "src": previous,
                            "dst": pid,
                            "time_delta_ms": 30_000.0,
                            "context_overlap": float(rng.random()),
                        },
                        t,
                    )
                previous = pid
                t += int(rng.integers(1, 20)) * 1_000_000
                ptok, ctok = int(rng.integers(50, 3000)), int(rng.integers(20, 800))
                emit(
                    "Response",
                    "node",
                    {
                        **common,
                        "id": rid,
                        "prompt_id": pid,
                        "content": self._slice(200, 800),
                        "finish_reason": FINISH[int(rng.integers(0, 5))],
                        "prompt_tokens": ptok,
                        "completion_tokens": ctok,
                        "total_tokens": ptok + ctok,
                        "model": model,
                    },
                    t,
                )
                emit(
                    "RESPONDS_TO",
                    "edge",
                    {
                        **common,
                        "src": rid,
                        "dst": pid,
                        "latency_ms": float(rng.integers(200, 9000)),
                        "model_version": model + "-2025",
                    },
                    t,
                )
                for order in range(int(rng.choice(3, p=(0.4, 0.4, 0.2)))):
                    t += 1_000
                    tool_id = self.ids.take()
                    ok = rng.random() > 0.05
                    emit(
                        "ToolInvocation",
                        "node",
                        {
                            **common,
                            "id": tool_id,
                            "response_id": rid,
                            "tool_name": TOOLS[int(rng.integers(0, 7))],
                            "parameters": json.dumps({"query": self._slice(20, 120)}),
                            "result": json.dumps({"text": self._slice(100, 400)}) if ok else None,
                            "error": None if ok else "timeout after 30s",
                            "duration_ms": float(rng.integers(5, 5000)),
                            "success": ok,
                        },
                        t,
                    )
                    emit(
                        "INVOKES",
                        "edge",
                        {
                            **common,
                            "src": rid,
                            "dst": tool_id,
                            "invocation_order": order,
                            "success": ok,
                        },
                        t,
                    )
        return _assemble(rows)

    def batches(self, n_events: int, batch_rows: int) -> Iterator[pa.Table]:
        """Exactly `n_events` events in tables of `batch_rows` (sessions may straddle
        batches, as they do in live ingest), generated a chunk at a time."""
        buffer = self.table(0)  # the global nodes, if still to come
        done = 0
        while done < n_events:
            want = min(batch_rows, n_events - done)
            while buffer.num_rows < want:
                more = self.table(max(want - buffer.num_rows, 100_000))
                buffer = pa.concat_tables([buffer, more]).combine_chunks()
            yield buffer.slice(0, want)
            buffer = buffer.slice(want)
            done += want


def _assemble(rows: dict[str, dict[str, list[Any]]]) -> pa.Table:
    if not rows:
        return EVENT_SCHEMA.empty_table()
    parts = []
    for key, cols in rows.items():
        kind, _ = key.split(":")
        n = len(cols["_ord"])
        arrays: dict[str, pa.Array] = {"_ord": pa.array(cols["_ord"], pa.int64())}
        for f in EVENT_SCHEMA:
            if f.name == "occurred_at":
                arrays[f.name] = pa.array(cols[f.name], pa.int64()).cast(f.type)
            elif f.name == "op":
                arrays[f.name] = pa.array(["upsert"] * n, f.type)
            elif f.name in cols:
                arrays[f.name] = pa.array(cols[f.name], f.type)
            else:
                arrays[f.name] = pa.nulls(n, f.type)
        del kind
        parts.append(pa.table(arrays))
    table = pa.concat_tables(parts)
    order = np.argsort(table.column("_ord").to_numpy(), kind="stable")
    return table.take(pa.array(order)).drop_columns(["_ord"]).cast(EVENT_SCHEMA)


def with_store_columns(table: pa.Table, first_seq: int) -> pa.Table:
    """The batch as the store keeps it (`seq`, `ingested_at` first), for bare-engine baselines."""
    n = table.num_rows
    seq = pa.array(np.arange(first_seq, first_seq + n, dtype=np.int64))
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    ingested = pa.array(np.full(n, now_us, dtype=np.int64)).cast(
        STORED_EVENT_SCHEMA.field("ingested_at").type
    )
    columns = [seq, ingested, *table.columns]
    return pa.Table.from_arrays(columns, schema=STORED_EVENT_SCHEMA)


def to_jsonl_rows(table: pa.Table) -> list[str]:
    """The table as JSONL lines the way a runtime would send them: absent fields omitted,
    timestamps as RFC 3339."""
    out = []
    for row in table.to_pylist():
        doc = {}
        for k, v in row.items():
            if v is None:
                continue
            doc[k] = v.isoformat() if isinstance(v, datetime) else v
        out.append(json.dumps(doc, ensure_ascii=False))
    return out
