"""End-to-end erasure on real DuckDB, Delta (many versions, a checkpoint, change data feed) and
vault packs, with a restored session; verified by scanning every byte of the data root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from memgraph_ops import Memgraph, observatory
from memgraph_ops.erasure import (
    ErasureFailed,
    ErasureKeys,
    Queue,
    Subject,
    drain,
    erase,
    plan,
    receipts,
    submit,
)
from memgraph_ops.erasure.steps import scan
from memgraph_ops.errors import NotArchivedError, RestoreRefusedError
from memgraph_ops.vault import Vault
from tests.conftest import TEST_KEY
from tests.erasure.conftest import (
    EMAIL,
    OTHER_USERS,
    SUBJECT,
    build,
    others_fingerprint,
    pseudonyms,
    subject_token,
)
from tests.factories import hash_tree, session

ROOT = Path(__file__).resolve().parents[2]


def _needles() -> list[str]:
    email = pseudonyms().token("acme", "EMAIL_ADDRESS", EMAIL)
    return [SUBJECT, EMAIL, subject_token()[-13:-1], email[-13:-1]]


def test_erasure_leaves_no_byte_of_the_subject_and_keeps_everyone_else(mg: Memgraph) -> None:
    layout = build(mg)
    untouched = [s for s in layout["others"] if s != "alice-11aa-sess-1"]
    before = others_fingerprint(mg, untouched)
    vault = Vault(mg.settings.home / "vault")
    archived_other = vault.read_session("alice-11aa-sess-0")
    hits = {h.where.split(":")[0] for h in scan(mg, _needles())}
    # the scan can fail: the subject is in Parquet pages, zstd frames and the DuckDB file
    assert {"parquet", "zstd", "raw"} <= hits, hits

    request = erase(mg, Subject("user", SUBJECT, identifiers=(EMAIL,)))

    assert request.status == "done"
    assert scan(mg, _needles()) == []
    assert others_fingerprint(mg, untouched) == before
    assert vault.read_session("alice-11aa-sess-0").nodes.equals(archived_other.nodes)
    lake_users = set(mg.lake.nodes(types=["Session"])["user_id"].to_list())
    assert lake_users == {pseudonyms().subject("acme", u) for u in OTHER_USERS}
    # the other person's mention of the subject's email was re-redacted to its bare tag
    mention = mg.lake.nodes().filter(pl.col("id") == "alice-mention-p")["content"].item()
    assert mention == "forward to <EMAIL_ADDRESS> please"
    # the receipt: counts per layer, files, verification, a signature that checks
    receipt = request.receipt
    assert receipt is not None and receipt["verification"]["passed"]
    assert ErasureKeys(bytes.fromhex(TEST_KEY)).verify(receipt)
    assert receipt["counts"]["vault"]["frames_removed"] == 1
    assert receipt["counts"]["hot"]["restored_events"] > 0
    # derived tables: per-session rows of the subject go, anonymous aggregates stay
    assert receipt["counts"]["lake.observatory/session_chains"]["deleted"] > 0
    chains = observatory.table(mg, "session_chains")
    assert not set(chains["session_id"].to_list()) & set(layout["subject"])
    assert observatory.table(mg, "activity").height > 0
    assert receipts(mg.settings.lake_uri)["request_id"].to_list() == [request.request_id]
    stored = Queue(mg.settings.home).get(request.request_id)
    assert stored.sealed is None and SUBJECT not in json.dumps(stored.as_dict())
    # time travel still works from the erasure on, and compaction goes on
    mg.ingest(session("after-erasure", 1, user="dave-44dd"))
    mg.compact()
    assert "after-erasure" in mg.lake.nodes()["session_id"].to_list()


def test_erased_data_never_comes_back(mg: Memgraph) -> None:
    build(mg)
    erase(mg, Subject("user", SUBJECT))
    vault = Vault(mg.settings.home / "vault")  # a bare vault enforces the tombstones too
    old = [{**e, "user_id": SUBJECT} if e["type"] == "Session" else e
           for e in session("subj-sess-2", 2, start=200)]  # fmt: skip
    result = mg.ingest(old)
    assert result.accepted == 0 and result.quarantined == len(old)
    reasons = mg.store.quarantine()
    assert reasons["reason"].str.contains("erased by request").all()
    assert reasons["raw"].is_null().all()  # refused events are not kept in clear
    # someone else's session is not refused
    assert mg.ingest(session("new-sess", 1, user="erin-55ee")).accepted > 0
    with pytest.raises(RestoreRefusedError, match="erased"):
        vault.restore(mg.store, "subj-sess-0")


def test_dry_run_changes_nothing_and_lists_every_layer(mg: Memgraph) -> None:
    build(mg)
    home = mg.settings.home
    mg.close()
    before = hash_tree(home)
    with Memgraph(mg.settings, read_only=True) as reader:
        result = plan(reader, Subject("user", SUBJECT, identifiers=(EMAIL,)))
    assert hash_tree(home) == before
    assert result["found"] and result["sessions"] == 4
    layers = result["layers"]
    assert layers["vault"]["sessions"] == 1
    assert layers["hot"]["restored_events"] > 0
    assert layers["lake"]["nodes"]["rows"] > 0 and layers["lake"]["nodes"]["other_people_rows"] == 1
    assert result["other_people_sessions"] == ["alice-11aa-sess-1"]
    assert 0 < len(result["lake_files"]) <= result["lake_files_total"]
    assert SUBJECT not in json.dumps(result) and EMAIL not in json.dumps(result)


def test_unknown_subject_is_nothing_found(mg: Memgraph) -> None:
    build(mg)
    assert not plan(mg, Subject("user", "nobody-at-all"))["found"]
    request = erase(mg, Subject("user", "nobody-at-all"))
    assert request.status == "nothing found"
    assert request.receipt is not None and request.receipt["verification"]["passed"]


def test_list_mode_leaves_other_people_for_review(mg: Memgraph) -> None:
    build(mg)
    request = erase(mg, Subject("identifier", EMAIL, mode="list"))
    assert request.status == "done"
    assert request.receipt is not None
    assert request.receipt["verification"]["only_listed"]
    assert not request.receipt["verification"]["passed"]
    mention = mg.lake.nodes().filter(pl.col("id") == "alice-mention-p")["content"].item()
    assert "<EMAIL_ADDRESS:" in mention


def test_a_failed_request_is_marked_failed_and_retried(mg: Memgraph) -> None:
    build(mg)
    stray = mg.settings.home / "notes.txt"
    stray.write_text(f"call {SUBJECT} back")  # something erasure does not know how to clean
    with pytest.raises(ErasureFailed, match="verification found"):
        erase(mg, Subject("user", SUBJECT))
    (failed,) = Queue(mg.settings.home).all()
    assert failed.status == "failed" and "notes.txt" in (failed.error or "")
    assert receipts(mg.settings.lake_uri).is_empty()  # never reported done
    stray.unlink()
    (retried,) = drain(mg)
    assert retried.status == "done" and retried.attempts == 2


def test_two_requests_at_once_both_complete(mg: Memgraph) -> None:
    build(mg)
    results: dict[str, str] = {}

    def go(user: str) -> None:
        results[user] = erase(mg, Subject("user", user)).status

    threads = [threading.Thread(target=go, args=(u,)) for u in (SUBJECT, OTHER_USERS[1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {SUBJECT: "done", OTHER_USERS[1]: "done"}
    users = set(mg.lake.nodes(types=["Session"])["user_id"].to_list())
    assert users == {pseudonyms().subject("acme", u) for u in (OTHER_USERS[0], OTHER_USERS[2])}


CRASH_POINTS = [
    pytest.param("erase:hot_before_commit", marks=pytest.mark.heavy),
    "erase:after_hot",  # HOT rows gone, DuckDB file not yet rewritten
    pytest.param("erase:hot_before_replace", marks=pytest.mark.heavy),
    pytest.param("erase:after_vault", marks=pytest.mark.heavy),
    "erase:after_lake:nodes",  # rows deleted, history not yet scrubbed
    pytest.param("erase:before_receipt", marks=pytest.mark.heavy),
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_mid_erasure_then_rerun_completes(mg: Memgraph, point: str) -> None:
    build(mg)
    request = submit(mg, Subject("user", SUBJECT, identifiers=(EMAIL,)))
    mg.close()
    env = {**os.environ, "MEMGRAPH_FAILPOINT": point}
    code = (
        "import memgraph_ops, sys; from memgraph_ops.erasure import run; "
        "run(memgraph_ops.open(sys.argv[1]), sys.argv[2])"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(mg.settings.home), request.request_id],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    assert Queue(mg.settings.home).get(request.request_id).status == "running"
    (done,) = drain(mg)
    assert done.status == "done", done.error
    assert scan(mg, _needles()) == []


def test_other_peoples_archived_frames_are_re_redacted(mg: Memgraph) -> None:
    build(mg)
    vault = Vault(mg.settings.home / "vault")
    vault.archive(mg.lake, ["alice-11aa-sess-1"])  # holds the subject's email token
    subject = Subject("identifier", EMAIL)
    planned = plan(mg, subject)
    # both archived sessions mentioning the email: Alice's and the subject's own first one
    # (an identifier request does not know whose sessions are whose)
    assert planned["layers"]["vault"]["other_people_sessions"] == 2
    assert {"alice-11aa-sess-1", "subj-sess-0"} <= set(planned["other_people_sessions"])
    assert erase(mg, subject).status == "done"
    rows = Vault(mg.settings.home / "vault").read_session("alice-11aa-sess-1")
    assert "<EMAIL_ADDRESS>" in " ".join(rows.nodes["content"].drop_nulls().to_list())
    assert scan(mg, [EMAIL, _needles()[3]]) == []


def test_guards_need_no_key_until_something_was_erased(
    mg: Memgraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMGRAPH_PSEUDONYM_KEY")
    assert mg.ingest(session("plain-1", 1)).accepted > 0
    with pytest.raises(NotArchivedError):  # the guard passed it without a key
        mg.vault.restore(mg.store, "plain-1")
