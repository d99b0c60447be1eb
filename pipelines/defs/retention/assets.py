"""Retention: the vault asset (archive inactive sessions, delete expired ones) and its daily
job and schedule."""

from typing import Any

import dagster as dg

from memgraph_ops.errors import TransientError
from pipelines.resources import MemgraphResource

GROUP = "vault"


@dg.asset(
    group_name=GROUP,
    deps=["nodes", "edges"],
    kinds={"zstd", "delta"},
    description="Archived sessions (zstd frames + Delta vault_index), maintained by the "
    "retention policy.",
)
def vault(
    context: dg.AssetExecutionContext, memgraph: MemgraphResource
) -> dg.MaterializeResult[Any]:
    """Apply the retention policy: archive inactive lake sessions into the vault, delete expired
    sessions from the lake and the vault (keeping anonymous daily aggregates), expire restored
    copies. Legal holds are honoured."""
    try:
        mg = memgraph.open()
        report = mg.retention()
        stats = mg.vault.stats()
    except TransientError as exc:
        raise dg.RetryRequested(max_retries=3, seconds_to_wait=30) from exc
    plan = report.plan
    context.log.info(
        f"archived {report.archived}, deleted {report.deleted_from_lake} from the lake and "
        f"{report.deleted_from_vault} from the vault; {plan['held']['sessions']} held"
    )
    logical, physical = stats["logical_bytes"], stats["physical_bytes"]
    return dg.MaterializeResult(
        metadata={
            "archived_sessions": report.archived,
            "deleted_from_lake": report.deleted_from_lake,
            "deleted_from_vault": report.deleted_from_vault,
            "held_sessions": plan["held"]["sessions"],
            "node_type_rows_deleted": sum(report.node_type_rows_deleted.values()),
            "aggregate_rows_kept": report.aggregate_rows,
            "restored_copies_expired": report.restored_copies_expired,
            "vault_sessions": stats["sessions"],
            "vault_logical_bytes": logical,
            "vault_physical_bytes": physical,
            "compression_ratio": round(logical / physical, 2) if physical else 0.0,
            "reclaimable_bytes": stats["reclaimable_bytes"],
        }
    )


retention_job = dg.define_asset_job(
    "retention_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Daily retention: archive, delete at expiry, expire restored copies.",
    tags={"dagster/concurrency_key": "memgraph_vault"},
)

# Its runs delete whatever the policy has expired, so it starts STOPPED: deleting begins only
# when someone turns it on (Dagster UI or `dagster schedule start retention_schedule`).
retention_schedule = dg.ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily retention (archive, delete at expiry). Starts stopped: its runs delete "
    "what the [retention] policy has expired; turn it on once the policy is what you want.",
)
