"""OTLP/HTTP traces into a running server: the official OpenTelemetry SDK and its OTLP/HTTP
exporter record a multi-turn, tool-using agent conversation; the graph in HOT, and after
compaction in the lake, is the expected one. Bad bodies, tenancy, the CLI door."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

import memgraph_ops
from memgraph_ops import Lake, load_settings
from tests.imports.otel_helpers import graph, nodes
from tests.service.conftest import Keys, Server

CONVERSATION = "conv-sdk-1"


def _text(role: str, content: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def _record(exporter: OTLPSpanExporter) -> None:
    """Two turns of a concierge agent (one trace each, as an app records a request), the first
    with a tool call; GenAI semantic conventions, content captured on the spans."""
    provider = TracerProvider(resource=Resource.create({"service.name": "concierge-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test.genai")
    ask = _text("user", "Book a table for two at Luigi's tonight, my number is +1 415 555 0134")
    call = {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_7", "name": "book_table", "arguments": {"restaurant": "Luigi's", "people": 2}}], "finish_reason": "tool_call"}  # fmt: skip
    result = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_7", "response": "confirmed #42"}]}  # fmt: skip
    done = _text("assistant", "Booked: table #42 at 8 pm.")
    thanks = _text("user", "Thanks! Can you text me the address?")
    common = {"gen_ai.conversation.id": CONVERSATION, "gen_ai.provider.name": "openai"}
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "concierge", **common}
    with tracer.start_as_current_span("invoke_agent concierge", attributes=agent):
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", **common,
            "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 41,
            "gen_ai.usage.output_tokens": 17, "gen_ai.response.finish_reasons": ["tool_call"],
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are a concierge."}]),
            "gen_ai.input.messages": json.dumps([ask]), "gen_ai.output.messages": json.dumps([call]),
        }):  # fmt: skip
            pass
        with tracer.start_as_current_span("execute_tool book_table", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "book_table",
            "gen_ai.tool.call.id": "call_7", **common,
            "gen_ai.tool.call.arguments": json.dumps({"restaurant": "Luigi's", "people": 2}),
            "gen_ai.tool.call.result": "confirmed #42",
        }):  # fmt: skip
            pass
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", **common,
            "gen_ai.usage.input_tokens": 80, "gen_ai.usage.output_tokens": 12,
            "gen_ai.input.messages": json.dumps([ask, call, result]),
            "gen_ai.output.messages": json.dumps([{**done, "finish_reason": "stop"}]),
        }):  # fmt: skip
            pass
    # the second turn: a new trace, the whole history re-sent; a tool that fails
    with tracer.start_as_current_span("invoke_agent concierge", attributes=agent):
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", **common,
            "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 9,
            "gen_ai.input.messages": json.dumps([ask, call, result, done, thanks]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_8", "name": "send_sms", "arguments": {"to": "+1 415 555 0134"}}]}]),
        }):  # fmt: skip
            pass
        with tracer.start_as_current_span("execute_tool send_sms", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send_sms",
            "gen_ai.tool.call.id": "call_8", **common,
        }) as failing:  # fmt: skip
            failing.set_status(Status(StatusCode.ERROR, "SMS gateway timeout"))
    provider.shutdown()


def _exporter(server: Server, key: str, **options: Any) -> OTLPSpanExporter:
    return OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"}, **options
    )


def test_the_official_sdk_records_an_agent_conversation_into_hot_and_the_lake(
    server: Server, keys: Keys, home: Path
) -> None:
    _record(_exporter(server, keys.acme, compression=Compression.Gzip))
    with memgraph_ops.open(home) as mg:
        hot = graph(mg.store)
    (session,) = nodes(hot, "Session")
    assert session["id"] == CONVERSATION and session["tenant"] == "acme"
    prompts = nodes(hot, "Prompt")
    assert sorted(p["content"] for p in prompts) == [
        "Book a table for two at Luigi's tonight, my number is +1 415 555 0134",
        "Thanks! Can you text me the address?",
        "You are a concierge.",
    ]  # the history re-sent by later calls and turns is the same nodes
    responses = nodes(hot, "Response")
    assert len(responses) == 3  # the tool call, the answer, the second turn's tool call
    assert sorted(r["prompt_tokens"] for r in responses) == [41, 80, 120]
    tools = {t["tool_name"]: t for t in nodes(hot, "ToolInvocation")}
    assert set(tools) == {"book_table", "send_sms"}
    assert (
        tools["book_table"]["success"] is True
        and json.loads(tools["book_table"]["result"]) == "confirmed #42"
    )
    assert (
        tools["send_sms"]["success"] is False
        and tools["send_sms"]["error"] == "SMS gateway timeout"
    )
    assert tools["book_table"]["duration_ms"] > 0
    (agent,) = nodes(hot, "Agent")
    assert agent["name"] == "concierge"
    counts = {t: sum(1 for (k, _), v in hot.items() if k == "edge" and v["type"] == t) for t in ("RESPONDS_TO", "INVOKES", "HANDLED_BY", "FOLLOWS")}  # fmt: skip
    # (the second call of turn one answers the same prompt: one HANDLED_BY for both)
    assert counts == {"RESPONDS_TO": 3, "INVOKES": 2, "HANDLED_BY": 2, "FOLLOWS": 2}
    before = hot
    # compaction: the lake holds the same nodes and edges, redacted
    done = subprocess.run(
        [sys.executable, "-m", "memgraph_ops.cli", "compact", "--home", str(home), "--json"],
        capture_output=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    lake = Lake(load_settings(home).lake_uri)
    lake_nodes = lake.scan("nodes").collect()
    assert sorted(lake_nodes["id"].to_list()) == sorted(k for (kind, k) in before if kind == "node")
    lake_edges = lake.scan("edges").collect()
    assert sorted(lake_edges["id"].to_list()) == sorted(k for (kind, k) in before if kind == "edge")
    for column in ("content", "parameters", "result", "attrs"):
        for value in lake_nodes[column].drop_nulls().to_list():
            assert "555 0134" not in value, f"a phone number reached the lake in {column}"


def test_otlp_bodies_tenancy_and_partial_success(server: Server, keys: Keys) -> None:
    url = f"{server.url}/v1/traces"
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "chat m", "kind": 3, "startTimeUnixNano": "1764000000000000000",
        "endTimeUnixNano": "1764000000500000000",
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "5"}},
        ],
    }  # fmt: skip
    broken = {**span, "spanId": "not hex"}
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span, broken]}]}]}
    auth = {"Authorization": f"Bearer {keys.acme}"}
    gz = gzip.compress(json.dumps(body).encode())
    answer = httpx.post(url, content=gz, headers={**auth, "Content-Type": "application/json", "Content-Encoding": "gzip"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert int(answer.json()["partialSuccess"]["rejectedSpans"]) == 1  # (int64: a JSON string)
    assert "malformed span" in answer.json()["partialSuccess"]["errorMessage"]
    with memgraph_ops.open(server.home) as mg:
        (response,) = nodes(graph(mg.store), "Response")
        assert response["prompt_tokens"] == 5 and response["tenant"] == "acme"
    # protobuf: an empty request is a valid one, answered in protobuf
    ok = httpx.post(url, content=b"", headers={**auth, "Content-Type": "application/x-protobuf"})
    assert (
        ok.status_code == 200
        and ExportTraceServiceResponse.FromString(ok.content).partial_success.rejected_spans == 0
    )
    for content, headers, status in [
        (b"\xff\xfe garbage", {"Content-Type": "application/x-protobuf"}, 400),
        (b"{", {"Content-Type": "application/json"}, 400),
        (b"x", {"Content-Type": "text/plain"}, 400),
        (b"not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400),
    ]:
        bad = httpx.post(url, content=content, headers={**auth, **headers})
        assert bad.status_code == status, (headers, bad.text)
    assert (
        httpx.post(url, content=b"", headers={"Content-Type": "application/x-protobuf"}).status_code
        == 401
    )
    other = httpx.post(url, params={"tenant": "globex"}, content=json.dumps(body), headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert other.status_code == 403
    # another tenant sending the same trace (same ids) is refused, never merged into acme's
    theirs = httpx.post(url, content=json.dumps(body), headers={"Authorization": f"Bearer {keys.globex}", "Content-Type": "application/json"})  # fmt: skip
    assert theirs.status_code == 200
    with memgraph_ops.open(server.home) as mg:
        tenants = sorted(v["tenant"] for v in nodes(graph(mg.store), "Response"))
    assert tenants == ["acme"]
    assert int(theirs.json()["partialSuccess"]["rejectedSpans"]) >= 1


@pytest.mark.parametrize("served", [False, True], ids=["embedded", "served"])
def test_import_otel_reads_collector_files(
    home: Path, tmp_path: Path, served: bool, request: pytest.FixtureRequest
) -> None:
    """The Collector's file exporter writes one request per line; a trace may be split over
    lines, children first."""
    if served:
        request.getfixturevalue("serve")()
    trace = "0af7651916cd43dd8448eb211c80319c"
    root = {"traceId": trace, "spanId": "b7ad6b7169203331", "name": "invoke_agent helper", "startTimeUnixNano": "1764000000000000000", "endTimeUnixNano": "1764000009000000000", "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}, {"key": "gen_ai.agent.name", "value": {"stringValue": "helper"}}, {"key": "gen_ai.conversation.id", "value": {"stringValue": "conv-file"}}]}  # fmt: skip
    child = {"traceId": trace, "spanId": "00f067aa0ba902b7", "parentSpanId": "b7ad6b7169203331", "name": "chat m", "startTimeUnixNano": "1764000001000000000", "endTimeUnixNano": "1764000002000000000", "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}, {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "9"}}]}  # fmt: skip
    lines = [{"resourceSpans": [{"scopeSpans": [{"spans": [s]}]}]} for s in (child, root)]
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    def run() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "memgraph_ops.cli", "import-otel", str(path), "--home", str(home), "--tenant", "acme", "--json"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    first = run()
    assert first["spans"] == 2
    with memgraph_ops.open(home) as mg:
        g = graph(mg.store)
    (session,) = nodes(g, "Session")
    assert session["id"] == "conv-file"  # the child came first, named by the trace; replaced
    assert [a["name"] for a in nodes(g, "Agent")] == ["helper"]
    assert [r["prompt_tokens"] for r in nodes(g, "Response")] == [9]
    assert run()["accepted"] == 0  # re-importing is a no-op
