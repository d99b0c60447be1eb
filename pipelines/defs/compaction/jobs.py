"""The compaction job and its schedule."""

import dagster as dg

from memgraph_ops import load_settings

compaction_job = dg.define_asset_job(
    "compaction_job",
    selection=dg.AssetSelection.groups("compaction"),
    description="Compact new HOT events into the lake (exactly once) and trim HOT.",
    # One compaction at a time: the lake tables are MERGEd by a single writer.
    tags={"dagster/concurrency_key": "memgraph_compaction"},
)


@dg.definitions
def compaction_schedule() -> dg.Definitions:
    """The job, and its schedule every `compact_every_minutes` (settings are read when the
    code location loads). A module with a `@dg.definitions` function contributes only what
    that function returns."""
    every = max(1, load_settings().compact_every_minutes)
    return dg.Definitions(
        jobs=[compaction_job],
        schedules=[
            dg.ScheduleDefinition(
                name="compaction_schedule",
                job=compaction_job,
                cron_schedule=f"*/{every} * * * *" if every < 60 else "0 * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
    )
