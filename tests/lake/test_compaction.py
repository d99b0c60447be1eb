from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import cast

import polars as pl
import pytest

from memgraph_ops import Memgraph
from memgraph_ops.lake.tables import APP_ID
from memgraph_ops.privacy.redact import Redactor as PiiRedactor
from tests.factories import edge, event, session


def _event_ids_in_lake(mg: Memgraph) -> Counter[str]:
    return Counter(mg.lake.event_log()["event_id"].to_list())


def test_compaction_lands_every_event_once_and_builds_the_graph(mg: Memgraph) -> None:
    events = session("s1", 3) + session("s2", 2)
    mg.ingest(events)
    report = mg.compact()
    assert report.events == len(events)
    assert _event_ids_in_lake(mg) == Counter(e["event_id"] for e in events)
    nodes = mg.lake.nodes()
    assert nodes["id"].is_unique().all()
    assert dict(nodes.group_by("type").len().iter_rows()) == {
        "Session": 2, "Prompt": 5, "Response": 5, "ToolInvocation": 5,
    }  # fmt: skip
    edges = mg.lake.edges()
    assert edges.filter(pl.col("type") == "FOLLOWS").height == 3
    assert not edges["dangling"].any()
    # typed columns: analytics never parse JSON for tokens or latency
    assert nodes.schema["total_tokens"] == pl.Int64
    assert edges.schema["latency_ms"] == pl.Float64
    # HOT was trimmed (hot window 0 in tests) and the watermark covers everything
    assert mg.store.counts()["events"] == 0
    assert mg.lake.watermark() == len(events)


def test_rerun_without_new_events_changes_nothing(mg: Memgraph) -> None:
    mg.ingest(session("s1", 2))
    mg.compact()
    versions = {n: mg.lake.version(n) for n in ("event_log", "nodes", "edges")}
    report = mg.compact()
    assert report.events == 0
    assert {n: mg.lake.version(n) for n in versions} == versions


def test_later_events_update_nodes_by_merge_and_partial_updates_keep_fields(
    mg: Memgraph,
) -> None:
    mg.ingest([event("e1", "Session", "s1", user_id="u1", tags=["a"], metadata={"k": 1})])
    mg.compact()
    mg.ingest([event("e2", "Session", "s1", at=60, tags=["a", "b"])])  # only tags change
    mg.compact()
    row = mg.lake.nodes().row(0, named=True)
    # the data subject leaves HOT only as its keyed pseudonym
    assert row["tags"] == ["a", "b"] and row["user_id"] == cast(
        PiiRedactor, mg.redactor()
    ).pseudonymizer.subject("acme", "u1")
    assert row["created_at"] < row["updated_at"]
    assert mg.lake.nodes().height == 1


def test_out_of_order_older_event_does_not_overwrite_newer_state(mg: Memgraph) -> None:
    mg.ingest([event("e2", "Agent", "a1", at=100, name="new")])
    mg.compact()
    mg.ingest([event("e1", "Agent", "a1", at=1, name="old")])
    mg.compact()
    assert mg.lake.nodes()["name"].to_list() == ["new"]


def test_deletes_remove_rows_and_same_batch_reset(mg: Memgraph) -> None:
    mg.ingest(
        [event("e1", "Agent", "a1", name="x", role="r"), event("e2", "Agent", "a2", name="y")]
    )
    mg.compact()
    mg.ingest(
        [
            {**event("e3", "Agent", "a1", at=5), "op": "delete"},
            {**event("e4", "Agent", "a2", at=5), "op": "delete"},
            event("e5", "Agent", "a2", at=6, name="reborn"),  # delete then re-create in one batch
        ]
    )
    mg.compact()
    rows = mg.lake.nodes().select("id", "name", "role").to_dicts()
    assert rows == [{"id": "a2", "name": "reborn", "role": None}]


def test_dangling_edges_are_kept_flagged_then_resolved(mg: Memgraph) -> None:
    mg.ingest([edge("e1", "HANDLED_BY", "p1", "agent-1", confidence_score=0.9)])
    first = mg.compact()
    assert first.dangling_edges == 1
    assert mg.lake.edges()["dangling"].to_list() == [True]
    mg.ingest([event("e2", "Prompt", "p1", session_id="s", content="hi"),
               event("e3", "Agent", "agent-1", name="triage")])  # fmt: skip
    second = mg.compact()
    assert second.resolved_edges == 1
    assert mg.lake.edges()["dangling"].to_list() == [False]


def test_batches_stream_and_commit_metadata_records_the_range(mg: Memgraph) -> None:
    events = session("s1", 10)
    mg.ingest(events)
    report = mg.compact(batch_rows=7)
    assert report.batches == -(-len(events) // 7)
    history = mg.lake.history("event_log")
    writes = history.filter(pl.col("seq_to").is_not_null()).sort("version")
    assert writes["seq_from"].cast(int).to_list()[0] == 1
    assert writes["seq_to"].cast(int).to_list()[-1] == len(events)
    table = mg.lake.table("nodes")
    assert table is not None and table.transaction_version(APP_ID) == len(events)
    assert table.metadata().configuration["memgraph.schemaVersion"] == "1"


def test_time_travel_reads_an_earlier_version(mg: Memgraph) -> None:
    mg.ingest(session("s1", 1))
    mg.compact()
    v1 = mg.lake.version("nodes")
    mg.ingest(session("s2", 1))
    mg.compact()
    assert mg.lake.nodes(as_of=v1)["session_id"].unique().to_list() == ["s1"]
    assert set(mg.lake.nodes()["session_id"].unique().to_list()) == {"s1", "s2"}


def test_delta_log_stats_hold_no_content(mg: Memgraph) -> None:
    mg.ingest([event("e1", "Prompt", "p1", session_id="s", content="zebra-secret-content")])
    mg.compact()
    logs = Path(mg.settings.lake_uri, "nodes", "_delta_log")
    text = "".join(p.read_text() for p in logs.glob("*.json"))
    assert "zebra-secret-content" not in text


FAILPOINTS = [
    ("compact:before_commit:event_log", 0),
    ("compact:after_commit:event_log", 0),  # between the tables
    ("compact:before_commit:nodes", 0),
    ("compact:after_append:nodes", 1),  # between the append of new ids and the MERGE
    ("compact:after_append:edges", 0),
    ("compact:after_commit:nodes", 1),  # in the second batch
    ("compact:before_commit:edges", 2),
    ("compact:after_commit:edges", 0),
    ("compact:before_trim", 0),  # between the commit and the HOT trim
]


@pytest.mark.parametrize(("point", "skip"), FAILPOINTS)
def test_sigkill_anywhere_then_rerun_loses_and_duplicates_nothing(
    mg: Memgraph, home: Path, point: str, skip: int
) -> None:
    events = session("s1", 6) + session("s2", 6) + [edge("x", "HANDLED_BY", "s1-p0", "ag")]
    mg.ingest(events)
    mg.close()  # the killed process must own the DuckDB file
    env = {**os.environ, "MEMGRAPH_FAILPOINT": point, "MEMGRAPH_FAILPOINT_SKIP": str(skip)}
    code = "import memgraph_ops; memgraph_ops.open().compact(batch_rows=20)"
    crashed = subprocess.run([sys.executable, "-c", code], env=env, timeout=120)
    assert crashed.returncode == -9, "the failpoint must have killed the process"
    # more events arrive after the crash, then the next run repairs everything
    late = session("s3", 2)
    mg.ingest(late)
    mg.compact(batch_rows=20)
    expected = Counter(e["event_id"] for e in events + late)
    assert _event_ids_in_lake(mg) == expected
    nodes = mg.lake.nodes()
    assert nodes["id"].is_unique().all()
    assert nodes.height == len({e["id"] for e in events + late if e["kind"] == "node"})
    edges = mg.lake.edges()
    assert edges["id"].is_unique().all()
    assert edges.height == sum(1 for e in events + late if e["kind"] == "edge")
    assert mg.store.counts()["events"] == 0
