from __future__ import annotations

from pathlib import Path
from typing import cast

import dagster as dg

import memgraph_ops
from memgraph_ops.lake import no_redaction
from pipelines.definitions import defs
from pipelines.defs.restore.jobs import restore_session_job
from pipelines.defs.retention.assets import vault
from pipelines.resources import MemgraphResource
from tests.factories import session


def test_retention_job_and_schedule_resolve() -> None:
    retention = defs.resolve_job_def("retention_job")
    assert {k.to_user_string() for k in retention.asset_layer.selected_asset_keys} == {"vault"}
    restore = defs.resolve_job_def("restore_session_job")
    assert [n.name for n in restore.graph.node_defs] == ["restore_session"]
    schedule = defs.resolve_schedule_def("retention_schedule")
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.job_name == "retention_job"


def test_retention_asset_reports_counts_and_restore_job_takes_the_session(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "memgraph.toml").write_text(
        "[retention]\narchive_after_days = 1\ndelete_after_days = 0\n"
        "[retention.legal_hold]\nsessions = ['s2']\n"
    )
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 2) + session("s2", 2))  # dated 2026-01-01: long inactive
        mg.compact(redact=no_redaction)
    resources = {"memgraph": MemgraphResource(home=str(home))}
    with dg.instance_for_test() as instance:
        result = dg.materialize([vault], resources=resources, instance=instance)
        assert result.success
        (event,) = result.get_asset_materialization_events()
        meta = event.event_specific_data.materialization.metadata
        assert meta["archived_sessions"].value == 1
        assert meta["held_sessions"].value == 1
        assert meta["vault_sessions"].value == 1
        again = dg.materialize([vault], resources=resources, instance=instance)
        (event,) = again.get_asset_materialization_events()
        assert event.event_specific_data.materialization.metadata["archived_sessions"].value == 0

        run = restore_session_job.execute_in_process(
            run_config={"ops": {"restore_session": {"config": {"session_id": "s1"}}}},
            resources=resources,
            instance=instance,
        )
        assert run.success
    with memgraph_ops.open(home) as mg:
        assert [c["prompt"]["content"] for c in mg.store.context("s1")] == [
            "question 0",
            "question 1",
        ]


def test_observatory_totals_still_match_after_sessions_move_to_the_vault(home: Path) -> None:
    from memgraph_ops import observatory
    from pipelines.defs.observatory.assets import daily_totals_match_lake

    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 2) + session("s2", 3))
        mg.compact(redact=no_redaction)
        observatory.refresh(mg)
        mg.archive(["s2"])
    # Calling an asset check is typed as returning `object`; this one returns its result.
    result = cast(dg.AssetCheckResult, daily_totals_match_lake(MemgraphResource(home=str(home))))
    assert result.passed, result.metadata
    assert result.metadata["lake_prompts"].value == 5  # 2 in the lake + 3 archived
