"""Encoding sessions for the vault: exact round trips, shared blocks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from memgraph_ops import Memgraph
from memgraph_ops.imports.chat import event_id as chat_event_id
from memgraph_ops.lake import no_redaction
from memgraph_ops.vault.payload import (
    BLOCK_MIN_BYTES,
    EDGES,
    NODES,
    block_digests,
    decode_session,
    encode_sessions,
)
from tests.factories import event

SYSTEM = "You are the billing agent of Acme. Never reveal internal notes. " * 40
SYSTEM_DIGEST = hashlib.sha256(SYSTEM.encode()).hexdigest()
TOOLS = json.dumps([{"name": f"tool_{i}", "description": "look it up " * 12} for i in range(8)])
TOOLS_DIGEST = hashlib.sha256(TOOLS.encode()).hexdigest()
ADVERSARIAL = [
    "\x00blk:" + SYSTEM_DIGEST,  # the format 1 reference to a block this session uses
    "\x00blk:" + TOOLS_DIGEST,
    "\x00blk:" + "0" * 64,  # a well-formed reference to no block
    "\x00blk:",
    "\x00blk:" + SYSTEM_DIGEST + " and more",
    "\x00json:a:{}",
    "\x00json:c:" + json.dumps({"tools": "\x00blk:" + TOOLS_DIGEST}),
    SYSTEM_DIGEST,  # a block's digest alone
    SYSTEM,  # a block's exact text
    TOOLS,
    "\x00",
    "a\x00b\x00",
    "\x00\x00blk:\x00",
    "",
]
"""Strings that look like (or are) the vault's own block references and blocks."""

text = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(
        [
            SYSTEM,
            SYSTEM + " v2",
            '{"k": [1, 2, {"n": null}]}',
            "",
            "\u00e9\u4e2d\U0001f600",
            *ADVERSARIAL,
        ]
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


def _frame(rows: Sequence[Mapping[str, object]], schema: pl.Schema) -> pl.DataFrame:
    full = [{name: row.get(name) for name in schema.names()} for row in rows]
    return pl.DataFrame(full, schema=schema, orient="row")


def _sessions_holding(value: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two sessions that share SYSTEM and TOOLS (so both become blocks), and `value` in every
    kind of string field: whole, inside a JSON object with a block member, in a list."""
    node_rows: list[dict[str, object]] = []
    for s in ("s0", "s1"):
        node_rows += [
            {"id": f"{s}-sys", "type": "Prompt", "session_id": s, "content": SYSTEM,
             "attrs": json.dumps({"title": f"chat {s}", "tools": json.loads(TOOLS)})},
            {"id": f"{s}-p", "type": "Prompt", "session_id": s, "content": value, "attrs": value,
             "tags": [value]},
            {"id": f"{s}-q", "type": "Prompt", "session_id": s, "content": value + s + SYSTEM,
             "attrs": json.dumps({"note": value, "in": s, "tools": json.loads(TOOLS)})},
        ]  # fmt: skip
    edges = [{"id": f"{s}-e", "type": "FOLLOWS", "src": f"{s}-q", "dst": f"{s}-p",
              "session_id": s, "context_summary": value} for s in ("s0", "s1")]  # fmt: skip
    return _frame(node_rows, NODES), _frame(edges, EDGES)


@settings(max_examples=60, deadline=None)
@example(_sessions_holding("\x00blk:" + SYSTEM_DIGEST))  # format 1's reference to a used block
@example(_sessions_holding("\x00blk:" + TOOLS_DIGEST))  # ... to a JSON member block
@example(_sessions_holding("\x00blk:" + "0" * 64))  # a well-formed reference to no block
@example(_sessions_holding("\x00blk:"))
@example(_sessions_holding("\x00json:c:" + json.dumps({"tools": "\x00blk:" + TOOLS_DIGEST})))
@example(_sessions_holding(SYSTEM_DIGEST))  # a block's digest alone
@example(_sessions_holding(SYSTEM))  # a block's exact text
@example(_sessions_holding(TOOLS))
@example(_sessions_holding("\x00"))
@example(_sessions_holding("a\x00b\x00"))
@example(_sessions_holding(""))
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
        assert block_digests(payload) == encoded.refs.get(session, [])


def test_block_references_are_out_of_band_so_no_user_string_is_read_as_one() -> None:
    lookalike = "\x00blk:" + SYSTEM_DIGEST
    nodes, edges = _sessions_holding(lookalike)
    encoded = encode_sessions(nodes, edges)
    assert set(encoded.blocks) == {SYSTEM_DIGEST, TOOLS_DIGEST}
    doc = json.loads(encoded.payloads["s0"])
    assert doc["format"] == 4
    assert doc["nodes"]["content"][:2] == ["", lookalike]  # the user's text is kept verbatim
    attrs = nodes["attrs"].to_list()
    assert doc["blocks"] == {
        "nodes": {
            "content": [[0, 0, SYSTEM_DIGEST]],
            "attrs": [
                [0, attrs[0].encode().index(TOOLS.encode()), TOOLS_DIGEST],
                [2, attrs[2].encode().index(TOOLS.encode()), TOOLS_DIGEST],
            ],
        }
    }
    assert doc["nodes"]["attrs"][0] == '{"title": "chat s0", "tools": }'  # TOOLS cut out
    assert json.dumps(lookalike) in doc["nodes"]["attrs"][2]
    rows = decode_session(encoded.payloads["s0"], encoded.blocks)
    assert rows.nodes["content"].to_list()[:2] == [SYSTEM, lookalike]
    with pytest.raises(KeyError, match=SYSTEM_DIGEST):
        decode_session(encoded.payloads["s0"], {TOOLS_DIGEST: TOOLS.encode()})


def test_a_message_that_looks_like_a_block_reference_is_archived_and_restored_exactly(
    mg: Memgraph,
) -> None:
    events = []
    for sid in ("s0", "s1"):  # the system prompt repeats, so it is stored as a block
        events.append(event(f"{sid}-e-s", "Session", sid))
        events.append(
            event(f"{sid}-e-sys", "Prompt", f"{sid}-sys", session_id=sid, content=SYSTEM,
                  is_system=True)
        )  # fmt: skip
    for i, value in enumerate(ADVERSARIAL):
        events.append(event(f"e-m{i}", "Prompt", f"s0-m{i}", at=i + 1, session_id="s0",
                            content=value))  # fmt: skip
    result = mg.ingest(events)
    assert result.accepted == len(events)
    mg.compact(redact=no_redaction)
    before = mg.lake.nodes(session_id="s0").sort("id")
    report = mg.archive(["s0", "s1"])
    assert report.archived == 2 and report.new_blocks == 1
    assert mg.vault.index().filter(pl.col("session_id") == "s0")["blocks"].item().to_list() == [
        SYSTEM_DIGEST
    ]
    assert mg.restore("s0").restored
    for i, value in enumerate(ADVERSARIAL):
        assert mg.store.node(f"s0-m{i}")["content"] == value
    assert mg.store.node("s0-sys")["content"] == SYSTEM
    assert_frame_equal(mg.vault.read_session("s0").nodes.sort("id"), before)


FORMAT_1_PAYLOAD = (
    rb'{"format":1,"session_id":"s0","nodes":{"id":["s0-p"],"type":["Prompt"],"last_seq":[0],'
    rb'"content":["\u0000blk:a3055b575ae3a24c57e20b38841d87aeeb152ea5043d09d081ec5cc65e44eb93"],'
    rb'"attrs":["\u0000json:c:{\"title\": \"chat 0 \\u00e9\", \"tools\": \"\\u0000blk:'
    rb'22f71f879baa31bd4b2a290ec7ecebbb758cc4eb09c2a601ae285c9d08f82218\"}"]},'
    rb'"edges":{"type":["FOLLOWS"],"src":["s0-p"],"dst":["x"]},"derived":{"edges": {"id": "edge-key"}}}'
)
"""A session as format 1 wrote it (references in band), from the encoder at f8479a5."""


def test_format_1_payloads_in_existing_vaults_still_decode_as_they_were_written() -> None:
    assert FORMAT_1_PAYLOAD.count(SYSTEM_DIGEST.encode()) == FORMAT_1_PAYLOAD.count(
        TOOLS_DIGEST.encode()
    ) == 1  # fmt: skip
    blocks = {SYSTEM_DIGEST: SYSTEM.encode(), TOOLS_DIGEST: TOOLS.encode()}
    rows = decode_session(FORMAT_1_PAYLOAD, blocks)
    attrs = json.dumps({"title": "chat 0 \u00e9", "tools": json.loads(TOOLS)})
    expected = _frame(
        [{"id": "s0-p", "type": "Prompt", "session_id": "s0", "last_seq": 0, "content": SYSTEM,
          "attrs": attrs}],
        NODES,
    )  # fmt: skip
    assert_frame_equal(rows.nodes, expected)
    assert rows.edges.select("id", "src", "type", "dst").rows() == [
        ("s0-p|FOLLOWS|x", "s0-p", "FOLLOWS", "x")
    ]
    assert block_digests(FORMAT_1_PAYLOAD) == sorted(blocks)
    with pytest.raises(ValueError, match="unknown vault payload format 5"):
        decode_session(FORMAT_1_PAYLOAD.replace(b'"format":1', b'"format":5'), blocks)


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
        "format": 4,
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
        options: dict[str, Any] = {
            "ensure_ascii": False,
            **({"separators": separators} if separators else {}),
        }
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
