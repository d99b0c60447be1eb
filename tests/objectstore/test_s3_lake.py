"""The lake on a real S3 server (moto_server on loopback): compaction, the Observatory, erasure
with a byte scan of the bucket, crashes mid-compaction, two writers at once, other engines."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import boto3
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

import memgraph_ops
from memgraph_ops import observatory
from memgraph_ops.erasure import Subject, erase
from memgraph_ops.erasure.steps import scan
from memgraph_ops.errors import StoreMismatchError
from memgraph_ops.lake import no_redaction
from memgraph_ops.lake.verify import verify_lake
from tests.erasure.conftest import EMAIL, OTHER_USERS, SUBJECT, build, pseudonyms, subject_token
from tests.factories import edge, session


def _bucket(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


def _objects(uri: str) -> dict[str, bytes]:
    """Every object under the lake, read with boto3 (not through our code)."""
    bucket, prefix = _bucket(uri)
    client = boto3.client("s3")
    out: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return out


def _holding(uri: str, needles: list[str]) -> list[str]:
    """Keys whose raw bytes, or (for Parquet) whose decoded values, hold any needle."""
    found = []
    for key, data in _objects(uri).items():
        texts = [data.lower()]
        if data.startswith(b"PAR1"):
            table = pq.read_table(io.BytesIO(data))
            texts.append(json.dumps(table.to_pylist(), default=str).lower().encode())
        if any(n.lower().encode() in t for n in needles for t in texts):
            found.append(key)
    return found


def _needles() -> list[str]:
    email = pseudonyms().token("acme", "EMAIL_ADDRESS", EMAIL)
    return [SUBJECT, EMAIL, subject_token()[-13:-1], email[-13:-1]]


def test_erasure_on_an_s3_lake_leaves_no_byte_of_the_subject_in_the_bucket(
    home: Path, s3_lake: str
) -> None:
    with memgraph_ops.open(home) as mg:
        assert mg.settings.lake_uri == s3_lake
        layout = build(mg)  # compactions, a checkpoint, the Observatory, archive and restore
        assert not (home / "lake").exists(), "the lake must live in the bucket only"
        before = _holding(s3_lake, _needles())
        # the check can fail: current data files and the change data feed hold the subject
        assert any(k.endswith(".parquet") and "_delta_log" not in k for k in before), before
        assert any("/_change_data/" in k for k in before), before
        chains = observatory.table(mg, "session_chains")
        assert set(chains["session_id"].to_list()) & set(layout["subject"])

        request = erase(mg, Subject("user", SUBJECT, identifiers=(EMAIL,)))

        assert request.status == "done"
        assert request.receipt is not None and request.receipt["verification"]["passed"]
        assert _holding(s3_lake, _needles()) == []
        assert scan(mg, _needles()) == []
        lake_users = set(mg.lake.nodes(types=["Session"])["user_id"].to_list())
        assert lake_users == {pseudonyms().subject("acme", u) for u in OTHER_USERS}
        chains = observatory.table(mg, "session_chains")
        assert not set(chains["session_id"].to_list()) & set(layout["subject"])
        # the receipt lives in the lake, on S3 too
        keys = _objects(s3_lake)
        assert any(k.split("/")[1] == "erasure_log" for k in keys)


def test_scan_of_the_bucket_finds_what_is_there(home: Path, s3_lake: str) -> None:
    """The erasure's own object scan is not blind on S3: it finds a value in a data file."""
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 2, user="findme-9q8w"))
        mg.compact(redact=no_redaction)  # the user id reaches the lake as it is
        hits = scan(mg, ["findme-9q8w"])
    assert any(h.file.startswith("s3://") and h.where.startswith("parquet:") for h in hits)


FAILPOINTS = [
    ("compact:after_commit:event_log", 0),
    ("compact:after_append:nodes", 1),
    ("compact:before_trim", 0),
]


@pytest.mark.heavy
@pytest.mark.parametrize(("point", "skip"), FAILPOINTS)
def test_sigkill_of_a_compaction_writing_to_s3_then_rerun_is_exactly_once(
    home: Path, s3_lake: str, point: str, skip: int
) -> None:
    events = session("s1", 6) + session("s2", 6) + [edge("x", "HANDLED_BY", "s1-p0", "ag")]
    with memgraph_ops.open(home) as mg:
        mg.ingest(events)
    env = {**os.environ, "MEMGRAPH_FAILPOINT": point, "MEMGRAPH_FAILPOINT_SKIP": str(skip)}
    code = "import memgraph_ops; memgraph_ops.open().compact(batch_rows=20)"
    crashed = subprocess.run([sys.executable, "-c", code], env=env, timeout=180)
    assert crashed.returncode == -9, "the failpoint must have killed the process"
    late = session("s3", 2)
    with memgraph_ops.open(home) as mg:
        mg.ingest(late)
        mg.compact(batch_rows=20)
        expected = Counter(e["event_id"] for e in events + late)
        assert Counter(mg.lake.event_log()["event_id"].to_list()) == expected
        nodes = mg.lake.nodes()
        assert nodes["id"].is_unique().all()
        assert nodes.height == len({e["id"] for e in events + late if e["kind"] == "node"})
        assert mg.store.counts()["events"] == 0


WRITER = """
import sys, memgraph_ops
from memgraph_ops import observatory
from tests.factories import session
mg = memgraph_ops.open()
for i in range(4):
    if sys.argv[1] == "compact":
        mg.ingest(session(f"w{i}", 3))
        mg.compact()
    else:
        observatory.refresh(mg)
mg.close()
"""


@pytest.mark.heavy
def test_a_compaction_and_an_observatory_refresh_in_two_processes_at_once(
    home: Path, s3_lake: str
) -> None:
    """Two processes commit to the same S3 lake at the same time (the refresh reads the graph
    while compaction changes it and writes tables of its own): both finish, nothing is lost."""
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("w-first", 2))
        mg.compact()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, role], env=env, cwd=root)
        for role in ("compact", "observatory")
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    with memgraph_ops.open(home) as mg:
        observatory.refresh(mg)
        sessions = set(mg.lake.nodes(types=["Session"])["id"].to_list())
        assert sessions == {"w-first", "w0", "w1", "w2", "w3"}
        assert mg.lake.event_log()["event_id"].is_unique().all()
        chains = observatory.table(mg, "session_chains")
        assert set(chains["session_id"].to_list()) == sessions


def test_engines_other_than_ours_read_the_s3_lake(home: Path, s3_lake: str) -> None:
    """polars' Delta reader and delta-rs' Arrow dataset read the tables as they are, and DuckDB
    runs SQL over that dataset: no export, no conversion."""
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 3) + session("s2", 2))
        mg.compact()
        observatory.refresh(mg)
        ours = mg.lake.nodes().sort("id")
    nodes_uri = f"{s3_lake}/nodes"
    theirs = pl.read_delta(nodes_uri).sort("id")
    assert theirs.select(ours.columns).equals(ours)
    dataset = DeltaTable(f"{s3_lake}/edges").to_pyarrow_dataset()
    edges = duckdb.sql("SELECT type, count(*) AS n FROM dataset GROUP BY type ORDER BY type")
    assert dict(edges.fetchall()) == dict(Counter(pa.table(dataset.to_table())["type"].to_pylist()))
    assert sum(n for _, n in edges.fetchall()) > 0
    activity = pl.read_delta(f"{s3_lake}/observatory/activity")
    assert activity.height > 0


def test_two_hot_nodes_on_one_s3_lake_the_older_one_is_refused_and_loses_nothing(
    home: Path, s3_lake: str, tmp_path: Path
) -> None:
    """One store per lake, across machines too. A new store opened on a lake that has data
    starts its seqs above the lake's watermark and takes the lake over (as a replaced
    `hot.duckdb` does); the store that compacted before is then refused, before it writes
    anything, and keeps its events in HOT."""
    with memgraph_ops.open(home) as first:
        first.ingest(session("a1", 2))
        first.compact()
    with memgraph_ops.open(tmp_path / "other-node") as second:
        assert second.settings.lake_uri == s3_lake
        second.ingest(session("b1", 2))
        second.compact()
    with memgraph_ops.open(home) as first:
        first.ingest(session("a2", 2))
        versions = {name: first.lake.version(name) for name in ("event_log", "nodes", "edges")}
        with pytest.raises(StoreMismatchError, match="one lake takes events from one store"):
            first.compact()
        assert {n: first.lake.version(n) for n in versions} == versions
        assert set(first.lake.nodes(types=["Session"])["id"].to_list()) == {"a1", "b1"}
        assert first.store.context("a2"), "the refused events stay in HOT"


def test_verify_checks_every_data_file_of_an_s3_lake(home: Path, s3_lake: str) -> None:
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 3) + session("s2", 2))
        mg.compact()
        observatory.refresh(mg)
        settings = mg.settings
    clean = verify_lake(settings.lake_uri, home=home)
    assert clean.errors == [] and clean.checked["tables"] >= 5, clean
    assert any("presence and size only" in p.what for p in clean.problems)
    bucket, _ = _bucket(s3_lake)
    client = boto3.client("s3")
    data = [k for k in _objects(s3_lake) if k.startswith("lake/nodes/") and "_delta_log" not in k]
    gone, cut = data[0], data[1]
    client.delete_object(Bucket=bucket, Key=gone)
    body = client.get_object(Bucket=bucket, Key=cut)["Body"].read()
    client.put_object(Bucket=bucket, Key=cut, Body=body[: len(body) // 2])
    damaged = verify_lake(settings.lake_uri, home=home)
    found = {p.path.rsplit("/", 1)[-1]: p.what for p in damaged.errors}
    assert found.keys() == {gone.rsplit("/", 1)[-1], cut.rsplit("/", 1)[-1]}, damaged.errors
    assert "is missing" in found[gone.rsplit("/", 1)[-1]]
    assert "the log says" in found[cut.rsplit("/", 1)[-1]]


DAYS_RUN = """
import sys
import dagster as dg
from pipelines.definitions import defs
from pipelines.defs.observatory.assets import RANGE_END, RANGE_START
with dg.instance_for_test() as instance:
    result = defs.resolve_job_def("observatory_days_job").execute_in_process(
        instance=instance, tags={RANGE_START: sys.argv[1], RANGE_END: sys.argv[2]}
    )
sys.exit(0 if result.success else 1)
"""


@pytest.mark.heavy
def test_two_partition_runs_of_disjoint_days_write_one_s3_table_at_once(
    home: Path, s3_lake: str
) -> None:
    """Two Dagster runs of `observatory_days_job`, over disjoint day ranges, in two processes at
    once (as a backfill fans out): the Delta tables are partitioned by day and each overwrite
    names its days (a commit conflict is retried), so both land, every day computed once, and
    the totals equal the lake's."""
    with memgraph_ops.open(home) as mg:
        events = [e for d in range(6) for e in session(f"d{d}", 3, start=d * 86_400)]
        mg.ingest(events)
        mg.compact()
        days = sorted({e["occurred_at"][:10] for e in events})
    assert len(days) == 6
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    writers = [
        subprocess.Popen([sys.executable, "-c", DAYS_RUN, part[0], part[-1]], env=env, cwd=root)
        for part in (days[:3], days[3:])
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    with memgraph_ops.open(home) as mg:
        activity = observatory.table(mg, "activity")
        assert sorted({d.isoformat() for d in activity["day"].to_list()}) == days
        assert activity.group_by("day", "dimension", "key").len()["len"].max() == 1
        check = observatory.tables.check_daily_totals(mg.lake)
        assert check.passed, check.figures
