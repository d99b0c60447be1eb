"""Erasure in the operational store (HOT): the subject as the store sees it.

The store owns its SQL (`memgraph_ops.store.subject`, through `Store.find_subject` and
`Store.erase_subject`); this module turns an `Identity` into the plain `SubjectRows` those
methods take, and their counts into `HotHits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memgraph_ops.erasure.identity import Identity
from memgraph_ops.store import SubjectRows

if TYPE_CHECKING:
    from memgraph_ops.erasure.layers import HotStore


@dataclass
class HotHits:
    sessions: list[str] = field(default_factory=list)
    events: int = 0
    restored_events: int = 0
    restored_sessions: int = 0
    retired_ids: int = 0
    quarantined: int = 0
    otel_spans: int = 0
    """Staged OpenTelemetry spans (raw span text) of the subject's traces or naming them."""
    other_rows: int = 0
    other_sessions: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "restored_events": self.restored_events,
            "restored_sessions": self.restored_sessions,
            "retired_event_ids": self.retired_ids,
            "quarantined": self.quarantined,
            "otel_spans": self.otel_spans,
            "other_people_rows": self.other_rows,
            "other_people_sessions": len(self.other_sessions),
        }

    @property
    def total(self) -> int:
        return (
            self.events + self.restored_events + self.restored_sessions + self.retired_ids
            + self.quarantined + self.otel_spans + self.other_rows
        )  # fmt: skip


@dataclass(frozen=True)
class SubjectIds:
    """Event and node ids of the subject's sessions that left HOT (from the lake's event log):
    the dedupe window still remembers them."""

    event_ids: list[str] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)


def subject_rows(identity: Identity, ids: SubjectIds) -> SubjectRows:
    return SubjectRows(
        sessions=list(identity.sessions),
        user_ids=list(identity.user_ids),
        event_ids=list(ids.event_ids),
        node_ids=list(ids.node_ids),
        clear_pattern=identity.clear_pattern,
        token_pattern=identity.token_pattern,
        tenant=identity.subject.tenant,
    )


def find(store: HotStore, identity: Identity, ids: SubjectIds) -> HotHits:
    found = store.find_subject(subject_rows(identity, ids))
    return HotHits(sessions=list(identity.sessions), **found)


def erase(store: HotStore, identity: Identity, ids: SubjectIds, *, re_redact: bool) -> HotHits:
    """Delete the subject's rows from HOT (one transaction); re-redact other people's rows
    holding the subject's values when asked. Returns what was removed."""
    found = store.erase_subject(subject_rows(identity, ids), re_redact=re_redact)
    return HotHits(sessions=list(identity.sessions), **found)
