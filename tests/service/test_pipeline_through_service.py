"""Many writer processes and a Dagster compaction at once, all through one server: the lake's
event ids equal what was acknowledged, each exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from memgraph_ops import Lake, load_settings
from memgraph_ops.client import Client
from pipelines.defs.compaction.assets import (
    edges_unique,
    event_log_exactly_once,
    lake_tables,
    nodes_unique,
)
from pipelines.resources import MemgraphResource
from tests.service.conftest import Keys, Server

WRITERS = 16
TURNS = 4
REPO = Path(__file__).resolve().parents[2]

_WRITER = """
import json, sys
from memgraph_ops.client import Client
from tests.factories import session
url, key, worker, TURNS = *sys.argv[1:4], int(sys.argv[4])
acked = []
with Client(url, key) as client:
    for e in session(f"w{worker}", TURNS, user=f"user-{worker}"):
        result = client.ingest([e])
        if result.accepted + result.duplicates == 1:
            acked.append(e["event_id"])
print(json.dumps(acked))
"""


def _compact(home: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [lake_tables, nodes_unique, edges_unique, event_log_exactly_once],
        resources={"memgraph": MemgraphResource(home=str(home))},
        instance=instance,
    )


@pytest.mark.heavy
def test_writer_processes_and_dagster_compaction_through_the_service(
    server: Server, keys: Keys, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Redaction is orthogonal to the service path and costs minutes of Presidio on 2 cores.
    monkeypatch.setenv("MEMGRAPH_REDACTION", "off")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, server.url, keys.acme, str(w), str(TURNS)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(WRITERS)
    ]
    runs = 0
    with dg.instance_for_test() as instance:
        # compact over and over while the writers write
        deadline = time.monotonic() + 300
        while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
            result = _compact(home, instance)
            assert result.success
            runs += 1
        outputs = [w.communicate(timeout=120) for w in writers]
        assert all(w.returncode == 0 for w in writers), [e.decode()[-2000:] for _, e in outputs]
        final = _compact(home, instance)
        assert final.success
        assert all(c.passed for c in final.get_asset_check_evaluations())
    acked = sorted(eid for out, _ in outputs for eid in json.loads(out))
    assert len(acked) == WRITERS * (1 + 5 * TURNS + TURNS - 1)  # session, turns, FOLLOWS
    assert runs >= 1
    lake = Lake(load_settings(home).lake_uri)
    ids = lake.scan("event_log").select("event_id").collect()["event_id"]
    assert ids.n_unique() == ids.len()  # no duplicates
    assert sorted(ids.to_list()) == acked
    nodes = lake.scan("nodes").filter(pl.col("type") == "Session").collect()
    assert nodes.height == WRITERS
    with Client(server.url, keys.admin) as admin:
        assert admin.status()["store"]["events"] == 0  # trimmed by the server (window 0 h)
