"""Erasure edge cases that used to leave personal data behind (issue 11, defect 9): a quote in
the data-root path, a SIGKILL during the DuckDB rewrite, clear identifiers a user typed into
their own sessions, and the user id repeated inside Session metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import memgraph_ops
from memgraph_ops import Memgraph, cli
from memgraph_ops.erasure import Queue, Subject, drain, erase, plan, submit
from memgraph_ops.erasure.steps import scan
from memgraph_ops.erasure.verify import scan_root
from memgraph_ops.vault import Vault
from tests.conftest import TEST_KEY
from tests.erasure.conftest import pseudonyms, token_redactor
from tests.factories import event, session

ROOT = Path(__file__).resolve().parents[2]


def _user_session(
    sid: str, user: str, *, start: int = 0, **session_fields: object
) -> list[dict[str, Any]]:
    events = session(sid, 2, user=user, start=start)
    return [{**e, **session_fields} if e["type"] == "Session" else e for e in events]


def _files_named(root: Path, fragment: str) -> list[Path]:
    return sorted(p for p in root.rglob("*") if fragment in p.name)


def test_a_quote_in_the_data_root_path_does_not_break_erasure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "o'q"
    monkeypatch.setenv("MEMGRAPH_HOME", str(home))
    monkeypatch.setenv("MEMGRAPH_HOT_WINDOW_HOURS", "0")
    monkeypatch.setenv("MEMGRAPH_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.delenv("MEMGRAPH_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.delenv("MEMGRAPH_FAILPOINT", raising=False)
    with memgraph_ops.open(home) as mg:
        mg.ingest(_user_session("quote-s1", "quote-user-1") + session("quote-s2", 1, user="u-2"))
        mg.compact(redact=token_redactor)
        mg.ingest(_user_session("quote-s3", "quote-user-1", start=50))  # still in HOT, raw

    code = cli.main(["--home", str(home), "--json", "erase", "--user", "quote-user-1"])

    out, err = capsys.readouterr()
    assert code == 0, err
    receipt = json.loads(out)
    assert receipt["status"] == "done" and receipt["verification"]["passed"]
    assert str(home / "hot.duckdb") in receipt["files"]  # the DuckDB file was rewritten
    assert _files_named(home, ".erasure-") == []
    with memgraph_ops.open(home) as mg:
        token = pseudonyms().subject("acme", "quote-user-1")
        assert scan(mg, ["quote-user-1", token[-13:-1]]) == []
        assert mg.lake.nodes(session_id="quote-s2").height > 0


def test_sigkill_during_the_hot_rewrite_leaves_no_copy_behind(mg: Memgraph) -> None:
    home = mg.settings.home
    mg.ingest(_user_session("kill-s1", "kill-user-1") + session("kill-s2", 1, user="kill-user-2"))
    mg.compact(redact=token_redactor)
    # raw text in HOT: the subject's new session, and someone else's prompt the copy holds too
    mg.ingest(_user_session("kill-s3", "kill-user-1", start=50))
    other = "reach bob at bob.other@example.net"
    mg.ingest([event("kill-e-o", "Prompt", "kill-other-p", at=90, session_id="kill-s2",
                     content=other)])  # fmt: skip
    request = submit(mg, Subject("user", "kill-user-1"))
    mg.close()
    code = (
        "import memgraph_ops, sys; from memgraph_ops.erasure import run; "
        "run(memgraph_ops.open(sys.argv[1]), sys.argv[2])"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(home), request.request_id],
        env={**os.environ, "MEMGRAPH_FAILPOINT": "erase:hot_before_replace"},
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    assert _files_named(home, ".erasure-"), "the killed rewrite left its copy of HOT"

    (done,) = drain(mg)

    assert done.status == "done", done.error
    assert _files_named(home, ".erasure-") == []  # nobody's raw text in a forgotten copy
    assert done.receipt is not None
    assert any(".hot.duckdb.erasure-" in f for f in done.receipt["files"])
    # a later request for a value only that copy would still hold succeeds
    later = erase(mg, Subject("identifier", "bob.other@example.net"))
    assert later.status == "done", later.error
    assert scan(mg, ["bob.other@example.net"]) == []
    node = mg.store.node("kill-other-p")
    assert node is not None and node["content"] == "reach bob at <ERASED>"


def test_a_leftover_copy_that_cannot_be_opened_fails_the_byte_scan(mg: Memgraph) -> None:
    mg.ingest(session("torn-s1", 1, user="torn-user-1"))
    mg.store.checkpoint()
    home = mg.settings.home
    torn = home / ".hot.duckdb.erasure-4242"
    torn.write_bytes((home / "hot.duckdb").read_bytes()[:20_000])  # cut short by a crash
    hits = scan(mg, ["torn-user-1"])
    assert {(Path(h.file).name, h.where) for h in hits} >= {(torn.name, "sql:<unreadable>")}
    assert erase(mg, Subject("user", "torn-user-1")).status == "done"  # removed, not scanned
    assert not torn.exists()


JANE_EMAIL = "jane.doe@example.com"
JANE_PHONE = "+1 415-555-0134"


def test_identifiers_a_user_typed_in_their_sessions_are_erased_everywhere(mg: Memgraph) -> None:
    mg.ingest(
        _user_session("c-jane-1", "jane-user-9")
        + session("c-alice-1", 1, user="alice-user-9")
        + [event("c-e-a", "Prompt", "c-alice-p", at=5, session_id="c-alice-1",
                 content=f"ask {JANE_EMAIL} about it")]
    )  # fmt: skip
    mg.compact()  # the real redactor: Alice's lake row holds the email's token
    typed = f"Hi, I am Jane Doe. Contact me at {JANE_EMAIL} or {JANE_PHONE} about my order."
    mg.ingest([
        *_user_session("c-jane-2", "jane-user-9", start=100),
        event("c-e-j", "Prompt", "c-jane-p", at=101, session_id="c-jane-2", content=typed),
        *session("c-bob-1", 1, user="bob-user-9", start=120),
        event("c-e-b", "Prompt", "c-bob-p", at=125, session_id="c-bob-1",
              content=f"cc {JANE_EMAIL} on the ticket"),
    ])  # fmt: skip
    email_token = pseudonyms().token("acme", "EMAIL_ADDRESS", JANE_EMAIL)
    needles = [JANE_EMAIL, JANE_PHONE, "Jane Doe", email_token[-13:-1]]
    assert {h.where.split(":")[0] for h in scan(mg, needles)} >= {"sql", "parquet"}

    planned = plan(mg, Subject("user", "jane-user-9"))
    assert {"c-alice-1", "c-bob-1"} <= set(planned["other_people_sessions"])
    request = erase(mg, Subject("user", "jane-user-9"))

    assert request.status == "done" and request.receipt is not None
    assert request.receipt["verification"]["passed"]
    assert scan(mg, needles) == []
    bob = mg.store.node("c-bob-p")
    assert bob is not None and bob["content"] == "cc <ERASED> on the ticket"
    alice = mg.lake.nodes().filter(pl.col("id") == "c-alice-p")["content"].item()
    assert alice == "ask <EMAIL_ADDRESS> about it"
    # what was found stays sealed: nothing of it in clear in the request file
    stored = Queue(mg.settings.home).get(request.request_id).as_dict()
    assert JANE_EMAIL not in json.dumps(stored) and JANE_PHONE not in json.dumps(stored)


def test_a_user_id_repeated_in_session_metadata_is_pseudonymised_and_erased(
    mg: Memgraph,
) -> None:
    user = "user-0152"
    metadata = {"user": {"id": user, "email": "u0152@example.com"}, "plan": "pro"}
    mg.ingest(
        _user_session("d-s1", user, metadata=metadata)
        + _user_session("d-s2", user, start=40, metadata={"owner": user})
        + session("d-other", 1, user="user-0153", start=80)
    )
    mg.compact()
    token = pseudonyms().subject("acme", user)
    row = mg.lake.nodes().filter(pl.col("id") == "d-s1")
    assert json.loads(row["metadata"].item())["user"]["id"] == token
    assert row["user_id"].item() == token
    lake_root = Path(mg.settings.lake_uri)
    assert scan_root(lake_root, [user]) == []
    vault = Vault(mg.settings.home / "vault")
    vault.archive(mg.lake, ["d-s1", "d-s2", "d-other"])
    frame = vault.read_session("d-s1").nodes
    assert user not in frame.write_ndjson()
    assert scan_root(vault.root, [user]) == []  # packs and dictionaries

    request = erase(mg, Subject("user", user))

    assert request.status == "done", request.error
    assert scan(mg, [user, token[-13:-1]]) == []
    assert vault.read_session("d-other").nodes.height > 0


def test_the_byte_scan_finds_values_in_any_ascii_case_and_among_binary_bytes() -> None:
    """`holds` is one Aho-Corasick pass per text; it must find what one `in` per needle found:
    ASCII letters in any case, other characters as given, inside bytes that are not UTF-8."""
    from memgraph_ops.erasure.verify import holds

    needles = [b"alice@example.com", "zoë".encode(), b"<EMAIL_ADDRESS:ab12>"]
    texts = [
        b"\xff\xfe\x00 ALICE@Example.COM \x80",  # binary around, letters in another case
        "notes: Zoë".encode()[:-2] + "zoë".encode(),  # the non-ASCII value exactly
        b"\xc3 zo\xc3",  # a cut UTF-8 sequence is not the value
        b"token <EMAIL_ADDRESS:ab12> here",
        b"alice@example.org",
        b"",
    ]
    assert holds(texts, needles) == [True, True, False, True, False, False]
    assert holds([b"anything"], []) == [False] and holds([], needles) == []
