"""Encode conversations as OTLP trace export requests for the Phoenix peer benchmark.

Runs in the peer's own environment (`.tools/phoenix`, see `benchmarks/service_peer.py`), which
has `opentelemetry-proto`; our project does not depend on it. Input: a JSON list of
conversations `{"id", "messages": [{"role", "content"}...]}`. Output: one serialised
`ExportTraceServiceRequest` per conversation, each prefixed by its length (8 bytes, big
endian): one trace per conversation, a root `AGENT` span carrying `session.id` and one `LLM`
span per user/assistant turn with OpenInference message attributes — what an instrumented chat
application exports.

    .tools/phoenix/bin/python benchmarks/_phoenix_encode.py conversations.json requests.bin
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

START_NS = 1_750_000_000_000_000_000
TURN_NS = 1_500_000_000


def _attrs(values: dict[str, Any]) -> list[KeyValue]:
    out = []
    for key, value in values.items():
        if isinstance(value, int):
            out.append(KeyValue(key=key, value=AnyValue(int_value=value)))
        else:
            out.append(KeyValue(key=key, value=AnyValue(string_value=str(value))))
    return out


def _id(text: str, size: int) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:size]


def encode(conversation: dict[str, Any]) -> bytes:
    cid = conversation["id"]
    trace = _id(cid, 16)
    root = _id(cid + ":root", 8)
    messages = conversation["messages"]
    spans = [
        Span(
            trace_id=trace, span_id=root, name="conversation",
            start_time_unix_nano=START_NS,
            end_time_unix_nano=START_NS + TURN_NS * max(1, len(messages)),
            attributes=_attrs({"openinference.span.kind": "AGENT", "session.id": cid}),
        )
    ]  # fmt: skip
    history: list[dict[str, Any]] = []
    turn = 0
    for message in messages:
        if message["role"] != "assistant":
            history.append(message)
            continue
        attrs: dict[str, Any] = {
            "openinference.span.kind": "LLM",
            "session.id": cid,
            "llm.model_name": "claude-v1",
        }
        for n, past in enumerate(history):
            attrs[f"llm.input_messages.{n}.message.role"] = past["role"]
            attrs[f"llm.input_messages.{n}.message.content"] = past["content"]
        attrs["llm.output_messages.0.message.role"] = "assistant"
        attrs["llm.output_messages.0.message.content"] = message["content"]
        start = START_NS + TURN_NS * turn
        spans.append(
            Span(
                trace_id=trace, span_id=_id(f"{cid}:{turn}", 8), parent_span_id=root,
                name="llm", kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=start,
                end_time_unix_nano=start + TURN_NS // 2, attributes=_attrs(attrs),
            )
        )  # fmt: skip
        history.append(message)
        turn += 1
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=_attrs({"service.name": "chat-bench"})),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    return request.SerializeToString()


def main() -> int:
    conversations = json.loads(Path(sys.argv[1]).read_text())
    with open(sys.argv[2], "wb") as out:
        for conversation in conversations:
            body = encode(conversation)
            out.write(len(body).to_bytes(8, "big"))
            out.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
