"""The workload generator: deterministic, valid for the real store, complete, and honest about
the personal data it plants."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from memgraph_ops.errors import InputError
from memgraph_ops.model import (
    EDGE_TYPES,
    EVENT_SCHEMA,
    FINISH_REASONS,
    NODE_TYPES,
    SEMVER_PATTERN,
    edge_key,
)
from memgraph_ops.store import Store
from memgraph_ops.workload import (
    DEFAULT_START,
    PII_ENTITY_TYPES,
    WINDOW,
    PiiRecord,
    generate,
    pii_sidecar_path,
    write_workload,
)

SESSIONS = 200


@pytest.fixture(scope="module")
def workload() -> tuple[list[list[dict[str, Any]]], list[PiiRecord]]:
    """A modest workload, as batches of events (kept apart to ingest them one by one) and the
    planted PII of all batches."""
    batches: list[list[dict[str, Any]]] = []
    planted: list[PiiRecord] = []
    for batch in generate(SESSIONS, seed=11, batch_sessions=64):
        batches.append(batch.events)
        planted.extend(batch.planted_pii)
    return batches, planted


@pytest.fixture(scope="module")
def events(workload: tuple[list[list[dict[str, Any]]], list[PiiRecord]]) -> list[dict[str, Any]]:
    return [e for batch in workload[0] for e in batch]


@pytest.fixture(scope="module")
def planted(workload: tuple[list[list[dict[str, Any]]], list[PiiRecord]]) -> list[PiiRecord]:
    return workload[1]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    a = write_workload(tmp_path / "a" / "events.jsonl", 40, seed=5)
    b = write_workload(tmp_path / "b" / "events.jsonl", 40, seed=5)
    c = write_workload(tmp_path / "c" / "events.jsonl", 40, seed=6)

    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.pii_path.read_bytes() == b.pii_path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()
    assert a.pii_path.read_bytes() != c.pii_path.read_bytes()
    assert a.events == len(_read_jsonl(a.path)) > 40 * 10


def test_parquet_output_is_deterministic(tmp_path: Path) -> None:
    a = write_workload(tmp_path / "a.parquet", 20, seed=5)
    b = write_workload(tmp_path / "b.parquet", 20, seed=5)
    assert a.path.read_bytes() == b.path.read_bytes()


def test_batch_size_changes_order_not_content() -> None:
    def ids(batch_sessions: int) -> list[str]:
        return sorted(
            e["event_id"]
            for batch in generate(30, seed=2, batch_sessions=batch_sessions)
            for e in batch.events
        )

    assert ids(7) == ids(500)


# validity -------------------------------------------------------------------------------------


def test_the_real_store_accepts_every_event(
    tmp_path: Path, workload: tuple[list[list[dict[str, Any]]], list[PiiRecord]]
) -> None:
    batches, _ = workload
    with Store.open(tmp_path / "hot.duckdb") as store:
        results = [store.ingest(batch) for batch in batches]
        assert [r.reasons for r in results if r.quarantined] == []
        assert sum(r.accepted for r in results) == sum(len(b) for b in batches)
        assert sum(r.duplicates for r in results) == 0
        assert store.quarantine().height == 0
        # Re-sending the same workload is a no-op: event ids are stable.
        again = store.ingest(batches[1])
        assert (again.accepted, again.duplicates) == (0, len(batches[1]))


def test_every_node_and_edge_type_appears(events: list[dict[str, Any]]) -> None:
    upserts = [e for e in events if e["op"] == "upsert"]
    nodes = Counter(e["type"] for e in upserts if e["kind"] == "node")
    edges = Counter(e["type"] for e in upserts if e["kind"] == "edge")
    assert set(nodes) == set(NODE_TYPES)
    assert set(edges) == set(EDGE_TYPES)
    assert nodes["Session"] > SESSIONS  # the extra ones are later updates
    assert any(e["op"] == "delete" for e in events)
    assert all(set(e) <= set(EVENT_SCHEMA.names) for e in events)


def test_edges_join_the_right_node_types(events: list[dict[str, Any]]) -> None:
    types = {e["id"]: e["type"] for e in events if e["kind"] == "node"}
    for e in events:
        if e["kind"] == "edge":
            spec = EDGE_TYPES[e["type"]]
            assert (types[e["src"]], types[e["dst"]]) == (spec.src, spec.dst), e


def test_values_are_consistent_and_in_range(events: list[dict[str, Any]]) -> None:
    prompts = {e["id"]: e for e in events if e["type"] == "Prompt"}
    finish: Counter[str] = Counter()
    for e in events:
        if e["type"] == "Response":
            assert e["total_tokens"] == e["prompt_tokens"] + e["completion_tokens"]
            assert e["prompt_id"] in prompts
            finish[e["finish_reason"]] += 1
        for name in ("context_overlap", "confidence_score", "relevance_score"):
            if name in e:
                assert 0 <= e[name] <= 1
        if e["type"] == "RESPONDS_TO":
            assert e["latency_ms"] > 0 and e["model_version"]
        if e["type"] == "FOLLOWS":
            assert e["time_delta_ms"] >= 0
    assert set(finish) <= set(FINISH_REASONS)
    assert {"stop", "tool_calls", "length"} <= set(finish)
    assert finish["stop"] > sum(finish.values()) / 2


def test_timestamps_fall_in_the_thirty_days_before_start(events: list[dict[str, Any]]) -> None:
    times = [datetime.fromisoformat(e["occurred_at"]) for e in events if "session_id" in e]
    assert min(times) >= DEFAULT_START - WINDOW
    assert max(times) < DEFAULT_START
    assert max(times) - min(times) > timedelta(days=25)

    now = datetime(2031, 3, 4, 5, 6, tzinfo=UTC)
    later = next(generate(5, seed=11, start=now)).events
    shifted = [datetime.fromisoformat(e["occurred_at"]) for e in later if "session_id" in e]
    assert now - WINDOW <= min(shifted) and max(shifted) < now


# structure ------------------------------------------------------------------------------------


def test_sessions_have_2_to_30_turns_with_follows_chains_and_forks(
    events: list[dict[str, Any]],
) -> None:
    user_prompts: Counter[str] = Counter()
    system_prompts: Counter[str] = Counter()
    for e in events:
        if e["type"] == "Prompt":
            (system_prompts if e.get("is_system") else user_prompts)[e["session_id"]] += 1
    sessions = {e["id"] for e in events if e["type"] == "Session"}
    assert set(user_prompts) == sessions
    assert all(system_prompts[s] == 1 for s in sessions)
    assert min(user_prompts.values()) >= 2
    assert max(user_prompts.values()) <= 31  # 30 turns, one of them possibly forked
    assert max(user_prompts.values()) >= 10

    follows = [e for e in events if e["type"] == "FOLLOWS"]
    # Every user prompt follows exactly one earlier prompt of its own session.
    assert sorted(e["src"] for e in follows) == sorted(
        e["id"] for e in events if e["type"] == "Prompt" and not e.get("is_system")
    )
    children = Counter(e["dst"] for e in follows)
    assert any(n == 2 for n in children.values()), "no forked prompt"
    assert max(children.values()) <= 2
    assert any(e.get("forked_from") for e in events if e["type"] == "Session")


def test_templates_are_semver_versions_in_an_inheritance_forest(
    events: list[dict[str, Any]],
) -> None:
    templates = [e for e in events if e["type"] == "Template"]
    versions: defaultdict[str, list[str]] = defaultdict(list)
    parents: dict[str, str | None] = {}
    for e in sorted(templates, key=lambda e: e["occurred_at"]):
        assert re.match(SEMVER_PATTERN, e["version"])
        versions[e["id"]].append(e["version"])
        parents[e["id"]] = e.get("parent_id")
        variables = json.loads(e["variables"])
        assert variables and all(
            set(v) == {"name", "type_hint", "required", "default"} for v in variables
        )
    for id_, vs in versions.items():
        assert len(vs) >= 2, id_
        keys = [tuple(int(p) for p in v.split(".")) for v in vs]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), f"{id_} released {vs}"
    # A major release changes the template's interface: it declares a new variable.
    names = {
        (e["id"], e["version"].split(".")[0]): {v["name"] for v in json.loads(e["variables"])}
        for e in templates
    }
    majors = [(id_, m) for id_, m in names if int(m) > 1 and (id_, "1") in names]
    assert majors
    assert all(names[(id_, "1")] < names[(id_, m)] for id_, m in majors)

    inherits = {(e["src"], e["dst"]) for e in events if e["type"] == "INHERITS"}
    assert inherits == {(c, p) for c, p in parents.items() if p is not None}
    assert all(e["override_sections"] and e["version_diff"] for e in events
               if e["type"] == "INHERITS")  # fmt: skip
    for start in parents:  # walking up from any template ends at a root
        seen: set[str] = set()
        node: str | None = start
        while node is not None:
            assert node not in seen, f"INHERITS cycle through {node}"
            seen.add(node)
            node = parents[node]
    assert sum(p is None for p in parents.values()) >= 2
    assert max(_depth(t, parents) for t in parents) >= 3


def _depth(template: str, parents: dict[str, str | None]) -> int:
    depth, node = 0, parents[template]
    while node is not None:
        depth, node = depth + 1, parents[node]
    return depth


def test_prompts_instantiate_released_template_versions(events: list[dict[str, Any]]) -> None:
    released: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in events:
        if e["type"] == "Template":
            released[e["id"]].append((e["occurred_at"], e["version"]))
    prompts = {e["id"]: e for e in events if e["type"] == "Prompt"}
    instantiates = [e for e in events if e["type"] == "INSTANTIATES"]
    assert len(instantiates) > 50
    for edge in instantiates:
        prompt = prompts[edge["src"]]
        assert prompt["template_id"] == edge["dst"]
        assert prompt["template_version"] == edge["template_version"]
        assert prompt["variables"] == edge["variable_bindings"]
        assert isinstance(json.loads(prompt["variables"]), dict)
        available = {v for at, v in released[edge["dst"]] if at <= prompt["occurred_at"]}
        assert edge["template_version"] in available


def test_agents_handle_prompts_and_hand_off_including_loops(events: list[dict[str, Any]]) -> None:
    agents = {e["id"] for e in events if e["type"] == "Agent"}
    assert all("session_id" not in e for e in events if e["type"] in ("Agent", "Template"))
    handled = [e for e in events if e["type"] == "HANDLED_BY"]
    assert {e["dst"] for e in handled} <= agents
    assert len(handled) == sum(
        1 for e in events if e["type"] == "Prompt" and not e.get("is_system")
    )
    transfers: defaultdict[str, list[str]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e["occurred_at"]):
        if e["type"] == "TRANSFERS_TO":
            assert e["handoff_reason"] and e["context_summary"]
            transfers[e["session_id"]].append(e["dst"])
    # A ping-pong: some session hands off to an agent it handed off to before.
    assert any(len(set(seq)) < len(seq) for seq in transfers.values())


def test_tools_fail_at_a_rate_with_errors_and_log_normal_durations(
    events: list[dict[str, Any]],
) -> None:
    calls = [e for e in events if e["type"] == "ToolInvocation" and e["op"] == "upsert"]
    assert len({c["tool_name"] for c in calls}) >= 8
    failed = [c for c in calls if not c["success"]]
    assert 0.02 < len(failed) / len(calls) < 0.15
    assert all(c.get("error") and "result" not in c for c in failed)
    assert all("error" not in c and json.loads(c["result"]) for c in calls if c["success"])
    assert all(isinstance(json.loads(c["parameters"]), dict) for c in calls)
    durations = sorted(c["duration_ms"] for c in calls)
    median = durations[len(durations) // 2]
    assert durations[-1] > 10 * median  # a long right tail
    invokes = {
        (e["src"], e["dst"]): e for e in events if e["type"] == "INVOKES" and e["op"] == "upsert"
    }
    for c in calls:
        assert invokes[(c["response_id"], c["id"])]["success"] == c["success"]


def test_system_prompts_are_long_and_repeat_verbatim(events: list[dict[str, Any]]) -> None:
    system = Counter(e["content"] for e in events if e["type"] == "Prompt" and e.get("is_system"))
    assert all(300 <= len(text) <= 3000 for text in system)
    assert system.most_common(1)[0][1] >= 10
    assert len(system) < SESSIONS / 5


# personal data --------------------------------------------------------------------------------


def test_planted_pii_occurs_in_the_named_field_of_the_named_event(
    events: list[dict[str, Any]], planted: list[PiiRecord]
) -> None:
    by_id = {e["event_id"]: e for e in events}
    for record in planted:
        event = by_id[record["event_id"]]
        field = "metadata" if record["field"] == "user_email" else record["field"]
        assert record["value"] in event[field], record
        node_id = event.get("id") or edge_key(event["src"], event["type"], event["dst"])
        assert record["node_id"] == node_id
        assert (record["tenant"], record["session_id"]) == (
            event["tenant"],
            event.get("session_id"),
        )
    assert {r["entity_type"] for r in planted} == set(PII_ENTITY_TYPES)
    fields = {r["field"] for r in planted}
    assert {"content", "variables", "parameters", "result", "metadata", "user_email"} <= fields


def test_pii_values_look_real(planted: list[PiiRecord]) -> None:
    values: defaultdict[str, set[str]] = defaultdict(set)
    for r in planted:
        values[r["entity_type"]].add(r["value"])
    assert all(re.fullmatch(r"[^@\s]+@[a-z0-9.-]+\.[a-z]+", v) for v in values["EMAIL_ADDRESS"])
    assert all(_luhn_ok(re.sub(r"\D", "", v)) for v in values["CREDIT_CARD"])
    assert all(re.search(r"\d{3}\D{1,2}\d{4}$", v) for v in values["PHONE_NUMBER"])
    assert any("\n" in v for v in values["STREET_ADDRESS"])  # some addresses are multi-line
    keys = values["API_KEY"]
    for pattern in (r"sk-[A-Za-z0-9]{48}", r"AKIA[A-Z2-7]{16}", r"ghp_[A-Za-z0-9]{36}"):
        assert any(re.fullmatch(pattern, k) for k in keys), pattern
    assert all(" " in v for v in values["PERSON"])
    assert len(values["PERSON"]) > 20


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0 and len(digits) in (15, 16)


def test_user_prompts_carry_pii_at_the_requested_rate() -> None:
    def share(pii_rate: float) -> float:
        prompts, with_pii = set(), set()
        for batch in generate(150, seed=4, pii_rate=pii_rate):
            prompts |= {
                e["id"] for e in batch.events if e["type"] == "Prompt" and not e.get("is_system")
            }
            with_pii |= {
                r["node_id"] for r in batch.planted_pii if r["field"] in ("content", "variables")
            }
        return len(with_pii & prompts) / len(prompts)

    assert 0.24 < share(0.3) < 0.36
    assert 0.65 < share(0.8) < 0.95


def test_each_user_has_one_email_and_an_opaque_id(
    events: list[dict[str, Any]], planted: list[PiiRecord]
) -> None:
    users = {e["user_id"] for e in events if e["type"] == "Session"}
    assert all(re.fullmatch(r"user-\d{4,}", u) for u in users)
    emails = [r for r in planted if r["field"] == "user_email"]
    assert sorted(r["user_id"] for r in emails) == sorted(users)
    per_session = Counter(e["user_id"] for e in events if e["type"] == "Session")
    assert max(per_session.values()) >= 5  # heavy users have many sessions
    email_of = {r["user_id"]: r["value"] for r in emails}
    in_prompts = [
        r for r in planted if r["field"] == "content" and email_of[r["user_id"]] == r["value"]
    ]
    assert in_prompts, "users never mention their own email"


def test_no_pii_rate_plants_nothing() -> None:
    batches = list(generate(60, seed=4, pii_rate=0.0))
    assert [r for b in batches for r in b.planted_pii] == []
    text = json.dumps([b.events for b in batches])
    assert not re.search(r"\bAKIA[A-Z2-7]{16}\b|\bghp_|\bsk-[A-Za-z0-9]{20}", text)
    assert not re.search(r"[\w.]+@(gmail|outlook|yahoo|icloud)\.com", text)


# files ----------------------------------------------------------------------------------------


def test_parquet_round_trips_to_the_same_events_as_jsonl(tmp_path: Path) -> None:
    jsonl = write_workload(tmp_path / "events.jsonl", 25, seed=9)
    parquet = write_workload(tmp_path / "events.parquet", 25, seed=9)
    table = pq.read_table(parquet.path)
    assert table.schema.equals(EVENT_SCHEMA)
    assert pq.ParquetFile(parquet.path).metadata.num_row_groups >= 1

    def normal(row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if v is not None}
        at = out["occurred_at"]
        out["occurred_at"] = at if isinstance(at, datetime) else datetime.fromisoformat(at)
        return out

    from_parquet = [normal(r) for r in table.to_pylist()]
    from_jsonl = [normal(r) for r in _read_jsonl(jsonl.path)]
    assert from_parquet == from_jsonl
    assert parquet.pii_path.read_bytes() == jsonl.pii_path.read_bytes()


def test_summary_describes_what_was_written(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    out = tmp_path / "w" / "events.jsonl"
    summary = write_workload(
        out, 50, seed=3, tenants=4, batch_sessions=20, progress=lambda *a: seen.append(a)
    )
    rows = _read_jsonl(out)
    assert summary.pii_path == pii_sidecar_path(out) == tmp_path / "w" / "events.pii.jsonl"
    assert seen == [(20, 50), (40, 50), (50, 50)]
    assert summary.events == len(rows)
    assert summary.bytes_written == out.stat().st_size
    nodes = Counter(r["type"] for r in rows if r["kind"] == "node" and r["op"] == "upsert")
    assert summary.nodes_by_type == dict(nodes)
    assert summary.deletes == sum(r["op"] == "delete" for r in rows)
    assert summary.updates == nodes["Session"] - 50
    assert sum(summary.pii_by_entity.values()) == len(_read_jsonl(summary.pii_path))
    assert {r["tenant"] for r in rows if "session_id" in r} == set(summary.tenants)
    assert len(summary.tenants) == 4
    assert json.loads(json.dumps(summary.as_dict()))["path"] == str(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["events.jsonl", "events.pii.jsonl"]


def test_a_failed_write_leaves_no_file_behind(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    out.write_text("previous\n")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_workload(out, 30, seed=1, batch_sessions=10, progress=interrupt)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sessions": -1}, "sessions"),
        ({"tenants": 0}, "tenants"),
        ({"pii_rate": 1.5}, "pii_rate"),
        ({"batch_sessions": 0}, "batch_sessions"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    args = {"sessions": 5, **kwargs}
    with pytest.raises(InputError, match=message):
        next(generate(args.pop("sessions"), **args))
