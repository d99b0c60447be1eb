"""The store's erasure operations: a subject's rows found, read and erased through plain data
(`SubjectRows`), and the file rewritten in place without the deleted bytes."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from memgraph_ops.errors import InputError
from memgraph_ops.store import Store, SubjectRows, file_leftovers
from tests.factories import event, session


def _secret_session(sid: str, user: str, secret: str) -> list[dict[str, object]]:
    return [
        *session(sid, 1, user=user),
        event(f"{sid}-e-x", "Prompt", f"{sid}-x", at=5, session_id=sid, content=secret),
    ]


def test_subject_rows_travel_as_json() -> None:
    rows = SubjectRows(
        sessions=["s1"], user_ids=["u1"], event_ids=["e1"], node_ids=["n1"],
        clear_pattern="a@b\\.c", token_pattern=None,
    )  # fmt: skip
    assert SubjectRows.from_dict(json.loads(json.dumps(rows.as_dict()))) == rows
    with pytest.raises(ValueError, match="no field"):
        SubjectRows.from_dict({**rows.as_dict(), "emails": ["a@b.c"]})


def test_find_and_erase_a_subject_and_re_redact_other_peoples_rows(tmp_path: Path) -> None:
    with Store.open(tmp_path / "hot.duckdb") as store:
        store.ingest(session("s-subj", 1, user="u-subj") + session("s-other", 1, user="u-other"))
        store.ingest([event("e-m", "Prompt", "p-m", at=9, session_id="s-other",
                            content="write to zoe@example.org")])  # fmt: skip
        assert store.tenants() == ["acme"]
        assert store.subject_sessions(["u-subj"], "acme") == ["s-subj"]
        assert store.subject_sessions(["u-subj"], "elsewhere") == []
        rows = SubjectRows(
            sessions=["s-subj"], user_ids=["u-subj"], clear_pattern="zoe@example\\.org"
        )
        assert ("acme", "question 0") in store.subject_texts(rows)
        found = store.find_subject(rows)
        assert found["events"] == len(session("s-subj", 1))
        assert (found["other_rows"], found["other_sessions"]) == (1, ["s-other"])
        assert store.places(["zoe@example.org"]) == ["events.content"]

        assert store.erase_subject(rows, re_redact=True) == found

        assert store.context("s-subj") == []
        assert store.find_subject(rows)["events"] == 0
        node = store.node("p-m")
        assert node is not None and node["content"] == "write to <ERASED>"
        assert store.places(["zoe@example.org", "u-subj"]) == []


def test_rewrite_file_drops_deleted_bytes_and_the_store_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "hot.duckdb"
    secret = f"raw-{secrets.token_hex(24)}"  # random: stored as it is, not compressed away
    stale = tmp_path / ".hot.duckdb.erasure-4242"  # a copy a crashed rewrite left behind
    stale.write_bytes(b"everyone's raw text")
    with Store.open(path, memory_limit="256MB") as store:
        store.ingest(_secret_session("s-gone", "u-gone", secret) + session("s-kept", 2))
        store.checkpoint()
        store.erase_subject(SubjectRows(sessions=["s-gone"]), re_redact=False)
        store.checkpoint()
        assert secret.encode() in path.read_bytes()  # deleted, yet still in free blocks

        size = store.rewrite_file()

        assert size == path.stat().st_size
        assert secret.encode() not in path.read_bytes()
        assert file_leftovers(path) == [] and not stale.exists()
        # the same object keeps working on the new file, with its settings
        assert len(store.context("s-kept", last=10)) > 0
        assert store.ingest(session("s-new", 1)).accepted > 0
        setting = store._con.execute("SELECT current_setting('memory_limit')").fetchall()
        assert setting[0][0].startswith("244")  # 256MB in MiB
    with Store.open(path) as again:
        assert again.node("s-new") is not None and again.node("s-gone") is None


def test_a_read_only_store_refuses_to_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "hot.duckdb"
    Store.open(path).close()
    with Store.open(path, read_only=True) as store, pytest.raises(Exception, match="read-only"):
        store.rewrite_file()


def test_a_pattern_duckdb_cannot_read_is_an_input_error(tmp_path: Path) -> None:
    """The service fuzz found it: an unreadable regex reached DuckDB and answered 500."""
    with Store.open(tmp_path / "hot.duckdb") as store:
        for rows in (SubjectRows(clear_pattern="(unclosed"), SubjectRows(token_pattern="a{2,1}")):
            with pytest.raises(InputError, match="not a regular expression"):
                store.find_subject(rows)
            with pytest.raises(InputError, match="not a regular expression"):
                store.erase_subject(rows, re_redact=True)


def test_a_tenant_scoped_subject_leaves_the_same_user_id_of_another_tenant(tmp_path: Path) -> None:
    """Tenants may reuse a user id for different people: erasing acme's user-1 must not delete
    globex's user-1 (HOT matched `user_id` in every tenant)."""
    with Store.open(tmp_path / "hot.duckdb") as store:
        acme = session("s-acme", 1, user="user-1")
        globex = session("s-globex", 1, user="user-1")
        for e in globex:
            e["tenant"] = "globex"
        store.ingest(acme + globex)
        found = store.erase_subject(
            SubjectRows(user_ids=["user-1"], tenant="acme"), re_redact=False
        )
        assert found["events"] == 1  # acme's Session node (its other rows go by session id)
        assert store.node("s-acme") is None
        assert store.node("s-globex") is not None
        everywhere = store.find_subject(SubjectRows(user_ids=["user-1"]))
        assert everywhere["events"] == 1  # globex's, when no tenant is named
