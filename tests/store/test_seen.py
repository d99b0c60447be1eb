"""Deduplication by in-memory hashes: the set agrees with a plain set, a hash match alone never
drops a new event, and what the store remembers survives reopening and expires with its window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from memgraph_ops.store import Store
from memgraph_ops.store.seen import SeenHashes
from tests.factories import event, session

hashes = st.lists(st.integers(0, 2**64 - 1), max_size=200)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(hashes, st.lists(hashes, max_size=4), hashes)
def test_seen_hashes_agree_with_a_set(
    first: list[int], later: list[list[int]], probe: list[int]
) -> None:
    seen = SeenHashes(pa.array(first, pa.uint64()))
    expected = set(first)
    for batch in later:
        seen.add(pl.Series(batch, dtype=pl.UInt64))
        expected |= set(batch)
    queries = probe + first[:3] + [b for batch in later for b in batch[:2]]
    got = seen.contains(pl.Series(queries, dtype=pl.UInt64)).to_list()
    assert got == [q in expected for q in queries]


def test_seen_hashes_merge_recent_additions_into_the_sorted_array() -> None:
    seen = SeenHashes(pa.array([5, 1, 5], pa.uint64()))
    for start in range(0, 200_000, 50_000):  # past the merge threshold (65,536)
        seen.add(pl.Series(range(start + 10, start + 50_010), dtype=pl.UInt64))
    assert len(seen) >= 200_000
    probe = pl.Series([1, 5, 10, 199_999, 200_009, 200_010, 3], dtype=pl.UInt64)
    assert seen.contains(probe).to_list() == [True, True, True, True, True, False, False]


def test_a_hash_collision_does_not_drop_a_new_event(tmp_path: Path) -> None:
    with Store.open(tmp_path / "hot.duckdb") as store:
        store.ingest([event("e1", "Agent", "a1", name="first")])
        # Make the next event's id look seen: its hash is in the set, the id is not stored.
        (collide,) = duckdb.sql("SELECT hash('e2')").fetchall()[0]
        store._seen_hashes().add(pl.Series([collide], dtype=pl.UInt64))
        assert store.ingest([event("e2", "Agent", "a2", name="second")]).accepted == 1
        assert store.node("a2") is not None
        assert store.ingest([event("e2", "Agent", "a2", name="second")]).duplicates == 1


def test_dedupe_survives_reopening_and_expires_with_its_window(tmp_path: Path) -> None:
    path = tmp_path / "hot.duckdb"
    events = session("s1", 2)
    with Store.open(path) as store:
        store.ingest(events)
        store.trim(
            compacted_through=store.max_seq(),
            hot_window=timedelta(0),
            dedupe_window=timedelta(days=1),
        )
    with Store.open(path) as store:
        assert store.ingest(events).accepted == 0  # remembered though trimmed, after reopen
        assert store.ingest(events[:1]).accepted == 0
        store.trim(compacted_through=0, hot_window=timedelta(0), dedupe_window=timedelta(0))
        assert store.counts()["retired_event_ids"] == 0
        assert store.ingest(events).accepted == len(events)  # the window is over: new again


def test_an_old_file_loses_its_event_id_indexes_on_open(tmp_path: Path) -> None:
    path = tmp_path / "hot.duckdb"
    with Store.open(path) as store:
        store.ingest(session("s1", 1))
    con = duckdb.connect(str(path))
    con.execute("CREATE INDEX events_event_id ON events (event_id)")
    con.execute("CREATE INDEX retired_event_id ON retired_events (event_id)")
    con.close()
    with Store.open(path) as store:
        assert store.ingest(session("s1", 1)).accepted == 0
    con = duckdb.connect(str(path), read_only=True)
    names = {row[0] for row in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
    con.close()
    assert "events_event_id" not in names and "retired_event_id" not in names


def test_two_stores_on_one_file_in_one_process_deduplicate_against_each_other(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hot.duckdb"
    first, second = Store.open(path), Store.open(path)  # DuckDB allows this in one process
    try:
        first.ingest([event("e0", "Agent", "a0", name="x")])
        second.ingest([event("e1", "Agent", "a1", name="y")])
        assert first.ingest([event("e1", "Agent", "a1", name="y")]).duplicates == 1
        assert second.ingest([event("e0", "Agent", "a0", name="x")]).duplicates == 1
        assert first.counts()["events"] == 2
    finally:
        first.close()
        second.close()


def test_a_store_reopened_in_the_same_process_sees_what_others_wrote_meanwhile(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hot.duckdb"
    kept = Store.open(path)  # closed but still referenced: its seen set must not be reused
    kept.ingest([event("e0", "Agent", "a0", name="x")])
    kept.close()
    con = duckdb.connect(str(path))  # another writer, as another process would be
    con.execute(
        "INSERT INTO events SELECT * REPLACE ('e-other' AS event_id, seq + 1 AS seq) FROM events"
    )
    con.close()
    with Store.open(path) as store:
        assert store.ingest([event("e-other", "Agent", "zz", name="z")]).duplicates == 1
    del kept  # held until here, so its slot stayed alive while the file changed
