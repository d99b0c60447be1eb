"""The vault end to end: real lake, real packs, real store."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from memgraph_ops import Memgraph
from memgraph_ops.errors import NotArchivedError, RestoreRefusedError, VaultCorruptError
from memgraph_ops.lake import no_redaction
from tests.factories import edge, event, hash_tree, session, tombstone

SYSTEM = "You are the support agent of Acme Corp. Be brief, cite the policy, never guess. " * 30


def _build(mg: Memgraph, n: int = 6) -> list[str]:
    events = []
    for i in range(n):
        sid = f"s{i}"
        events += session(sid, 3, user=f"user-{i % 2}")
        events.append(
            event(f"{sid}-e-sys", "Prompt", f"{sid}-sys", session_id=sid, content=SYSTEM,
                  is_system=True)
        )  # fmt: skip
    events.append(event("e-agent", "Agent", "agent-1", name="router"))
    events.append(edge("e-h", "HANDLED_BY", "s0-p0", "agent-1", session_id="s0", duration_ms=3.0))
    mg.ingest(events)
    mg.compact(redact=no_redaction)
    return [f"s{i}" for i in range(n)]


def _session_rows(mg: Memgraph, sid: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    return mg.lake.nodes(session_id=sid).sort("id"), mg.lake.edges(session_id=sid).sort("id")


def _where(mg: Memgraph, sid: str) -> set[str]:
    places = set()
    if mg.lake.nodes(session_id=sid).height or mg.lake.edges(session_id=sid).height:
        places.add("lake")
    if mg.vault.contains(sid):
        places.add("vault")
    return places


def test_archive_then_read_gives_back_every_node_and_edge(mg: Memgraph) -> None:
    sessions = _build(mg)
    before = {s: _session_rows(mg, s) for s in sessions}
    report = mg.archive(sessions)
    assert report.archived == len(sessions) and not report.not_found
    assert report.new_blocks == 1  # the system prompt, stored once
    for sid, (nodes, edges) in before.items():
        assert _where(mg, sid) == {"vault"}
        rows = mg.vault.read_session(sid)
        assert_frame_equal(rows.nodes.sort("id"), nodes)
        assert_frame_equal(rows.edges.sort("id"), edges)
    # what belongs to no session stays in the lake
    assert mg.lake.nodes(types=["Agent"]).height == 1
    index = mg.vault.index()
    assert set(index["session_id"]) == set(sessions)
    assert index.filter(pl.col("session_id") == "s0")["nodes"].item() == before["s0"][0].height
    assert (index["format_version"] == 4).all()


def test_restore_puts_the_session_back_into_the_store_once(mg: Memgraph) -> None:
    sessions = _build(mg)
    mg.archive(sessions)
    assert mg.store.context("s1") == []  # compacted and trimmed: HOT has nothing
    first = mg.restore("s1")
    assert first.restored and first.nodes == 11
    context = mg.store.context("s1", last=10)
    assert [c["prompt"]["content"] for c in context][-3:] == [
        "question 0", "question 1", "question 2"
    ]  # fmt: skip
    assert context[-1]["responses"][0]["content"] == "answer 2"
    assert mg.store.node("s1-r0")["total_tokens"] == 15
    counts = mg.store.counts()
    again = mg.restore("s1")
    assert not again.restored
    assert mg.store.counts()["restored_events"] == counts["restored_events"]
    # restored copies are read copies: the next compaction does not send them to the lake
    mg.compact(redact=no_redaction)
    assert _where(mg, "s1") == {"vault"}
    assert mg.store.forget_restored(["s1"]) == 1
    assert mg.store.context("s1") == []


def test_restore_of_unknown_or_refused_sessions_fails_clearly(mg: Memgraph) -> None:
    mg.archive(_build(mg))
    with pytest.raises(NotArchivedError, match="'nope' is not in the vault"):
        mg.restore("nope")
    tombstone(mg.settings.home, request_id="r-1", sessions=["s2"])
    with pytest.raises(RestoreRefusedError, match="erased by request r-1"):
        mg.restore("s2")
    assert mg.store.counts()["restored_events"] == 0
    assert mg.restore("s3").restored


@pytest.mark.parametrize("group_bytes", [0, 6_000], ids=["frame-per-session", "group-frames"])
def test_a_flipped_byte_names_pack_and_offset_and_restores_nothing(
    mg: Memgraph, group_bytes: int
) -> None:
    mg.vault.group_bytes = group_bytes
    mg.archive(_build(mg))
    index = mg.vault.index()
    entry = index.filter(pl.col("session_id") == "s4").row(0, named=True)
    same = index.filter((pl.col("pack") == entry["pack"]) & (pl.col("offset") == entry["offset"]))
    assert same.height == (1 if group_bytes == 0 else 2)
    pack = mg.settings.vault_path / "packs" / entry["pack"]
    data = bytearray(pack.read_bytes())
    data[entry["offset"] + entry["length"] // 2] ^= 0x40
    pack.write_bytes(bytes(data))
    for sid in same["session_id"]:  # every session of a damaged frame is refused
        with pytest.raises(
            VaultCorruptError, match=rf"pack {entry['pack']} at offset {entry['offset']}"
        ):
            mg.restore(sid)
    assert mg.store.counts()["restored_events"] == 0
    for sid in set(index["session_id"]) - set(same["session_id"]):
        assert mg.restore(sid).restored  # the other frames are fine


def test_new_events_for_an_archived_session_are_merged_into_a_new_generation(
    mg: Memgraph,
) -> None:
    mg.archive(_build(mg))
    assert mg.restore("s0").generation == 1
    mg.ingest([event("late", "Prompt", "s0-late", session_id="s0", content="back again", at=999)])
    mg.compact(redact=no_redaction)
    assert _where(mg, "s0") == {"lake", "vault"}
    report = mg.archive(["s0"])
    assert report.archived == 1
    assert _where(mg, "s0") == {"vault"}
    rows = mg.vault.read_session("s0")
    assert "back again" in rows.nodes["content"].to_list()
    assert "question 0" in rows.nodes["content"].to_list()
    assert mg.vault.index().filter(pl.col("session_id") == "s0")["generation"].item() == 2
    again = mg.restore("s0")  # the newer generation replaces the restored copy
    assert again.restored and again.generation == 2
    assert mg.store.restored()["session_id"].to_list() == ["s0"]
    assert mg.store.node("s0-late")["content"] == "back again"
    assert mg.vault.stats()["reclaimable_bytes"] > 0  # generation 1 is dead
    compacted = mg.vault.compact(min_dead_fraction=0.0)
    assert compacted.packs_rewritten and mg.vault.stats()["reclaimable_bytes"] == 0
    for sid in ("s0", "s1", "s5"):
        assert mg.vault.read_session(sid).nodes.height > 0


def test_remove_sessions_leaves_no_byte_of_them_in_the_vault(mg: Memgraph) -> None:
    sessions = _build(mg)
    mg.ingest([event("u", "Prompt", "s2-secret", session_id="s2", content="zebra-omega-7731")])
    mg.compact(redact=no_redaction)
    mg.archive(sessions)
    assert _vault_contains(mg, b"zebra-omega-7731")
    report = mg.vault.remove_sessions(["s2"], why="test")
    assert report.sessions_removed == 1
    assert not mg.vault.contains("s2")
    assert not _vault_contains(mg, b"zebra-omega-7731")
    assert mg.vault.read_session("s3").nodes.height
    # the shared system prompt block is still needed by the others
    assert mg.vault.stats()["blocks"] == 1


def _vault_contains(mg: Memgraph, needle: bytes) -> bool:
    """Decompress every frame of every pack (a raw scan of compressed bytes proves nothing)."""
    import zstandard

    vault = mg.settings.vault_path
    dictionaries = {
        int(p.stem): zstandard.ZstdCompressionDict(p.read_bytes())
        for p in (vault / "dicts").glob("*.dict")
    }
    for pack in (vault / "packs").glob("*.zst"):
        data = pack.read_bytes()
        offset = 0
        while offset < len(data):
            params = zstandard.get_frame_parameters(data[offset:])
            dictionary = dictionaries.get(params.dict_id)
            reader = zstandard.ZstdDecompressor(dict_data=dictionary).decompressobj()
            text = reader.decompress(data[offset:])
            if needle in text:
                return True
            offset = len(data) - len(reader.unused_data)
    return any(needle in p.read_bytes() for p in vault.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("point", "command"),
    [
        ("vault:archive:after_pack", "mg.archive(['s0', 's1', 's2', 's3', 's4', 's5'])"),
        ("vault:archive:before_lake_delete", "mg.archive(['s0', 's1', 's2', 's3', 's4', 's5'])"),
        ("vault:rewrite:after_pack", "mg.vault.remove_sessions(['s1'], why='t')"),
        ("vault:rewrite:after_index", "mg.vault.remove_sessions(['s1'], why='t')"),
    ],
)
def test_sigkill_then_rerun_leaves_every_session_in_exactly_one_place(
    mg: Memgraph, point: str, command: str
) -> None:
    sessions = _build(mg)
    before = {s: _session_rows(mg, s) for s in sessions}
    if point.startswith("vault:rewrite"):
        mg.archive(sessions)
    mg.close()
    env = {**os.environ, "MEMGRAPH_FAILPOINT": point}
    code = f"import memgraph_ops; mg = memgraph_ops.open(); {command}"
    crashed = subprocess.run([sys.executable, "-c", code], env=env, timeout=180)
    assert crashed.returncode == -9, "the failpoint must have killed the process"
    exec(command, {"mg": mg})  # the rerun
    gone = {"s1"} if point.startswith("vault:rewrite") else set()
    for sid, (nodes, edges) in before.items():
        if sid in gone:
            assert _where(mg, sid) == set()
            continue
        assert _where(mg, sid) == {"vault"}, sid
        rows = mg.vault.read_session(sid)
        assert_frame_equal(rows.nodes.sort("id"), nodes)
        assert_frame_equal(rows.edges.sort("id"), edges)
    packs = {p.name for p in (mg.settings.vault_path / "packs").iterdir()}
    assert packs == set(mg.vault.index()["pack"]) | set(
        mg.vault._live.filter(pl.col("entry") == "block")["pack"]
    ), "no orphan or temp pack is left behind"


def test_dry_run_archive_changes_no_byte_under_the_data_root(mg: Memgraph, home: Path) -> None:
    sessions = _build(mg)
    mg.close()
    before = hash_tree(home)
    report = mg.archive(sessions, dry_run=True)
    assert report.archived == len(sessions) and report.dry_run
    mg.close()
    assert hash_tree(home) == before


def test_the_documented_format_decodes_without_our_code(mg: Memgraph) -> None:
    """Follow docs/vault-format.md with only deltalake, zstandard and json: every column of a
    session's nodes and edges, with whole blocks, JSON members stored as blocks, a message that
    looks like a format 1 reference, and derived columns."""
    import json

    import zstandard
    from deltalake import DeltaTable

    sessions = _build(mg)
    tools = [{"name": f"tool_{i}", "description": "look it up " * 12} for i in range(8)]
    lookalike = "\x00blk:" + hashlib.sha256(SYSTEM.encode()).hexdigest()
    mg.ingest(
        [
            event(f"{sid}-e-x", "Prompt", f"{sid}-x", at=99, session_id=sid, content=lookalike,
                  attrs=json.dumps({"title": sid, "tools": tools}))
            for sid in ("s3", "s4")
        ]
    )  # fmt: skip
    mg.compact(redact=no_redaction)
    lake = {"nodes": mg.lake.nodes(session_id="s3"), "edges": mg.lake.edges(session_id="s3")}
    mg.archive(sessions)
    vault = mg.settings.vault_path
    rows = DeltaTable(str(vault / "index")).to_pyarrow_table().to_pylist()
    current = {}
    for row in sorted(rows, key=lambda r: r["generation"]):
        current[(row["entry"], row["key"])] = row

    def frame(row: dict[str, Any]) -> bytes:
        with open(vault / "packs" / row["pack"], "rb") as handle:
            handle.seek(row["offset"])
            data = handle.read(row["length"])
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        dictionary = None
        if row["dictionary_id"]:
            raw = (vault / "dicts" / f"{row['dictionary_id']}.dict").read_bytes()
            dictionary = zstandard.ZstdCompressionDict(raw)
        content = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(data)
        assert len(content) == row["frame_raw_bytes"]
        return content[row["member_offset"] : row["member_offset"] + row["raw_bytes"]]

    def import_chat(session_id: str, row_id: str) -> str:
        text = "\x1f".join((session_id, row_id, "import-chat"))
        return "chat-" + hashlib.sha256(text.encode()).hexdigest()[:32]

    entry = current[("session", "s3")]
    assert entry["format_version"] == 4
    members = [r for r in current.values() if (r["pack"], r["offset"]) == (entry["pack"], entry["offset"])]  # fmt: skip
    assert len(members) == len(sessions) + 2  # one group frame: every session and both blocks
    doc = json.loads(frame(entry))
    assert doc["format"] == 4 and doc["session_id"] == "s3"
    assert doc["encoded"]["nodes"].items() >= {
        "id": "session-prefix", "created_at": "delta", "last_seq": "delta"
    }.items()  # fmt: skip
    assert set(doc["blocks"]["nodes"]) == {"content", "attrs"}  # whole blocks and JSON members
    for table, expected in lake.items():
        columns = {name: list(values) for name, values in doc[table].items()}
        for name, entries in doc.get("blocks", {}).get(table, {}).items():
            for row, offset, digest in entries:
                value = columns[name][row].encode()
                block = frame(current[("block", digest)])
                columns[name][row] = (value[:offset] + block + value[offset:]).decode()
        for name, rule in doc.get("encoded", {}).get(table, {}).items():
            if rule == "session-prefix":
                columns[name] = [None if v is None else "s3" + v for v in columns[name]]
            elif rule == "delta":
                columns[name] = [sum(columns[name][: i + 1]) for i in range(len(columns[name]))]
        derived = doc.get("derived", {}).get(table, {})
        for name in ("id", "last_event_id", "updated_at"):
            if derived.get(name) == "created-at":
                columns[name] = list(columns["created_at"])
            elif derived.get(name) == "edge-key":
                columns[name] = [
                    f"{s}|{t}|{d}"
                    for s, t, d in zip(columns["src"], columns["type"], columns["dst"], strict=True)
                ]
            elif derived.get(name) == "import-chat":
                columns[name] = [import_chat("s3", i) for i in columns["id"]]
        n = len(columns["id"])
        decoded = [
            {c: columns.get(c, [None] * n)[i] for c in expected.columns if c != "session_id"}
            for i in range(n)
        ]
        want = expected.drop("session_id").with_columns(pl.col(pl.Datetime).dt.epoch("us"))
        assert sorted(decoded, key=lambda r: r["id"]) == want.sort("id").to_dicts()
    contents = doc["nodes"]["content"]
    assert lookalike in contents and "" in contents  # the look-alike is text, the block is not
    assert len(doc["blocks"]["nodes"]["content"]) == 1


def test_rewrite_sessions_reencodes_frames_and_drops_the_old_bytes(mg: Memgraph) -> None:
    from memgraph_ops.vault import SessionRows

    sessions = _build(mg)
    mg.archive(sessions)
    assert _vault_contains(mg, b"question 1")

    def scrub(rows: SessionRows) -> SessionRows:
        nodes = rows.nodes.with_columns(pl.col("content").str.replace_all("question", "Q"))
        return SessionRows(nodes, rows.edges)

    def drop(rows: SessionRows) -> SessionRows:
        return SessionRows(rows.nodes.head(0), rows.edges.head(0))

    mg.vault.rewrite_sessions(sessions[:-1], scrub, why="test")
    mg.vault.rewrite_sessions(sessions[-1:], drop, why="test")
    assert not _vault_contains(mg, b"question 1")
    assert "Q 1" in mg.vault.read_session("s0").nodes["content"].to_list()
    assert not mg.vault.contains(sessions[-1])
    assert mg.vault.index()["generation"].to_list() == [2] * (len(sessions) - 1)
    assert mg.vault.stats()["reclaimable_bytes"] == 0
