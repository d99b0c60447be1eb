"""The two implementations of the state rule (HOT's point reads, compaction's batches) agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from memgraph_ops.state import fold, latest_state

BASE = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = ["content", "tags", "total_tokens"]
COLUMNS = ["id", "type", "created_at", "updated_at", "last_seq", "last_event_id", *FIELDS]

one_event = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b"]),
        "op": st.sampled_from(["upsert", "upsert", "delete"]),
        "at": st.integers(0, 5),  # few distinct times: ties are broken by seq
        "content": st.one_of(st.none(), st.sampled_from(["x", "y", ""])),
        "tags": st.one_of(st.none(), st.lists(st.sampled_from(["t", "u"]), max_size=2)),
        "total_tokens": st.one_of(st.none(), st.integers(0, 9)),
    }
)


def _events(drawn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "seq": seq,
            "event_id": f"e{seq}",
            "op": e["op"],
            "id": e["id"],
            "type": "Prompt",
            "occurred_at": BASE + timedelta(seconds=e["at"]),
            **({f: e[f] for f in FIELDS} if e["op"] == "upsert" else dict.fromkeys(FIELDS)),
        }
        for seq, e in enumerate(drawn, start=1)
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(one_event, min_size=1, max_size=8))
@example(
    [
        {"id": "a", "op": "upsert", "at": 5, "content": "new", "tags": None, "total_tokens": 1},
        {"id": "a", "op": "upsert", "at": 1, "content": "old", "tags": ["t"], "total_tokens": 2},
    ]
)
def test_fold_and_latest_state_agree(drawn: list[dict[str, Any]]) -> None:
    events = _events(drawn)
    frame = pl.DataFrame(events, schema_overrides={"tags": pl.List(pl.String)})
    batch = {row["id"]: row for row in latest_state(frame, COLUMNS).to_dicts()}
    for item in {e["id"] for e in events}:
        point = fold(e for e in events if e["id"] == item)
        row = batch[item]
        if row["_op"] == "delete":
            assert point is None
            continue
        assert point is not None
        assert {f: point.get(f) for f in FIELDS} == {f: row[f] for f in FIELDS}
        assert (point["created_at"], point["updated_at"]) == (row["created_at"], row["updated_at"])
        assert (point["seq"], point["event_id"]) == (row["last_seq"], row["last_event_id"])
