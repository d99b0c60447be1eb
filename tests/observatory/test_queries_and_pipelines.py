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
        jobs=[assets.observatory_job],
        schedules=[assets.observatory_schedule],
        resources={"memgraph": MemgraphResource()},
    )
    for job in defs.resolve_all_job_defs():
        assert job.name
    job = defs.resolve_job_def("observatory_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "observatory_daily",
        "observatory_snapshots",
    }
    assert defs.resolve_schedule_def("observatory_hourly").cron_schedule == "5 * * * *"


def test_materialize_twice_checks_pass_and_second_run_is_a_no_op(writable_home: Path) -> None:
    resources = {"memgraph": MemgraphResource(home=str(writable_home))}
    with dg.instance_for_test() as instance:
        first = dg.materialize(
            [*OBSERVATORY_ASSETS, *OBSERVATORY_CHECKS], resources=resources, instance=instance
        )
        assert first.success
        checks = first.get_asset_check_evaluations()
        assert len(checks) == 2 and all(c.passed for c in checks)
        second = dg.materialize(
            [*OBSERVATORY_ASSETS, *OBSERVATORY_CHECKS], resources=resources, instance=instance
        )
        assert second.success
        events = second.get_asset_materialization_events()
        meta = {
            e.asset_key.path[-1]: e.event_specific_data.materialization.metadata for e in events
        }
        assert meta["observatory_daily"]["days_computed"].value == 0
        assert meta["observatory_snapshots"]["skipped_unchanged"].value is True
        assert all(c.passed for c in second.get_asset_check_evaluations())
