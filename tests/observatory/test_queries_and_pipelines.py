"""The plan's example queries, the Python facade and the Dagster wiring."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

import memgraph_ops
from memgraph_ops import observatory
from memgraph_ops.lake import Lake
from pipelines.defs.observatory import assets
from pipelines.resources import MemgraphResource

OBSERVATORY_ASSETS = [assets.observatory_daily, assets.observatory_snapshots]
OBSERVATORY_CHECKS = [assets.daily_totals_match_lake, assets.snapshot_totals_match_lake]


def test_example_queries(lake: Lake) -> None:
    session = lake.nodes(types=["Prompt"]).row(0, named=True)["session_id"]
    context = observatory.recent_context(lake, session, last=4)
    expected = lake.nodes(session_id=session, types=["Prompt", "Response", "ToolInvocation"])
    assert (
        context["id"].to_list() == expected.sort("created_at", "last_seq")["id"].tail(4).to_list()
    )

    durations = observatory.handled_by_duration(lake)
    handled = lake.edges(types=["HANDLED_BY"])
    agent = durations.row(0, named=True)
    mine = handled.filter(pl.col("dst") == agent["agent"])["duration_ms"].to_numpy()
    assert (
        agent["duration_ms_mean"] == np.mean(mine)
        or abs(agent["duration_ms_mean"] - np.mean(mine)) < 1e-9
    )
    assert agent["name"] is not None

    calls = lake.nodes(types=["ToolInvocation"])
    cutoff = calls["created_at"].sort()[calls.height // 2]
    rates = observatory.tool_success_rate(lake, since=cutoff)
    recent = calls.filter(pl.col("created_at") >= cutoff)
    assert rates["calls"].sum() == recent.height
    assert rates["successes"].sum() == recent["success"].sum()
    assert rates["calls"].sum() < observatory.tool_success_rate(lake)["calls"].sum()
    assert cutoff - timedelta(0) == cutoff


def test_facade_accepts_a_memgraph(generated_home: Path) -> None:
    with memgraph_ops.open(generated_home, read_only=True) as mg:
        assert observatory.templates(mg).height == 12
        assert observatory.impact(mg, "SupportBase.TPL.002").summary()["prompts"] > 0
        assert observatory.session_chains(mg).height == 160
        index = observatory.traversal_index(mg)
        assert "AssistantBase.TPL.001" in index


def test_definitions_with_observatory_resolve_every_job() -> None:
    defs = dg.Definitions(
        assets=OBSERVATORY_ASSETS,
        asset_checks=OBSERVATORY_CHECKS,
        jobs=[assets.observatory_job, assets.observatory_days_job],
        schedules=[assets.observatory_schedule, assets.observatory_days_hourly],
        resources={"memgraph": MemgraphResource()},
    )
    for job in defs.resolve_all_job_defs():
        assert job.name
    snapshots = defs.resolve_job_def("observatory_job")
    assert {k.to_user_string() for k in snapshots.asset_layer.executable_asset_keys} == {
        "observatory_snapshots"
    }
    days = defs.resolve_job_def("observatory_days_job")
    assert {k.to_user_string() for k in days.asset_layer.executable_asset_keys} == {
        "observatory_daily"
    }
    assert days.partitions_def == assets.DAYS
    assert defs.resolve_schedule_def("observatory_hourly").cron_schedule == "5 * * * *"
    assert defs.resolve_schedule_def("observatory_days_hourly").cron_schedule == "5 * * * *"


def _days_run(
    request: dg.RunRequest | dg.SkipReason, instance: dg.DagsterInstance, home: Path
) -> dg.ExecuteInProcessResult:
    assert isinstance(request, dg.RunRequest), request
    job = dg.Definitions(
        assets=OBSERVATORY_ASSETS,
        asset_checks=OBSERVATORY_CHECKS,
        jobs=[assets.observatory_days_job],
        resources={"memgraph": MemgraphResource(home=str(home))},
    ).resolve_job_def("observatory_days_job")
    return job.execute_in_process(instance=instance, tags=request.tags)


def test_the_schedule_runs_the_changed_days_once_then_skips(writable_home: Path) -> None:
    """The hourly schedule asks the lake which days changed: one run over them (one day
    partition each, totals checked), then nothing until the lake changes again."""
    with dg.instance_for_test() as instance:
        resource = MemgraphResource(home=str(writable_home))
        with dg.build_schedule_context(instance=instance, resources={"memgraph": resource}) as c:
            request = assets.observatory_days_hourly(c)  # the schedule as the daemon runs it
        assert isinstance(request, dg.RunRequest), request
        with memgraph_ops.open(writable_home) as mg:
            changed = observatory.tables.dirty_days(mg.lake)
        assert len(changed) > 1
        first = _days_run(request, instance, writable_home)
        assert first.success
        checks = first.get_asset_check_evaluations()
        assert len(checks) == 1 and checks[0].passed, checks
        (event,) = first.get_asset_materialization_events()[:1]
        metadata = event.event_specific_data.materialization.metadata
        span = (changed[-1] - changed[0]).days + 1
        assert metadata["days_computed"].value == span
        keys = {e.partition for e in first.get_asset_materialization_events()}
        assert keys == {(changed[0] + timedelta(days=i)).isoformat() for i in range(span)}
        with memgraph_ops.open(writable_home) as mg:
            again = assets.changed_days_request(mg.lake)
        assert isinstance(again, dg.SkipReason), again


def test_snapshots_are_skipped_when_the_lake_did_not_move(writable_home: Path) -> None:
    resources = {"memgraph": MemgraphResource(home=str(writable_home))}
    snapshots = [assets.observatory_snapshots, assets.snapshot_totals_match_lake]
    with dg.instance_for_test() as instance:
        first = dg.materialize(snapshots, resources=resources, instance=instance)
        assert first.success and all(c.passed for c in first.get_asset_check_evaluations())
        second = dg.materialize(snapshots, resources=resources, instance=instance)
        (event,) = second.get_asset_materialization_events()
        metadata = event.event_specific_data.materialization.metadata
        assert metadata["skipped_unchanged"].value is True
