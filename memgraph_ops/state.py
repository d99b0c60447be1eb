"""How events become state: the one rule that HOT reads and the lake's compaction share.

The events of one node or edge id are taken in `(occurred_at, seq)` order, so a late event that
happened earlier never overwrites newer state. A `delete` ends the item; the upserts after the
last delete build it: each field takes its latest non-null value (an upsert fills in the fields
it carries and keeps the others), `created_at` is the time of the first of those upserts and
`updated_at`, `seq` and `event_id` come from the last event.

Two implementations of the same rule, for two shapes of work: `latest_state` over a polars frame
(compaction batches of hundreds of thousands of events) and `fold` over a few row dicts (point
reads in HOT, where building a frame would cost milliseconds). `tests/test_state.py` checks that
they agree on random event histories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

import polars as pl

ENVELOPE = frozenset({"op", "occurred_at", "seq", "event_id", "ingested_at", "kind"})
"""Per-event columns: they describe an event, not the item's state."""


def fold(events: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The current state of one item from its events (dicts with `op`, `occurred_at`, `seq`
    and fields); None if the item's last event deletes it.

    The result has the merged fields, `created_at`, `updated_at` (= the last `occurred_at`),
    and the last event's `occurred_at`, `seq`, `event_id` and `ingested_at` where the events
    carry them.
    """
    state: dict[str, Any] | None = None
    last: Mapping[str, Any] | None = None
    for event in sorted(events, key=itemgetter("occurred_at", "seq")):
        last = event
        if event["op"] == "delete":
            state = None
            continue
        if state is None:
            state = {"created_at": event["occurred_at"]}
        for name, value in event.items():
            if value is not None and name not in ENVELOPE:
                state[name] = value
    if state is None or last is None:
        return None
    state["updated_at"] = last["occurred_at"]
    for name in ("occurred_at", "seq", "event_id", "ingested_at"):
        if last.get(name) is not None:
            state[name] = last[name]
    return state


def latest_state(events: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Reduce a batch's events to one row per id: the latest op, and for upserts each field's
    latest non-null value since the last delete in the batch.

    Returns `columns` plus `_op` (upsert|delete) and `_reset` (a delete in this batch came
    before the upserts: the row replaces the lake's instead of filling it in).
    """
    ordered = events.sort("occurred_at", "seq").with_row_index("_pos")
    last_delete = (
        pl.when(pl.col("op") == "delete").then(pl.col("_pos")).otherwise(None).max().over("id")
    )
    ordered = ordered.with_columns(last_delete.alias("_last_delete"))
    ops = ordered.group_by("id").agg(
        pl.col("op").last().alias("_op"),
        pl.col("_last_delete").first().is_not_null().alias("_reset"),
        pl.col("occurred_at").last().alias("_deleted_at"),
        pl.col("seq").last().alias("_delete_seq"),
        pl.col("event_id").last().alias("_delete_event"),
        pl.col("type").last().alias("_type"),
    )
    after = ordered.filter(
        (pl.col("op") == "upsert")
        & (pl.col("_last_delete").is_null() | (pl.col("_pos") > pl.col("_last_delete")))
    )
    fields = [c for c in columns if c in after.columns and c != "id"]
    state = after.group_by("id").agg(
        *[pl.col(c).drop_nulls().last() for c in fields],
        pl.col("occurred_at").first().alias("created_at"),
        pl.col("occurred_at").last().alias("updated_at"),
        pl.col("seq").last().alias("last_seq"),
        pl.col("event_id").last().alias("last_event_id"),
    )
    merged = ops.join(state, on="id", how="left")
    deleted = pl.col("_op") == "delete"
    return merged.with_columns(
        type=pl.coalesce("type", "_type"),
        updated_at=pl.when(deleted).then("_deleted_at").otherwise("updated_at"),
        last_seq=pl.when(deleted).then("_delete_seq").otherwise("last_seq"),
        last_event_id=pl.when(deleted).then("_delete_event").otherwise("last_event_id"),
    ).select(*columns, "_op", "_reset")
