"""Compaction HOT → LAKE, exactly once.

Each Delta table records, as a Delta app transaction (`APP_ID`), the highest event `seq` it has
committed: its watermark. A batch is written to a table only above that table's watermark, and
the commit that writes it moves the watermark in the same atomic Delta commit. So a crash at any
point — before a commit, between the tables, before the HOT trim — is repaired by running again:
nothing is lost (HOT keeps events until every table has them) and nothing is written twice
(delta-rs records the app transaction but does not refuse a repeat, so we check it first).

Per batch: redact (the seam where `memgraph_ops.privacy` plugs in), append the slim event log,
MERGE the latest state per node id, MERGE edges (flagging those whose endpoints the lake does not
know yet as dangling, and clearing the flag once they arrive), then trim HOT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from memgraph_ops._failpoints import failpoint
from memgraph_ops._files import lock_for, locked
from memgraph_ops.errors import StoreMismatchError, TransientError
from memgraph_ops.lake import delta
from memgraph_ops.lake.tables import (
    APP_ID,
    APPEND_APP_ID,
    EDGES_SCHEMA,
    EVENT_LOG_SCHEMA,
    NODES_SCHEMA,
    PII_FINDINGS_SCHEMA,
    Lake,
)
from memgraph_ops.privacy.redaction import FINDINGS_SCHEMA, Redaction
from memgraph_ops.state import latest_state
from memgraph_ops.store import Store

Redactor = Callable[[pl.DataFrame], Redaction]
"""Takes a batch of stored events, returns it with every text field redacted, and findings."""

Progress = Callable[[int, int], None]
"""Called after each batch with (events done, events to do)."""


def no_redaction(batch: pl.DataFrame) -> Redaction:
    """The identity redactor, for lakes that hold no personal data (and for tests)."""
    return Redaction(batch, pl.DataFrame(schema=FINDINGS_SCHEMA))


@dataclass
class CompactionReport:
    """What one compaction run did."""

    events: int = 0
    batches: int = 0
    watermark_before: int = 0
    watermark_after: int = 0
    nodes_upserted: dict[str, int] = field(default_factory=dict)
    nodes_deleted: int = 0
    edges_upserted: dict[str, int] = field(default_factory=dict)
    edges_deleted: int = 0
    dangling_edges: int = 0
    resolved_edges: int = 0
    redactions: dict[str, int] = field(default_factory=dict)
    """Values redacted per entity type (a rerun after a crash counts a batch again)."""
    trimmed: int = 0
    versions: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compact(
    store: Store,
    lake: Lake,
    *,
    batch_rows: int = 100_000,
    hot_window: timedelta = timedelta(hours=6),
    dedupe_window: timedelta = timedelta(days=30),
    redact: Redactor = no_redaction,
    lock_dir: Path | None = None,
    progress: Progress | None = None,
    tenant_hot_windows: Mapping[str, timedelta] | None = None,
    adopt: bool = False,
) -> CompactionReport:
    """Move every event past the lake's watermark into the lake, then trim HOT.

    Safe to rerun at any time, including after a crash. One compaction at a time per lake
    (`lock_dir` holds the lock file); a second one waiting for the lock is a transient error.
    A store the lake does not know (a lost or replaced `hot.duckdb`) is refused with
    StoreMismatchError, unless `adopt` renumbers it first (see `adopt_store`).
    """
    started = time.perf_counter()
    report = CompactionReport()
    with _single_compactor(lock_dir):
        tables = lake.ensure()
        if not _knows_store(tables, store):
            if not adopt:
                raise _mismatch(store, lake, tables)
            adopt_store(store, lake, dedupe_window=dedupe_window)
        store_app = STORE_APP_PREFIX + store.identity().store_id
        marks = lake.watermarks()
        report.watermark_before = min(marks.values())
        total = store.max_seq() - report.watermark_before
        for batch in store.events_after(report.watermark_before, batch_rows=batch_rows):
            redacted = redact(pl.from_arrow(batch))  # type: ignore[arg-type]
            events = redacted.events
            _compact_batch(events, redacted.findings, tables, marks, report, store_app)
            report.events += events.height
            report.batches += 1
            if progress:
                progress(report.events, total)
        report.watermark_after = min(marks.values())
        failpoint("compact:before_trim")
        report.trimmed = store.trim(
            compacted_through=report.watermark_after,
            hot_window=hot_window,
            dedupe_window=dedupe_window,
            tenant_hot_windows=tenant_hot_windows,
        )
    report.versions = {name: lake.version(name) for name in marks}
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@contextmanager
def _single_compactor(lock_dir: Path | None) -> Iterator[None]:
    if lock_dir is None:
        yield
        return
    with locked(
        lock_for(lock_dir / COMPACTION_LOCK),
        timeout=0,
        busy=_CompactionRunning,
        what="another compaction is running on this data root",
    ):
        yield


class _CompactionRunning(TransientError):
    pass


COMPACTION_LOCK = "compaction.lock"
"""Under the data root: held by compaction, and by erasure to keep compaction out."""


STORE_APP_PREFIX = "memgraph_ops.store."
"""Every compaction commit also records `STORE_APP_PREFIX + store_id` at its watermark."""


def _knows_store(tables: Mapping[str, DeltaTable], store: Store) -> bool:
    """Whether compacting `store` into these tables can skip nothing: the lake is empty, or
    the store compacted here before, or every seq the store assigned lies above the lake's
    watermark (a store renumbered by `adopt_store`), or the store predates store ids and holds
    the seqs the lake has (it is the store the lake was built from)."""
    high = max(delta.app_version(t, APP_ID) for t in tables.values())
    if high == 0:
        return True
    identity = store.identity()
    mine = {
        n: delta.app_version(t, STORE_APP_PREFIX + identity.store_id) for n, t in tables.items()
    }
    if any(mine.values()):
        moved = [
            n for n, t in tables.items() if mine[n] and delta.app_version(t, APP_ID) != mine[n]
        ]
        if moved:
            raise StoreMismatchError(
                f"another operational store has compacted into {', '.join(moved)} since "
                f"{store.path} last did; one lake takes events from one store"
            )
        return True
    return identity.seq_base >= high or (identity.legacy and store.max_seq() >= high)


def _mismatch(store: Store, lake: Lake, tables: Mapping[str, DeltaTable]) -> StoreMismatchError:
    high = max(delta.app_version(t, APP_ID) for t in tables.values())
    return StoreMismatchError(
        f"the operational store {store.path} never compacted into the lake at {lake.root}, "
        f"whose watermark {high:,} comes from another store: hot.duckdb was probably lost or "
        f"replaced. Its seqs (up to {store.max_seq():,}) overlap what the lake already has, "
        "so compacting it as it is would skip events. Put the original hot.duckdb back, or run "
        "`memgraph-ops compact --adopt-store` to renumber this store's events above the "
        "lake's watermark (nothing is lost; the lake's recent event ids are remembered so "
        "re-sent events are still deduplicated)."
    )


def adopt_store(store: Store, lake: Lake, *, dedupe_window: timedelta) -> dict[str, int]:
    """Make `store` the one this lake compacts from: renumber its events above the lake's
    watermark and remember the event ids the lake took in during the dedupe window (a new
    store has lost them). Returns the seq shift and how many event ids were remembered."""
    high = max(lake.watermarks().values())
    shift = store.renumber_above(high)
    since = datetime.now(UTC) - dedupe_window
    recent = (
        lake.scan("event_log")
        .filter(pl.col("ingested_at") >= since)
        .select("event_id", "id", "seq", "ingested_at")
        .collect()
    )
    remembered = store.remember_event_ids(recent.to_arrow())
    return {"seq_shift": shift, "event_ids_remembered": remembered}


def _watermark_of(props: CommitProperties) -> int:
    (first, *_) = props.app_transactions or []
    return int(first.version)


def _compact_batch(
    events: pl.DataFrame,
    findings: pl.DataFrame,
    tables: dict[str, DeltaTable],
    marks: dict[str, int],
    report: CompactionReport,
    store_app: str,
) -> None:
    low, high = int(events["seq"].min()), int(events["seq"].max())  # type: ignore[arg-type]
    writers: dict[str, Callable[[int, DeltaTable, Any], None]] = {
        "event_log": lambda done, t, p: _append_event_log(_after(events, done), t, p),
        "nodes": lambda done, t, p: _merge_nodes(_after(events, done), t, p, report),
        "edges": lambda done, t, p: _merge_edges(
            _after(events, done), t, tables["nodes"], p, report
        ),
        "pii_findings": lambda done, t, p: _append_findings(_after(findings, done), t, p, report),
    }
    for name, write in writers.items():
        table = tables[name]
        table.update_incremental()
        done = delta.app_version(table, APP_ID)
        if done >= high:  # this table already has the batch: a rerun after a crash
            marks[name] = done
            continue
        props = delta.commit_properties(
            APP_ID,
            high,
            {"memgraph.seq_from": max(low, done + 1), "memgraph.seq_to": high,
             "memgraph.rows": _after(events, done).height},
        )  # fmt: skip
        # The same commit says which store the events came from (see `_knows_store`).
        props = CommitProperties(
            app_transactions=[*(props.app_transactions or []), Transaction(store_app, high)],
            custom_metadata=props.custom_metadata,
        )
        failpoint(f"compact:before_commit:{name}")
        delta.with_retries(
            lambda: write(done, table, props),  # noqa: B023
            what=f"compacting into {name}",
            table=table,
        )
        if delta.app_version(table, APP_ID) < high:
            # delta-rs makes no commit for a MERGE that changes nothing; the watermark must
            # still move, or HOT could never be trimmed past this batch.
            delta.empty_commit(table, props)
        failpoint(f"compact:after_commit:{name}")
        marks[name] = high


def _after(frame: pl.DataFrame, seq: int) -> pl.DataFrame:
    return frame.filter(pl.col("seq") > seq)


def _append_event_log(events: pl.DataFrame, table: DeltaTable, props: Any) -> None:
    rows = events.select(EVENT_LOG_SCHEMA.names).to_arrow().cast(EVENT_LOG_SCHEMA)
    write_deltalake(
        table, rows, mode="append", writer_properties=delta.WRITER, commit_properties=props
    )
    table.update_incremental()


def _append_findings(
    findings: pl.DataFrame, table: DeltaTable, props: Any, report: CompactionReport
) -> None:
    data = findings.to_arrow().cast(PII_FINDINGS_SCHEMA)
    totals = findings.group_by("entity_type").agg(pl.col("count").sum())
    _add(report.redactions, dict(totals.iter_rows()))
    write_deltalake(
        table, data, mode="append", writer_properties=delta.WRITER, commit_properties=props
    )
    table.update_incremental()


def _quote(column: str) -> str:
    return f"`{column}`"


_NEWER = (
    "(s.updated_at > t.updated_at OR (s.updated_at = t.updated_at AND s.last_seq > t.last_seq))"
)
_OLDER = (
    "(s.updated_at < t.updated_at OR (s.updated_at = t.updated_at AND s.last_seq < t.last_seq))"
)


def _merge(
    table: DeltaTable,
    source: pa.Table,
    schema: pa.Schema,
    props: Any,
    *,
    extra_matched: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    keep_on_update = {"id", "created_at"}
    updates = {
        _quote(c): (
            f"CASE WHEN s._reset THEN s.{_quote(c)} ELSE coalesce(s.{_quote(c)}, t.{_quote(c)}) END"
        )
        for c in schema.names
        if c not in keep_on_update
    }
    updates[_quote("created_at")] = "CASE WHEN s._reset THEN s.created_at ELSE t.created_at END"
    merger = table.merge(
        source,
        # `type` is the partition column: delta-rs prunes the partitions the source lacks.
        predicate="t.type = s.type AND t.id = s.id",
        source_alias="s",
        target_alias="t",
        writer_properties=delta.WRITER,
        commit_properties=props,
    )
    merger = merger.when_matched_delete(predicate=f"s._op = 'delete' AND {_NEWER}")
    merger = merger.when_matched_update(updates=updates, predicate=f"s._op = 'upsert' AND {_NEWER}")
    # A late event that happened earlier (`memgraph_ops.state`): newer values stay, the fields
    # only it carries fill in, and it may be the item's first event. (Were the item deleted and
    # re-created in between, the lake could not tell: it keeps no tombstones.)
    fill = {
        _quote(c): f"coalesce(t.{_quote(c)}, s.{_quote(c)})"
        for c in schema.names
        if c not in {"id", "created_at", "updated_at", "last_seq", "last_event_id"}
    }
    fill[_quote("created_at")] = "least(t.created_at, s.created_at)"
    merger = merger.when_matched_update(
        updates=fill, predicate=f"s._op = 'upsert' AND NOT s._reset AND {_OLDER}"
    )
    if extra_matched is not None:
        merger = extra_matched(merger)
    merger = merger.when_not_matched_insert(
        updates={_quote(c): f"s.{_quote(c)}" for c in schema.names}, predicate="s._op = 'upsert'"
    )
    metrics = merger.execute()
    table.update_incremental()
    return metrics


def _count_by_type(frame: pl.DataFrame) -> dict[str, int]:
    counts = frame.group_by("type").len()
    return dict(zip(counts["type"].to_list(), counts["len"].to_list(), strict=True))


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def _merge_nodes(
    events: pl.DataFrame, table: DeltaTable, props: Any, report: CompactionReport
) -> None:
    latest = latest_state(events.filter(pl.col("kind") == "node"), NODES_SCHEMA.names)
    _upsert("nodes", table, latest, NODES_SCHEMA, props)
    _add(report.nodes_upserted, _count_by_type(latest.filter(pl.col("_op") == "upsert")))
    report.nodes_deleted += latest.filter(pl.col("_op") == "delete").height


def _merge_edges(
    events: pl.DataFrame,
    table: DeltaTable,
    nodes: DeltaTable,
    props: Any,
    report: CompactionReport,
) -> None:
    columns = [c for c in EDGES_SCHEMA.names if c != "dangling"]
    latest = latest_state(events.filter(pl.col("kind") == "edge"), columns)
    waiting = _dangling_edges(table, exclude=latest["id"])
    endpoints = pl.concat([latest["src"], latest["dst"], waiting["src"], waiting["dst"]])
    known = _existing_ids(nodes, endpoints.drop_nulls().unique()).implode()
    latest = latest.with_columns(
        dangling=~(pl.col("src").is_in(known) & pl.col("dst").is_in(known))
    )
    resolved = waiting.filter(pl.col("src").is_in(known) & pl.col("dst").is_in(known))
    _upsert(
        "edges",
        table,
        latest,
        EDGES_SCHEMA,
        props,
        resolved=resolved.select(
            "id",
            "type",
            pl.lit("resolve").alias("_op"),
            pl.lit(False).alias("_reset"),
            pl.lit(False).alias("dangling"),
        ),
    )
    upserts = latest.filter(pl.col("_op") == "upsert")
    _add(report.edges_upserted, _count_by_type(upserts))
    report.edges_deleted += latest.filter(pl.col("_op") == "delete").height
    report.dangling_edges += int(upserts["dangling"].sum())
    report.resolved_edges += resolved.height


def _upsert(
    name: str,
    table: DeltaTable,
    latest: pl.DataFrame,
    schema: pa.Schema,
    props: CommitProperties,
    *,
    resolved: pl.DataFrame | None = None,
) -> None:
    """Write a batch's latest states: ids the table does not hold yet are appended (cheap, no
    join with the table), the rest — updates, deletes, resolved dangling edges — are MERGEd.

    The append commits under its own app id, so it does not move the table's watermark; only
    the MERGE (or an empty commit after it) does. A crash in between is repaired by the rerun:
    the appended ids are then found in the table and go through the MERGE, where they are
    equal to what is there and change nothing.
    """
    present = _existing_ids(table, latest["id"]).implode()
    fresh = latest.filter(~pl.col("id").is_in(present) & (pl.col("_op") == "upsert"))
    known = latest.filter(pl.col("id").is_in(present))
    if fresh.height:
        write_deltalake(
            table,
            fresh.select(schema.names).to_arrow().cast(schema),
            mode="append",
            partition_by=["type"],
            writer_properties=delta.WRITER,
            commit_properties=CommitProperties(
                app_transactions=[Transaction(APPEND_APP_ID, _watermark_of(props))],
                custom_metadata=props.custom_metadata,
            ),
        )
        table.update_incremental()
        failpoint(f"compact:after_append:{name}")
    source = known if resolved is None else pl.concat([known, resolved], how="diagonal_relaxed")
    if source.height:
        _merge(
            table,
            _with_flags(source, schema),
            schema,
            props,
            extra_matched=None
            if resolved is None
            else lambda m: m.when_matched_update(
                updates={"dangling": "false"}, predicate="s._op = 'resolve'"
            ),
        )


def _with_flags(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """The MERGE source: the table's columns in its types, plus `_op` and `_reset`."""
    data = frame.select(schema.names).to_arrow().cast(_nullable(schema))
    return data.append_column("_op", frame["_op"].to_arrow()).append_column(
        "_reset", frame["_reset"].to_arrow()
    )


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_nullable(True) for f in schema])


def _dangling_edges(table: DeltaTable, *, exclude: pl.Series) -> pl.DataFrame:
    return (
        pl.scan_delta(table)
        .filter(pl.col("dangling") & ~pl.col("id").is_in(exclude.implode()))
        .select("id", "type", "src", "dst")
        .collect()
    )


def _existing_ids(nodes: DeltaTable, ids: pl.Series) -> pl.Series:
    if ids.is_empty():
        return pl.Series("id", [], dtype=pl.String)
    return (
        pl.scan_delta(nodes).select("id").filter(pl.col("id").is_in(ids.implode())).collect()["id"]
    )
