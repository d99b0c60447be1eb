"""The chat importer on bad bytes, repeated conversations and impossible times: every problem
is reported, nothing is silently changed or dropped, and the other conversations land."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memgraph_ops.imports import conversation_events, import_chat_file
from memgraph_ops.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    handle = Store.open(tmp_path / "hot.duckdb")
    yield handle
    handle.close()


def conversation(conv_id: str, *texts: str) -> dict[str, Any]:
    return {
        "id": conv_id,
        "messages": [
            {"role": "user" if i % 2 == 0 else "assistant", "content": text}
            for i, text in enumerate(texts or ("hello", "hi"))
        ],
    }


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_invalid_utf8_skips_only_its_line_and_says_so(store: Store, tmp_path: Path) -> None:
    broken = line(conversation("c2", "caf\u00e9")).replace(b"\xc3\xa9", b"\xe9")
    # bytes of an encoded surrogate: not UTF-8 either, though json.loads(bytes) lets them pass
    surrogate = line(conversation("c3", "a?b")).replace(b"a?b", b"a\xed\xa0\x80b")
    path = write(tmp_path / "c.jsonl", [line(conversation("c1")), broken, surrogate,
                                        line(conversation("c4"))])  # fmt: skip

    report = import_chat_file(store, path)

    assert (report.conversations, report.skipped_lines, report.quarantined) == (2, 2, 0)
    assert [(i.line, i.message.split(" (")[0]) for i in report.issues] == [
        (2, "not valid UTF-8"),
        (3, "not valid UTF-8"),
    ]
    column = broken.index(b"\xe9") + 1
    assert f"byte {column} of the line is 0xe9" in report.issues[0].message
    assert store.node("c1") is not None and store.node("c4") is not None
    assert store.node("c2") is None and store.node("c3") is None


def test_a_lone_surrogate_escape_skips_its_line_and_says_so(store: Store, tmp_path: Path) -> None:
    bad = json.dumps(conversation("c2", "broken \ud83d emoji")).encode()
    assert b"\\ud83d" in bad
    pair = json.dumps(conversation("c3", "whole \U0001f600 emoji")).encode()
    path = write(tmp_path / "c.jsonl", [line(conversation("c1")), bad, pair])

    report = import_chat_file(store, path)

    assert (report.conversations, report.skipped_lines, report.quarantined) == (2, 1, 0)
    ((number, message),) = [(i.line, i.message) for i in report.issues]
    assert number == 2 and message.startswith("invalid Unicode: a \\u escape of a lone surrogate")
    prompt = store.node("c3:m0")
    assert prompt is not None and prompt["content"] == "whole \U0001f600 emoji"


def test_a_byte_order_mark_before_the_first_conversation_is_accepted(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line(conversation("c1")) + b"\n")
    report = import_chat_file(store, path)
    assert (report.conversations, report.issue_count) == (1, 0)
    assert store.node("c1:m1") is not None


@pytest.mark.parametrize("batch_events", [1, 10_000], ids=["separate batches", "one batch"])
def test_a_repeated_conversation_id_with_other_content_is_reported(
    store: Store, tmp_path: Path, batch_events: int
) -> None:
    first = conversation("c1", "hello", "hi")
    edited = conversation("c1", "hello", "hi there", "and more")
    path = write(
        tmp_path / "c.jsonl",
        [line(first), line(conversation("c2")), line(first), line(edited)],
    )

    report = import_chat_file(store, path, batch_events=batch_events)

    assert report.quarantined == 0, report.quarantine_reasons
    ((number, conv, message),) = [(i.line, i.conversation_id, i.message) for i in report.issues]
    assert (number, conv) == (4, "c1")
    assert message.startswith("repeats the conversation id of line 1 with other content")
    # the first version is kept; the new message is added
    answer = store.node("c1:m1")
    assert answer is not None and answer["content"] == "hi"
    added = store.node("c1:m2")
    assert added is not None and added["content"] == "and more"
    assert report.events == report.accepted + report.duplicates


def test_message_times_the_store_would_refuse_are_reported_and_replaced() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    record = {
        "id": "c",
        "messages": [
            {"role": "user", "content": "a", "created_at": 0},
            {"role": "assistant", "content": "b", "created_at": "2999-01-01T00:00:00Z"},
        ],
    }
    events, issues = conversation_events(record, line=1, now=now)

    assert {e["occurred_at"] for e in events} <= {now, now.replace(microsecond=1000)}
    assert [i.message.split(" (")[0] for i in issues] == [
        "message 0: created_at 0",
        "message 1: created_at '2999-01-01T00:00:00Z'",
    ]
    assert all("which the store refuses; ignored" in i.message for i in issues)


def test_a_string_for_tags_is_reported(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", [line({**conversation("c1"), "tags": "vip"})])
    report = import_chat_file(store, path)
    assert [i.message for i in report.issues] == [
        "tags is a string, not a list of strings; stored it as a one-item list"
    ]
    session = store.node("c1")
    assert session is not None and session["tags"] == ["vip"]
