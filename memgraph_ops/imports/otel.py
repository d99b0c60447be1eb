"""OpenTelemetry GenAI and OpenInference spans mapped to graph events: a pure function over
the spans of one trace.

What a span becomes (the normative conventions are in `../shared/data/otel-genai-spec/`):

- The trace is one **Session**: `gen_ai.conversation.id` or `session.id` from any span of the
  trace (the root's first, then the earliest span's), else `otel:{trace_id}`; `user.id` or
  `enduser.id` is its user.
- An **LLM call** (`gen_ai.operation.name` chat / text_completion / generate_content /
  embeddings, OpenInference kind LLM or EMBEDDING, or a span with `gen_ai.*` messages) becomes
  Prompts for its input messages (system instructions a system Prompt), Responses for its output
  messages, `RESPONDS_TO` from each Response to the latest Prompt before it (latency = the
  span's duration, model version = `gen_ai.response.model`), token usage and finish reasons on
  the Response. A call without captured content (the SDKs' default) still gives one Prompt (a
  placeholder text) and one Response with its usage.
- Messages are read from every generation of the conventions: `gen_ai.input.messages` /
  `gen_ai.output.messages` / `gen_ai.system_instructions` (JSON with parts) on the span or on a
  `gen_ai.client.inference.operation.details` event; the older per-message events
  (`gen_ai.user.message`, `gen_ai.choice` …); the flattened `gen_ai.prompt.N.*` /
  `gen_ai.completion.N.*` attributes; OpenInference's `llm.input_messages.N.message.*`.
- Tool calls (parts of output messages) and **tool spans** (`execute_tool`, OpenInference TOOL)
  become ToolInvocations, one per call id, with parameters, result, error, `success` and
  `duration_ms`; `INVOKES` from the Response that asked for them.
- **Agent spans** (`invoke_agent`, `create_agent`, OpenInference AGENT) and agent names become
  Agents; the Prompt of each LLM call under an agent is `HANDLED_BY` it, and when consecutive
  calls are handled by different agents the earlier call's Response `TRANSFERS_TO` the next.
- Consecutive Prompts of the trace are linked by `FOLLOWS` (later -> earlier).
- **Retrieval** (OpenInference RETRIEVER `retrieval.documents.N.document.*`, or
  `gen_ai.retrieval.documents`) gives ContextSources, `REFERENCES` from the Prompt of the next
  LLM call.
- Attributes nothing above reads are kept in the `attrs` of the node the span became (under
  `otel`), and spans that become no node are listed in the Session's `attrs`: nothing is
  dropped.

Ids are derived from content and position, never from arrival: a message at position i of a
session with the same role and text is the same node whichever call re-sent it (chat APIs send
the whole history every time), a tool call is named by its call id, a call without content by
its span id. Event ids hash the event itself, so re-sending spans is a no-op, and mapping the
spans of a trace in any order, in one request or many, gives the same events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from memgraph_ops.imports.otlp import OtelSpan
from memgraph_ops.model import FINISH_REASONS, edge_key

NO_CONTENT: Final = "[content not captured]"
"""Text of the Prompt of an LLM call whose messages were not recorded (content capture is off
by default in the OpenTelemetry instrumentations)."""

LLM_OPERATIONS: Final = frozenset(
    {"chat", "text_completion", "generate_content", "completion", "embeddings"}
)
AGENT_OPERATIONS: Final = frozenset({"invoke_agent", "create_agent"})
TOOL_OPERATIONS: Final = frozenset({"execute_tool"})
RETRIEVAL_OPERATIONS: Final = frozenset({"retrieval", "retrieve"})

_SESSION_KEYS: Final = ("gen_ai.conversation.id", "session.id", "conversation.id")
_USER_KEYS: Final = ("user.id", "enduser.id", "gen_ai.user.id")
_OLD_MESSAGE_EVENTS: Final = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_DETAILS_EVENT: Final = "gen_ai.client.inference.operation.details"
_MODEL_CALL_KEYS: Final = (
    "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
    "llm.request.type", "ai.prompt.messages", "gen_ai.prompt", "gen_ai.completion",
)  # fmt: skip
_MESSAGE_EVENTS: Final = frozenset({*_OLD_MESSAGE_EVENTS, "gen_ai.choice", _DETAILS_EVENT})


@dataclass
class Message:
    """A chat message normalised from any convention."""

    role: str
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """`{"id", "name", "arguments"}` of each tool call the message asks for."""
    tool_call_id: str | None = None
    """For a tool result: the call it answers."""
    finish_reason: str | None = None


@dataclass
class TraceMapping:
    session_id: str
    events: list[dict[str, Any]]
    issues: list[str]


def trace_events(spans: Sequence[OtelSpan], *, tenant: str) -> TraceMapping:
    """The events of one trace's spans (all of them that have arrived; in any order)."""
    return _Trace(spans, tenant).build()


def span_problem(span: OtelSpan) -> str | None:
    """Why a span cannot be mapped at all (it is quarantined with this reason), or None."""
    if len(span.trace_id) != 32 or span.trace_id == "0" * 32:
        return f"invalid trace id {span.trace_id!r}: OTLP trace ids are 16 bytes, not all zero"
    if len(span.span_id) != 16 or span.span_id == "0" * 16:
        return f"invalid span id {span.span_id!r}: OTLP span ids are 8 bytes, not all zero"
    if span.parent_span_id is not None and len(span.parent_span_id) != 16:
        return f"invalid parent span id {span.parent_span_id!r}"
    if span.start_ns <= 0:
        return "span has no start time"
    if span.end_ns and span.end_ns < span.start_ns:
        return "span ends before it starts"
    return None


# --- reading the conventions ------------------------------------------------------------------


def operation(span: OtelSpan) -> str:
    """What the span is: llm, tool, agent, retrieval or other."""
    attrs = span.attributes
    op = str(attrs.get("gen_ai.operation.name") or "").lower()
    # OpenInference's span kind, or OpenLLMetry's (traceloop.span.kind: tool, agent, task…)
    kind = str(
        attrs.get("openinference.span.kind") or attrs.get("traceloop.span.kind") or ""
    ).upper()
    first_word = span.name.split(" ", 1)[0].lower()
    if op in TOOL_OPERATIONS or kind == "TOOL" or (not op and first_word == "execute_tool"):
        return "tool"
    if op in AGENT_OPERATIONS or kind == "AGENT" or (not op and first_word in AGENT_OPERATIONS):
        return "agent"
    if op in RETRIEVAL_OPERATIONS or kind in ("RETRIEVER", "RERANKER"):
        return "retrieval"
    if (
        op in LLM_OPERATIONS
        or kind in ("LLM", "EMBEDDING")
        or (not op and first_word in LLM_OPERATIONS)
    ):
        return "llm"
    if any(
        k.startswith(
            ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.prompts.")
        )
        for k in attrs
    ):
        return "llm"
    if "gen_ai.input.messages" in attrs or "gen_ai.output.messages" in attrs:
        return "llm"
    if any(e.name in _MESSAGE_EVENTS for e in span.events):
        return "llm"
    # a model call by its model or usage (the Vercel AI SDK's `ai.*.doGenerate` spans carry
    # `gen_ai.request.model` and usage but no operation name)
    if any(k in attrs for k in _MODEL_CALL_KEYS):
        return "llm"
    return "other"


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _parts_text(parts: Any) -> tuple[str, list[dict[str, Any]], list[tuple[str | None, Any]]]:
    """Text, tool calls and tool results of a list of message parts (new conventions)."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[tuple[str | None, Any]] = []
    if isinstance(parts, str):
        return parts, calls, results
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text" or (kind is None and "content" in part):
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            calls.append(
                {
                    "id": _id(part.get("id")),
                    "name": part.get("name"),
                    "arguments": part.get("arguments"),
                }
            )
        elif kind == "tool_call_response":
            results.append((_id(part.get("id")), part.get("response", part.get("result"))))
        elif kind == "reasoning":
            continue  # the model's reasoning is not the message (kept in attrs)
        else:  # blob, file, uri, server tool calls …: described, not inlined
            texts.append(
                f"[{kind}: {part.get('mime_type') or part.get('modality') or ''}]".replace(
                    ": ]", "]"
                )
            )
    return "\n".join(t for t in texts if t), calls, results


def _id(value: Any) -> str | None:
    # (the spec's own example writes " call_VSPygqKTWdrhaFErNvMV18Yl" with a space once)
    return str(value).strip() or None if value is not None else None


def _new_messages(raw: Any) -> list[Message]:
    out: list[Message] = []
    for item in _loads(raw) if isinstance(_loads(raw), list) else []:
        if not isinstance(item, Mapping):
            continue
        role = str(item.get("role") or "user")
        text, calls, results = _parts_text(item.get("parts", item.get("content")))
        if results:
            for call_id, result in results:
                out.append(Message("tool", _text(result), tool_call_id=call_id))
            continue
        out.append(Message(role, text, calls, finish_reason=item.get("finish_reason")))
    return out


def _system_instructions(raw: Any) -> str | None:
    value = _loads(raw)
    if value is None:
        return None
    text, _, _ = _parts_text(value)
    return text or None


def _indexed(attrs: Mapping[str, Any], prefix: str) -> dict[int, dict[str, Any]]:
    """`prefix.N.rest` attributes grouped by N: {N: {rest: value}}."""
    out: dict[int, dict[str, Any]] = {}
    start = prefix + "."
    for key, value in attrs.items():
        if key.startswith(start):
            index, _, rest = key[len(start) :].partition(".")
            if index.isdigit() and rest:
                out.setdefault(int(index), {})[rest] = value
    return dict(sorted(out.items()))


def _flat_messages(attrs: Mapping[str, Any], prefix: str) -> list[Message]:
    """OpenLLMetry's `gen_ai.prompt.N.role/content` and `gen_ai.completion.N.*`."""
    out = []
    for fields in _indexed(attrs, prefix).values():
        calls = [
            {"id": _id(c.get("id")), "name": c.get("name"), "arguments": c.get("arguments")}
            for c in _indexed(fields, "tool_calls").values()
        ]
        out.append(
            Message(
                str(fields.get("role") or ("assistant" if "completion" in prefix else "user")),
                _text(fields.get("content", "")),
                calls,
                tool_call_id=_id(fields.get("tool_call_id")),
                finish_reason=fields.get("finish_reason"),
            )
        )
    return out


def _openinference_messages(attrs: Mapping[str, Any], prefix: str) -> list[Message]:
    out = []
    for fields in _indexed(attrs, prefix).values():
        text = fields.get("message.content")
        if text is None:
            parts = _indexed(fields, "message.contents")
            text = "\n".join(
                str(p.get("message_content.text"))
                for p in parts.values()
                if p.get("message_content.text")
            )
        calls = [
            {
                "id": _id(c.get("tool_call.id")),
                "name": c.get("tool_call.function.name"),
                "arguments": c.get("tool_call.function.arguments"),
            }
            for c in _indexed(fields, "message.tool_calls").values()
        ]
        out.append(
            Message(
                str(fields.get("message.role") or "user"),
                _text(text or ""),
                calls,
                tool_call_id=_id(fields.get("message.tool_call_id")),
            )
        )
    return out


def _openai_messages(raw: Any, *, role: str = "user") -> list[Message]:
    """Messages in the OpenAI chat format (`{"role", "content", "tool_calls"?,
    "tool_call_id"?}`; content a string or a list of `{"type": "text", "text"}` parts)."""
    value = _loads(raw)
    if isinstance(value, Mapping):
        value = [value]
    out: list[Message] = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        content = item.get("content")
        if isinstance(content, list):
            content = "\n".join(
                str(p.get("text") or p.get("content") or "")
                for p in content
                if isinstance(p, Mapping) and p.get("type") in (None, "text", "input_text")
            )
        calls = item.get("tool_calls") or []
        out.append(
            Message(
                str(item.get("role") or role),
                _text(content),
                [_old_call(c) for c in calls if isinstance(c, Mapping)],
                tool_call_id=_id(item.get("tool_call_id")),
                finish_reason=item.get("finish_reason"),
            )
        )
    return out


def _logfire_events(raw: Any) -> tuple[list[Message], list[Message]]:
    """Pydantic Logfire records the older per-message events as one `events` attribute: a JSON
    list of `{"event.name": "gen_ai.user.message", "content", "role"…}`."""
    value = _loads(raw)
    inputs: list[Message] = []
    outputs: list[Message] = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        name = item.get("event.name")
        if name in _OLD_MESSAGE_EVENTS:
            inputs += _openai_messages(
                {**item, "role": item.get("role") or _OLD_MESSAGE_EVENTS[name]}
            )
        elif name == "gen_ai.choice":
            inner = item.get("message")
            message: Mapping[str, Any] = inner if isinstance(inner, Mapping) else item
            outputs += _openai_messages(
                {**message, "finish_reason": item.get("finish_reason")}, role="assistant"
            )
    return inputs, outputs


def _event_messages(span: OtelSpan) -> tuple[list[Message], list[Message]]:
    """The per-message events of the older conventions. Their fields are the log record's
    body; on span events they come as attributes, or as one JSON attribute (`body`,
    `gen_ai.event.content`)."""
    inputs: list[Message] = []
    outputs: list[Message] = []
    for event in sorted(span.events, key=lambda e: e.time_ns):
        attrs = event.attributes
        packed = _loads(attrs.get("body", attrs.get("gen_ai.event.content")))
        body = {
            **(packed if isinstance(packed, Mapping) else {}),
            **{k: _loads(v) for k, v in attrs.items()},
        }
        if event.name in _OLD_MESSAGE_EVENTS:
            calls = body.get("tool_calls") or []
            inputs.append(
                Message(
                    _OLD_MESSAGE_EVENTS[event.name],
                    _text(body.get("content", "")),
                    [_old_call(c) for c in calls if isinstance(c, Mapping)],
                    tool_call_id=_id(body.get("id")),
                )
            )
        elif event.name == "gen_ai.choice":
            inner = body.get("message")
            message: Mapping[str, Any] = inner if isinstance(inner, Mapping) else body
            # (tool_calls sit beside `message` in the convention, inside it in some SDKs)
            calls = message.get("tool_calls") or body.get("tool_calls") or []
            outputs.append(
                Message(
                    "assistant",
                    _text(message.get("content", "")),
                    [_old_call(c) for c in calls if isinstance(c, Mapping)],
                    finish_reason=body.get("finish_reason"),
                )
            )
        elif event.name == _DETAILS_EVENT:
            inputs.extend(_new_messages(attrs.get("gen_ai.input.messages")))
            outputs.extend(_new_messages(attrs.get("gen_ai.output.messages")))
    return inputs, outputs


def _old_call(call: Mapping[str, Any]) -> dict[str, Any]:
    inner = call.get("function")
    function: Mapping[str, Any] = inner if isinstance(inner, Mapping) else call
    return {
        "id": _id(call.get("id")),
        "name": function.get("name"),
        "arguments": function.get("arguments"),
    }


def messages(span: OtelSpan) -> tuple[str | None, list[Message], list[Message]]:
    """System instructions, input and output messages of an LLM span, from whichever
    convention recorded them."""
    attrs = span.attributes
    system = _system_instructions(attrs.get("gen_ai.system_instructions"))
    inputs = _new_messages(attrs.get("gen_ai.input.messages"))
    outputs = _new_messages(attrs.get("gen_ai.output.messages"))
    if not inputs and not outputs:
        inputs = _flat_messages(attrs, "gen_ai.prompt") or _flat_messages(attrs, "llm.prompts")
        outputs = _flat_messages(attrs, "gen_ai.completion") or _flat_messages(
            attrs, "llm.completions"
        )
    if not inputs and not outputs:
        # OpenAI-format message lists as JSON: the deprecated `gen_ai.prompt` /
        # `gen_ai.completion`, the Vercel AI SDK's `ai.prompt.messages` / `ai.response.text`
        inputs = _openai_messages(attrs.get("gen_ai.prompt")) or _openai_messages(
            attrs.get("ai.prompt.messages")
        )
        outputs = _openai_messages(attrs.get("gen_ai.completion"), role="assistant")
        if not outputs and isinstance(attrs.get("ai.response.text"), str):
            outputs = [Message("assistant", attrs["ai.response.text"])]
    if not inputs and not outputs:
        inputs, outputs = _logfire_events(attrs.get("events"))
    if not inputs and not outputs:
        inputs = _openinference_messages(attrs, "llm.input_messages")
        outputs = _openinference_messages(attrs, "llm.output_messages")
    if not inputs and not outputs:
        inputs, outputs = _event_messages(span)
        if system is None:
            for event in span.events:
                if event.name == _DETAILS_EVENT:
                    system = _system_instructions(
                        event.attributes.get("gen_ai.system_instructions")
                    )
    if not inputs and not outputs and isinstance(attrs.get("input.value"), str):
        inputs = [Message("user", attrs["input.value"])]
        if isinstance(attrs.get("output.value"), str):
            outputs = [Message("assistant", attrs["output.value"])]
    return system, inputs, outputs


_READ_PREFIXES: Final = (
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.prompt", "gen_ai.completion", "llm.input_messages.", "llm.output_messages.",
    "llm.prompts.", "llm.completions.", "ai.prompt.messages", "ai.response.text",
    "llm.token_count.", "retrieval.documents.", "gen_ai.retrieval.documents",
)  # fmt: skip
_READ_KEYS: Final = frozenset(
    {
        "gen_ai.operation.name", "openinference.span.kind", "gen_ai.request.model",
        "gen_ai.response.model", "llm.model_name", "gen_ai.response.finish_reasons",
        "gen_ai.request.temperature", "gen_ai.request.max_tokens", "gen_ai.tool.name",
        "gen_ai.tool.call.id", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
        "tool.name", "tool.parameters", "gen_ai.agent.name", "gen_ai.agent.id",
        "agent.name", "input.value", "output.value", "gen_ai.usage.input_tokens",
        "tool.id", "tool_call.id", "traceloop.entity.name", "traceloop.entity.input",
        "traceloop.entity.output", "llm.usage.total_tokens",
        "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens", "gen_ai.usage.total_tokens", "gen_ai.tool.definitions",
        *_SESSION_KEYS, *_USER_KEYS,
    }
)  # fmt: skip


def unread_attributes(span: OtelSpan) -> dict[str, Any]:
    """The span's attributes nothing in the mapping reads (kept in `attrs`)."""
    return {
        k: v
        for k, v in sorted(span.attributes.items())
        if k not in _READ_KEYS and not k.startswith(_READ_PREFIXES)
    }


def _first(attrs: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if attrs.get(key) not in (None, ""):
            return attrs[key]
    return None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _json_text(value: Any) -> str | None:
    """Tool arguments and results as JSON text (the store's JSON fields)."""
    if value is None:
        return None
    value = _loads(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _digest(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:20]


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC)


# --- the trace --------------------------------------------------------------------------------


class _Trace:
    def __init__(self, spans: Sequence[OtelSpan], tenant: str) -> None:
        # one span per id (a re-sent span is the same span), in start order
        by_id = {s.span_id: s for s in sorted(spans, key=lambda s: (s.start_ns, s.span_id))}
        self.spans = sorted(by_id.values(), key=lambda s: (s.start_ns, s.span_id))
        self.by_id = by_id
        self.kind = {s.span_id: operation(s) for s in self.spans}
        """What each span is (`operation`), read once."""
        self.tenant = tenant
        self.trace_id = self.spans[0].trace_id if self.spans else ""
        self.session = self._session_id()
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[str, dict[str, Any]] = {}
        self.issues: list[str] = []
        self.prompt_order: list[str] = []
        self.loose: list[dict[str, Any]] = []
        self.ran: set[str] = set()
        """ToolInvocations a tool span has been matched to (a call runs once)."""

    def _session_id(self) -> str:
        roots = [s for s in self.spans if s.parent_span_id not in self.by_id]
        for span in [*roots, *self.spans]:
            value = _first(span.attributes, *_SESSION_KEYS)
            if value is not None:
                return str(value)
        return f"otel:{self.trace_id}"

    # events ---------------------------------------------------------------------------------

    def node(self, type_: str, node_id: str, at: int, **fields: Any) -> dict[str, Any]:
        if node_id in self.nodes:  # first emitter wins; later ones fill what it lacked
            existing = self.nodes[node_id]
            for k, v in fields.items():
                if v is not None and existing.get(k) is None:
                    existing[k] = v
            return existing
        event = {
            "op": "upsert",
            "kind": "node",
            "type": type_,
            "id": node_id,
            "session_id": None if type_ in ("Agent", "ContextSource") else self.session,
            "tenant": self.tenant,
            "occurred_at": _time(at),
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.nodes[node_id] = event
        return event

    def edge(self, type_: str, src: str, dst: str, at: int, **fields: Any) -> None:
        key = edge_key(src, type_, dst)
        if key in self.edges:
            return
        self.edges[key] = {
            "op": "upsert",
            "kind": "edge",
            "type": type_,
            "id": key,
            "src": src,
            "dst": dst,
            "session_id": self.session,
            "tenant": self.tenant,
            "occurred_at": _time(at),
            **{k: v for k, v in fields.items() if v is not None},
        }

    def build(self) -> TraceMapping:
        if not self.spans:
            return TraceMapping(self.session, [], [])
        first = self.spans[0]
        users = (_first(s.attributes, *_USER_KEYS) for s in self.spans)
        user = next((u for u in users if u is not None), None)
        self.node(
            "Session",
            self.session,
            first.start_ns,
            user_id=str(user) if user is not None else None,
            metadata={"source": "otel"},
        )
        # (span, its prompt, its last response) of each LLM call, in start order
        llm_calls: list[tuple[OtelSpan, str, str | None]] = []
        for span in self.spans:
            kind = self.kind[span.span_id]
            if kind == "llm":
                prompt, response = self._llm(span)
                llm_calls.append((span, prompt, response))
            elif kind == "agent":
                self._agent_node(span)
            if kind in ("agent", "retrieval", "other"):  # no node of its own holds its attrs
                self.loose.append(_span_attrs(span)["otel"])
        for span in self.spans:
            if self.kind[span.span_id] == "tool":
                self._tool_span(span, llm_calls)
            elif self.kind[span.span_id] == "retrieval":
                self._retrieval(span, llm_calls)
        self._agents(llm_calls)
        self._follows()
        session = self.nodes[self.session]
        if self.loose:
            # (one JSON field: a conversation over several traces keeps the last trace's list
            # in its state; every trace's list stays in the lake's event log)
            session["attrs"] = {"otel_trace_id": self.trace_id, "otel_spans": self.loose}
        events = [*self.nodes.values(), *self.edges.values()]
        for event in events:
            for name in ("metadata", "attrs", "parameters", "result"):
                if isinstance(event.get(name), dict | list):
                    event[name] = json.dumps(
                        event[name], ensure_ascii=False, sort_keys=True, default=str
                    )
            event["event_id"] = event_id(event)
        return TraceMapping(self.session, events, self.issues)

    # LLM calls ------------------------------------------------------------------------------

    def _message_id(self, position: int, message: Message) -> str:
        calls = [(c.get("id"), c.get("name")) for c in message.tool_calls]
        return f"{self.session}:m{position}:{_digest(message.role, message.text, calls)}"

    def _llm(self, span: OtelSpan) -> tuple[str, str | None]:
        attrs = span.attributes
        system, inputs, outputs = messages(span)
        request_model = _first(attrs, "gen_ai.request.model", "llm.model_name")
        response_model = _first(attrs, "gen_ai.response.model", "llm.model_name") or request_model
        tools = self._tool_names(attrs)
        prompt_fields = {
            "model": str(request_model) if request_model else None,
            "temperature": _float(_first(attrs, "gen_ai.request.temperature")),
            "max_tokens": _int(_first(attrs, "gen_ai.request.max_tokens")),
            "tools_available": tools,
        }
        prompt: str | None = None
        position = 0
        if system is not None:
            prompt = f"{self.session}:system:{_digest(system)}"
            self.node(
                "Prompt", prompt, span.start_ns, content=system, is_system=True, **prompt_fields
            )
            self.prompt_order.append(prompt)
        previous_response: str | None = None
        for message in inputs:
            if message.role in ("system", "developer") and not message.text.strip():
                continue
            if message.role == "tool":
                self._tool_result(span, message, previous_response, position)
            elif message.role == "assistant":
                previous_response = self._response(span, position, message, prompt, final=False)
            else:
                node_id = self._message_id(position, message)
                self.node(
                    "Prompt",
                    node_id,
                    span.start_ns,
                    content=message.text or NO_CONTENT,
                    is_system=message.role in ("system", "developer"),
                    **prompt_fields,
                )
                self.prompt_order.append(node_id)
                prompt = node_id
            position += 1
        if prompt is None:  # no captured input: the call still had one
            prompt = self._uncaptured_prompt(span, **prompt_fields)
        if not outputs:
            outputs = [Message("assistant", "")]
        last: str | None = None
        for k, message in enumerate(outputs):
            last = self._response(span, position + k, message, prompt, final=k == len(outputs) - 1)
        assert last is not None
        response = self.nodes[last]
        response.update({k: v for k, v in self._usage(attrs).items() if v is not None})
        if response_model:
            response["model"] = str(response_model)
        reasons = attrs.get("gen_ai.response.finish_reasons")
        if response.get("finish_reason") is None and isinstance(reasons, list) and reasons:
            response["finish_reason"] = _finish_reason(reasons[0])
        response["attrs"] = _span_attrs(span)
        self.edge(
            "RESPONDS_TO",
            last,
            prompt,
            span.end_ns or span.start_ns,
            latency_ms=(span.end_ns - span.start_ns) / 1e6 if span.end_ns else None,
            model_version=str(_first(attrs, "gen_ai.response.model"))
            if _first(attrs, "gen_ai.response.model")
            else None,
        )
        return prompt, last

    def _uncaptured_prompt(self, span: OtelSpan, **fields: Any) -> str:
        """The Prompt of a call whose input was not recorded (named by the span)."""
        prompt = f"{self.session}:{span.span_id}:prompt"
        self.node(
            "Prompt", prompt, span.start_ns, content=NO_CONTENT,
            metadata={"content_captured": False}, **fields,
        )  # fmt: skip
        self.prompt_order.append(prompt)
        return prompt

    def _response(
        self, span: OtelSpan, position: int, message: Message, prompt: str | None, *, final: bool
    ) -> str:
        has_content = bool(message.text or message.tool_calls)
        node_id = (
            self._message_id(position, message)
            if has_content
            else f"{self.session}:{span.span_id}:response"
        )
        if prompt is None:  # an assistant message before any prompt
            prompt = self._uncaptured_prompt(span)
        self.node(
            "Response",
            node_id,
            span.end_ns if final and span.end_ns else span.start_ns,
            prompt_id=prompt,
            content=message.text if has_content else None,
            finish_reason=_finish_reason(message.finish_reason) if message.finish_reason else None,
        )
        if has_content and not final:
            self.edge("RESPONDS_TO", node_id, prompt, span.start_ns)
        for order, call in enumerate(message.tool_calls):
            tool_id = self._tool_id(call.get("id"), span, position, order)
            self.node(
                "ToolInvocation",
                tool_id,
                span.end_ns or span.start_ns,
                response_id=node_id,
                tool_name=str(call.get("name") or "unknown"),
                parameters=_json_text(call.get("arguments")),
            )
            self.edge(
                "INVOKES", node_id, tool_id, span.end_ns or span.start_ns, invocation_order=order
            )
        return node_id

    def _tool_id(self, call_id: str | None, span: OtelSpan, position: int, order: int) -> str:
        if call_id:
            return f"{self.session}:tool:{call_id}"
        return f"{self.session}:{span.span_id}:m{position}:t{order}"

    def _tool_result(
        self, span: OtelSpan, message: Message, response: str | None, position: int
    ) -> None:
        if message.tool_call_id is None:
            self.issues.append(
                f"span {span.span_id}: a tool result without a call id (kept in the span's attrs)"
            )
            return
        tool_id = f"{self.session}:tool:{message.tool_call_id}"
        existing = self.nodes.get(tool_id)
        if existing is None and response is None:
            return  # its call is in another trace or was not captured; the call's span names it
        self.node(
            "ToolInvocation",
            tool_id,
            span.start_ns,
            response_id=response,
            tool_name="unknown",
            result=_json_text(message.text),
        )
        self.nodes[tool_id].setdefault("result", _json_text(message.text))

    @staticmethod
    def _tool_names(attrs: Mapping[str, Any]) -> list[str] | None:
        definitions = _loads(attrs.get("gen_ai.tool.definitions"))
        names = (
            [d.get("name") for d in definitions if isinstance(d, Mapping)]
            if isinstance(definitions, list)
            else []
        )
        names += [
            _loads(t.get("tool.json_schema")).get("name")
            if isinstance(_loads(t.get("tool.json_schema")), Mapping)
            else None
            for t in _indexed(attrs, "llm.tools").values()
        ]
        clean = [str(n) for n in names if n]
        return clean or None

    @staticmethod
    def _usage(attrs: Mapping[str, Any]) -> dict[str, Any]:
        prompt = _int(
            _first(
                attrs,
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.prompt_tokens",
                "llm.token_count.prompt",
            )
        )
        completion = _int(
            _first(
                attrs,
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
                "llm.token_count.completion",
            )
        )
        total = _int(
            _first(
                attrs,
                "gen_ai.usage.total_tokens",
                "llm.token_count.total",
                "llm.usage.total_tokens",
            )
        )
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}

    # tools, agents, retrieval ---------------------------------------------------------------

    def _tool_span(self, span: OtelSpan, llm_calls: list[tuple[OtelSpan, str, str | None]]) -> None:
        attrs = span.attributes
        outer = self._tool_above(span)
        if outer is not None:  # an MCP server span under its client span: one call, two views
            span = OtelSpan(**{**outer.__dict__, "attributes": {**attrs, **outer.attributes}})
            attrs = span.attributes
        call_id = _id(_first(attrs, "gen_ai.tool.call.id", "tool_call.id", "tool.id"))
        name = str(
            _first(attrs, "gen_ai.tool.name", "tool.name", "traceloop.entity.name")
            or span.name.removeprefix("execute_tool").strip()
            or "unknown"
        )
        tool_id = f"{self.session}:tool:{call_id}" if call_id else None
        asked_by = self.nodes.get(tool_id, {}).get("response_id") if tool_id else None
        if asked_by is None:  # the latest LLM call that ended before the tool started
            before = [
                r
                for s, _, r in llm_calls
                if r is not None and (s.end_ns or s.start_ns) <= span.start_ns
            ]
            asked_by = before[-1] if before else None
        if tool_id is None:  # no call id: the call of that name the response asked for
            asked = [
                n["id"]
                for n in self.nodes.values()
                if n["type"] == "ToolInvocation" and n.get("response_id") == asked_by
                and n.get("tool_name") == name and n["id"] not in self.ran
            ]  # fmt: skip
            tool_id = asked[0] if asked else f"{self.session}:{span.span_id}:tool"
        self.ran.add(tool_id)
        if asked_by is None:
            asked_by = f"{self.session}:{span.span_id}:response"
            prompt = self._uncaptured_prompt(span)
            self.node(
                "Response",
                asked_by,
                span.start_ns,
                prompt_id=prompt,
                metadata={"placeholder": True},
            )
            self.edge("RESPONDS_TO", asked_by, prompt, span.start_ns)
        failed = span.status_code == "ERROR" or attrs.get("error.type") is not None
        error = span.status_message or attrs.get("error.type") or ("error" if failed else None)
        fields = {
            "response_id": asked_by,
            "tool_name": name,
            "parameters": _json_text(
                _first(
                    attrs,
                    "gen_ai.tool.call.arguments",
                    "tool.parameters",
                    "input.value",
                    "traceloop.entity.input",
                )
            ),
            "result": _json_text(
                _first(attrs, "gen_ai.tool.call.result", "output.value", "traceloop.entity.output")
            ),
            "error": str(error) if failed else None,
            "success": not failed,
            "duration_ms": (span.end_ns - span.start_ns) / 1e6 if span.end_ns else None,
        }
        node = self.node("ToolInvocation", tool_id, span.start_ns, **fields)
        for key in ("success", "duration_ms", "error"):  # the tool's own span knows best
            if fields[key] is not None:
                node[key] = fields[key]
        node["attrs"] = _span_attrs(span)
        order = sum(
            1 for e in self.edges.values() if e["type"] == "INVOKES" and e["src"] == asked_by
        )
        self.edge(
            "INVOKES", asked_by, tool_id, span.start_ns, invocation_order=order, success=not failed
        )

    def _tool_above(self, span: OtelSpan) -> OtelSpan | None:
        """The outermost tool span above `span` (None if there is none)."""
        found = None
        seen = {span.span_id}
        current = self.by_id.get(span.parent_span_id or "")
        while current is not None and current.span_id not in seen:
            seen.add(current.span_id)
            if self.kind[current.span_id] == "tool":
                found = current
            current = self.by_id.get(current.parent_span_id or "")
        return found

    def _agent_id(self, name: str) -> str:
        return f"otel:{self.tenant}:agent:{name}"

    def _agent_name(self, span: OtelSpan) -> str | None:
        value = _first(span.attributes, "gen_ai.agent.name", "agent.name", "gen_ai.agent.id")
        if value is None and self.kind.get(span.span_id) == "agent":
            value = span.name.split(" ", 1)[1] if " " in span.name else span.name
        return str(value) if value else None

    def _agent_node(self, span: OtelSpan) -> None:
        name = self._agent_name(span)
        if name:
            self.node(
                "Agent",
                self._agent_id(name),
                span.start_ns,
                name=name,
                role=_first(span.attributes, "gen_ai.agent.description"),
            )

    def _agent_of(self, span: OtelSpan) -> str | None:
        """The agent handling a span: its own agent attribute, else the nearest agent span
        above it."""
        seen = set()
        current: OtelSpan | None = span
        while current is not None and current.span_id not in seen:
            seen.add(current.span_id)
            if current is span and _first(span.attributes, "gen_ai.agent.name", "agent.name"):
                return self._agent_name(span)
            if current is not span and self.kind[current.span_id] == "agent":
                return self._agent_name(current)
            current = self.by_id.get(current.parent_span_id or "")
        return None

    def _agents(self, llm_calls: list[tuple[OtelSpan, str, str | None]]) -> None:
        previous: tuple[str | None, str | None] = (None, None)  # agent, response
        for span, prompt, response in llm_calls:
            agent = self._agent_of(span)
            if agent is None:
                continue
            self.node("Agent", self._agent_id(agent), span.start_ns, name=agent)
            self.edge(
                "HANDLED_BY",
                prompt,
                self._agent_id(agent),
                span.start_ns,
                duration_ms=(span.end_ns - span.start_ns) / 1e6 if span.end_ns else None,
            )
            if previous[0] is not None and previous[0] != agent and previous[1] is not None:
                self.edge("TRANSFERS_TO", previous[1], self._agent_id(agent), span.start_ns)
            previous = (agent, response)

    def _retrieval(self, span: OtelSpan, llm_calls: list[tuple[OtelSpan, str, str | None]]) -> None:
        attrs = span.attributes
        documents = [
            {
                "id": d.get("document.id"),
                "content": d.get("document.content"),
                "score": d.get("document.score"),
                "metadata": d.get("document.metadata"),
            }
            for d in _indexed(attrs, "retrieval.documents").values()
        ]
        raw = _loads(attrs.get("gen_ai.retrieval.documents"))
        if isinstance(raw, list):
            documents += [dict(d) for d in raw if isinstance(d, Mapping)]
        later = [p for s, p, _ in llm_calls if s.start_ns >= span.start_ns]
        earlier = [p for s, p, _ in llm_calls if s.start_ns < span.start_ns]
        prompt = later[0] if later else (earlier[-1] if earlier else None)
        for document in documents:
            content = _text(document.get("content")) or None
            doc_key = document.get("id") or _digest(content)
            node_id = f"otel:{self.tenant}:doc:{doc_key}"
            self.node(
                "ContextSource",
                node_id,
                span.start_ns,
                uri=str(document["id"]) if document.get("id") else None,
                source_kind="retrieval",
                content=content,
                metadata=_loads(document.get("metadata")),
            )
            if prompt is not None:
                score = _float(document.get("score"))
                self.edge(
                    "REFERENCES",
                    prompt,
                    node_id,
                    span.start_ns,
                    context_type="retrieval",
                    relevance_score=score if score is not None and 0 <= score <= 1 else None,
                )

    def _follows(self) -> None:
        order = list(dict.fromkeys(self.prompt_order))
        for earlier, later in pairwise(order):
            a, b = self.nodes[earlier]["occurred_at"], self.nodes[later]["occurred_at"]
            self.edge("FOLLOWS", later, earlier, int(b.timestamp() * 1e9),
                      time_delta_ms=max(0.0, (b - a).total_seconds() * 1000))  # fmt: skip


def _span_attrs(span: OtelSpan) -> dict[str, Any]:
    """Where a node came from, and what of its span the mapping did not read."""
    return {
        "otel": {
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "name": span.name,
            "kind": span.kind,
            "status": span.status_code,
            "attributes": unread_attributes(span),
            "resource": span.resource,
            # events that are no message (exceptions, evaluations…), as they came
            "events": [
                {"name": e.name, "time_ns": e.time_ns, "attributes": e.attributes}
                for e in span.events
                if e.name not in _MESSAGE_EVENTS
            ],
        }
    }


def _finish_reason(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).lower()
    aliases = {
        "tool_call": "tool_calls",
        "max_tokens": "length",
        "end_turn": "stop",
        "stop_sequence": "stop",
        "tool_use": "tool_calls",
    }
    text = aliases.get(text, text)
    return text if text in FINISH_REASONS else None


def event_id(event: Mapping[str, Any]) -> str:
    """An event's id: a hash of all it says, so the same mapping gives the same id."""
    body = json.dumps(
        {k: v for k, v in event.items() if k != "event_id"},
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return "otel-" + hashlib.sha256(body.encode()).hexdigest()[:32]


_TIMELESS = frozenset({"event_id", "occurred_at"})


def changes(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]], *, now: datetime
) -> list[dict[str, Any]]:
    """The events that take a trace's graph from an earlier mapping (`before`, of fewer of its
    spans) to `after`: new and unchanged items as they are (the unchanged ones are skipped as
    duplicates), a changed item at a later time than any earlier version of it, and deletes
    for what `after` no longer has (a Session named by the trace id before the span with the
    conversation id arrived).

    State is folded in `(occurred_at, seq)` order, so a changed item's new event must sort
    after every version written before: it is stamped `now` (or just after the earlier version,
    if the spans' clock runs ahead of ours). The first version keeps the span's time."""
    old = {(e["kind"], e["id"]): e for e in before}
    out: list[dict[str, Any]] = []
    kept = set()
    for event in after:
        key = (event["kind"], event["id"])
        kept.add(key)
        previous = old.get(key)
        if previous is not None and _content(previous) != _content(event):
            event = {**event, "occurred_at": _later(now, previous, event)}
            event["event_id"] = event_id(event)
        out.append(dict(event))
    for key, previous in old.items():
        if key in kept:
            continue
        gone = {k: previous[k] for k in ("kind", "type", "id", "session_id", "tenant")}
        if previous["kind"] == "edge":
            gone.update(src=previous["src"], dst=previous["dst"])
        gone.update(op="delete", occurred_at=_later(now, previous))
        gone["event_id"] = event_id(gone)
        out.append(gone)
    return out


def _content(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in _TIMELESS}


def _later(now: datetime, *events: Mapping[str, Any]) -> datetime:
    times: list[datetime] = [e["occurred_at"] + timedelta(microseconds=1) for e in events]
    return max([now, *times])
