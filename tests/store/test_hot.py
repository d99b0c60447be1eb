from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memgraph_ops.errors import InputError, StoreLockedError
from memgraph_ops.events import normalize
from memgraph_ops.store import Store
from tests.factories import edge, event, session


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    handle = Store.open(tmp_path / "hot.duckdb")
    yield handle
    handle.close()


def test_ingest_assigns_monotonic_seq_and_is_idempotent(store: Store) -> None:
    events = session("s1", 3)
    first = store.ingest(events)
    assert first.accepted == len(events) and first.quarantined == 0
    assert (first.first_seq, first.last_seq) == (1, len(events))
    again = store.ingest(events)
    assert again.accepted == 0 and again.duplicates == len(events)
    more = store.ingest(session("s2", 1))
    assert more.first_seq == len(events) + 1
    assert store.counts()["events"] == len(events) + len(session("s2", 1))


def test_event_id_is_the_idempotency_key_whatever_else_the_event_says(store: Store) -> None:
    store.ingest([event("e1", "Agent", "a1", name="planner")])
    # a small batch (the single-event path) and a large one (the join path)
    assert store.ingest([event("e1", "Agent", "other-id", name="x")]).accepted == 0
    batch = [event("e1", "Agent", "third-id", name="y")] + [
        event(f"n{i}", "Agent", f"b{i}", name="z") for i in range(40)
    ]
    assert store.ingest(batch).accepted == 40
    assert store.node("other-id") is None and store.node("third-id") is None


def test_empty_text_is_a_value_not_a_missing_field(store: Store) -> None:
    result = store.ingest([event("e1", "Prompt", "p1", session_id="s", content="")])
    assert result.accepted == 1
    assert store.ingest([event("e2", "Prompt", "p2", session_id="s")]).quarantined == 1


def test_invalid_json_fields_are_quarantined(store: Store) -> None:
    bad = event("e1", "Prompt", "p1", session_id="s", content="x", variables="{not json")
    good = event("e2", "Prompt", "p2", session_id="s", content="x", variables='{"a": 1}')
    result = store.ingest([bad, good])
    assert result.accepted == 1
    assert store.quarantine()["reason"].to_list() == ["variables: not valid JSON"]


def test_duplicate_event_ids_within_a_batch_land_once(store: Store) -> None:
    e = event("e1", "Agent", "a1", name="planner")
    result = store.ingest([e, dict(e), dict(e)])
    assert result.accepted == 1 and result.duplicates == 2


def test_arrow_and_polars_inputs_land_like_dicts(store: Store) -> None:
    events = session("s1", 2)
    frame = normalize(events)
    store.ingest(frame.slice(0, 4))
    store.ingest(frame.slice(4).to_arrow())
    assert store.counts()["events"] == len(events)
    assert store.node("s1-p1")["content"] == "question 1"


def test_invalid_events_are_quarantined_with_reasons_and_valid_neighbours_land(
    store: Store,
) -> None:
    good = session("s1", 1)
    bad = [
        event("b1", "Prompt", "p-x", session_id="s1"),  # Prompt without content
        event("b2", "Wizard", "w1", session_id="s1"),
        {**event("b3", "Response", "r-x", session_id="s1", prompt_id="p"), "prompt_tokens": -3},
        {**event("b4", "Agent", "a", name="x"), "occurred_at": "yesterday"},
        edge("b5", "RESPONDS_TO", "s1-p0", "s1-r0"),  # reversed: Prompt -> Response
        {**event("b6", "Template", "tpl", name="t", template="x"), "version": "v1"},
    ]
    result = store.ingest(good + bad)
    assert result.accepted == len(good)
    assert result.quarantined == len(bad)
    reasons = dict(store.quarantine().select("event_id", "reason").iter_rows())
    assert "Prompt needs content" in reasons["b1"]
    assert "unknown node type Wizard" in reasons["b2"]
    assert "prompt_tokens must not be negative" in reasons["b3"]
    assert "occurred_at" in reasons["b4"]
    assert "RESPONDS_TO must start at a Response, but s1-p0 is a Prompt" in reasons["b5"]
    assert "not semver" in reasons["b6"]
    # re-ingesting the same bad batch does not pile up quarantine rows
    store.ingest(bad)
    assert store.counts()["quarantined"] == len(bad)


_FIELDS = st.sampled_from(
    ["event_id", "op", "kind", "type", "id", "tenant", "occurred_at", "content", "session_id"]
)
_JUNK = st.one_of(
    st.none(), st.just(""), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(breakage=st.lists(st.tuples(_FIELDS, _JUNK), min_size=1, max_size=3))
def test_property_broken_events_are_quarantined_and_neighbours_land(
    tmp_path_factory: pytest.TempPathFactory, breakage: list[tuple[str, object]]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "hot.duckdb"
    with Store.open(path) as store:
        good = [event("g1", "Agent", "a1", name="planner"), event("g2", "Agent", "a2", name="x")]
        broken = event("bad", "Prompt", "p1", session_id="s1", content="hello")
        for name, value in breakage:
            broken[name] = value
        result = store.ingest([good[0], broken, good[1]])
        # the good neighbours always land, whatever the broken one holds
        assert store.node("a1") is not None and store.node("a2") is not None
        valid = result.quarantined == 0
        assert result.accepted == (3 if valid else 2)
        if not valid:
            assert store.counts()["quarantined"] == 1
            assert store.quarantine()["reason"][0]  # a reason is always given


def test_reads_context_node_edges_sessions(store: Store) -> None:
    store.ingest(session("s1", 12, user="u1") + session("s2", 1, user="u1", start=500))
    store.ingest(session("s3", 1, user="u2"))
    ctx = store.context("s1", last=10)
    assert [t["prompt"]["id"] for t in ctx] == [f"s1-p{i}" for i in range(2, 12)]
    assert ctx[-1]["responses"][0]["id"] == "s1-r11"
    assert ctx[-1]["responses"][0]["tool_calls"][0]["tool_name"] == "search"
    assert store.node("s1-r3")["total_tokens"] == 15
    assert store.node("missing") is None
    assert store.node("s1-p") is None  # exact, never prefix
    out = store.edges("s1-r0", direction="out")
    assert sorted(out["type"].to_list()) == ["INVOKES", "RESPONDS_TO"]
    assert store.edges("s1-p0", direction="in", type="RESPONDS_TO")["src"].to_list() == ["s1-r0"]
    assert sorted(store.sessions("u1")["session_id"].to_list()) == ["s1", "s2"]


def test_latest_event_wins_and_delete_hides_node(store: Store) -> None:
    store.ingest([event("e1", "Agent", "a1", name="old")])
    store.ingest([event("e2", "Agent", "a1", name="new", at=5)])
    assert store.node("a1")["name"] == "new"
    store.ingest([{**event("e3", "Agent", "a1", at=9), "op": "delete"}])
    assert store.node("a1") is None


def test_trim_keeps_dedupe_memory(store: Store) -> None:
    events = session("s1", 2)
    store.ingest(events)
    dropped = store.trim(
        compacted_through=store.max_seq(), hot_window=timedelta(0), dedupe_window=timedelta(days=1)
    )
    assert dropped == len(events)
    assert store.counts()["events"] == 0
    # events already compacted and trimmed are still recognised as duplicates
    again = store.ingest(events)
    assert again.accepted == 0
    assert store.ingest(events[:1]).accepted == 0  # the small-batch (index lookup) path too


def test_trim_respects_hot_window_and_watermark(store: Store) -> None:
    store.ingest(session("s1", 2))
    assert store.trim(compacted_through=3, hot_window=timedelta(hours=1),
                      dedupe_window=timedelta(days=1)) == 0  # fmt: skip
    assert store.trim(compacted_through=3, hot_window=timedelta(0),
                      dedupe_window=timedelta(days=1)) == 3  # fmt: skip
    assert store.counts()["events"] == len(session("s1", 2)) - 3


def test_seq_never_goes_back_after_full_trim(store: Store) -> None:
    store.ingest(session("s1", 1))
    top = store.max_seq()
    store.trim(compacted_through=top, hot_window=timedelta(0), dedupe_window=timedelta(days=1))
    assert store.ingest(session("s2", 1)).first_seq == top + 1


def _hold_store(
    path: str, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    with Store.open(path):
        ready.set()
        done.wait(30)


def test_second_writer_process_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "hot.duckdb"
    Store.open(path).close()
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_store, args=(str(path), ready, done))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(StoreLockedError, match="another process"):
            Store.open(path)
    finally:
        done.set()
        holder.join(30)


def test_quarantine_unreadable_lines(store: Store) -> None:
    assert store.quarantine_unreadable([("{oops", "line 3: not valid JSON")], source="f") == 1
    row = store.quarantine().row(0, named=True)
    assert row["raw"] == "{oops" and row["event_id"] is None


def test_raw_of_quarantined_event_is_the_input(store: Store) -> None:
    bad = event("b1", "Prompt", "p", session_id="s")
    store.ingest([bad])
    assert json.loads(store.quarantine()["raw"][0]) == bad


def test_status_counts(store: Store) -> None:
    store.ingest(session("s1", 1))
    counts = store.counts()
    assert counts["events_by_type"]["node:Prompt"] == 1
    assert counts["bytes"] > 0


def test_struct_json_fields_from_arrow_become_json_strings(store: Store) -> None:
    table = pa.Table.from_pylist(
        [event("e1", "Prompt", "p1", session_id="s", content="hi", variables={"x": 1})]
    )
    assert pa.types.is_struct(table.schema.field("variables").type)
    store.ingest(table)
    assert json.loads(store.node("p1")["variables"]) == {"x": 1}


def test_every_json_field_present_in_a_batch(store: Store) -> None:
    full = event(
        "e1", "Prompt", "p1", session_id="s", content="x", variables="{}", metadata="{}",
        attrs='{"a": 1}',
    )  # fmt: skip
    rest = [
        event("e2", "ToolInvocation", "t1", session_id="s", response_id="r", tool_name="f",
              parameters="{}", result='"ok"'),
        edge("e3", "INSTANTIATES", "p1", "tpl", variable_bindings="{}"),
    ]  # fmt: skip
    assert store.ingest([full, *rest]).accepted == 3


def test_context_cache_sees_every_later_write(store: Store) -> None:
    store.ingest(session("s1", 2))
    before = store.context("s1", last=10)  # now cached
    assert [t["prompt"]["id"] for t in before] == ["s1-p0", "s1-p1"]
    store.ingest(
        [
            event("n1", "Prompt", "s1-p9", at=500, session_id="s1", content="later"),
            event("n2", "Response", "s1-r9", at=501, session_id="s1", prompt_id="s1-p9",
                  content="ok"),
            {**event("n3", "Prompt", "s1-p0", at=502), "op": "delete"},
            event("n4", "Prompt", "s1-p1", at=503, session_id="s1", content="edited"),
        ]
    )  # fmt: skip
    after = store.context("s1", last=10)
    assert [t["prompt"]["id"] for t in after] == ["s1-p1", "s1-p9"]  # an edit keeps its place
    assert after[0]["prompt"]["content"] == "edited"
    assert after[1]["responses"][0]["content"] == "ok"
    # what a fresh process (cold cache) reads is the same
    store._context_cache.clear()
    assert store.context("s1", last=10) == after


def test_a_tenant_can_keep_events_in_hot_longer_than_the_default(tmp_path: Path) -> None:
    from tests.factories import event as make_event

    with Store.open(tmp_path / "hot.duckdb") as store:
        store.ingest(
            [
                make_event("a", "Agent", "agent-a", name="a", tenant="acme"),
                make_event("b", "Agent", "agent-b", name="b", tenant="globex"),
            ]
        )
        dropped = store.trim(
            compacted_through=store.max_seq(),
            hot_window=timedelta(0),
            dedupe_window=timedelta(days=1),
            tenant_hot_windows={"globex": timedelta(hours=5)},
        )
        assert dropped == 1
        assert store.node("agent-b") is not None and store.node("agent-a") is None


def test_ingest_many_commits_batches_together_with_a_result_each(tmp_path: Path) -> None:
    """The group commit: several writers' batches in one transaction, each answered for itself,
    with the same outcome as ingesting them one after another."""
    a = session("s-a", 2)
    b = [*session("s-b", 1), a[0]]  # repeats one of a's events
    bad = [{"event_id": "x1", "op": "upsert", "kind": "node", "type": "Nope", "id": "n"}]
    with Store.open(tmp_path / "hot.duckdb") as store:
        results = store.ingest_many([a, b, bad])
        assert [r.accepted for r in results] == [len(a), len(b) - 1, 0]
        assert [r.duplicates for r in results] == [0, 1, 0]
        assert (results[0].first_seq, results[0].last_seq) == (1, len(a))
        assert results[1].first_seq == len(a) + 1
        assert results[2].quarantined == 1
        assert results[2].rejected[0]["event_id"] == "x1"
        assert "unknown node type" in results[2].rejected[0]["reason"]
        assert store.max_seq() == len(a) + len(b) - 1
        assert store.context("s-b", last=10)


def test_ingest_many_refuses_a_batch_that_is_not_events_and_stores_none(tmp_path: Path) -> None:
    """A string iterated as characters once became ten quarantined "events"."""
    with Store.open(tmp_path / "hot.duckdb") as store:
        with pytest.raises(InputError, match="not str"):
            store.ingest_many([session("s-a", 1), "not events"])
        assert store.max_seq() == 0
        assert store.quarantine().is_empty()


def test_tenants_of_by_point_lookup_and_by_join(tmp_path: Path) -> None:
    with Store.open(tmp_path / "hot.duckdb") as store:
        for n in range(20):
            events = session(f"s-{n}", 1)
            for e in events:
                e["tenant"] = "even" if n % 2 == 0 else "odd"
            store.ingest(events)
        few = store.tenants_of(["s-1", "s-2", "nope"])
        assert few == {"s-1": "odd", "s-2": "even"}
    with Store.open(tmp_path / "hot.duckdb") as store:  # nothing cached: the join path
        many = store.tenants_of([f"s-{n}" for n in range(20)] + ["nope"])
        assert many == {f"s-{n}": "even" if n % 2 == 0 else "odd" for n in range(20)}


def test_an_owner_may_not_write_another_tenants_ids(tmp_path: Path) -> None:
    """Ids are global: a tenant's service key must not overwrite or delete another tenant's
    node or edge (found by the service review: only session ids were checked)."""
    theirs = [event("t1", "Agent", "agent-x", tenant="globex", name="theirs")]
    with Store.open(tmp_path / "hot.duckdb") as store:
        store.ingest(theirs)
        [result] = store.ingest_many(
            [[event("t2", "Agent", "agent-x", tenant="acme", name="mine"),
              event("t3", "Agent", "agent-y", tenant="acme", name="new")]],
            owner="acme",
        )  # fmt: skip
        assert (result.accepted, result.quarantined) == (1, 1)
        assert result.rejected == [
            {"event_id": "t2", "reason": "id agent-x belongs to another tenant"}
        ]
        node = store.node("agent-x")
        assert node is not None and node["name"] == "theirs" and node["tenant"] == "globex"
        # the admin path (no owner) still writes what it is given
        [admin] = store.ingest_many([[event("t4", "Agent", "agent-x", tenant="globex", name="ok")]])
        assert admin.accepted == 1


def test_a_restore_after_reads_is_seen_by_point_reads(tmp_path: Path) -> None:
    """Point reads skip `restored_events` while it is empty: a restore must end that."""
    with Store.open(tmp_path / "source.duckdb") as source:
        source.ingest(session("s-r", 1))
        rows = pa.concat_tables(source.events_after(0, batch_rows=100))
    with Store.open(tmp_path / "hot.duckdb") as store:
        assert store.node("s-r") is None and store.context("s-r") == []
        assert store.restore_session(
            "s-r", 1, rows, expires_at=datetime.now(UTC) + timedelta(days=1)
        )
        assert store.node("s-r") is not None
        assert store.tenants_of(["s-r"]) == {"s-r": "acme"}
        assert len(store.context("s-r")) == 1
        assert store.forget_restored(["s-r"]) == 1
        assert store.node("s-r") is None
