"""Vault assets and jobs: daily retention (archive inactive sessions, delete expired ones) and
restore on demand."""

from typing import Any

import dagster as dg

# Public type of define_asset_job()'s result; `dagster` does not re-export it at runtime.
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from memgraph_ops.errors import TransientError
from pipelines.resources import StoreResource

GROUP = "vault"


@dg.asset(
    group_name=GROUP,
    deps=["nodes", "edges"],
    kinds={"zstd", "delta"},
    description="Archived sessions (zstd frames + Delta vault_index), maintained by the "
    "retention policy.",
)
def vault(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult[Any]:
    """Apply the retention policy: archive inactive lake sessions into the vault, delete expired
    sessions from the lake and the vault (keeping anonymous daily aggregates), expire restored
    copies. Legal holds are honoured."""
    try:
        with store.memgraph() as mg:
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


class RestoreConfig(dg.Config):
    session_id: str


@dg.op(description="Restore one archived session into the operational store.")
def restore_session(
    context: dg.OpExecutionContext, config: RestoreConfig, store: StoreResource
) -> None:
    with store.memgraph() as mg:
        result = mg.restore(config.session_id)
    context.add_output_metadata(
        {
            "restored": result.restored,
            "nodes": result.nodes,
            "edges": result.edges,
            "generation": result.generation,
            "expires_at": result.expires_at.isoformat(),
            "milliseconds": round(result.seconds * 1000, 2),
        }
    )


@dg.job(description="Restore one session (run config: ops.restore_session.config.session_id).")
def restore_session_job() -> None:
    restore_session()


jobs: list[UnresolvedAssetJobDefinition | dg.JobDefinition] = [
    retention_job,
    restore_session_job,
]
schedules = [retention_schedule]
assets = [vault]
