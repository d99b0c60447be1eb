"""Erasure on imported OpenAI-format chat logs, redacted by the real Presidio pipeline:
after import, compaction, archiving and restoring one session, erasing one user by user id
leaves no byte of their id, email or street address anywhere under the data root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memgraph_ops import Memgraph
from memgraph_ops.cli import main
from memgraph_ops.erasure.steps import scan
from memgraph_ops.imports import import_chat_file
from memgraph_ops.vault import Vault

USER = "cust-4b1e9d"
EMAIL = "margaret.okafor@fastmail.example"
ADDRESS = "1842 Willow Creek Road"


def _conversation(conv: str, user: str, text: str, answer: str) -> dict[str, Any]:
    return {
        "id": conv,
        "user_id": user,
        "messages": [
            {"role": "system", "content": "You are the support assistant of Acme Parcels."},
            {"role": "user", "content": text},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": f"{conv}-call", "type": "function",
                     "function": {"name": "lookup_order", "arguments": json.dumps({"q": text})}}
                ],
            },
            {"role": "tool", "tool_call_id": f"{conv}-call", "content": '{"status": "shipped"}'},
            {"role": "assistant", "content": answer},
        ],
    }  # fmt: skip


def _chats(path: Path) -> Path:
    lines = [
        _conversation(
            "conv-subject-1", USER,
            f"Hi, my email is {EMAIL}. Where is my parcel?",
            "I found your order; it ships tomorrow.",
        ),
        _conversation(
            "conv-subject-2", USER,
            f"Please send it to {ADDRESS}, Springfield instead.",
            f"Done: the parcel goes to {ADDRESS}, Springfield.",
        ),
        _conversation("conv-other-1", "cust-77aa01", "Can I change my delivery day?", "Yes."),
        _conversation("conv-other-2", "cust-88bb02", "Is express shipping available?", "It is."),
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def test_erase_one_user_of_imported_traces(
    mg: Memgraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_chat_file(mg.store, _chats(tmp_path / "chats.jsonl"), tenant="acme")
    mg.compact()  # the real redactor: Presidio + spaCy + our recognizers
    vault = Vault(mg.settings.home / "vault")
    vault.archive(mg.lake, ["conv-subject-1", "conv-other-1"])
    vault.restore(mg.store, "conv-subject-1")
    needles = [USER, EMAIL, ADDRESS]
    assert {h.where.split(":")[0] for h in scan(mg, needles)} >= {"raw"}  # HOT's WAL, at least
    others_before = mg.lake.nodes(session_id="conv-other-2").sort("id")
    mg.close()

    home = str(mg.settings.home)
    assert main(["--home", home, "--json", "erase", "--user", USER, "--dry-run"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["found"] and planned["sessions"] == 2
    assert main(["--home", home, "--json", "erase", "--user", USER]) == 0
    receipt = json.loads(capsys.readouterr().out)
    assert receipt["status"] == "done" and receipt["verification"]["passed"]
    assert USER not in json.dumps(receipt)

    with Memgraph(mg.settings) as after:
        assert scan(after, needles) == []
        assert after.lake.nodes(session_id="conv-other-2").sort("id").equals(others_before)
        fresh = Vault(mg.settings.home / "vault")
        assert fresh.contains("conv-other-1") and not fresh.contains("conv-subject-1")
    assert main(["--home", home, "erase"]) == 2
    assert "say whom to erase" in capsys.readouterr().err
