"""OTLP trace export requests decoded into plain spans.

An `ExportTraceServiceRequest` arrives as protobuf (`application/x-protobuf`, what the
OpenTelemetry SDKs' OTLP/HTTP exporters send) or as OTLP/JSON (`application/json`, and the OTel
Collector's file exporter: one request per line, or a whole file). Both are read with the
official message classes of `opentelemetry-proto`; OTLP/JSON differs from protobuf's own JSON
mapping only in the ids (hex, not base64), which are converted before parsing.

The result is a list of `OtelSpan` (attribute values as Python values, ids as lower-case hex)
and, for JSON, a list of `Rejected` spans that could not be read: a malformed span is reported
with its reason and its neighbours are kept. A protobuf body that does not parse is refused
whole (`InputError`): there is no way to find span boundaries in a broken message.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from memgraph_ops.errors import InputError

SPAN_KINDS = {v: k.removeprefix("SPAN_KIND_") for k, v in Span.SpanKind.items()}
STATUS_CODES = {v: k.removeprefix("STATUS_CODE_") for k, v in Status.StatusCode.items()}


@dataclass(frozen=True)
class OtelEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class OtelSpan:
    """One span, with what it was exported with (its resource's and scope's attributes)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: tuple[OtelEvent, ...] = ()
    status_code: str = "UNSET"
    status_message: str = ""
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""

    def as_json(self) -> str:
        """The span as one JSON document (what the store stages; `from_json` reads it)."""
        body = {
            **self.__dict__,
            "events": [e.__dict__ for e in self.events],
        }
        return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> OtelSpan:
        body = json.loads(text)
        body["events"] = tuple(OtelEvent(**e) for e in body["events"])
        return cls(**body)


@dataclass(frozen=True)
class Rejected:
    """A span that could not be read, with why (the raw text goes to quarantine)."""

    raw: str
    reason: str


MAX_DECOMPRESSED = 256 * 1024 * 1024
"""Largest body a compressed request may expand to (a small gzip body can expand 1000-fold)."""


def decode_request(
    body: bytes,
    content_type: str,
    encoding: str | None = None,
    *,
    max_bytes: int = MAX_DECOMPRESSED,
) -> tuple[list[OtelSpan], list[Rejected]]:
    """The spans of one OTLP/HTTP request body (`content_type` protobuf or JSON; `encoding`
    the Content-Encoding, `gzip` or `deflate`, expanding to at most `max_bytes`)."""
    body = _decompressed(body, encoding, max_bytes)
    media = content_type.split(";")[0].strip().lower()
    if media in ("application/x-protobuf", "application/protobuf"):
        try:
            request = ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            raise InputError(f"the body is not an OTLP ExportTraceServiceRequest: {exc}") from None
        return list(_spans_of(request)), []
    if media == "application/json":
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"the body is not JSON: {exc}") from None
        return decode_json(document)
    raise InputError(
        f"unsupported content type {media or '(none)'!r}: send OTLP as application/x-protobuf "
        "or application/json"
    )


def _decompressed(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise InputError(f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")
    out = bytearray()
    rest = body
    try:
        while rest:  # (a gzip body may hold several members)
            stream = zlib.decompressobj(31 if encoding == "gzip" else 15)
            out += stream.decompress(rest, max_bytes + 1 - len(out))
            if len(out) > max_bytes or stream.unconsumed_tail:
                raise InputError(f"the body expands past {max_bytes} bytes")
            if not stream.eof:
                raise InputError(f"the body is truncated {encoding}")
            rest = stream.unused_data
    except zlib.error as exc:
        raise InputError(f"the body is not valid {encoding}: {exc}") from None
    return bytes(out)


def decode_json(document: Any) -> tuple[list[OtelSpan], list[Rejected]]:
    """Spans of an OTLP/JSON `ExportTraceServiceRequest` (already parsed); span by span, so a
    malformed span is rejected alone."""
    if not isinstance(document, Mapping):
        raise InputError("an OTLP/JSON request must be a JSON object with `resourceSpans`")
    spans: list[OtelSpan] = []
    rejected: list[Rejected] = []
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        resource = _attributes_json(_get(resource_spans, "resource") or {})
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            scope = _get(_get(scope_spans, "scope"), "name") or ""
            for raw in _list(scope_spans, "spans"):
                try:
                    message = json_format.ParseDict(_hex_ids_to_base64(raw), Span())
                    spans.append(_span(message, resource, str(scope)))
                except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
                    rejected.append(
                        Rejected(json.dumps(raw, default=str), f"malformed span: {exc}")
                    )
    return spans, rejected


def iter_file_requests(text: str) -> Iterator[tuple[int, Any]]:
    """(line, document) of each request in an OTLP/JSON file: one whole JSON document, or
    one request per line (the Collector's file exporter)."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        yield 1, json.loads(stripped)
        return
    except json.JSONDecodeError:
        pass
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"line {number} is not JSON: {exc}") from None


# --- protobuf messages to spans ---------------------------------------------------------------


def _spans_of(request: ExportTraceServiceRequest) -> Iterator[OtelSpan]:
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _span(span, resource, scope_spans.scope.name)


def _span(span: Span, resource: dict[str, Any], scope: str) -> OtelSpan:
    return OtelSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        name=span.name,
        kind=SPAN_KINDS.get(span.kind, "UNSPECIFIED"),
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        attributes=_attributes(span.attributes),
        events=tuple(
            OtelEvent(e.name, e.time_unix_nano, _attributes(e.attributes)) for e in span.events
        ),
        status_code=STATUS_CODES.get(span.status.code, "UNSET"),
        status_message=span.status.message,
        resource=resource,
        scope=scope,
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


# --- OTLP/JSON details ------------------------------------------------------------------------


def _get(holder: Any, *names: str) -> Any:
    if not isinstance(holder, Mapping):
        return None
    for name in names:
        if name in holder:
            return holder[name]
    return None


def _list(holder: Any, *names: str) -> list[Any]:
    value = _get(holder, *names)
    return value if isinstance(value, list) else []


def _attributes_json(holder: Mapping[str, Any]) -> dict[str, Any]:
    message = KeyValue()
    out: dict[str, Any] = {}
    for pair in _list(holder, "attributes"):
        try:
            json_format.ParseDict(pair, message)
        except json_format.ParseError:
            continue
        out[message.key] = _value(message.value)
    return out


_ID_FIELDS = (("traceId", "trace_id"), ("spanId", "span_id"), ("parentSpanId", "parent_span_id"))


def _hex_ids_to_base64(raw: Any) -> Any:
    """OTLP/JSON writes trace and span ids in hex; protobuf's JSON mapping wants base64."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"a span must be a JSON object, got {type(raw).__name__}")
    span = dict(raw)
    for names in _ID_FIELDS:
        for name in names:
            if isinstance(span.get(name), str):
                span[name] = base64.b64encode(bytes.fromhex(span[name])).decode()
    span["links"] = [_hex_ids_to_base64(link) for link in span.get("links") or []]
    return span
