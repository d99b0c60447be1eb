"""The commands of `memgraph-ops` run through its entry point, on a real data root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import memgraph_ops
from memgraph_ops.cli import main
from memgraph_ops.lake import no_redaction
from tests.factories import session


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def _archived_lake(home: Path, *sessions: str) -> None:
    with memgraph_ops.open(home) as mg:
        for i, sid in enumerate(sessions):
            mg.ingest(session(sid, 2, start=100 * i))
        mg.compact(redact=no_redaction)


def test_generate_writes_the_workload_and_its_pii_sidecar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.jsonl"
    assert main(["generate", "--sessions", "3", "--out", str(out), "--seed", "5", "--json"]) == 0
    summary = _json(capsys)
    assert summary["sessions"] == 3 and summary["format"] == "jsonl"
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == summary["events"]
    assert {e["id"] for e in events if e["type"] == "Session"} and sum(
        e["type"] == "Session" for e in events
    ) == 3
    assert Path(summary["pii_path"]).exists()
    assert main(["generate", "--sessions", "3", "--out", str(out), "--pii-rate", "2"]) == 2
    assert "--pii-rate must lie between 0 and 1" in capsys.readouterr().err


def test_import_chat_imports_a_conversation_once(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {
        "id": "c1",
        "user_id": "u1",
        "messages": [
            {"role": "user", "content": "what is delta?"},
            {"role": "assistant", "content": "a table format"},
        ],
    }
    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert main(["import-chat", str(path), "--tenant", "acme", "--json"]) == 0
    report = _json(capsys)
    assert report["conversations"] == 1 and report["quarantined"] == 0
    assert report["accepted"] == report["events"] > 0
    assert main(["import-chat", str(path), "--json"]) == 0
    assert _json(capsys)["duplicates"] == report["events"]
    with memgraph_ops.open(home) as mg:
        (turn,) = mg.store.context("c1")
    assert turn["prompt"]["content"] == "what is delta?"
    path.write_text("{not json\n")
    assert main(["import-chat", str(path)]) == 2


def test_pii_scan_finds_and_redacts_an_email(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "texts.jsonl"
    texts.write_text(
        json.dumps({"id": "d1", "text": "Please write to jane.doe@example.com today."}) + "\n"
        + json.dumps({"id": "d2", "text": "Nothing personal here."}) + "\n"
    )  # fmt: skip
    out = tmp_path / "scanned.jsonl"
    assert main(["pii", "scan", str(texts), "--out", str(out)]) == 0
    assert "scanned 2 documents" in capsys.readouterr().err
    lines = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert [e["type"] for e in lines["d1"]["entities"]] == ["EMAIL_ADDRESS"]
    assert "jane.doe@example.com" not in lines["d1"]["redacted"]
    assert lines["d2"]["entities"] == [] and lines["d2"]["redacted"] == "Nothing personal here."


def test_archive_then_restore_through_the_cli(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _archived_lake(home, "s1", "s2")
    assert main(["archive", "--session", "s1", "--dry-run", "--json"]) == 0
    assert _json(capsys)["archived"] == 1
    with memgraph_ops.open(home) as mg:
        assert not mg.vault.contains("s1"), "a dry run archives nothing"
    assert main(["archive", "--session", "s1", "--json"]) == 0
    report = _json(capsys)
    assert report["archived"] == 1 and report["nodes"] == 7  # Session + 2 × 3 nodes
    with memgraph_ops.open(home) as mg:
        assert mg.vault.contains("s1") and not mg.vault.contains("s2")
        assert mg.lake.nodes(session_id="s1").is_empty()
        assert mg.lake.nodes(session_id="s2").height == 7
    assert main(["archive", "--session", "nope"]) == 2
    assert "not found in the lake or the vault: nope" in capsys.readouterr().out

    assert main(["restore", "s1", "--json"]) == 0
    restored = _json(capsys)
    assert restored["restored"] is True and restored["nodes"] == 7
    with memgraph_ops.open(home) as mg:
        assert [c["prompt"]["content"] for c in mg.store.context("s1")] == [
            "question 0",
            "question 1",
        ]
    assert main(["restore", "s1"]) == 0
    assert "already restored (nothing changed)" in capsys.readouterr().out
    assert main(["restore", "s2"]) != 0  # never archived


def test_vault_compact_rewrites_packs_with_dead_frames(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _archived_lake(home, "s1", "s2")
    assert main(["archive", "--session", "s1", "--session", "s2"]) == 0
    # s1 comes back, gains a turn and is archived again: its first frames are dead
    assert main(["restore", "s1"]) == 0
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 3)[-6:])
        mg.compact(redact=no_redaction)
    assert main(["archive", "--session", "s1"]) == 0
    capsys.readouterr()
    assert main(["vault", "compact", "--min-dead", "0.01", "--dry-run", "--json"]) == 0
    dry = _json(capsys)
    assert main(["vault", "compact", "--min-dead", "0.01", "--json"]) == 0
    done = _json(capsys)
    assert done["packs_rewritten"] == dry["packs_rewritten"] != []
    assert done["bytes_after"] < done["bytes_before"] == dry["bytes_before"]
    assert main(["vault", "compact", "--min-dead", "0.01", "--json"]) == 0
    assert _json(capsys)["packs_rewritten"] == []  # nothing dead any more
    assert main(["restore", "s2", "--json"]) == 0
    assert _json(capsys)["nodes"] == 7
    assert main(["verify", "--layer", "vault"]) == 0
