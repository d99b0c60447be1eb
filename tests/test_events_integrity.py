"""Bad input is quarantined with a reason that names the problem: never coerced into another
value, never a crash, and never at the cost of the valid events of the same batch or file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memgraph_ops import Memgraph
from memgraph_ops.events import MAX_EVENT_BYTES, MAX_FIELD_BYTES, MAX_JSON_DEPTH, normalize
from memgraph_ops.lake import no_redaction
from memgraph_ops.model import EVENT_SCHEMA
from memgraph_ops.store import Store
from tests.factories import edge, event, session


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    handle = Store.open(tmp_path / "hot.duckdb")
    yield handle
    handle.close()


GOOD = event("good", "Agent", "a-good", name="planner")


def reasons(store: Store) -> dict[str | None, str]:
    return dict(store.quarantine(limit=1000).select("event_id", "reason").iter_rows())


def ingest_one_bad(store: Store, bad: list[dict[str, Any]] | dict[str, Any] | pa.Table) -> str:
    """Ingest a bad event (id "bad") with a good one; the good one lands; the bad one's reason.
    A table holds both."""
    result = store.ingest(bad if isinstance(bad, pa.Table) else [bad, GOOD])
    assert (result.accepted, result.quarantined) == (1, 1), result
    assert store.node("a-good") is not None
    found = reasons(store)
    assert set(found) == {"bad"}
    return found["bad"]


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def line(e: dict[str, Any]) -> bytes:
    """An event as a JSONL line (UTF-8; lone surrogates as JSON escapes)."""
    text = json.dumps(e, ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(e).encode()


# 1. list fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("tags", event("bad", "Session", "s1", tags="notalist")),
        ("tools_available", event("bad", "Prompt", "p", session_id="s", content="x",
                                  tools_available="search")),
        ("capabilities", event("bad", "Agent", "a", name="x", capabilities="plan")),
        ("override_sections", edge("bad", "INHERITS", "t2", "t1", override_sections="body")),
    ],
)  # fmt: skip
def test_a_string_in_a_list_field_is_quarantined_not_split_into_characters(
    store: Store, field: str, bad: dict[str, Any]
) -> None:
    reason = ingest_one_bad(store, bad)
    assert reason.startswith(f"{field}: must be a JSON array of strings, got ")


def test_a_list_field_with_non_string_items_is_quarantined(store: Store) -> None:
    reason = ingest_one_bad(store, event("bad", "Session", "s1", tags=["ok", 3]))
    assert reason == 'tags: must be a JSON array of strings, got ["ok", 3]'


def test_a_string_column_for_a_list_field_in_parquet_is_quarantined_not_a_crash(
    mg: Memgraph, tmp_path: Path
) -> None:
    path = tmp_path / "tags.parquet"
    frame = normalize([event("bad", "Session", "s1"), GOOD]).with_columns(
        tags=pl.Series(["notalist", None])
    )
    frame.write_parquet(path)
    result = mg.ingest_file(path)
    assert (result.accepted, result.quarantined) == (1, 1)
    assert reasons(mg.store) == {"bad": "tags: must be a JSON array of strings, got text"}


# 2. integer, number and boolean fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [(12.7, "12.7"), (True, "true"), ("12", '"12"'), (2**63, str(2**63))]
)
def test_an_integer_field_refuses_fractions_booleans_and_text(
    store: Store, value: Any, shown: str
) -> None:
    bad = event("bad", "Prompt", "p", session_id="s", content="x", max_tokens=value)
    reason = ingest_one_bad(store, bad)
    assert reason.startswith("max_tokens: must be an integer") and reason.endswith(f"got {shown}")


def test_an_integral_float_is_an_integer(store: Store) -> None:
    store.ingest([event("e", "Prompt", "p", session_id="s", content="x", max_tokens=12.0)])
    node = store.node("p")
    assert node is not None and node["max_tokens"] == 12


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"temperature": True}, "temperature: must be a number, got true"),
        ({"temperature": "0.5"}, 'temperature: must be a number, got "0.5"'),
        ({"duration_ms": False}, "duration_ms: must be a number, got false"),
    ],
)
def test_a_number_field_refuses_booleans_and_text(
    store: Store, fields: dict[str, Any], reason: str
) -> None:
    bad = event("bad", "Prompt", "p", session_id="s", content="x", **fields)
    assert ingest_one_bad(store, bad) == reason


def test_a_boolean_field_refuses_numbers(store: Store) -> None:
    bad = event("bad", "ToolInvocation", "t", session_id="s", response_id="r", tool_name="x",
                success=1)  # fmt: skip
    assert ingest_one_bad(store, bad) == "success: must be true or false, got 1"


def test_a_fractional_float_column_for_an_integer_field_in_arrow_is_quarantined(
    store: Store,
) -> None:
    table = normalize([event("bad", "Prompt", "p", session_id="s", content="x"), GOOD]).to_arrow()
    table = table.set_column(
        table.schema.get_field_index("max_tokens"), "max_tokens", pa.array([12.7, None])
    )
    assert ingest_one_bad(store, table) == "max_tokens: must be an integer, got 12.7"


# 3. invalid UTF-8 ---------------------------------------------------------------------------------


def test_invalid_utf8_in_a_jsonl_line_is_quarantined_naming_line_and_offset(
    mg: Memgraph, tmp_path: Path
) -> None:
    first = line(event("e1", "Agent", "a1", name="one"))
    broken = line(event("e2", "Agent", "a2", name="caf\u00e9")).replace(b"\xc3\xa9", b"\xe9")
    path = write_lines(tmp_path / "e.jsonl", [first, broken, line(event("e3", "Agent", "a3",
                                                                           name="three"))])  # fmt: skip
    result = mg.ingest_file(path)
    assert (result.accepted, result.quarantined) == (2, 1)
    assert result.reasons == {"not valid UTF-8": 1}
    column = broken.index(b"\xe9")
    (row,) = mg.store.quarantine().select("event_id", "reason", "raw").rows()
    assert row[0] is None
    assert row[1] == (
        f"line 2, byte {column + 1} (offset {len(first) + 1 + column} in the file): not valid UTF-8"
    )
    assert "caf\\xe9" in row[2]  # the bytes as given, not U+FFFD
    assert mg.store.node("a2") is None and mg.store.node("a3") is not None


def test_invalid_utf8_in_a_parquet_text_column_is_quarantined(mg: Memgraph, tmp_path: Path) -> None:
    # Arrow does not check UTF-8 when bytes are viewed as text; nor do Parquet readers.
    names = pa.array([b"caf\xe9!!", b"good"], pa.binary()).view(pa.string())
    base = normalize([event("bad", "Agent", "a-bad", name="x"), GOOD]).to_arrow()
    table = base.set_column(base.schema.get_field_index("name"), "name", names)
    pq.write_table(table, tmp_path / "e.parquet")
    result = mg.ingest_file(tmp_path / "e.parquet")
    assert (result.accepted, result.quarantined) == (1, 1)
    assert reasons(mg.store) == {"bad": "name: not valid UTF-8"}
    good = mg.store.node("a-good")
    assert good is not None and good["name"] == "good"


# 4. timestamps ----------------------------------------------------------------------------------


def test_a_numeric_occurred_at_in_parquet_is_quarantined_not_read_as_1970(
    mg: Memgraph, tmp_path: Path
) -> None:
    epoch_seconds = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    frame = normalize([event("bad", "Agent", "a-bad", name="x"), GOOD])
    frame = frame.with_columns(occurred_at=pl.Series([epoch_seconds, epoch_seconds]))
    frame.write_parquet(tmp_path / "e.parquet")
    assert frame["occurred_at"].dtype == pl.Int64

    result = mg.ingest_file(tmp_path / "e.parquet")

    assert (result.accepted, result.quarantined) == (0, 2)
    assert set(reasons(mg.store).values()) == {
        "occurred_at: must be an RFC 3339 timestamp, got a number; occurred_at is missing"
    }
    # as in JSONL, where a number was never a timestamp
    jsonl = write_lines(tmp_path / "e.jsonl", [line({**GOOD, "occurred_at": epoch_seconds})])
    assert mg.ingest_file(jsonl).quarantined == 1


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("2999-01-01T00:00:00Z", "occurred_at is more than 1 day in the future"),
        ("1970-01-01T00:00:01Z", "occurred_at is before 2000-01-01"),
    ],
)
def test_occurred_at_outside_the_accepted_range_is_quarantined(
    store: Store, at: str, reason: str
) -> None:
    assert ingest_one_bad(store, {**event("bad", "Agent", "a", name="x"), "occurred_at": at}) == (
        reason
    )


def test_occurred_at_within_the_clock_skew_tolerance_is_accepted(store: Store) -> None:
    soon = datetime.now(UTC) + timedelta(hours=23)
    result = store.ingest([{**event("e", "Agent", "a", name="x"), "occurred_at": soon}])
    assert result.accepted == 1


# 5. repeated event ids in a batch ---------------------------------------------------------------


@pytest.mark.parametrize("neighbours", [0, 300], ids=["small batch", "large batch"])
def test_a_repeated_event_id_with_other_content_is_quarantined(
    store: Store, neighbours: int
) -> None:
    first = event("e1", "Agent", "a1", name="planner")
    others = [event(f"n{i}", "Agent", f"b{i}", name="z") for i in range(neighbours)]
    batch = [first, dict(first), *others, {**first, "name": "other"}]

    result = store.ingest(batch)

    assert (result.accepted, result.duplicates, result.quarantined) == (1 + neighbours, 1, 1)
    assert reasons(store) == {
        "e1": "event_id e1 was already given with different content in this batch"
    }
    (raw,) = store.quarantine()["raw"].to_list()
    assert json.loads(raw)["name"] == "other"
    node = store.node("a1")
    assert node is not None and node["name"] == "planner"


def test_the_same_content_written_differently_is_a_duplicate(store: Store) -> None:
    first = event("e1", "Agent", "a1", name="planner", attrs={"x": 1})
    again = {**first, "occurred_at": "2026-01-01T00:00:00+00:00", "attrs": '{"x": 1}'}
    result = store.ingest([first, again])
    assert (result.accepted, result.duplicates, result.quarantined) == (1, 1, 0)


def test_a_conflicting_repeat_does_not_decide_the_type_of_an_edge_endpoint(store: Store) -> None:
    prompt = event("e1", "Prompt", "p1", session_id="s", content="x")
    batch = [
        prompt,
        {**prompt, "type": "Agent", "name": "impostor"},
        event("e2", "Response", "r1", session_id="s", prompt_id="p1"),
        edge("e3", "RESPONDS_TO", "r1", "p1", session_id="s"),
    ]
    result = store.ingest(batch)
    assert (result.accepted, result.quarantined) == (3, 1)


# 6. poison: nesting, size, lone surrogates ------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 1200])
@pytest.mark.parametrize("field", ["attrs", "metadata", "extra"])
def test_json_nested_too_deep_is_quarantined_without_crashing_ingest(
    store: Store, depth: int, field: str
) -> None:
    bad = event("bad", "Prompt", "p", session_id="s", content="x", **{field: nested(depth)})
    where = "attrs" if field == "extra" else field
    assert ingest_one_bad(store, bad) == f"{where}: nested deeper than {MAX_JSON_DEPTH} levels"


def test_json_text_nested_too_deep_is_quarantined(store: Store) -> None:
    text = "[" * 100 + '"[[[ inside a string: not nesting"' + "]" * 100
    bad = event("bad", "Prompt", "p", session_id="s", content="x", variables=text)
    assert ingest_one_bad(store, bad) == f"variables: nested deeper than {MAX_JSON_DEPTH} levels"
    ok = "[" * MAX_JSON_DEPTH + '"]]]]]"' + "]" * MAX_JSON_DEPTH
    store.ingest([event("ok", "Prompt", "p2", session_id="s", content="x", variables=ok)])
    assert store.node("p2") is not None


def test_deeply_nested_events_are_quarantined_before_they_reach_compaction(
    mg: Memgraph, tmp_path: Path
) -> None:
    deep_line = (
        b'{"event_id": "bad-2", "attrs": ' + b"[" * 5000 + b"]" * 5000 + b"}"  # json.loads fails
    )
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            line(event("bad-1", "Agent", "a-bad", name="x", attrs=nested(500))),
            deep_line,
            line(GOOD),
        ],
    )
    result = mg.ingest_file(path)
    assert (result.accepted, result.quarantined) == (1, 2)
    assert result.reasons == {
        "attrs: nested deeper than 64 levels": 1,
        "JSON nested deeper than 64 levels": 1,
    }
    report = mg.compact(redact=no_redaction)
    assert report.events == 1
    assert mg.lake.event_log()["event_id"].to_list() == ["good"]


@pytest.mark.parametrize(
    "bad",
    [
        event("bad", "Prompt", "p", session_id="s", content="broken \ud83d emoji"),
        event("bad", "Session", "s", tags=["ok", "\udc00"]),
        event("bad", "Agent", "a", name="x", **{"note\ud800": 1}),
        event("bad", "Agent", "a", name="x", attrs={"note": "\ud800"}),
        event("bad", "Agent", "a", name="x", metadata='{"note": "\\ud800"}'),
        event("bad", "Agent", "a", name="x", attrs='{"note": "\\udfff\\ud800"}'),
    ],
    ids=["content", "list item", "extra key", "attrs value", "escaped", "escaped in attrs"],
)
def test_lone_surrogates_are_quarantined_and_neighbours_land(
    store: Store, bad: dict[str, Any]
) -> None:
    reason = ingest_one_bad(store, bad)
    assert "invalid Unicode (a lone surrogate, half of a UTF-16 pair)" in reason.split("; ")[0]


def test_surrogate_pairs_are_text(store: Store) -> None:
    emoji = "\U0001f600"
    store.ingest(
        [event("e", "Agent", "a", name=emoji, metadata='{"e": "\\ud83d\\ude00"}', tags=[emoji])]
    )
    node = store.node("a")
    assert node is not None and node["name"] == emoji
    assert json.loads(node["metadata"]) == {"e": emoji}


def test_a_lone_surrogate_escape_in_a_jsonl_line_loses_nothing_else(
    mg: Memgraph, tmp_path: Path
) -> None:
    bad = line(event("bad", "Prompt", "p", session_id="s", content="\ud800"))
    assert b"\\ud800" in bad
    path = write_lines(tmp_path / "e.jsonl", [line(GOOD), bad, line(event("g2", "Agent", "a2",
                                                                          name="y"))])  # fmt: skip
    result = mg.ingest_file(path)
    assert (result.accepted, result.quarantined) == (2, 1)
    (raw,) = mg.store.quarantine()["raw"].to_list()
    assert json.loads(raw)["content"] == "\ud800"  # kept as given, as an escape


def test_a_4_mb_message_is_accepted(store: Store) -> None:
    content = "x" * 4_000_000
    store.ingest([event("e", "Prompt", "p", session_id="s", content=content)])
    node = store.node("p")
    assert node is not None and node["content"] == content


def test_a_field_or_an_event_over_the_size_limits_is_quarantined(store: Store) -> None:
    big = event("big", "Prompt", "p1", session_id="s", content="é" * (MAX_FIELD_BYTES // 2 + 1))
    third = MAX_EVENT_BYTES // 3 + 1
    many = event("many", "Prompt", "p2", session_id="s", content="x" * third,
                 variables=json.dumps("y" * third), metadata=json.dumps({"z": "z" * third}))  # fmt: skip
    result = store.ingest([big, many, GOOD])
    assert (result.accepted, result.quarantined) == (1, 2)
    assert reasons(store) == {
        "big": "content: over 8 MiB",
        "many": "event over 16 MiB (all text and list fields together)",
    }


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("id", 5, "id: must be text, got 5"),
        ("attrs", [1, 2], "attrs: must be a JSON object"),
        ("attrs", "[1, 2]", "attrs: must be a JSON object"),
        ("occurred_at", 1767225600, "occurred_at: must be an RFC 3339 timestamp, got 1767225600"),
    ],
)
def test_other_wrong_types_are_quarantined_with_their_reason(
    store: Store, field: str, value: Any, reason: str
) -> None:
    bad = {**event("bad", "Agent", "a", name="x"), field: value}
    assert ingest_one_bad(store, bad).split("; ")[0] == reason


# 7. byte order mark -----------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_before_the_first_event_is_accepted(
    mg: Memgraph, tmp_path: Path
) -> None:
    events = session("s1", 1)
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(line(e) for e in events) + b"\n")
    result = mg.ingest_file(path)
    assert (result.accepted, result.quarantined) == (len(events), 0)


# the schema's fields are all covered ------------------------------------------------------------


def test_every_field_of_the_schema_is_checked_for_its_type(store: Store) -> None:
    """A value of the wrong kind in any field is quarantined, never coerced."""
    wrong = {
        pa.string(): 5,
        pa.int64(): 1.5,
        pa.float64(): "1.5",
        pa.bool_(): "yes",
        pa.list_(pa.string()): "x",
        pa.timestamp("us", tz="UTC"): 12,
    }
    skip = {"attrs", "metadata", "variables", "parameters", "result", "variable_bindings"}
    for f in EVENT_SCHEMA:
        if f.name in skip:  # JSON: any value is serialised
            continue
        bad = {**event(f"bad-{f.name}", "Agent", "a", name="x"), f.name: wrong[f.type]}
        result = store.ingest([bad])
        assert result.quarantined == 1, f.name
