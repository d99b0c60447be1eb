"""Safe defaults: nothing is deleted unless the policy says so, deleting schedules start stopped,
and the data root (HOT holds raw personal data) is owner-only."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

import memgraph_ops
from memgraph_ops import Memgraph
from memgraph_ops.cli import main
from memgraph_ops.lake import no_redaction
from memgraph_ops.retention import RetentionPolicy
from tests.factories import BASE, session

NOW = BASE + timedelta(days=800)


def _old_lake(home: Path, policy: str | None = None) -> Memgraph:
    """Two sessions, idle for 800 and 500 days, in the lake."""
    if policy is not None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "memgraph.toml").write_text(policy)
    mg = memgraph_ops.open(home)
    mg.ingest(session("ancient", 1) + session("old", 1, start=300 * 86_400))
    mg.compact(redact=no_redaction)
    return mg


def test_the_default_policy_never_deletes() -> None:
    policy = RetentionPolicy.from_mapping({})
    assert policy.delete_after_days is None
    assert RetentionPolicy().delete_after_days is None
    assert policy.archive_after_days == 30  # archiving deletes nothing and stays on


def test_without_a_policy_old_sessions_are_archived_never_deleted(home: Path) -> None:
    with _old_lake(home) as mg:
        plan = mg.plan_retention(now=NOW)
        assert plan.delete_lake.is_empty() and plan.delete_vault.is_empty()
        assert sorted(plan.archive["session_id"]) == ["ancient", "old"]
        report = mg.retention(now=NOW)
        assert report.archived == 2 and report.deleted_from_lake == 0
        # archived a year and more ago and idle since: still kept in the vault
        later = mg.plan_retention(now=NOW + timedelta(days=3650))
        assert later.delete_vault.is_empty()
        assert sorted(mg.vault.index()["session_id"]) == ["ancient", "old"]


def test_retention_dry_run_says_nothing_would_be_deleted(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `retention` plans for the current time: make the sessions years old by the clock
    years_ago = datetime.now(UTC) - timedelta(days=3 * 365) - BASE
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("ancient", 1, start=int(years_ago.total_seconds())))
        mg.compact(redact=no_redaction)
    assert main(["retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete from the lake: 0 sessions" in out
    assert "would delete from the vault: 0 sessions" in out
    assert "would archive (lake -> vault): 1 sessions" in out
    assert main(["retention", "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["delete_from_lake"]["sessions"] == 0
    assert plan["node_type_deletes"] == {}


def test_deletion_happens_when_the_policy_asks_for_it(home: Path) -> None:
    policy = "[retention]\ndelete_after_days = 600\n[[retention.rules]]\ntag = 'keep'\n"
    policy += "delete_after_days = 0\n"
    with _old_lake(home, policy) as mg:
        plan = mg.plan_retention(now=NOW)
        assert plan.delete_lake["session_id"].to_list() == ["ancient"]  # 800 days idle
        assert plan.archive["session_id"].to_list() == ["old"]  # 500 days idle


def test_a_rule_can_turn_deletion_on_for_one_tenant_only(home: Path) -> None:
    policy = "[[retention.rules]]\ntenant = 'acme'\ndelete_after_days = 100\n"
    with _old_lake(home, policy) as mg:
        assert sorted(mg.plan_retention(now=NOW).delete_lake["session_id"]) == ["ancient", "old"]


# Schedules and sensors whose runs delete nothing the lake or vault does not still hold (or
# delete only what someone explicitly asked for) may start RUNNING; any other starts STOPPED.
MAY_START_RUNNING = {
    "compaction_schedule": "moves HOT events into the lake; trims HOT only of what it holds",
    "observatory_hourly": "recomputes derived metrics tables from the lake",
    "observatory_days_hourly": "recomputes derived day partitions of metrics from the lake",
    "erasure_queue_sensor": "runs only the erasure requests someone queued with `erase`",
}


def test_schedules_that_can_delete_data_start_stopped() -> None:
    from pipelines.definitions import defs

    schedules = {s.name: s for s in defs.schedules or []}
    sensors = {s.name: s for s in defs.sensors or []}
    assert schedules["retention_schedule"].default_status == dg.DefaultScheduleStatus.STOPPED
    for name, schedule in schedules.items():
        if name not in MAY_START_RUNNING:
            assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED, name
    for name, sensor in sensors.items():
        if name not in MAY_START_RUNNING:
            assert sensor.default_status == dg.DefaultSensorStatus.STOPPED, name


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_root_is_owner_only(home: Path) -> None:
    previous = os.umask(0o022)
    try:
        with memgraph_ops.open(home) as mg:
            assert _mode(home) == 0o700
            mg.ingest(session("s1", 1))
            mg.compact(redact=no_redaction)
    finally:
        os.umask(previous)
    assert _mode(home) == 0o700
    # everything below is reachable only through the owner-only root
    assert (home / "hot.duckdb").exists() and (home / "lake").is_dir()


def test_an_existing_world_readable_root_of_ours_is_narrowed(home: Path) -> None:
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    with memgraph_ops.open(home, read_only=True):
        pass
    assert _mode(home) == 0o700
    home.chmod(0o750)
    assert main(["status"]) == 0
    assert _mode(home) == 0o700


def test_a_read_only_open_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    memgraph_ops.open(missing, read_only=True).close()
    assert not missing.exists()
