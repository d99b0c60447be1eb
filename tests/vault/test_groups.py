"""Group frames: several sessions (and blocks) in one zstd frame, each found by its byte range.

Real engines throughout: a lake, packs on disk, the Delta index.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake
from polars.testing import assert_frame_equal

from memgraph_ops import Memgraph
from memgraph_ops.lake import no_redaction
from memgraph_ops.vault import Vault
from tests.factories import event, session
from tests.vault.test_vault import _build, _vault_contains

# Strings that look like the container's own structure: a member boundary, a whole payload
# document, a format 1 reference, JSON that closes the document early, NUL, newlines.
ADVERSARIAL = [
    '{"format":3,"session_id":"s9","nodes":{"id":["s9"]}}',
    '"]}}{"format":3,',
    "\x00blk:" + "0" * 64,
    "line one\nline two\r\n\u2028\u2029",
    "\x00\x01\x1f\x7f",
    '\\u0000 \\n \\" ',
    "\ud7ff\ue000\U0001f600 ünïcødé",
    "",
]


def _groups(mg: Memgraph) -> dict[tuple[str, int], list[str]]:
    index = mg.vault.index()
    frames: dict[tuple[str, int], list[str]] = {}
    for row in index.iter_rows(named=True):
        frames.setdefault((row["pack"], row["offset"]), []).append(row["session_id"])
    return frames


def test_every_row_and_value_comes_back_from_shared_frames(mg: Memgraph) -> None:
    events = []
    for i in range(12):
        sid = f"g{i}"
        events += session(sid, 2, user=f"user-{i % 3}")
        events += [
            event(f"{sid}-e-a{j}", "Prompt", f"{sid}-a{j}", session_id=sid, content=text,
                  attrs=json.dumps({"note": text}))
            for j, text in enumerate(ADVERSARIAL)
        ]  # fmt: skip
    mg.ingest(events)
    mg.compact(redact=no_redaction)
    sessions = [f"g{i}" for i in range(12)]
    before = {s: (mg.lake.nodes(session_id=s), mg.lake.edges(session_id=s)) for s in sessions}
    mg.vault.group_bytes = 20_000
    mg.archive(sessions)
    frames = _groups(mg)
    assert 1 < len(frames) < len(sessions)  # several frames, several sessions in each
    for sid, (nodes, edges) in before.items():
        rows = mg.vault.read_session(sid)
        assert_frame_equal(rows.nodes.sort("id"), nodes.sort("id"), check_column_order=False)
        assert_frame_equal(rows.edges.sort("id"), edges.sort("id"), check_column_order=False)


def test_removing_one_session_rewrites_its_frame_without_its_bytes(mg: Memgraph) -> None:
    sessions = _build(mg)
    mg.ingest([event("u", "Prompt", "s2-secret", session_id="s2", content="zebra-omega-7731")])
    mg.compact(redact=no_redaction)
    mg.archive(sessions)
    (members,) = _groups(mg).values()  # one frame holds all six
    assert sorted(members) == sessions
    kept = {s: mg.vault.read_session(s) for s in sessions if s != "s2"}
    report = mg.vault.remove_sessions(["s2"], why="erasure")
    assert report.sessions_removed == 1 and report.packs_rewritten
    assert not _vault_contains(mg, b"zebra-omega-7731")
    for sid, rows in kept.items():
        again = mg.vault.read_session(sid)
        assert_frame_equal(again.nodes, rows.nodes)
        assert_frame_equal(again.edges, rows.edges)
    assert mg.vault.stats()["reclaimable_bytes"] == 0


def test_a_superseded_member_is_dead_bytes_until_compaction_drops_it(mg: Memgraph) -> None:
    sessions = _build(mg)
    mg.archive(sessions)
    mg.ingest([event("late", "Prompt", "s3-late", at=500, session_id="s3", content="kiwi-9931")])
    mg.compact(redact=no_redaction)
    mg.ingest([event("late2", "Prompt", "s3-late2", at=501, session_id="s3",
                     content="quince-4410")])  # fmt: skip
    mg.compact(redact=no_redaction)
    mg.archive(["s3"])  # generation 2, in a new frame; generation 1 stays in the old one
    assert int(mg.vault.index().filter(pl.col("session_id") == "s3")["generation"][0]) == 2
    dead = mg.vault.stats()["reclaimable_bytes"]
    assert dead > 0
    dry = mg.vault.compact(min_dead_fraction=0.0, dry_run=True)
    assert dry.bytes_before - dry.bytes_after == pytest.approx(dead, abs=2)
    mg.vault.compact(min_dead_fraction=0.0)
    assert mg.vault.stats()["reclaimable_bytes"] == 0
    rows = mg.vault.read_session("s3")
    assert {"s3-late", "s3-late2"} <= set(rows.nodes["id"].to_list())
    for sid in sessions:
        assert mg.vault.read_session(sid).nodes.height


def test_an_index_written_before_group_frames_still_reads_and_grows(mg: Memgraph) -> None:
    """A vault from before group frames: its index has no `member_offset` and
    `frame_raw_bytes`. It reads as it did, and the next archive adds the columns."""
    sessions = _build(mg)
    mg.vault.group_bytes = 0
    mg.archive(sessions[:3])
    index = str(mg.settings.vault_path / "index")
    old = DeltaTable(index).to_pyarrow_table().drop(["member_offset", "frame_raw_bytes"])
    write_deltalake(index, old, mode="overwrite", schema_mode="overwrite")
    assert "member_offset" not in DeltaTable(index).schema().to_arrow().names
    vault = Vault(mg.settings.vault_path, home=mg.settings.home)  # a reader opened now
    for sid in sessions[:3]:
        assert vault.read_session(sid).nodes.height
    vault.archive(mg.lake, sessions[3:])
    assert "member_offset" in DeltaTable(index).schema().to_arrow().names
    for sid in sessions:
        assert vault.read_session(sid).nodes.height
    vault.remove_sessions(["s0", "s4"], why="test")
    assert sorted(vault.index()["session_id"].to_list()) == ["s1", "s2", "s3", "s5"]
