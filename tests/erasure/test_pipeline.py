"""The Dagster side: the sensor turns queued requests into runs whose config, tags and logs
carry only the request id and keyed hash; the run erases and signs."""

from __future__ import annotations

import json

import dagster as dg

from memgraph_ops import Memgraph
from memgraph_ops.erasure import Queue, Subject, submit
from memgraph_ops.erasure.steps import scan
from pipelines.defs.erasure.jobs import erasure_job, erasure_queue_sensor
from pipelines.resources import MemgraphResource
from tests.factories import session

SUBJECT = "dagster-subject-9e2d"


def test_sensor_drains_the_queue_without_the_subject_in_dagster(mg: Memgraph) -> None:
    events = [
        {**e, "user_id": SUBJECT} if e["type"] == "Session" else e for e in session("s-d1", 2)
    ]
    mg.ingest(events + session("s-d2", 1, user="someone-else-1"))
    mg.compact()
    request = submit(mg, Subject("user", SUBJECT))
    mg.close()
    home = mg.settings.home
    store = MemgraphResource(home=str(home))
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        # the resource has a teardown, so Dagster opens it inside a context manager
        with dg.build_sensor_context(instance=instance, resources={"memgraph": store}) as context:
            result = erasure_queue_sensor(context)
        assert isinstance(result, dg.SensorResult)
        (run,) = result.run_requests or []
        shown = json.dumps({"config": run.run_config, "tags": run.tags}, default=str)
        assert request.request_id in shown and SUBJECT not in shown
        outcome = erasure_job.execute_in_process(
            run_config=run.run_config, instance=instance, resources={"memgraph": store},
            tags=run.tags,
        )  # fmt: skip
        assert outcome.success
        assert Queue(home).get(request.request_id).status == "done"
        with dg.build_sensor_context(instance=instance, resources={"memgraph": store}) as context:
            again = erasure_queue_sensor(context)
        assert isinstance(again, dg.SensorResult) and not again.run_requests
    with Memgraph(mg.settings) as after:
        assert scan(after, [SUBJECT]) == []  # Dagster's run storage under the root included
        assert after.lake.nodes(session_id="s-d2").height > 0
