"""Erasure wiring: a sensor drains the request queue into one run per request.

Run config, tags and metadata carry only the request id and the keyed subject hash; the subject
stays sealed in the queue (`memgraph_ops.erasure`) and never reaches Dagster's storage.
"""

from typing import Any

import dagster as dg

from memgraph_ops import erasure
from memgraph_ops.errors import TransientError
from pipelines.resources import MemgraphResource

TAG_REQUEST = "memgraph/erasure_request"
TAG_SUBJECT = "memgraph/subject_hash"


class ErasureRequestConfig(dg.Config):
    """Which queued request to run (never the subject itself)."""

    request_id: str
    subject_hash: str


# One retry layer per failure: commit conflicts are retried inside the library, transient
# errors (a busy lock) by RetryRequested below, and terminal ones fail at once.
@dg.op(tags={"dagster/concurrency_key": "memgraph_erasure"})
def run_erasure_request(
    context: dg.OpExecutionContext, config: ErasureRequestConfig, memgraph: MemgraphResource
) -> dg.Output[None]:
    """Execute one queued erasure request (resuming an interrupted one), verify, sign."""
    try:
        request = erasure.run(memgraph.open(), config.request_id)
    except erasure.ErasureFailed as exc:
        if isinstance(exc.__cause__, TransientError):
            raise dg.RetryRequested(max_retries=3, seconds_to_wait=30) from exc
        raise dg.Failure(
            description=f"erasure {config.request_id} failed; it stays queued as failed "
            "and the sensor retries it",
            metadata={"request_id": config.request_id, "subject_hash": config.subject_hash},
        ) from exc
    receipt: dict[str, Any] = request.receipt or {}
    context.log.info(f"erasure {request.request_id}: {request.status}")
    return dg.Output(
        None,
        metadata={
            "request_id": request.request_id,
            "subject_hash": request.subject_hash,
            "status": request.status,
            "files_rewritten": len(receipt.get("files", [])),
            "verification_passed": bool(receipt.get("verification", {}).get("passed")),
            "counts": dg.MetadataValue.json(receipt.get("counts", {})),
            "signature": str(receipt.get("signature", "")),
        },
    )


@dg.job(
    description="Run one erasure request from the queue (the sensor starts one per request).",
    tags={"dagster/concurrency_key": "memgraph_erasure"},
)
def erasure_job() -> None:
    run_erasure_request()


@dg.sensor(
    job=erasure_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def erasure_queue_sensor(
    context: dg.SensorEvaluationContext, memgraph: MemgraphResource
) -> dg.SensorResult:
    """Start a run for every queued, failed (retry) or interrupted erasure request."""
    settings = memgraph.settings()
    requests = erasure.Queue(settings.home).pending()
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                # one run per attempt: a failed request gets a new run, a running one none
                run_key=f"{r.request_id}:{r.attempts}",
                run_config=dg.RunConfig(
                    ops={
                        "run_erasure_request": ErasureRequestConfig(
                            request_id=r.request_id, subject_hash=r.subject_hash
                        )
                    }
                ),
                tags={TAG_REQUEST: r.request_id, TAG_SUBJECT: r.subject_hash},
            )
            for r in requests
        ],
        skip_reason=None if requests else "no pending erasure requests",
    )
