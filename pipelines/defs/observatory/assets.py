"""Observatory assets: daily metrics (Delta, partitioned by day) and graph/lineage snapshots.

The daily asset recomputes only the day partitions that are new or changed since they were
last computed (the library tracks a watermark per day), so the hourly schedule costs one new
hour's days, not the whole history. Snapshots are rewritten only when the lake moved.
"""

from typing import Any

import dagster as dg

from memgraph_ops.errors import TransientError
from memgraph_ops.observatory import tables
from pipelines.resources import MemgraphResource

GROUP = "observatory"
LAKE_DEPS = [dg.AssetKey("nodes"), dg.AssetKey("edges"), dg.AssetKey("event_log")]


@dg.asset(
    name="observatory_daily",
    group_name=GROUP,
    deps=LAKE_DEPS,
    kinds={"delta", "polars"},
)
def observatory_daily(
    context: dg.AssetExecutionContext, memgraph: MemgraphResource
) -> dg.MaterializeResult[Any]:
    """Observatory metrics per day (activity, tools, handoffs, context windows, anomalies):
    recompute the new or changed day partitions only."""
    try:
        report = tables.refresh_metrics(
            memgraph.open().lake,
            progress=lambda done, total: context.log.info(f"day chunk {done}/{total}"),
        )
    except TransientError as exc:
        raise dg.RetryRequested(max_retries=3, seconds_to_wait=10) from exc
    days = report.days_computed
    return dg.MaterializeResult(
        metadata={
            "days_computed": len(days),
            "first_day": days[0] if days else "-",
            "last_day": days[-1] if days else "-",
            "watermark": report.watermark,
            "seconds": report.seconds,
            **{f"rows {name}": rows for name, rows in report.daily_rows.items()},
        }
    )


@dg.asset(
    name="observatory_snapshots",
    group_name=GROUP,
    deps=LAKE_DEPS,
    kinds={"delta", "polars"},
)
def observatory_snapshots(memgraph: MemgraphResource) -> dg.MaterializeResult[Any]:
    """Graph structure (counts, degrees, components, PageRank) and lineage (template closure,
    prompt lineage, FOLLOWS chains) of the whole graph, rewritten when the lake moved."""
    try:
        report = tables.refresh_snapshots(memgraph.open().lake)
    except TransientError as exc:
        raise dg.RetryRequested(max_retries=3, seconds_to_wait=10) from exc
    return dg.MaterializeResult(
        metadata={
            "skipped_unchanged": report.snapshots_skipped,
            "watermark": report.watermark,
            "seconds": report.seconds,
            **{f"rows {name}": rows for name, rows in report.snapshot_rows.items()},
        }
    )


@dg.asset_check(
    asset=observatory_daily,
    description="Prompts, responses and tool calls summed over the day partitions equal the "
    "lake's counts.",
)
def daily_totals_match_lake(memgraph: MemgraphResource) -> dg.AssetCheckResult:
    archived = memgraph.open().vault.index()
    result = tables.check_daily_totals(
        memgraph.open().lake,
        archived={
            "Prompt": int(archived["prompts"].sum()),
            "Response": int(archived["responses"].sum()),
            "ToolInvocation": int(archived["tool_invocations"].sum()),
        },
    )
    return dg.AssetCheckResult(passed=result.passed, metadata=dict(result.figures))


@dg.asset_check(
    asset=observatory_snapshots,
    description="Node and edge counts of the graph snapshot equal the lake's rows.",
)
def snapshot_totals_match_lake(memgraph: MemgraphResource) -> dg.AssetCheckResult:
    result = tables.check_snapshot_totals(memgraph.open().lake)
    return dg.AssetCheckResult(passed=result.passed, metadata=dict(result.figures))


observatory_job = dg.define_asset_job(
    "observatory_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Recompute new Observatory day partitions and, if the lake moved, snapshots.",
    tags={"dagster/concurrency_key": "memgraph_observatory"},
)

observatory_schedule = dg.ScheduleDefinition(
    name="observatory_hourly",
    job=observatory_job,
    cron_schedule="5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
