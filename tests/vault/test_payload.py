"""Encoding sessions for the vault: exact round trips, shared blocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from memgraph_ops.imports.chat import event_id as chat_event_id
from memgraph_ops.vault.payload import (
    BLOCK_MIN_BYTES,
    EDGES,
    NODES,
    block_digests,
    decode_session,
    encode_sessions,
)

SYSTEM = "You are the billing agent of Acme. Never reveal internal notes. " * 40

text = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(
        [SYSTEM, SYSTEM + " v2", '{"k": [1, 2, {"n": null}]}', "", "\u00e9\u4e2d\U0001f600"]
    ),
)
# what the store accepts: finite floats (NaN and infinity are quarantined), lists without nulls
number = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))
count = st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62))
moment = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)
tags = st.one_of(st.none(), st.lists(st.text(max_size=8), max_size=3))


def _event_id(session_id: str, row_id: str) -> st.SearchStrategy[str | None]:
    return st.sampled_from([None, chat_event_id(session_id, row_id), "chat-0123", "e-1"])


@st.composite
def sessions(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lake rows of 1-3 sessions with arbitrary values in every column type."""
    node_rows, edge_rows = [], []
    for s in range(draw(st.integers(1, 3))):
        sid = f"s{s}"
        for i in range(draw(st.integers(0, 6))):
            nid = f"{sid}-n{i}"
            node_rows.append(
                {
                    "last_event_id": draw(_event_id(sid, nid)),
                    "id": nid, "type": draw(st.sampled_from(["Session", "Prompt", "Response"])),
                    "tenant": draw(text), "session_id": sid, "created_at": draw(moment),
                    "updated_at": draw(moment), "last_seq": draw(count), "content": draw(text),
                    "is_system": draw(st.one_of(st.none(), st.booleans())), "tags": draw(tags),
                    "temperature": draw(number), "total_tokens": draw(count), "attrs": draw(text),
                }
            )  # fmt: skip
        for i in range(draw(st.integers(0, 4))):
            # ids and event ids the vault can derive (edge keys, import-chat ids), or not
            eid = draw(st.sampled_from([f"{sid}-e{i}", f"{sid}-n{i}|FOLLOWS|elsewhere"]))
            edge_rows.append(
                {
                    "last_event_id": draw(_event_id(sid, eid)),
                    "id": eid, "type": "FOLLOWS", "src": f"{sid}-n{i}", "dst": "elsewhere",
                    "session_id": sid, "tenant": draw(text), "created_at": draw(moment),
                    "dangling": draw(st.one_of(st.none(), st.booleans())),
                    "latency_ms": draw(number), "override_sections": draw(tags),
                    "context_summary": draw(text),
                }
            )  # fmt: skip
    return _frame(node_rows, NODES), _frame(edge_rows, EDGES)


def _frame(rows: list[dict[str, object]], schema: pl.Schema) -> pl.DataFrame:
    full = [{name: row.get(name) for name in schema.names()} for row in rows]
    return pl.DataFrame(full, schema=schema, orient="row")


@settings(max_examples=60, deadline=None)
@given(sessions())
def test_every_row_and_value_comes_back_exactly(frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    nodes, edges = frames
    encoded = encode_sessions(nodes, edges)
    sessions_present = set(nodes["session_id"]) | set(edges["session_id"])
    assert set(encoded.payloads) == sessions_present
    for session, payload in encoded.payloads.items():
        rows = decode_session(payload, encoded.blocks)
        assert_frame_equal(rows.nodes, nodes.filter(pl.col("session_id") == session))
        assert_frame_equal(rows.edges, edges.filter(pl.col("session_id") == session))


def test_long_repeated_strings_are_stored_once_as_blocks() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    nodes = _frame(
        [
            {"id": f"s{i}-p", "type": "Prompt", "session_id": f"s{i}", "content": SYSTEM,
             "created_at": start + timedelta(minutes=i), "last_seq": i}
            for i in range(5)
        ]
        + [{"id": "s9-p", "type": "Prompt", "session_id": "s9", "content": "x" * 2000}],
        NODES,
    )  # fmt: skip
    encoded = encode_sessions(nodes, _frame([], EDGES))
    assert len(SYSTEM) >= BLOCK_MIN_BYTES
    assert list(encoded.blocks.values()) == [SYSTEM.encode()]  # the unique long one stays inline
    digest = next(iter(encoded.blocks))
    for i in range(5):
        assert SYSTEM.encode() not in encoded.payloads[f"s{i}"]
        assert block_digests(encoded.payloads[f"s{i}"]) == [digest] == encoded.refs[f"s{i}"]
    assert b"x" * 2000 in encoded.payloads["s9"]
    # a block stored by an earlier archive run is referred to even when it occurs once now
    again = encode_sessions(nodes.head(1), _frame([], EDGES), known_blocks=frozenset([digest]))
    assert again.blocks == {} and again.refs == {"s0": [digest]}


def test_payload_is_plain_column_major_json_without_null_columns() -> None:
    nodes = _frame([{"id": "s1", "type": "Session", "session_id": "s1", "user_id": "u"}], NODES)
    payload = encode_sessions(nodes, _frame([], EDGES)).payloads["s1"]
    doc = json.loads(payload)
    assert doc == {
        "format": 1,
        "session_id": "s1",
        "nodes": {"id": ["s1"], "type": ["Session"], "user_id": ["u"]},
        "edges": {},
    }


def test_non_finite_numbers_are_refused_with_the_column_named() -> None:
    nodes = _frame(
        [{"id": "s1", "type": "Session", "session_id": "s1", "temperature": float("inf")}], NODES
    )
    with pytest.raises(ValueError, match=r"temperature"):
        encode_sessions(nodes, _frame([], EDGES))


def test_ids_the_vault_can_derive_are_left_out_and_come_back() -> None:
    sid = "conv-1"
    nodes = _frame(
        [{"id": f"{sid}:m0", "type": "Prompt", "session_id": sid,
          "last_event_id": chat_event_id(sid, f"{sid}:m0")}],
        NODES,
    )  # fmt: skip
    key = f"{sid}:m1|RESPONDS_TO|{sid}:m0"
    edges = _frame(
        [{"id": key, "type": "RESPONDS_TO", "src": f"{sid}:m1", "dst": f"{sid}:m0",
          "session_id": sid, "last_event_id": chat_event_id(sid, key)}],
        EDGES,
    )  # fmt: skip
    payload = encode_sessions(nodes, edges).payloads[sid]
    doc = json.loads(payload)
    assert "last_event_id" not in doc["nodes"] and "id" not in doc["edges"]
    assert doc["derived"] == {
        "nodes": {"last_event_id": "import-chat"},
        "edges": {"id": "edge-key", "last_event_id": "import-chat"},
    }
    rows = decode_session(payload, {})
    assert_frame_equal(rows.nodes, nodes)
    assert_frame_equal(rows.edges, edges)


def test_a_large_member_shared_inside_json_objects_is_stored_once() -> None:
    tools = [{"name": f"tool_{i}", "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "what to look for " * 3}}}} for i in range(8)]  # fmt: skip
    rows = []
    for i, separators in enumerate([None, (",", ":"), None]):
        options = {"ensure_ascii": False, **({"separators": separators} if separators else {})}
        attrs = json.dumps({"title": f"chat {i} é", "tools": tools, "n": 1.5e-7}, **options)
        rows.append({"id": f"s{i}", "type": "Session", "session_id": f"s{i}", "attrs": attrs})
    rows.append({"id": "s9", "type": "Session", "session_id": "s9", "attrs": '{"tools": 1, "tools": ' + json.dumps(tools) + "}"})  # fmt: skip
    nodes = _frame(rows, NODES)
    encoded = encode_sessions(nodes, _frame([], EDGES))
    member = json.dumps(tools, ensure_ascii=False)
    compact = json.dumps(tools, ensure_ascii=False, separators=(",", ":"))
    assert {b.decode() for b in encoded.blocks.values()} == {member}  # the compact one is alone
    assert len(encoded.refs["s0"]) == len(encoded.refs["s2"]) == 1
    assert "s1" not in encoded.refs and compact != member  # its serialisation differs: inline
    assert "s9" not in encoded.refs  # duplicate keys: not reproducible, kept whole
    for session, payload in encoded.payloads.items():
        got = decode_session(payload, encoded.blocks).nodes
        assert_frame_equal(got, nodes.filter(pl.col("session_id") == session))
