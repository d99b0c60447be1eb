"""OpenTelemetry spans into a store: quarantine what cannot be read, map each trace from all
of its spans so far, write the events, keep the spans.

A trace may arrive over many export requests and in any order (a parent after its children,
the span that names the conversation last). Each time spans of a trace arrive, the trace is
mapped again from every span received for it (`Store.staged_spans`) and compared with the
mapping of the spans received before (`otel.changes`): events that did not change have the same
ids and are skipped, changed items get new events, and what the earlier mapping emitted that
the full one no longer does is deleted. The events and the spans kept are written in one
transaction, so a crash loses or repeats a delivery whole.
"""

from __future__ import annotations

import gzip
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memgraph_ops.errors import InputError
from memgraph_ops.imports.otel import changes, span_problem, trace_events
from memgraph_ops.imports.otlp import OtelSpan, Rejected, decode_json, iter_file_requests
from memgraph_ops.store import SpanStage

if TYPE_CHECKING:
    from memgraph_ops.store import IngestResult, Store

SOURCE = "otel"


@dataclass
class OtelImportReport:
    spans: int = 0
    new_spans: int = 0
    traces: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    deleted: int = 0
    quarantined: int = 0
    """Spans that could not be read or mapped, and events the store refused."""
    reasons: dict[str, int] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: OtelImportReport) -> None:
        for name in ("spans", "new_spans", "traces", "events", "accepted", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.deleted += other.deleted
        self.quarantined += other.quarantined
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        self.issues += other.issues


@dataclass
class Delivery:
    """What one delivery of spans will write, computed from reads only (`plan`): the spans
    that cannot be read (to quarantine), then the events and the spans to keep, in one
    transaction (`Store.ingest_many(spans=)`)."""

    tenant: str
    report: OtelImportReport
    unreadable: list[tuple[str, str]]
    events: list[dict[str, Any]]
    stage: SpanStage
    """The spans to keep (with the events, in one transaction)."""

    def count(self, result: IngestResult) -> None:
        """Add what the store did with the events (and the spans kept with them)."""
        self.report.new_spans = len(self.stage.rows)
        self.report.accepted, self.report.duplicates = result.accepted, result.duplicates
        self.report.quarantined += result.quarantined
        for reason, n in result.reasons.items():
            self.report.reasons[reason] = self.report.reasons.get(reason, 0) + n


def plan(
    store: Store, spans: Sequence[OtelSpan], rejected: Sequence[Rejected] = (), *, tenant: str
) -> Delivery:
    """Map one delivery of spans (reads the spans kept for their traces). Writing it must not
    interleave with another delivery for the same traces (`import_spans` holds a lock; the
    service locks per trace)."""
    report = OtelImportReport(spans=len(spans) + len(rejected))
    unreadable = [(r.raw, r.reason) for r in rejected]
    by_trace: dict[str, list[OtelSpan]] = defaultdict(list)
    for span in spans:
        problem = span_problem(span)
        if problem is None:
            by_trace[span.trace_id].append(span)
        else:
            unreadable.append((span.as_json(), problem))
    report.quarantined += len(unreadable)
    for _, reason in unreadable:
        report.reasons[reason] = report.reasons.get(reason, 0) + 1
    staged: dict[str, list[OtelSpan]] = defaultdict(list)
    for text in store.staged_spans(tenant, sorted(by_trace)):
        span = OtelSpan.from_json(text)
        staged[span.trace_id].append(span)
    events: list[dict[str, Any]] = []
    rows: list[tuple[str, str, str, str]] = []
    moved: dict[str, str] = {}
    now = datetime.now(UTC)
    for trace_id, arrived in by_trace.items():
        kept = staged[trace_id]
        after = trace_events([*kept, *arrived], tenant=tenant)
        before = trace_events(kept, tenant=tenant) if kept else None
        delta = changes(before.events if before else [], after.events, now=now)
        events += delta
        report.deleted += sum(1 for e in delta if e["op"] == "delete")
        report.issues += after.issues
        if before is not None and before.session_id != after.session_id:
            moved[trace_id] = after.session_id
        known = {s.span_id for s in kept}
        for span in {s.span_id: s for s in arrived}.values():  # (a span twice: kept once)
            if span.span_id not in known:
                rows.append((trace_id, span.span_id, after.session_id, span.as_json()))
    report.traces, report.events = len(by_trace), len(events)
    return Delivery(tenant, report, unreadable, events, SpanStage(tenant, rows, moved))


_ONE_AT_A_TIME = threading.Lock()


def import_spans(
    store: Store,
    spans: Sequence[OtelSpan],
    rejected: Sequence[Rejected] = (),
    *,
    tenant: str,
    owner: str | None = None,
    source: str = SOURCE,
) -> OtelImportReport:
    """Map and write the spans of one delivery (`owner`: the tenant a tenant key is bound
    to, which the store enforces). One delivery at a time in this process."""
    with _ONE_AT_A_TIME:
        delivery = plan(store, spans, rejected, tenant=tenant)
        if delivery.unreadable:
            store.quarantine_unreadable(delivery.unreadable, source=source)
        result = store.ingest_many(
            [delivery.events], source=source, owner=owner, spans=[delivery.stage]
        )
        delivery.count(result[0])
    return delivery.report


def import_otel_file(
    store: Store,
    path: str | Path,
    *,
    tenant: str = "default",
    progress: Callable[[int, int], None] | None = None,
) -> OtelImportReport:
    """Import an OTLP/JSON file: one `ExportTraceServiceRequest` as a whole document, or one
    per line (the OTel Collector's file exporter); `.gz` files are read compressed. On a served
    data root the requests go to the server's `/v1/traces`."""
    from memgraph_ops.client import RemoteStore

    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})") from None
    report = OtelImportReport()
    for number, document in iter_file_requests(text):
        if isinstance(store, RemoteStore):
            part = store.export_traces(document, tenant=tenant)
        else:
            try:
                spans, rejected = decode_json(document)
            except InputError as exc:
                raise InputError(f"{path}, line {number}: {exc}") from None
            part = import_spans(store, spans, rejected, tenant=tenant, source=f"{SOURCE}:{path}")
        report.add(part)
        if progress is not None:
            progress(report.spans, 0)
    return report
