from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import pytest

import memgraph_ops
import pipelines.definitions
from pipelines.definitions import defs
from pipelines.defs.compaction.assets import (
    LAKE_TABLES,
    edges_unique,
    event_log_exactly_once,
    lake_tables,
    nodes_unique,
)
from pipelines.resources import MemgraphResource
from tests.factories import edge, event, session


def test_definitions_load_and_every_job_resolves() -> None:
    assert {job.name for job in defs.resolve_all_job_defs()} >= {
        "compaction_job", "retention_job", "restore_session_job", "observatory_job", "erasure_job",
        "observatory_days_job",
    }  # fmt: skip
    job = defs.resolve_job_def("compaction_job")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == set(LAKE_TABLES)
    assert {n.name for n in job.graph.node_defs} == {
        "lake_tables", "nodes_nodes_unique", "edges_edges_unique",
        "event_log_event_log_exactly_once",
    }  # fmt: skip
    schedule = defs.resolve_schedule_def("compaction_schedule")
    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.job_name == "compaction_job"


def test_every_asset_check_resolves_and_none_is_demo_only() -> None:
    checks = {k.to_user_string() for k in defs.resolve_asset_graph().asset_check_keys}
    assert checks == {
        "nodes:nodes_unique", "edges:edges_unique", "event_log:event_log_exactly_once",
        "observatory_daily:daily_totals_match_lake",
        "observatory_snapshots:snapshot_totals_match_lake",
    }  # fmt: skip


def test_schedule_interval_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMGRAPH_COMPACT_EVERY_MINUTES", "5")
    again = dg.load_from_defs_folder(path_within_project=Path(pipelines.definitions.__file__))
    assert again.resolve_schedule_def("compaction_schedule").cron_schedule == "*/5 * * * *"


def _materialize(home: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [lake_tables, nodes_unique, edges_unique, event_log_exactly_once],
        resources={"memgraph": MemgraphResource(home=str(home))},
        instance=instance,
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Mapping[str, dg.MetadataValue]]:
    events = result.get_asset_materialization_events()
    materializations = [e.event_specific_data.materialization for e in events]
    return {m.asset_key.path[-1]: m.metadata for m in materializations}


def test_materialize_twice_is_idempotent_and_checks_pass(home: Path) -> None:
    with memgraph_ops.open(home) as mg:
        mg.ingest([*session("s1", 3), edge("x", "HANDLED_BY", "s1-p0", "nobody")])
    with dg.instance_for_test() as instance:
        first = _materialize(home, instance)
        assert first.success
        checks = first.get_asset_check_evaluations()
        assert {c.check_name for c in checks} == {
            "nodes_unique", "edges_unique", "event_log_exactly_once"
        }  # fmt: skip
        assert all(c.passed for c in checks), [c.metadata for c in checks if not c.passed]
        meta = _metadata(first)
        assert meta["nodes"]["rows"].value == 10
        assert meta["edges"]["dangling"].value == 1
        second = _materialize(home, instance)
        assert second.success
        again = _metadata(second)
        assert again["event_log"]["events_compacted"].value == 0
        assert again["nodes"]["rows"].value == 10
        assert all(c.passed for c in second.get_asset_check_evaluations())


@pytest.mark.heavy
def test_a_compaction_run_stops_the_ner_workers_it_started(home: Path) -> None:
    """Redaction of a large batch starts spaCy worker processes; the run's end stops them
    (they stayed alive in the process after every run before)."""
    import multiprocessing

    names = ["Alice", "Bruno", "Chiara", "Dmitri", "Esther", "Farid", "Greta", "Hiro"]
    events = []
    for i in range(2_400):
        who = f"{names[i % 8]} {names[(i // 8) % 8]}son{i}"
        events.append(
            event(f"e-n{i}", "Prompt", f"n{i}", session_id=f"s{i % 40}",
                  content=f"Please call {who} in Lisbon about order {i}.")
        )  # fmt: skip
    with memgraph_ops.open(home) as mg:
        mg.ingest(events)
    assert not multiprocessing.active_children()
    with dg.instance_for_test() as instance:
        assert _materialize(home, instance).success
    assert not multiprocessing.active_children()
