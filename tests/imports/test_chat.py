"""Importing OpenAI-format chat logs into a real operational store."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zstandard

from memgraph_ops.errors import InputError
from memgraph_ops.imports import (
    ChatImportReport,
    ImportIssue,
    conversation_events,
    import_chat_file,
    iter_chat_events,
)
from memgraph_ops.imports.chat import MISSING_CONTENT, PLACEHOLDER_PROMPT_CONTENT, event_id
from memgraph_ops.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    handle = Store.open(tmp_path / "hot.duckdb")
    yield handle
    handle.close()


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """One line per item: dicts as JSON, strings verbatim (to write broken lines)."""
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def weather_conversation(conv_id: str = "c1", **extra: Any) -> dict[str, Any]:
    """System prompt, user, assistant with two tool calls, two results, final answer."""
    return {
        "id": conv_id,
        "user_id": "u-7",
        "metadata": {"source": "prod"},
        "tags": ["support"],
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    tool_call("call_a", "get_weather", '{"city": "Paris"}'),
                    tool_call("call_b", "get_weather", '{"city": "Rome"}'),
                ],
                "finish_reason": "tool_calls",
            },
            {"role": "tool", "tool_call_id": "call_b", "content": '{"error": "Rome is down"}'},
            {"role": "tool", "tool_call_id": "call_a", "content": "18C, cloudy"},
            {
                "role": "assistant",
                "content": "Paris: 18C. Rome: unavailable.",
                "finish_reason": "stop",
                "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59},
            },
        ],
        **extra,
    }


def import_file(store: Store, path: Path, **kwargs: Any) -> ChatImportReport:
    report = import_chat_file(store, path, **kwargs)
    # Whatever the input, the importer only produces events that pass validation.
    assert report.quarantined == 0, report.quarantine_reasons
    return report


def messages_of(issues: list[ImportIssue]) -> str:
    return "\n".join(str(i) for i in issues)


# the normal case ----------------------------------------------------------------------------------


def test_conversation_maps_to_session_prompts_responses_and_tool_invocations(
    store: Store, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "chat.jsonl", [weather_conversation()])
    report = import_file(store, path, tenant="acme")

    assert report.issues == []
    assert (report.conversations, report.lines, report.skipped_lines) == (1, 1, 0)
    assert report.nodes_by_type == {"Session": 1, "Prompt": 2, "Response": 2, "ToolInvocation": 2}
    assert report.edges_by_type == {"FOLLOWS": 1, "RESPONDS_TO": 2, "INVOKES": 2}
    assert report.accepted == report.events == 12
    assert store.counts()["events_by_type"] == {
        "edge:FOLLOWS": 1,
        "edge:INVOKES": 2,
        "edge:RESPONDS_TO": 2,
        "node:Prompt": 2,
        "node:Response": 2,
        "node:Session": 1,
        "node:ToolInvocation": 2,
    }

    session = store.node("c1")
    assert session is not None
    assert (session["type"], session["user_id"], session["tenant"]) == ("Session", "u-7", "acme")
    assert json.loads(session["metadata"]) == {"source": "prod"}
    assert session["tags"] == ["support"]
    assert json.loads(session["attrs"])["model"] == "gpt-4o"

    system, user = store.node("c1:m0"), store.node("c1:m1")
    assert system is not None and user is not None
    assert (system["is_system"], system["content"]) == (True, "You are a weather bot.")
    assert (user["is_system"], user["content"]) == (False, "Weather in Paris and Rome?")

    calling, final = store.node("c1:m2"), store.node("c1:m5")
    assert calling is not None and final is not None
    assert (calling["prompt_id"], calling["content"], calling["finish_reason"]) == (
        "c1:m1",
        "",
        "tool_calls",
    )
    assert calling["model"] == "gpt-4o"
    assert (final["prompt_id"], final["content"]) == ("c1:m1", "Paris: 18C. Rome: unavailable.")
    assert (final["prompt_tokens"], final["completion_tokens"], final["total_tokens"]) == (
        50,
        9,
        59,
    )

    paris, rome = store.node("c1:m2:t0"), store.node("c1:m2:t1")
    assert paris is not None and rome is not None
    assert (paris["tool_name"], paris["response_id"]) == ("get_weather", "c1:m2")
    assert json.loads(paris["parameters"]) == {"city": "Paris"}
    # A plain-text result is stored as a JSON string, so the column always holds JSON.
    assert json.loads(paris["result"]) == "18C, cloudy"
    assert paris["success"] is True and "error" not in paris
    # Results arrive in the other order than the calls; they are matched by tool_call_id.
    assert json.loads(rome["parameters"]) == {"city": "Rome"}
    assert (rome["success"], rome["error"]) == (False, "Rome is down")
    assert json.loads(rome["attrs"])["tool_call_id"] == "call_b"

    invokes = store.edges("c1:m2", direction="out", type="INVOKES").sort("invocation_order")
    assert invokes["dst"].to_list() == ["c1:m2:t0", "c1:m2:t1"]
    assert invokes["invocation_order"].to_list() == [0, 1]
    assert invokes["success"].to_list() == [True, False]
    follows = store.edges("c1:m1", direction="out", type="FOLLOWS")
    assert follows["dst"].to_list() == ["c1:m0"]
    responds = store.edges("c1:m1", direction="in", type="RESPONDS_TO")
    assert sorted(responds["src"].to_list()) == ["c1:m2", "c1:m5"]


def test_context_reads_the_imported_conversation_in_order(store: Store, tmp_path: Path) -> None:
    import_file(store, write_jsonl(tmp_path / "chat.jsonl", [weather_conversation()]))

    context = store.context("c1", last=10)

    assert [turn["prompt"]["id"] for turn in context] == ["c1:m0", "c1:m1"]
    assert context[0]["responses"] == []
    responses = context[1]["responses"]
    assert [r["id"] for r in responses] == ["c1:m2", "c1:m5"]
    assert [t["tool_name"] for t in responses[0]["tool_calls"]] == ["get_weather", "get_weather"]
    assert [t["id"] for t in responses[0]["tool_calls"]] == ["c1:m2:t0", "c1:m2:t1"]
    assert responses[1]["tool_calls"] == []


def test_reimporting_the_same_file_accepts_nothing_new(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "chat.jsonl", [weather_conversation("c1"), weather_conversation("c2")]
    )
    first = import_file(store, path)
    before = store.counts()

    again = import_file(store, path)

    assert first.accepted == 24
    assert (again.events, again.accepted, again.duplicates) == (24, 0, 24)
    assert store.counts()["events"] == before["events"] == 24
    assert store.counts()["max_seq"] == before["max_seq"]


def test_ids_and_event_ids_do_not_depend_on_the_import_time() -> None:
    record = weather_conversation()
    early, _ = conversation_events(record, tenant="t", now=datetime(2020, 1, 1, tzinfo=UTC))
    late, _ = conversation_events(record, tenant="t", now=datetime(2030, 1, 1, tzinfo=UTC))

    assert [e["event_id"] for e in early] == [e["event_id"] for e in late]
    assert len({e["event_id"] for e in early}) == len(early)
    assert early[0]["event_id"] == event_id("c1", "c1")
    assert [e["id"] for e in early if e["kind"] == "node"] == [
        "c1",
        "c1:m0",
        "c1:m1",
        "c1:m2",
        "c1:m2:t0",
        "c1:m2:t1",
        "c1:m5",
    ]
    # Another conversation with the same shape gets other event ids.
    other, _ = conversation_events(weather_conversation("c2"), tenant="t")
    assert not {e["event_id"] for e in other} & {e["event_id"] for e in early}


# time ---------------------------------------------------------------------------------------------


def test_untimed_messages_are_placed_1ms_apart_from_the_import_time() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    events, issues = conversation_events(weather_conversation(), tenant="t", now=now)

    times = {e["id"]: e["occurred_at"] for e in events if e["kind"] == "node"}
    assert issues == []
    assert times["c1"] == now
    assert times["c1:m0"] == now
    assert times["c1:m1"] == now + timedelta(milliseconds=1)
    assert times["c1:m2"] == now + timedelta(milliseconds=2)
    assert times["c1:m2:t1"] == times["c1:m2"]
    assert times["c1:m5"] == now + timedelta(milliseconds=5)


def test_message_timestamps_iso_and_epoch_give_times_and_deltas(
    store: Store, tmp_path: Path
) -> None:
    record = {
        "id": "timed",
        "messages": [
            {"role": "user", "content": "one", "created_at": "2025-05-01T10:00:00Z"},
            {"role": "assistant", "content": "ok", "timestamp": 1746093602.5},  # +2.5 s
            {"role": "user", "content": "two", "create_time": "2025-05-01T12:00:10+02:00"},
            {"role": "assistant", "content": "ok again"},  # untimed: 1 ms after the previous
        ],
    }
    import_file(store, write_jsonl(tmp_path / "t.jsonl", [record]))

    one, answer, two, untimed = (store.node(f"timed:m{i}") for i in range(4))
    assert one is not None and answer is not None and two is not None and untimed is not None
    assert one["occurred_at"] == datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    assert answer["occurred_at"] == datetime(2025, 5, 1, 10, 0, 2, 500000, tzinfo=UTC)
    assert two["occurred_at"] == datetime(2025, 5, 1, 10, 0, 10, tzinfo=UTC)
    assert untimed["occurred_at"] == datetime(2025, 5, 1, 10, 0, 10, 1000, tzinfo=UTC)
    # The session starts with its first timed message, not at the import time.
    session = store.node("timed")
    assert session is not None and session["occurred_at"] == one["occurred_at"]

    follows = store.edges("timed:m2", direction="out", type="FOLLOWS")
    assert follows["time_delta_ms"].to_list() == [10_000.0]
    responds = store.edges("timed:m1", direction="out", type="RESPONDS_TO")
    assert responds["latency_ms"].to_list() == [2_500.0]


def test_bad_timestamp_is_reported_and_replaced_by_the_clock() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    record = {"id": "c", "messages": [{"role": "user", "content": "x", "created_at": "yesterday"}]}
    events, issues = conversation_events(record, tenant="t", line=4, now=now)

    assert [e["occurred_at"] for e in events] == [now, now]
    assert [(i.line, i.conversation_id) for i in issues] == [(4, "c")]
    assert "created_at 'yesterday' is not an ISO time" in issues[0].message


# messy data ---------------------------------------------------------------------------------------


def test_content_parts_are_joined_and_non_text_parts_kept_in_metadata(
    store: Store, tmp_path: Path
) -> None:
    image = "data:image/png;base64," + "A" * 10_000
    record = {
        "id": "parts",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in"},
                    {"type": "image_url", "image_url": {"url": image}},
                    {"type": "text", "text": "this picture?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            },
            {"role": "assistant", "content": [{"type": "output_text", "text": "A cat."}]},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "p.jsonl", [record]))

    prompt = store.node("parts:m0")
    assert prompt is not None
    assert prompt["content"] == "What is in\nthis picture?"
    parts = json.loads(prompt["metadata"])["parts"]
    assert [p["position"] for p in parts] == [1, 3]
    inline = parts[0]["part"]["image_url"]["url"]
    assert inline["chars"] == len(image) and inline["header"] == "data:image/png;base64"
    assert parts[1]["part"]["image_url"]["url"] == "https://example.com/cat.png"
    response = store.node("parts:m1")
    assert response is not None and response["content"] == "A cat."
    assert len(report.issues) == 1
    assert "2 non-text content part(s) (image_url)" in report.issues[0].message


def test_missing_content_is_reported_and_the_message_kept(store: Store, tmp_path: Path) -> None:
    record = {
        "id": "empty-content",
        "messages": [
            {"role": "user", "content": None},
            {"role": "assistant"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "e.jsonl", [record]))

    first = store.node("empty-content:m0")
    assert first is not None
    # The store requires Prompt content, so an empty prompt carries a flagged placeholder.
    assert first["content"] == MISSING_CONTENT
    assert json.loads(first["metadata"])["content_placeholder"] is True
    answer = store.node("empty-content:m1")
    assert answer is not None and answer["content"] == ""
    image_only = store.node("empty-content:m2")
    assert image_only is not None and image_only["content"] == MISSING_CONTENT
    text = messages_of(report.issues)
    assert "message 0 (user) has no text content" in text
    assert "message 1 (assistant) has no content; used an empty text" in text
    assert "message 2 (user) has no text content" in text


def test_tool_result_for_unknown_call_attaches_to_the_latest_response(
    store: Store, tmp_path: Path
) -> None:
    record = {
        "id": "orphan",
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": [tool_call("k1", "search", "{}")]},
            {"role": "tool", "tool_call_id": "k1", "content": "found"},
            {"role": "tool", "tool_call_id": "nope", "name": "lookup", "content": "stray"},
            {"role": "tool", "tool_call_id": "k1", "content": "found twice"},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "o.jsonl", [record]))

    known = store.node("orphan:m1:t0")
    assert known is not None and json.loads(known["result"]) == "found"
    stray = store.node("orphan:m3")
    assert stray is not None
    assert (stray["type"], stray["tool_name"], stray["response_id"]) == (
        "ToolInvocation",
        "lookup",
        "orphan:m1",
    )
    assert json.loads(stray["result"]) == "stray"
    assert json.loads(stray["attrs"])["unmatched_result"] is True
    twice = store.node("orphan:m4")
    assert twice is not None and twice["tool_name"] == "unknown"
    invokes = store.edges("orphan:m1", direction="out", type="INVOKES").sort("invocation_order")
    assert invokes["dst"].to_list() == ["orphan:m1:t0", "orphan:m3", "orphan:m4"]
    assert invokes["invocation_order"].to_list() == [0, 1, 2]
    text = messages_of(report.issues)
    assert "no tool call with id 'nope'" in text
    assert "tool call 'k1' already has a result" in text


def test_non_json_tool_arguments_are_wrapped_and_reported(store: Store, tmp_path: Path) -> None:
    record = {
        "id": "args",
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    tool_call("a", "run", "ls -la /tmp"),
                    tool_call("b", "noargs", ""),
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "d", "arguments": {"x": 1}},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "ok"},
            {"role": "tool", "tool_call_id": "b", "content": "ok"},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "a.jsonl", [record]))

    raw, empty, as_object = (store.node(f"args:m1:t{i}") for i in range(3))
    assert raw is not None and empty is not None and as_object is not None
    assert json.loads(raw["parameters"]) == {"_raw": "ls -la /tmp"}
    assert json.loads(empty["parameters"]) == {}
    assert json.loads(as_object["parameters"]) == {"x": 1}
    assert [i.message for i in report.issues] == [
        'tool call args:m1:t0 (run): arguments are not valid JSON; kept the text as {"_raw": ...}'
    ]


def test_assistant_before_any_prompt_gets_a_placeholder_prompt(
    store: Store, tmp_path: Path
) -> None:
    record = {
        "id": "headless",
        "messages": [
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hi back"},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "h.jsonl", [record]))

    placeholder = store.node("headless:placeholder-prompt")
    assert placeholder is not None
    assert placeholder["content"] == PLACEHOLDER_PROMPT_CONTENT
    assert json.loads(placeholder["metadata"])["placeholder"] is True
    greeting = store.node("headless:m0")
    assert greeting is not None
    assert (greeting["prompt_id"], greeting["content"]) == (
        "headless:placeholder-prompt",
        "Hello! How can I help?",
    )
    reply = store.node("headless:m2")
    assert reply is not None and reply["prompt_id"] == "headless:m1"
    follows = store.edges("headless:m1", direction="out", type="FOLLOWS")
    assert follows["dst"].to_list() == ["headless:placeholder-prompt"]
    assert [i.message for i in report.issues] == [
        "assistant message 0 before any prompt; attached it to a placeholder Prompt "
        "headless:placeholder-prompt"
    ]


def test_empty_conversation_still_makes_a_session(store: Store, tmp_path: Path) -> None:
    lines = [
        {"id": "nothing", "user_id": "u1", "messages": []},
        {"id": "no-key", "user_id": "u2"},
        {"id": "not-a-list", "messages": "hello"},
    ]
    report = import_file(store, write_jsonl(tmp_path / "n.jsonl", lines))

    assert report.conversations == 3
    assert store.counts()["events_by_type"] == {"node:Session": 3}
    assert store.node("nothing") is not None and store.node("no-key") is not None
    kept = store.node("not-a-list")
    assert kept is not None and json.loads(kept["attrs"])["messages"] == "hello"
    assert [(i.line, i.conversation_id) for i in report.issues] == [
        (1, "nothing"),
        (2, "no-key"),
        (3, "not-a-list"),
    ]
    assert report.issues[0].message == "conversation has no messages; imported the session only"


def test_bad_lines_are_reported_by_line_number_and_only_they_are_skipped(
    store: Store, tmp_path: Path
) -> None:
    lines = [
        weather_conversation("good-1"),
        '{"id": "broken", "messages": [',
        "[1, 2, 3]",
        "",
        {"messages": [{"role": "user", "content": "who am I?"}]},
        {"id": "", "messages": []},
        weather_conversation("good-2"),
    ]
    report = import_file(store, write_jsonl(tmp_path / "b.jsonl", lines))

    assert (report.lines, report.conversations, report.skipped_lines) == (7, 2, 4)
    assert store.node("good-1") is not None and store.node("good-2:m5") is not None
    assert store.counts()["events_by_type"]["node:Session"] == 2
    assert [(i.line, i.conversation_id) for i in report.issues] == [
        (2, None),
        (3, None),
        (5, None),
        (6, None),
    ]
    assert report.issues[0].message.startswith("not valid JSON")
    assert "expected a JSON object (one conversation), got list" in report.issues[1].message
    assert "conversation has no usable id (got None)" in report.issues[2].message


def test_unknown_role_becomes_a_prompt_with_its_role(store: Store, tmp_path: Path) -> None:
    record = {
        "id": "roles",
        "messages": [
            {"role": "developer", "content": "Be terse."},
            {"role": "narrator", "content": "Meanwhile..."},
            {"role": "user", "content": "Go on"},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "r.jsonl", [record]))

    developer, narrator = store.node("roles:m0"), store.node("roles:m1")
    assert developer is not None and narrator is not None
    assert developer["is_system"] is True
    assert json.loads(developer["metadata"]) == {"role": "developer"}
    assert (narrator["type"], narrator["is_system"], narrator["content"]) == (
        "Prompt",
        False,
        "Meanwhile...",
    )
    assert json.loads(narrator["metadata"]) == {"role": "narrator"}
    assert [i.message for i in report.issues] == [
        "message 1 has unknown role 'narrator'; imported as a Prompt with the role in its metadata"
    ]


def test_legacy_function_call_maps_like_a_tool_call(store: Store, tmp_path: Path) -> None:
    record = {
        "id": "legacy",
        "messages": [
            {"role": "user", "content": "2+2?"},
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "calc", "arguments": '{"expr": "2+2"}'},
            },
            {"role": "function", "name": "calc", "content": "4"},
            {"role": "assistant", "content": "4"},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "l.jsonl", [record]))

    call = store.node("legacy:m1:t0")
    assert call is not None
    assert (call["tool_name"], call["response_id"], call["success"]) == ("calc", "legacy:m1", True)
    assert json.loads(call["parameters"]) == {"expr": "2+2"}
    assert json.loads(call["result"]) == 4
    assert store.edges("legacy:m1", direction="out", type="INVOKES")["dst"].to_list() == [
        "legacy:m1:t0"
    ]
    assert report.issues == []


def test_is_error_flag_and_unanswered_calls(store: Store, tmp_path: Path) -> None:
    record = {
        "id": "errs",
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "Trying two tools",
                "tool_calls": [tool_call("x", "flaky", "{}"), tool_call("y", "slow", "{}")],
            },
            {"role": "tool", "tool_call_id": "x", "content": "timeout", "is_error": True},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "x.jsonl", [record]))

    flaky, slow = store.node("errs:m1:t0"), store.node("errs:m1:t1")
    assert flaky is not None and slow is not None
    assert (flaky["success"], flaky["error"]) == (False, "timeout")
    assert "result" not in slow and "success" not in slow
    assert [i.message for i in report.issues] == [
        "tool call 'y' (errs:m1:t1) has no tool result; kept the invocation without a result"
    ]


def test_record_tenant_overrides_the_default(store: Store, tmp_path: Path) -> None:
    lines = [weather_conversation("a"), weather_conversation("b", tenant="globex")]
    import_file(store, write_jsonl(tmp_path / "t.jsonl", lines), tenant="acme")

    a, b = store.node("a:m2:t0"), store.node("b:m2:t0")
    assert a is not None and b is not None
    assert (a["tenant"], b["tenant"]) == ("acme", "globex")
    b_session = store.node("b")
    assert b_session is not None and b_session["tenant"] == "globex"


def test_a_conversation_logged_again_with_more_messages_adds_only_the_new_ones(
    store: Store, tmp_path: Path
) -> None:
    full = weather_conversation("grow")
    partial = {**full, "messages": full["messages"][:2]}
    import_file(store, write_jsonl(tmp_path / "1.jsonl", [partial]))
    assert store.counts()["events"] == 4  # session, 2 prompts, FOLLOWS

    report = import_file(store, write_jsonl(tmp_path / "2.jsonl", [full]))

    assert (report.accepted, report.duplicates) == (8, 4)
    assert store.counts()["events"] == 12


# streaming ----------------------------------------------------------------------------------------


def test_batches_hold_whole_conversations_and_respect_the_size(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "many.jsonl", [weather_conversation(f"c{i}") for i in range(5)] + ["oops"]
    )

    batches = list(iter_chat_events(path, batch_events=15))

    # 12 events per conversation: a batch closes once it reaches 15, i.e. after 2 conversations.
    assert [len(b.events) for b in batches] == [24, 24, 12]
    assert [b.conversations for b in batches] == [2, 2, 1]
    assert [b.lines for b in batches] == [2, 2, 2]
    assert sum(len(b.issues) for b in batches) == 1
    assert batches[-1].issues[0].line == 6
    assert {e["session_id"] for e in batches[1].events} == {"c2", "c3"}


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_compressed_files_import_like_plain_ones(store: Store, tmp_path: Path, suffix: str) -> None:
    plain = write_jsonl(tmp_path / "plain.jsonl", [weather_conversation("z1"), "not json"])
    data = plain.read_bytes()
    packed = tmp_path / f"chat{suffix}"
    if suffix.endswith(".gz"):
        packed.write_bytes(gzip.compress(data))
    else:
        packed.write_bytes(zstandard.ZstdCompressor().compress(data))

    report = import_file(store, packed)

    assert (report.conversations, report.accepted, report.skipped_lines) == (1, 12, 1)
    assert store.node("z1:m2:t1") is not None


def test_unreadable_files_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(iter_chat_events(tmp_path / "missing.jsonl"))
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(b'{"id": "a"}\n' * 1000)[:-20])
    with pytest.raises(InputError, match="cannot read past line"):
        list(iter_chat_events(truncated))
    with pytest.raises(InputError, match="batch_events"):
        list(iter_chat_events(truncated, batch_events=0))
