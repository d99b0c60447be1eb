"""The ingest invariant, on random mixes of valid and invalid events: after ingest into a real
store and compaction into a real lake, every valid event is in the lake's event log exactly
once and unchanged, every invalid one is in quarantine with a reason naming its problem, and
nothing else is there."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import memgraph_ops
from memgraph_ops.lake import no_redaction
from tests.factories import event

_DEEP = "__deep__"


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@dataclass(frozen=True)
class Poison:
    """An invalid event: how to build it (for event id `eid`), the reason it must get, and
    whether its quarantine row keeps its event id (lines that never parse have none)."""

    event: Any
    reason: str
    jsonl_reason: str | None = None
    """The reason when it comes in a JSONL line, where it differs."""
    unreadable_in_jsonl: bool = False


def _prompt(eid: str, **fields: Any) -> dict[str, Any]:
    return event(eid, "Prompt", f"node-{eid}", session_id="s", **{"content": "x", **fields})


POISONS: dict[str, Poison] = {
    "string for a list": Poison(
        lambda eid: event(eid, "Session", f"node-{eid}", tags="notalist"),
        "tags: must be a JSON array of strings",
    ),
    "fraction for an integer": Poison(
        lambda eid: _prompt(eid, max_tokens=12.7), "max_tokens: must be an integer, got 12.7"
    ),
    "boolean for an integer": Poison(
        lambda eid: _prompt(eid, max_tokens=True), "max_tokens: must be an integer, got true"
    ),
    "text for an integer": Poison(
        lambda eid: _prompt(eid, max_tokens="12"), 'max_tokens: must be an integer, got "12"'
    ),
    "far future": Poison(
        lambda eid: {**_prompt(eid), "occurred_at": "2999-01-01T00:00:00Z"},
        "occurred_at is more than 1 day in the future",
    ),
    "number for a timestamp": Poison(
        lambda eid: {**_prompt(eid), "occurred_at": 1767225600},
        "occurred_at: must be an RFC 3339 timestamp",
    ),
    "attrs 500 deep": Poison(
        lambda eid: _prompt(eid, attrs=_nested(500)), "attrs: nested deeper than 64 levels"
    ),
    "attrs 5000 deep": Poison(
        lambda eid: _prompt(eid, attrs=_DEEP),
        "attrs: nested deeper than 64 levels",
        jsonl_reason="JSON nested deeper than 64 levels",
        unreadable_in_jsonl=True,
    ),
    "lone surrogate": Poison(
        lambda eid: _prompt(eid, content=f"broken \ud83d {eid}"),
        "content: invalid Unicode (a lone surrogate",
    ),
    "escaped lone surrogate in JSON": Poison(
        lambda eid: _prompt(eid, metadata=f'{{"note": "\\udc00", "eid": "{eid}"}}'),
        "metadata: invalid Unicode (a lone surrogate",
    ),
    "not UTF-8": Poison(
        lambda eid: _prompt(eid, content=b"caf\xe9 " + eid.encode()),
        "content: must be text",
        jsonl_reason="not valid UTF-8",
        unreadable_in_jsonl=True,
    ),
    "not an object": Poison(
        lambda eid: [eid, 1, 2],
        "event is not a JSON object",
        jsonl_reason="not a JSON object",
        unreadable_in_jsonl=True,
    ),
    "no tenant": Poison(lambda eid: {**_prompt(eid), "tenant": None}, "tenant is missing"),
}
CONFLICT_REASON = "was already given with different content in this batch"

# An item of a batch: ("valid", content, tags, max_tokens), ("poison", name), or a valid
# event that is repeated at the end of the batch: ("repeat", "same" | "other").
Item = tuple[Any, ...]

_VALID = st.tuples(
    st.just("valid"),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.integers(min_value=0, max_value=2**40),
)
_ITEMS = st.lists(
    st.one_of(
        _VALID,
        st.tuples(st.just("poison"), st.sampled_from(sorted(POISONS))),
        st.tuples(st.just("repeat"), st.sampled_from(["same", "other"])),
    ),
    max_size=12,
)
ALL_POISONS: list[Item] = [("poison", name) for name in sorted(POISONS)]
NEIGHBOURS: list[Item] = [("valid", "first \U0001f600", ["a"], 1), ("valid", "", [], 0)]


@dataclass
class Batch:
    events: list[Any]
    valid: dict[str, dict[str, Any]]
    """Valid events by event id (each must land once, as given)."""
    quarantined: Counter[tuple[str | None, str]]
    """(event id or None, expected reason fragment) of every invalid event."""


def build(items: list[Item], transport: str) -> Batch:
    events: list[Any] = []
    tail: list[Any] = []
    batch = Batch(events, {}, Counter())
    for i, item in enumerate(items):
        eid = f"e{i}"
        if item[0] == "valid":
            _, content, tags, max_tokens = item
            e = _prompt(eid, content=content, max_tokens=max_tokens)
            if tags:
                e["tools_available"] = tags
            events.append(e)
            batch.valid[eid] = e
        elif item[0] == "repeat":
            e = _prompt(eid, content=f"original {i}")
            events.append(e)
            batch.valid[eid] = e
            if item[1] == "same":
                tail.append(dict(e))
            else:
                tail.append({**e, "content": f"changed {i}"})
                batch.quarantined[(eid, CONFLICT_REASON)] += 1
        else:
            poison = POISONS[item[1]]
            events.append(poison.event(eid))
            jsonl = transport == "jsonl"
            reason = (poison.jsonl_reason if jsonl else None) or poison.reason
            unreadable = jsonl and poison.unreadable_in_jsonl
            keeps_id = not unreadable and item[1] != "not an object"
            batch.quarantined[(eid if keeps_id else None, reason)] += 1
    events.extend(tail)
    return batch


def jsonl_line(e: Any) -> bytes:
    if isinstance(e, dict) and e.get("attrs") == _DEEP:
        text = json.dumps({**e, "attrs": _DEEP})
        return text.replace(json.dumps(_DEEP), '{"a": ' * 5000 + "1" + "}" * 5000).encode()
    if isinstance(e, dict) and isinstance(e.get("content"), bytes):
        text = json.dumps({**e, "content": "\x00"})
        return text.encode().replace(b"\\u0000", e["content"])
    text = json.dumps(e, ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates: as JSON escapes
        return json.dumps(e).encode()


def as_python(e: Any) -> Any:
    if isinstance(e, dict) and e.get("attrs") == _DEEP:
        return {**e, "attrs": _nested(5000)}
    return e


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=_ITEMS, transport=st.sampled_from(["dicts", "jsonl"]))
@example(items=[*NEIGHBOURS[:1], *ALL_POISONS, *NEIGHBOURS[1:]], transport="dicts")
@example(items=[*NEIGHBOURS[:1], *ALL_POISONS, *NEIGHBOURS[1:]], transport="jsonl")
@example(
    items=[("repeat", "other"), ("repeat", "same"), *NEIGHBOURS, ("poison", "no tenant")],
    transport="dicts",
)
@example(items=[("poison", "attrs 5000 deep"), ("poison", "not UTF-8")], transport="jsonl")
def test_valid_events_land_once_and_invalid_ones_are_quarantined_with_their_reason(
    tmp_path_factory: pytest.TempPathFactory,
    home: Path,
    items: list[Item],
    transport: str,
) -> None:
    batch = build(items, transport)
    root = tmp_path_factory.mktemp("integrity")
    with memgraph_ops.open(root / "home") as mg:
        if transport == "jsonl":
            path = root / "events.jsonl"
            path.write_bytes(b"".join(jsonl_line(e) + b"\n" for e in batch.events))
            mg.ingest_file(path)
        else:
            mg.ingest([as_python(e) for e in batch.events])
        mg.compact(redact=no_redaction)

        # every valid event is in the lake exactly once, and nothing else is
        assert Counter(mg.lake.event_log()["event_id"].to_list()) == Counter(list(batch.valid))
        # unchanged: the lake's nodes are the valid events' nodes, as given
        nodes = {n["id"]: n for n in mg.lake.nodes().iter_rows(named=True)}
        assert set(nodes) == {e["id"] for e in batch.valid.values()}
        for e in batch.valid.values():
            node = nodes[e["id"]]
            assert (node["content"], node["max_tokens"]) == (e["content"], e.get("max_tokens"))
            assert node["tools_available"] == e.get("tools_available")
        # every invalid one is in quarantine, with the reason that names its problem
        rows = mg.store.quarantine(limit=10_000).select("event_id", "reason").rows()
        assert len(rows) == sum(batch.quarantined.values())
        found: Counter[tuple[str | None, str]] = Counter()
        for eid, reason in rows:
            matching = [
                (e, fragment)
                for (e, fragment) in batch.quarantined
                if e == eid
                and fragment in reason
                and found[(e, fragment)] < batch.quarantined[(e, fragment)]
            ]
            assert matching, (eid, reason)
            found[matching[0]] += 1
        assert found == batch.quarantined
