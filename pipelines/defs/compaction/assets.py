"""Compaction assets: HOT events → Delta `event_log`, `nodes`, `edges`, exactly once."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from memgraph_ops.errors import TransientError
from memgraph_ops.lake import compact
from memgraph_ops.retention import RetentionPolicy
from pipelines.resources import MemgraphResource

GROUP = "compaction"

hot_events = dg.AssetSpec(
    "hot_events",
    group_name=GROUP,
    description="Live graph events in the operational store (DuckDB), ingested outside Dagster.",
    kinds={"duckdb"},
)

LAKE_TABLES = ("event_log", "nodes", "edges", "pii_findings")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name=GROUP,
            deps=[hot_events],
            kinds={"delta"},
            description=f"Delta table `{name}` of the lake, compacted from HOT exactly once.",
        )
        for name in LAKE_TABLES
    ],
    can_subset=False,
)
def lake_tables(
    context: dg.AssetExecutionContext,
    memgraph: MemgraphResource,
) -> Iterator[dg.MaterializeResult[Any]]:
    """Compact new HOT events, redacted, into the lake's Delta tables; then trim HOT."""
    mg = memgraph.open()
    settings = mg.settings
    redact = mg.redactor()  # before opening the store: a missing key fails cleanly
    try:
        with memgraph.store() as hot:
            report = compact(
                hot,
                mg.lake,
                redact=redact,
                batch_rows=settings.compact_batch,
                hot_window=settings.hot_window,
                dedupe_window=settings.dedupe_window,
                lock_dir=settings.home,
                tenant_hot_windows=RetentionPolicy.from_mapping(settings.retention).hot_windows(),
                progress=lambda done, total: context.log.info(f"compacted {done}/{total} events"),
            )
    except TransientError as exc:
        raise dg.RetryRequested(max_retries=3, seconds_to_wait=10) from exc
    stats = mg.lake.stats()
    common = {
        "events_compacted": report.events,
        "batches": report.batches,
        "watermark": report.watermark_after,
        "hot_trimmed": report.trimmed,
        "seconds": report.seconds,
    }
    per_table = {
        "nodes": {**{f"upserted {k}": v for k, v in report.nodes_upserted.items()},
                  "deleted": report.nodes_deleted},
        "edges": {**{f"upserted {k}": v for k, v in report.edges_upserted.items()},
                  "deleted": report.edges_deleted, "dangling": report.dangling_edges,
                  "resolved": report.resolved_edges},
        "event_log": {},
        "pii_findings": {f"redacted {k}": v for k, v in sorted(report.redactions.items())},
    }  # fmt: skip
    for name in LAKE_TABLES:
        table = stats.get(name, {})
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                **common,
                **per_table[name],
                "rows": table.get("rows", 0),
                "bytes": table.get("bytes", 0),
                "files": table.get("files", 0),
                "delta_version": table.get("version"),
            },
        )


@dg.asset_check(asset="nodes", description="Every node id appears once in the lake.")
def nodes_unique(memgraph: MemgraphResource) -> dg.AssetCheckResult:
    return _unique_ids(memgraph, "nodes")


@dg.asset_check(asset="edges", description="Every edge id appears once in the lake.")
def edges_unique(memgraph: MemgraphResource) -> dg.AssetCheckResult:
    return _unique_ids(memgraph, "edges")


def _unique_ids(memgraph: MemgraphResource, name: str) -> dg.AssetCheckResult:
    counts = (
        memgraph.open()
        .lake.scan(name)
        .select(pl.len().alias("rows"), pl.col("id").n_unique().alias("ids"))
    ).collect()
    rows, ids = int(counts["rows"][0]), int(counts["ids"][0])
    return dg.AssetCheckResult(
        passed=rows == ids, metadata={"rows": rows, "distinct_ids": ids, "duplicates": rows - ids}
    )


@dg.asset_check(
    asset="event_log",
    description="The event log holds every compacted event exactly once: one row per seq "
    "from 1 to the watermark, no event id twice.",
)
def event_log_exactly_once(memgraph: MemgraphResource) -> dg.AssetCheckResult:
    handle = memgraph.open().lake
    watermark = handle.watermark()
    counts = (
        handle.scan("event_log")
        .select(
            pl.len().alias("rows"),
            pl.col("event_id").n_unique().alias("event_ids"),
            pl.col("seq").n_unique().alias("seqs"),
            pl.col("seq").max().alias("max_seq"),
        )
        .collect()
    )
    rows, ids, seqs = (int(counts[c][0]) for c in ("rows", "event_ids", "seqs"))
    return dg.AssetCheckResult(
        passed=rows == ids == seqs == watermark,
        metadata={"rows": rows, "distinct_event_ids": ids, "distinct_seqs": seqs,
                  "watermark": watermark},
    )  # fmt: skip
