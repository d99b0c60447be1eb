"""Retention policies, plans and runs on a real lake, vault and store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import memgraph_ops
from memgraph_ops import Memgraph
from memgraph_ops.cli import main
from memgraph_ops.errors import ConfigError
from memgraph_ops.lake import no_redaction
from memgraph_ops.retention import RetentionPolicy, aggregates
from tests.factories import BASE, event, hash_tree, session

POLICY = """
[retention]
archive_after_days = 30
delete_after_days = 200
restored_ttl_days = 1
time_travel_days = 0

[[retention.rules]]
tenant = "globex"
archive_after_days = 5

[[retention.rules]]
tag = "vip"
delete_after_days = 0

[retention.legal_hold]
users = ["held-user"]
sessions = ["s-held"]
"""


def _write_policy(home: Path, text: str = POLICY) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "memgraph.toml").write_text(text)


def _session(
    sid: str, *, days: int, tenant: str = "acme", user: str = "u", tags: list[str] | None = None
) -> list[dict[str, Any]]:
    events = session(sid, 2, user=user, start=days * 86_400)
    for e in events:
        e["tenant"] = tenant
        if e["type"] == "Session":
            e["tags"] = tags or ["t"]
    return events


def _lake(home: Path) -> Memgraph:
    _write_policy(home)
    mg = memgraph_ops.open(home)
    events = (
        _session("s-new", days=300)  # 300 days after BASE: active
        + _session("s-idle", days=200)  # idle for 100 days: archive
        + _session("s-old", days=0)  # idle for 300 days: delete
        + _session("s-globex", days=290, tenant="globex")  # 10 days idle, globex archives at 5
        + _session("s-vip", days=0, tags=["vip"])  # never deleted, only archived
        + _session("s-held", days=0)
        + _session("s-user-held", days=0, user="held-user")
    )
    mg.ingest(events)
    mg.compact(redact=no_redaction)
    return mg


NOW = BASE + timedelta(days=300, hours=1)


def test_plan_follows_the_most_specific_rule_and_the_legal_hold(home: Path) -> None:
    mg = _lake(home)
    plan = mg.plan_retention(now=NOW)
    assert sorted(plan.archive["session_id"]) == ["s-globex", "s-idle", "s-vip"]
    assert sorted(plan.delete_lake["session_id"]) == ["s-old"]
    assert sorted(plan.held["session_id"]) == ["s-held", "s-user-held"]
    summary = plan.summary()
    assert (
        summary["archive"]["rows"] == 3 * 12
    )  # 7 nodes, 5 edges each and summary["archive"]["bytes"] > 0


def test_dry_run_prints_the_plan_and_changes_no_byte(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lake(home).close()
    before = hash_tree(home)
    assert main(["retention", "--dry-run", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dry_run"] is True
    # the sessions are old relative to today, so everything not held or vip is due for deletion
    assert "s-old" in printed["plan"]["delete_from_lake"]["session_ids"]
    assert hash_tree(home) == before


def test_run_archives_deletes_keeps_aggregates_and_honours_holds(home: Path) -> None:
    mg = _lake(home)
    old_text = mg.lake.nodes(session_id="s-old")["content"].drop_nulls().to_list()
    report = mg.retention(now=NOW)
    assert report.archived == 3 and report.deleted_from_lake == 1
    where = {
        sid: ("lake" if mg.lake.nodes(session_id=sid).height else "")
        + ("vault" if mg.vault.contains(sid) else "")
        for sid in ("s-new", "s-idle", "s-old", "s-globex", "s-vip", "s-held", "s-user-held")
    }
    assert where == {
        "s-new": "lake", "s-idle": "vault", "s-old": "", "s-globex": "vault", "s-vip": "vault",
        "s-held": "lake", "s-user-held": "lake",
    }  # fmt: skip
    daily = aggregates.daily(mg.lake)
    assert daily["prompts"].sum() == 2 and daily["sessions"].sum() == 1
    assert daily["latency_count"].sum() == 2 and sum(daily["latency_buckets"][0]) == 2
    # time_travel_days = 0: the deleted session's rows are gone from every file
    lake_bytes = b"".join(p.read_bytes() for p in (home / "lake").rglob("*.parquet"))
    assert old_text and b"s-old" not in lake_bytes
    # a rerun has nothing left to do and adds no aggregates twice
    again = mg.retention(now=NOW)
    assert again.archived == 0 and again.deleted_from_lake == 0 and again.aggregate_rows == 0
    assert aggregates.daily(mg.lake)["prompts"].sum() == 2


def test_expired_vault_sessions_are_removed_and_restored_copies_expire(home: Path) -> None:
    mg = _lake(home)
    mg.retention(now=NOW)
    assert mg.restore("s-idle").restored
    later = NOW + timedelta(days=150)  # s-idle: 250 days idle, past delete_after_days = 200
    report = mg.retention(now=later)
    assert report.deleted_from_vault >= 1 and not mg.vault.contains("s-idle")
    assert mg.vault.contains("s-vip")  # the vip rule never deletes
    assert mg.store.restored().filter(pl.col("session_id") == "s-idle").height == 0
    assert mg.vault.stats()["reclaimable_bytes"] == 0


def test_node_type_rules_delete_those_nodes_and_their_edges_early(home: Path) -> None:
    _write_policy(
        home,
        "[retention]\narchive_after_days = 0\ndelete_after_days = 0\ntime_travel_days = 0\n"
        '[[retention.rules]]\nnode_type = "ToolInvocation"\ndelete_after_days = 10\n',
    )
    mg = memgraph_ops.open(home)
    mg.ingest(_session("a", days=0) + _session("b", days=295))
    mg.compact(redact=no_redaction)
    report = mg.retention(now=NOW)
    assert report.node_type_rows_deleted == {"nodes": 2, "edges": 2}
    tools = mg.lake.nodes(types=["ToolInvocation"])
    assert sorted(tools["session_id"]) == ["b", "b"]
    assert mg.lake.edges(types=["INVOKES"])["session_id"].to_list() == ["b", "b"]


def test_hot_activity_keeps_a_session_from_being_archived(home: Path) -> None:
    mg = _lake(home)
    # a new turn waits in HOT, not compacted yet
    mg.ingest([event("new-turn", "Prompt", "s-idle-p9", session_id="s-idle", content="hi",
                     at=300 * 86_400)])  # fmt: skip
    plan = mg.plan_retention(now=NOW)
    assert "s-idle" not in plan.archive["session_id"].to_list()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[retention]\narchive_after_days = -1\n", "must not be negative"),
        ("[retention]\nkeep = 1\n", "unknown keys"),
        ("[[retention.rules]]\nnode_type = 'Nope'\ndelete_after_days = 1\n", "unknown node_type"),
        ("[[retention.rules]]\nnode_type = 'Prompt'\narchive_after_days = 1\n", "only set delete"),
        ("[[retention.rules]]\narchive_after_days = 1\n", "must name a tenant, a tag"),
        ("[[retention.rules]]\ntag = 'x'\nhot_window_hours = 1\n", "per tenant only"),
        ("[retention.legal_hold]\nusers = 'u'\n", "list of strings"),
    ],
)
def test_bad_policies_are_refused_naming_the_problem(text: str, message: str) -> None:
    import tomllib

    with pytest.raises(ConfigError, match=message):
        RetentionPolicy.from_mapping(tomllib.loads(text).get("retention", {}))


def test_now_defaults_to_the_current_time(home: Path) -> None:
    mg = _lake(home)
    assert abs(mg.plan_retention().now - datetime.now(UTC)) < timedelta(minutes=1)
