"""The Dagster code location of memgraph_ops: `dagster dev -m pipelines.definitions`."""

import dagster as dg

from memgraph_ops import load_settings
from pipelines.assets import compaction, erasure, observatory, vault
from pipelines.resources import LakeResource, PrivacyResource, StoreResource

compaction_job = dg.define_asset_job(
    "compaction_job",
    selection=dg.AssetSelection.groups(compaction.GROUP),
    description="Compact new HOT events into the lake (exactly once) and trim HOT.",
    # One compaction at a time: the lake tables are MERGEd by a single writer.
    tags={"dagster/concurrency_key": "memgraph_compaction"},
)


def build_definitions() -> dg.Definitions:
    every = max(1, load_settings().compact_every_minutes)
    return dg.Definitions(
        assets=[
            compaction.hot_events,
            compaction.lake_tables,
            *vault.assets,
            *observatory.assets,
        ],
        asset_checks=[*compaction.checks, *observatory.checks],
        jobs=[compaction_job, *vault.jobs, *observatory.jobs, *erasure.jobs],
        sensors=erasure.sensors,
        schedules=[
            *vault.schedules,
            *observatory.schedules,
            dg.ScheduleDefinition(
                name="compaction_schedule",
                job=compaction_job,
                cron_schedule=f"*/{every} * * * *" if every < 60 else "0 * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            ),
        ],
        resources={"store": StoreResource(), "lake": LakeResource(), "privacy": PrivacyResource()},
    )


defs = build_definitions()
