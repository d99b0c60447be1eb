"""Observatory assets: daily metrics (a Dagster asset partitioned by day, over Delta tables
partitioned by day) and graph/lineage snapshots.

A run of `observatory_daily` recomputes the days of its partitions and overwrites exactly those
Delta partitions, so runs of disjoint days commit side by side (tested on S3). A backfill fans
out into runs of at most 31 days each, which the run launcher places wherever it runs jobs. The
hourly `observatory_days_hourly` schedule asks the lake which days changed since they were
computed and requests one run over them, or skips. Snapshots are rewritten only when the lake
moved.
"""

from datetime import date
from typing import Any

import dagster as dg

from memgraph_ops.errors import TransientError
from memgraph_ops.lake import Lake
from memgraph_ops.observatory import tables
from pipelines.resources import MemgraphResource

GROUP = "observatory"
LAKE_DEPS = [dg.AssetKey("nodes"), dg.AssetKey("edges"), dg.AssetKey("event_log")]

FIRST_DAY = date(2015, 1, 1)
DAYS = dg.DailyPartitionsDefinition(start_date=FIRST_DAY.isoformat(), timezone="UTC", end_offset=1)
"""One partition per UTC day, today included (events of today are metrics of today)."""
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dg.asset(
    name="observatory_daily",
    group_name=GROUP,
    deps=LAKE_DEPS,
    kinds={"delta", "polars"},
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=31),
)
def observatory_daily(
    context: dg.AssetExecutionContext, memgraph: MemgraphResource
) -> dg.MaterializeResult[Any]:
    """Observatory metrics per day (activity, tools, handoffs, context windows, anomalies) for
    the days of this run's partitions."""
    try:
        report = tables.refresh_metrics(
            memgraph.open().lake,
            days=[date.fromisoformat(key) for key in context.partition_keys],
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
    selection=dg.AssetSelection.assets(observatory_snapshots),
    description="Rewrite the Observatory's graph and lineage snapshots if the lake moved.",
    tags={"dagster/concurrency_key": "memgraph_observatory"},
)

observatory_days_job = dg.define_asset_job(
    "observatory_days_job",
    selection=dg.AssetSelection.assets(observatory_daily),
    partitions_def=DAYS,
    description="Recompute the Observatory's metrics of the days of the run's partitions.",
)

observatory_schedule = dg.ScheduleDefinition(
    name="observatory_hourly",
    job=observatory_job,
    cron_schedule="5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.schedule(
    job=observatory_days_job,
    cron_schedule="5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def observatory_days_hourly(
    context: dg.ScheduleEvaluationContext, memgraph: MemgraphResource
) -> dg.RunRequest | dg.SkipReason:
    """One run over the days whose metrics are missing or older than the lake's changes."""
    return changed_days_request(memgraph.open().lake)


def changed_days_request(lake: Lake) -> dg.RunRequest | dg.SkipReason:
    """A run of `observatory_days_job` from the first to the last changed day (days between
    are recomputed too: one run, after which the totals check sees every day current), or a
    skip. Days before FIRST_DAY have no partition (`memgraph-ops metrics` computes them)."""
    if lake.table("event_log") is None:
        return dg.SkipReason("the lake is empty")
    days = [d for d in tables.dirty_days(lake) if d >= FIRST_DAY]
    if not days:
        return dg.SkipReason("no day changed since its metrics were computed")
    first, last = days[0].isoformat(), days[-1].isoformat()
    return dg.RunRequest(
        run_key=f"{first}..{last}@{lake.watermark()}",
        tags={RANGE_START: first, RANGE_END: last, "memgraph/changed_days": str(len(days))},
    )
