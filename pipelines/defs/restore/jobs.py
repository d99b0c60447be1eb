"""Restore on demand: one archived session back into the operational store."""

import dagster as dg

from pipelines.resources import MemgraphResource


class RestoreConfig(dg.Config):
    session_id: str


@dg.op(description="Restore one archived session into the operational store.")
def restore_session(
    context: dg.OpExecutionContext, config: RestoreConfig, memgraph: MemgraphResource
) -> None:
    result = memgraph.open().restore(config.session_id)
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
