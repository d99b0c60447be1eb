"""Incremental refresh on real Delta tables: only new days recomputed, reruns write nothing,
and the incremental result equals a full recompute."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

import memgraph_ops
from memgraph_ops.lake import Lake, no_redaction
from memgraph_ops.observatory import tables
from tests.factories import edge, event


def _versions(lake: Lake) -> dict[str, int | None]:
    from memgraph_ops.lake import delta

    out = {}
    for name in (*tables.DAILY_TABLES, *tables.SNAPSHOT_TABLES, tables.STATE_TABLE):
        table = delta.open_table(tables.table_uri(lake, name))
        out[name] = table.version() if table is not None else None
    return out


def _new_hour(lake: Lake) -> tuple[list[dict[str, object]], str]:
    """One prompt/response/tool call an hour after the lake's last event."""
    last = lake.nodes().select(pl.col("created_at").max()).item()
    at = last + timedelta(hours=1)
    from tests import factories

    offset = int((at - factories.BASE).total_seconds())
    events = [
        event("n-p", "Prompt", "n-p", at=offset, session_id="n-s", content="late question"),
        event("n-r", "Response", "n-r", at=offset + 1, session_id="n-s", prompt_id="n-p",
              content="late answer", prompt_tokens=10, completion_tokens=5, total_tokens=15),
        event("n-t", "ToolInvocation", "n-t", at=offset + 2, session_id="n-s",
              response_id="n-r", tool_name="search", success=False, error="boom"),
        edge("n-e1", "RESPONDS_TO", "n-r", "n-p", at=offset + 1, session_id="n-s", latency_ms=7.0),
        edge("n-e2", "INVOKES", "n-r", "n-t", at=offset + 2, session_id="n-s", invocation_order=0),
    ]  # fmt: skip
    return events, at.date().isoformat()


def test_refresh_is_incremental_idempotent_and_equals_full(writable_home: Path) -> None:
    lake = Lake(str(writable_home / "lake"))
    first = tables.refresh(lake)
    assert len(first.days_computed) > 20 and not first.snapshots_skipped
    assert tables.check_daily_totals(lake).passed
    assert tables.check_snapshot_totals(lake).passed
    before = _versions(lake)

    again = tables.refresh(lake)
    assert again.days_computed == [] and again.snapshots_skipped
    assert _versions(lake) == before  # nothing was written

    events, day = _new_hour(lake)
    with memgraph_ops.open(writable_home, hot_window_hours=0) as mg:
        mg.ingest(events)
        mg.compact(redact=no_redaction)
    stale = tables.check_daily_totals(lake)
    assert not stale.passed  # the check can fail: the new prompt is not in the metrics yet
    step = tables.refresh(lake)
    assert step.days_computed == [day]
    assert tables.check_daily_totals(lake).passed and tables.check_snapshot_totals(lake).passed
    incremental = {name: tables.read(lake, name) for name in tables.DAILY_TABLES}

    tables.refresh(lake, full=True)
    for name, frame in incremental.items():
        full = tables.read(lake, name)
        keys = [c for c in full.columns if full.schema[c] in (pl.Date, pl.String, pl.Int64)]
        assert_frame_equal(frame.sort(keys), full.sort(keys), check_exact=False, rel_tol=1e-9)
    tools = incremental["tools"].filter(
        (pl.col("day").cast(pl.String) == day)
        & (pl.col("tool") == "search")
        & (pl.col("agent") == "*")
    )
    assert tools.select("calls", "errors").row(0) == (1, 1)


def test_a_delete_dirties_the_day_of_what_it_removed(writable_home: Path) -> None:
    lake = Lake(str(writable_home / "lake"))
    tables.refresh(lake)
    call = lake.nodes(types=["ToolInvocation"]).sort("created_at").row(0, named=True)
    deletion = {
        "event_id": "del-1", "op": "delete", "kind": "node", "type": "ToolInvocation",
        "id": call["id"], "tenant": call["tenant"], "session_id": call["session_id"],
        "occurred_at": (call["created_at"] + timedelta(days=3)).isoformat(),
    }  # fmt: skip
    with memgraph_ops.open(writable_home, hot_window_hours=0) as mg:
        mg.ingest([deletion])
        mg.compact(redact=no_redaction)
    assert call["created_at"].date() in tables.dirty_days(lake)
    tables.refresh(lake)
    assert tables.check_daily_totals(lake).passed


def test_an_imported_chat_lake_gives_empty_but_valid_tables(home: Path, tmp_path: Path) -> None:
    import json

    from memgraph_ops.imports.chat import import_chat_file

    chat = tmp_path / "chats.jsonl"
    chat.write_text(
        json.dumps({"id": "c1", "messages": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "x", "type": "function",
             "function": {"name": "search", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "x", "content": "found"},
            {"role": "assistant", "content": "hello"}]}) + "\n"
    )  # fmt: skip
    with memgraph_ops.open(home) as mg:
        import_chat_file(mg.store, chat, tenant="acme")
        mg.compact(redact=no_redaction)
        report = tables.refresh(mg.lake)
        assert report.daily_rows["activity"] > 0
        assert report.daily_rows["handoffs"] == 0
        assert report.snapshot_rows["templates"] == 0
        assert tables.read(mg.lake, "handoffs").columns == list(
            __import__("memgraph_ops.observatory.metrics", fromlist=["x"]).HANDOFFS_SCHEMA
        )
        assert tables.check_daily_totals(mg.lake).passed
