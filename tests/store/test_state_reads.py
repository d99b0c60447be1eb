"""HOT reads follow the same state rule as the lake: latest by occurred_at, partial upserts fill
in, a delete ends the item (issue 10, item 4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

import memgraph_ops
from memgraph_ops import Memgraph
from memgraph_ops.lake import no_redaction
from tests.factories import edge, event, session


def _lake_node(mg: Memgraph, node_id: str) -> dict[str, Any]:
    rows = mg.lake.nodes().filter(pl.col("id") == node_id).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_a_late_older_upsert_does_not_overwrite_newer_state(mg: Memgraph) -> None:
    newer = event("e-new", "Prompt", "p1", at=20, session_id="s1", content="newer text")
    older = event("e-old", "Prompt", "p1", at=10, session_id="s1", content="older text")
    mg.ingest([event("e-s", "Session", "s1", user_id="u1")])
    mg.ingest([newer])
    mg.ingest([older])  # arrives last, happened first

    assert mg.store.node("p1")["content"] == "newer text"
    (turn,) = mg.store.context("s1")
    assert turn["prompt"]["content"] == "newer text"
    mg.compact(redact=no_redaction)
    assert _lake_node(mg, "p1")["content"] == "newer text"


def test_a_partial_session_update_keeps_the_user(mg: Memgraph) -> None:
    mg.ingest([event("e1", "Session", "s1", at=0, user_id="u1", tags=["a"])])
    mg.ingest([event("e2", "Session", "s1", at=5, tags=["b"])])

    node = mg.store.node("s1")
    assert node["user_id"] == "u1" and node["tags"] == ["b"]
    sessions = mg.store.sessions("u1")
    assert sessions["session_id"].to_list() == ["s1"]
    assert sessions["tags"].to_list() == [["b"]]
    mg.compact(redact=no_redaction)
    lake = _lake_node(mg, "s1")
    assert (lake["tags"], node["tags"]) == (["b"], ["b"])
    assert sessions["created_at"].to_list() == [lake["created_at"]]


def test_a_partial_response_update_keeps_its_content_in_context(mg: Memgraph) -> None:
    mg.ingest(session("s1", 1))
    edit = event(
        "e-fix", "Response", "s1-r0", at=50, session_id="s1", prompt_id="s1-p0",
        content="answer 0, edited", finish_reason="stop",
    )  # fmt: skip
    assert mg.ingest([edit]).accepted == 1

    (turn,) = mg.store.context("s1")
    (response,) = turn["responses"]
    assert (response["content"], response["finish_reason"]) == ("answer 0, edited", "stop")
    assert response["total_tokens"] == 15  # carried by the first event only


def test_a_session_moved_to_another_user_leaves_the_old_users_list(mg: Memgraph) -> None:
    mg.ingest([event("e1", "Session", "s1", at=0, user_id="u1")])
    mg.ingest([event("e2", "Session", "s1", at=5, user_id="u2")])
    assert mg.store.sessions("u1").is_empty()
    assert mg.store.sessions("u2")["session_id"].to_list() == ["s1"]


def test_deletes_order_by_occurred_at_too(mg: Memgraph) -> None:
    mg.ingest([event("e1", "Agent", "a1", at=0, name="planner")])
    mg.ingest([{**event("e2", "Agent", "a1", at=10), "op": "delete"}])
    mg.ingest([event("e3", "Agent", "a1", at=5, name="late")])  # before the delete
    assert mg.store.node("a1") is None
    mg.ingest([event("e4", "Agent", "a1", at=20, name="router")])  # after it: a new node
    node = mg.store.node("a1")
    assert (
        node is not None and node["name"] == "router" and node["created_at"] == node["updated_at"]
    )


def test_edges_fold_their_events(mg: Memgraph) -> None:
    mg.ingest(session("s1", 1))
    mg.ingest([edge("e-late", "RESPONDS_TO", "s1-r0", "s1-p0", at=0, session_id="s1")])
    (responds,) = mg.store.edges("s1-r0", direction="out", type="RESPONDS_TO").to_dicts()
    assert responds["latency_ms"] == 5.0  # the late, older event carried no latency


def test_trim_keeps_every_event_of_an_item_that_has_a_recent_one(mg: Memgraph) -> None:
    mg.ingest([event("e1", "Session", "s1", at=0, user_id="u1")])
    mg.compact(redact=no_redaction)  # hot window 0: the session's event is trimmed
    assert mg.store.counts()["events"] == 0
    mg.ingest([event("e2", "Session", "s2", at=0, user_id="u2")])
    mg.ingest([event("e3", "Session", "s2", at=5, tags=["x"])])
    dropped = mg.store.trim(
        compacted_through=mg.store.max_seq() - 1,  # e3 is not in the lake yet
        hot_window=timedelta(0),
        dedupe_window=timedelta(days=1),
    )
    assert dropped == 0
    assert mg.store.node("s2")["user_id"] == "u2"


def test_a_late_first_event_fills_in_across_compactions(home: Path) -> None:
    mg = memgraph_ops.open(home, hot_window_hours=6)  # HOT keeps both events
    mg.ingest([event("e2", "Session", "s1", at=5, tags=["b"])])
    mg.compact(redact=no_redaction)
    mg.ingest([event("e1", "Session", "s1", at=0, user_id="u1", tags=["a"])])  # late creation
    mg.compact(redact=no_redaction)

    lake = _lake_node(mg, "s1")
    assert (lake["user_id"], lake["tags"]) == ("u1", ["b"])
    assert lake["created_at"] < lake["updated_at"]
    hot = mg.store.node("s1")
    assert (hot["user_id"], hot["tags"]) == ("u1", ["b"])
    assert (hot["created_at"], hot["updated_at"]) == (lake["created_at"], lake["updated_at"])
    mg.close()
