"""Erasure reaches the OpenTelemetry spans HOT keeps for re-mapping traces: a subject's
spans go (by their session, or by a clear value in them), other people's stay."""

from __future__ import annotations

from memgraph_ops import Memgraph
from memgraph_ops.erasure import Subject, erase
from memgraph_ops.erasure.steps import scan
from memgraph_ops.imports.traces import import_spans
from tests.erasure.conftest import EMAIL, SUBJECT
from tests.imports.otel_helpers import hex_id, span


def _trace(name: str, user: str, text: str) -> list:  # type: ignore[type-arg]
    return [
        span(name, "root", "invoke_agent helper", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper", "user.id": user}),
        span(name, "chat", "chat m", parent="root", start=1, attributes={"gen_ai.operation.name": "chat", "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": text}]}]}),
    ]  # fmt: skip


def test_erasure_removes_the_subjects_kept_spans_and_keeps_others(mg: Memgraph) -> None:
    import_spans(mg.store, _trace("t-subject", SUBJECT, f"mail me at {EMAIL}"), tenant="acme")
    import_spans(mg.store, _trace("t-other", "alice-11aa", "what is the weather"), tenant="acme")
    subject_trace, other_trace = hex_id("t-subject", 16), hex_id("t-other", 16)
    assert mg.store.staged_spans("acme", [subject_trace]) and mg.store.staged_spans(
        "acme", [other_trace]
    )
    assert scan(mg, [SUBJECT, EMAIL])  # the scan can fail: the spans hold both in clear
    mg.compact()

    request = erase(mg, Subject("user", SUBJECT, identifiers=(EMAIL,)))

    assert request.status == "done"
    assert request.receipt is not None and request.receipt["counts"]["hot"]["otel_spans"] == 2
    assert mg.store.staged_spans("acme", [subject_trace]) == []
    assert len(mg.store.staged_spans("acme", [other_trace])) == 2
    assert scan(mg, [SUBJECT, EMAIL]) == []
