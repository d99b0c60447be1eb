"""OpenTelemetry GenAI and OpenInference spans into the graph: the spec's own examples, both
attribute generations, OpenInference, out-of-order and split traces, re-sending, malformed
spans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memgraph_ops.imports.otel import NO_CONTENT, operation, span_problem, trace_events
from memgraph_ops.imports.otlp import OtelEvent, OtelSpan, decode_json
from memgraph_ops.imports.traces import import_spans
from memgraph_ops.store import Store
from tests.imports.otel_helpers import (
    edges,
    graph,
    hex_id,
    nodes,
    span,
    spec_examples,
    spec_spans,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "hot.duckdb")
    yield s
    s.close()


def _example(source_prefix: str) -> dict[str, Any]:
    (found,) = [e for e in spec_examples() if e["source"].startswith(source_prefix)]
    return found


# --- the spec's examples ----------------------------------------------------------------------


def test_the_specs_chat_span_maps_to_its_conversation(store: Store) -> None:
    report = import_spans(store, spec_spans(_example("gen-ai-spans.md:49")), tenant="acme")
    assert report.quarantined == 0, report.reasons
    g = graph(store)
    (session,) = nodes(g, "Session")
    assert session["id"] == "conv_5j66UpCpwteGg4YSxUnt7lPY"
    prompts = nodes(g, "Prompt")
    assert sorted((p["content"], p["is_system"]) for p in prompts) == [
        ("Weather in Paris?", False),
        ("You are an Agent that greet users, always use greetings tool to respond", True),
    ]
    assert all(p["tools_available"] == ["get_current_weather"] for p in prompts)
    assert {p["model"] for p in prompts} == {"gpt-4"} and {p["max_tokens"] for p in prompts} == {
        100
    }
    final = next(r for r in nodes(g, "Response") if r.get("content", "").startswith("The weather"))
    assert (final["prompt_tokens"], final["completion_tokens"], final["total_tokens"]) == (
        100,
        180,
        280,
    )
    assert final["finish_reason"] == "stop" and final["model"] == "gpt-4-0613"
    # unread attributes are kept, not dropped
    assert (
        json.loads(final["attrs"])["otel"]["attributes"]["gen_ai.usage.cache_read.input_tokens"]
        == 50
    )
    (tool,) = nodes(g, "ToolInvocation")
    # the spec writes the result's call id with a leading space: still the same call
    assert tool["tool_name"] == "get_weather" and json.loads(tool["result"]) == "rainy, 57°F"
    assert json.loads(tool["parameters"]) == {"location": "Paris"}
    user = next(p for p in prompts if not p["is_system"])
    responds = {(e["src"], e["dst"]) for e in edges(g, "RESPONDS_TO")}
    assert (final["id"], user["id"]) in responds and (tool["response_id"], user["id"]) in responds
    assert [(e["src"], e["dst"]) for e in edges(g, "INVOKES")] == [
        (tool["response_id"], tool["id"])
    ]
    (follows,) = edges(g, "FOLLOWS")
    assert follows["src"] == user["id"] and follows["dst"] != user["id"]
    assert (
        next(e for e in edges(g, "RESPONDS_TO") if e["src"] == final["id"])["latency_ms"] == 500.0
    )


def test_the_specs_mcp_tool_call_inside_an_agent(store: Store) -> None:
    """mcp.md's tree: invoke_agent > chat, tools/call (client > server), chat."""
    example = _example("mcp.md:970")
    assert import_spans(store, spec_spans(example), tenant="acme").quarantined == 0
    g = graph(store)
    (agent,) = nodes(g, "Agent")
    assert agent["name"] == "weather-forecast-agent"
    # two model calls without captured content: a Prompt and a Response each
    prompts, responses = nodes(g, "Prompt"), nodes(g, "Response")
    assert [p["content"] for p in prompts] == [NO_CONTENT, NO_CONTENT] and len(responses) == 2
    # the MCP client and server spans are one call
    (tool,) = nodes(g, "ToolInvocation")
    assert tool["tool_name"] == "get-weather" and tool["success"] is True
    assert json.loads(tool["parameters"]) == {"location": "San Francisco?", "date": "2025-10-01"}
    assert json.loads(tool["result"]) == {"temperature_range": {"high": 75, "low": 60}}
    # the tool was asked for by the first call (s2), the latest that ended before it started
    first_call = hex_id(example["source"] + "/s2", 8)
    asked_by = next(r for r in responses if r["id"] == tool["response_id"])
    assert asked_by["prompt_id"].endswith(f":{first_call}:prompt")
    assert len(edges(g, "HANDLED_BY")) == 2 and not edges(g, "TRANSFERS_TO")
    assert len(edges(g, "FOLLOWS")) == 1
    # the spans that are no graph node are kept on the session
    (session,) = nodes(g, "Session")
    assert session["id"].startswith("otel:")


@pytest.mark.parametrize("example", spec_examples(), ids=lambda e: e["source"])
def test_every_span_example_of_the_spec_lands_whole(store: Store, example: dict[str, Any]) -> None:
    spans = spec_spans(example)
    report = import_spans(store, spans, tenant="acme")
    assert report.quarantined == 0, report.reasons
    g = graph(store)
    kinds = [operation(s) for s in spans]
    # every model call a Response (with its usage when given), every tool call a ToolInvocation,
    # every agent an Agent
    assert len(nodes(g, "Response")) >= kinds.count("llm")
    for s in spans:
        if operation(s) == "llm" and "gen_ai.usage.input_tokens" in s.attributes:
            assert any(
                r.get("prompt_tokens") == s.attributes["gen_ai.usage.input_tokens"]
                for r in nodes(g, "Response")
            )
    tools = {s.span_id for s in spans if operation(s) == "tool"}
    top_level_tools = {
        s for s in tools if next(x for x in spans if x.span_id == s).parent_span_id not in tools
    }
    # (tool calls inside messages are invocations too, so at least one per tool span)
    assert len(nodes(g, "ToolInvocation")) >= len(top_level_tools)
    names = {t["tool_name"] for t in nodes(g, "ToolInvocation")}
    for s in spans:
        if s.span_id in top_level_tools and s.attributes.get("gen_ai.tool.name"):
            assert s.attributes["gen_ai.tool.name"] in names
    if "agent" in kinds:
        assert nodes(g, "Agent")
    if any(s.attributes.get("gen_ai.retrieval.documents") for s in spans):
        assert len(nodes(g, "ContextSource")) == 3


# --- conventions other than the newest --------------------------------------------------------


def test_older_attribute_names_and_per_message_events() -> None:
    old_flat = span(
        "t-old",
        "s1",
        "chat gpt-3.5-turbo",
        attributes={
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Capital of France?",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Paris.",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.usage.prompt_tokens": 12,
            "gen_ai.usage.completion_tokens": 2,
        },
    )
    old_events = span(
        "t-events",
        "s1",
        "chat gpt-4o",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 7,
            "gen_ai.usage.output_tokens": 3,
        },
        events=[
            OtelEvent("gen_ai.user.message", 1, {"content": "What is 2+2?"}),
            OtelEvent(
                "gen_ai.choice",
                2,
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": json.dumps({"role": "assistant", "content": "4"}),
                },
            ),
        ],
    )
    for s, prompt, answer, tokens in (
        (old_flat, "Capital of France?", "Paris.", (12, 2, 14)),
        (old_events, "What is 2+2?", "4", (7, 3, 10)),
    ):
        events = trace_events([s], tenant="acme").events
        contents = {e.get("content") for e in events if e["type"] == "Prompt"}
        (response,) = [e for e in events if e["type"] == "Response"]
        assert (
            prompt in contents
            and response["content"] == answer
            and response["finish_reason"] == "stop"
        )
        assert (
            response["prompt_tokens"],
            response["completion_tokens"],
            response["total_tokens"],
        ) == tokens


@pytest.mark.parametrize(
    ("attributes", "tokens"),
    [
        # the Vercel AI SDK's inner span: gen_ai.* model and usage, no operation name
        ({"ai.prompt.messages": json.dumps([{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}]),
          "ai.response.text": "Hello!", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3,
          "gen_ai.usage.output_tokens": 2}, (3, 2)),
        # Pydantic Logfire: the per-message events as one JSON attribute
        ({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2,
          "events": json.dumps([{"event.name": "gen_ai.user.message", "content": "Hi there", "role": "user"},
                                {"event.name": "gen_ai.choice", "index": 0, "message": {"role": "assistant", "content": "Hello!"}}])}, (3, 2)),
        # the deprecated JSON `gen_ai.prompt` / `gen_ai.completion`
        ({"gen_ai.prompt": json.dumps([{"role": "user", "content": "Hi there"}]),
          "gen_ai.completion": json.dumps([{"role": "assistant", "content": "Hello!"}]),
          "gen_ai.usage.prompt_tokens": 3, "gen_ai.usage.completion_tokens": 2}, (3, 2)),
        # OpenLLMetry's older flattened names
        ({"llm.request.type": "chat", "llm.prompts.0.role": "user", "llm.prompts.0.content": "Hi there",
          "llm.completions.0.role": "assistant", "llm.completions.0.content": "Hello!",
          "gen_ai.usage.prompt_tokens": 3, "gen_ai.usage.completion_tokens": 2}, (3, 2)),
    ],
    ids=["vercel-ai", "logfire-events", "gen_ai.prompt-json", "openllmetry-llm.prompts"],
)  # fmt: skip
def test_what_other_sdks_export(attributes: dict[str, Any], tokens: tuple[int, int]) -> None:
    s = span("t-sdk", "s", "ai.generateText.doGenerate", attributes=attributes)
    assert operation(s) == "llm"
    events = trace_events([s], tenant="acme").events
    (prompt,) = [e for e in events if e["type"] == "Prompt"]
    (response,) = [e for e in events if e["type"] == "Response"]
    assert (prompt["content"], response["content"]) == ("Hi there", "Hello!")
    assert (response["prompt_tokens"], response["completion_tokens"]) == tokens


def test_openinference_spans() -> None:
    """Arize OpenInference: an AGENT span, an LLM span with flattened messages and a tool call,
    the TOOL span that ran it, a RETRIEVER span before the next LLM call."""
    trace = "t-oi"
    spans = [
        span(trace, "a", "agent", kind="INTERNAL", attributes={"openinference.span.kind": "AGENT", "agent.name": "support-bot", "session.id": "sess-42", "user.id": "u-7"}),
        span(trace, "l1", "ChatCompletion", parent="a", start=1, attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
            "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "Where is my order 1234?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup_order",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"order": 1234}',
            "llm.token_count.prompt": 30, "llm.token_count.completion": 9, "llm.token_count.total": 39,
        }),
        span(trace, "t", "lookup_order", parent="a", start=2, attributes={"openinference.span.kind": "TOOL", "tool.name": "lookup_order", "tool.parameters": '{"order": 1234}', "output.value": '{"status": "shipped"}', "tool_call.id": "call_1"}),
        span(trace, "r", "retrieve", parent="a", start=3, attributes={"openinference.span.kind": "RETRIEVER", "retrieval.documents.0.document.id": "kb-9", "retrieval.documents.0.document.content": "Shipping takes 3 days.", "retrieval.documents.0.document.score": 0.8}),
        span(trace, "l2", "ChatCompletion", parent="a", start=4, attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
            "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "Where is my order 1234?",
            "llm.input_messages.1.message.role": "assistant",
            "llm.input_messages.1.message.tool_calls.0.tool_call.id": "call_1",
            "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "lookup_order",
            "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": '{"order": 1234}',
            "llm.input_messages.2.message.role": "tool", "llm.input_messages.2.message.tool_call_id": "call_1", "llm.input_messages.2.message.content": '{"status": "shipped"}',
            "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "It shipped; it takes 3 days.",
            "llm.token_count.prompt": 60, "llm.token_count.completion": 12,
        }),
    ]  # fmt: skip
    events = trace_events(spans, tenant="acme").events
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
    (session,) = by_type["Session"]
    assert session["id"] == "sess-42" and session["user_id"] == "u-7"
    (prompt,) = by_type["Prompt"]  # the history re-sent by the second call is the same node
    assert prompt["content"] == "Where is my order 1234?"
    responses = {r["id"]: r for r in by_type["Response"]}
    assert len(responses) == 2
    (tool,) = by_type["ToolInvocation"]
    assert tool["tool_name"] == "lookup_order" and json.loads(tool["result"]) == {
        "status": "shipped"
    }
    assert tool["success"] is True and tool["duration_ms"] == 500.0
    assert responses[tool["response_id"]]["prompt_tokens"] == 30
    final = next(r for r in responses.values() if r.get("content"))
    assert (final["prompt_tokens"], final["total_tokens"]) == (60, 72)
    (agent,) = by_type["Agent"]
    assert agent["name"] == "support-bot"
    assert {e["src"] for e in by_type["HANDLED_BY"]} == {prompt["id"]}
    (doc,) = by_type["ContextSource"]
    assert doc["uri"] == "kb-9" and doc["content"] == "Shipping takes 3 days."
    (ref,) = by_type["REFERENCES"]
    assert (ref["src"], ref["relevance_score"]) == (prompt["id"], 0.8)


def test_a_change_of_agent_between_turns_is_a_transfer() -> None:
    trace = "t-handoff"
    spans = [
        span(trace, "a1", "invoke_agent triage", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "triage"}),
        span(trace, "c1", "chat m", parent="a1", start=1, attributes={"gen_ai.operation.name": "chat", "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "refund please"}]}], "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "passing you on"}]}]}),
        span(trace, "a2", "invoke_agent billing", start=2, attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "billing"}),
        span(trace, "c2", "chat m", parent="a2", start=3, attributes={"gen_ai.operation.name": "chat", "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "refund please"}]}, {"role": "assistant", "parts": [{"type": "text", "content": "passing you on"}]}, {"role": "user", "parts": [{"type": "text", "content": "order 77"}]}]}),
    ]  # fmt: skip
    events = trace_events(spans, tenant="acme").events
    content = {e["id"]: e.get("content") for e in events if e["type"] == "Prompt"}
    handled = {
        content[e["src"]]: e["dst"].rsplit(":", 1)[1] for e in events if e["type"] == "HANDLED_BY"
    }
    (transfer,) = [e for e in events if e["type"] == "TRANSFERS_TO"]
    first_response = next(
        e for e in events if e["type"] == "Response" and e.get("content") == "passing you on"
    )
    assert transfer["src"] == first_response["id"] and transfer["dst"].endswith(":agent:billing")
    assert handled == {"refund please": "triage", "order 77": "billing"}
    prompts = [e for e in events if e["type"] == "Prompt"]
    assert sorted(p["content"] for p in prompts) == ["order 77", "refund please"]
    (follows,) = [e for e in events if e["type"] == "FOLLOWS"]
    assert (follows["src"], follows["dst"]) == (
        next(p["id"] for p in prompts if p["content"] == "order 77"),
        next(p["id"] for p in prompts if p["content"] == "refund please"),
    )


@pytest.mark.parametrize(
    "tool_attributes",
    [
        {"openinference.span.kind": "TOOL", "tool.name": "lookup", "tool.parameters": '{"q": 1}'},
        {"traceloop.span.kind": "tool", "traceloop.entity.name": "lookup", "traceloop.entity.input": '{"q": 1}'},
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"},
    ],
    ids=["openinference", "openllmetry", "genai"],
)  # fmt: skip
def test_a_tool_span_without_a_call_id_is_the_call_the_model_asked_for(
    tool_attributes: dict[str, Any],
) -> None:
    """The model's tool call (with an id) and the tool's own span (without one) are one
    invocation, not two."""
    trace = "t-noid"
    spans = [
        span(trace, "c", "chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_x", "name": "lookup", "arguments": {"q": 1}}]}]}),
        span(trace, "t", "lookup", start=1, attributes=tool_attributes),
    ]  # fmt: skip
    events = trace_events(spans, tenant="acme").events
    (tool,) = [e for e in events if e["type"] == "ToolInvocation"]
    assert tool["id"].endswith(":tool:call_x") and tool["duration_ms"] == 500.0
    assert tool["success"] is True and json.loads(tool["parameters"]) == {"q": 1}


def test_a_failed_tool_span_is_an_unsuccessful_invocation() -> None:
    trace = "t-fail"
    spans = [
        span(trace, "c", "chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "tool_call", "id": "c9", "name": "search", "arguments": {"q": "x"}}], "finish_reason": "tool_call"}]}),
        span(trace, "t", "execute_tool search", start=1, status="ERROR", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.tool.call.id": "c9", "error.type": "TimeoutError"}),
    ]  # fmt: skip
    events = trace_events(spans, tenant="acme").events
    (tool,) = [e for e in events if e["type"] == "ToolInvocation"]
    assert (tool["success"], tool["error"], tool["duration_ms"]) == (False, "TimeoutError", 500.0)
    (response,) = [e for e in events if e["type"] == "Response"]
    assert response["finish_reason"] == "tool_calls" and tool["response_id"] == response["id"]


# --- order, splits, re-sending, bad spans -----------------------------------------------------


def _conversation() -> list[OtelSpan]:
    """An agent conversation over two LLM calls and a tool, the conversation id only on the
    root span (so the session is known only once the root has arrived)."""
    trace = "t-order"
    history = [{"role": "user", "parts": [{"type": "text", "content": "book a table for 2"}]}]
    call = {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_b", "name": "book", "arguments": {"n": 2}}],
    }
    result = {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_b", "response": "booked #5"}],
    }
    return [
        span(trace, "root", "invoke_agent host", duration=9, attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "host", "gen_ai.conversation.id": "conv-order"}),
        span(trace, "c1", "chat m", parent="root", start=1, attributes={"gen_ai.operation.name": "chat", "gen_ai.input.messages": history, "gen_ai.output.messages": [call], "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 4}),
        span(trace, "t1", "execute_tool book", parent="root", start=2, attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "book", "gen_ai.tool.call.id": "call_b", "gen_ai.tool.call.arguments": {"n": 2}, "gen_ai.tool.call.result": "booked #5"}),
        span(trace, "c2", "chat m", parent="root", start=3, attributes={"gen_ai.operation.name": "chat", "gen_ai.input.messages": [*history, call, result], "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "Done: table #5."}], "finish_reason": "stop"}], "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 6}),
    ]  # fmt: skip


ORDERS = {
    "root last, one by one": [3, 2, 1, 0],
    "tool before the call that asked for it": [0, 2, 1, 3],
    "second call first": [0, 3, 2, 1],
    "all at once, shuffled": [2, 0, 3, 1],
}


@pytest.mark.parametrize(("order", "split"), [(o, 1) for o in ORDERS] + [(o, 2) for o in ORDERS])
def test_a_trace_in_any_order_and_any_split_gives_the_same_graph(
    tmp_path: Path, order: str, split: int
) -> None:
    spans = _conversation()
    one = Store.open(tmp_path / "one.duckdb")
    import_spans(one, spans, tenant="acme")
    expected = graph(one)
    one.close()
    arrived = [spans[i] for i in ORDERS[order]]
    many = Store.open(tmp_path / "many.duckdb")
    size = len(arrived) if order.startswith("all") else split
    for start in range(0, len(arrived), size):
        import_spans(many, arrived[start : start + size], tenant="acme")
    assert graph(many) == expected
    many.close()
    assert [v["id"] for (kind, _), v in expected.items() if v["type"] == "Session"] == [
        "conv-order"
    ]


def test_re_sending_spans_writes_nothing(store: Store) -> None:
    spans = _conversation()
    first = import_spans(store, spans, tenant="acme")
    again = import_spans(store, spans, tenant="acme")
    assert first.accepted > 0 and (again.accepted, again.new_spans) == (0, 0)
    assert again.duplicates == first.accepted


def test_a_malformed_span_is_quarantined_and_its_neighbours_land(store: Store) -> None:
    good = _conversation()
    bad = [
        OtelSpan(**{**good[1].__dict__, "span_id": "00" * 8}),
        OtelSpan(**{**good[2].__dict__, "span_id": "ab" * 8, "end_ns": good[2].start_ns - 1}),
    ]
    report = import_spans(store, [*good, *bad], tenant="acme")
    assert report.quarantined == 2
    reasons = sorted(store.quarantine()["reason"].to_list())
    assert any("invalid span id" in r for r in reasons) and any(
        "ends before it starts" in r for r in reasons
    )
    assert nodes(graph(store), "ToolInvocation")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_KEYS = st.sampled_from(["traceId", "spanId", "parentSpanId", "name", "kind", "attributes", "events", "links", "startTimeUnixNano", "endTimeUnixNano", "status"])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    spans=st.lists(st.dictionaries(_KEYS, _JSON, max_size=6), max_size=3),
    scope=_JSON,
    resource=_JSON,
)
def test_any_json_request_maps_or_names_its_problem(
    spans: list[Any], scope: Any, resource: Any
) -> None:
    """Whatever an OTLP/JSON body holds, decoding keeps or rejects each span with a reason, and
    mapping what was kept raises nothing."""
    document = {
        "resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": spans}]}]
    }
    decoded, rejected = decode_json(document)
    assert len(decoded) + len(rejected) == len(spans)
    assert all(r.reason for r in rejected)
    good = [s for s in decoded if span_problem(s) is None]
    if good:
        trace_events(good, tenant="acme")


_READ = st.sampled_from([
    "gen_ai.operation.name", "openinference.span.kind", "traceloop.span.kind", "gen_ai.input.messages",
    "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions", "gen_ai.prompt",
    "gen_ai.completion", "gen_ai.prompt.0.content", "gen_ai.prompt.0.role", "gen_ai.completion.0.tool_calls.0.name",
    "llm.input_messages.0.message.content", "llm.output_messages.0.message.tool_calls.0.tool_call.id",
    "llm.tools.0.tool.json_schema", "retrieval.documents.0.document.score", "gen_ai.retrieval.documents",
    "gen_ai.usage.input_tokens", "gen_ai.request.temperature", "gen_ai.response.finish_reasons",
    "gen_ai.tool.call.id", "gen_ai.tool.name", "gen_ai.agent.name", "gen_ai.conversation.id", "events",
    "ai.prompt.messages", "input.value", "tool.parameters", "user.id",
])  # fmt: skip
_VALUE = _JSON | _JSON.map(json.dumps) | st.sampled_from(["chat", "execute_tool", "invoke_agent", "LLM", "TOOL", "AGENT", "RETRIEVER", "tool"])  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store.open(tmp_path_factory.mktemp("fuzz") / "hot.duckdb")
    yield s
    s.close()


@settings(max_examples=150, deadline=None)
@given(attributes=st.lists(st.dictionaries(_READ, _VALUE, max_size=8), min_size=1, max_size=3))
def test_any_attribute_values_map_and_land_or_are_quarantined(
    fuzz_store: Store, attributes: list[dict[str, Any]]
) -> None:
    """Whatever values the attributes hold, the mapping raises nothing and the store takes or
    quarantines (with a reason) every event."""
    spans = [
        span("t-fuzz", f"s{i}", "x", parent="s0" if i else None, start=i, attributes=a)
        for i, a in enumerate(attributes)
    ]
    mapped = trace_events(spans, tenant="acme").events
    assert all(e["event_id"].startswith("otel-") and e["tenant"] == "acme" for e in mapped)
    result = fuzz_store.ingest(mapped, source="fuzz")
    assert result.accepted + result.duplicates + result.quarantined == len(mapped)
