"""Single-event durable ingest: `Store.ingest([event])`, each call its own committed
transaction, on a store already holding the run's `hot_events`; vs a bare DuckDB single-row
`INSERT ... VALUES` + commit into tables holding the same rows (with and without indexes).

Goal (issue): p95 < 10 ms.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from benchmarks._common import (
    Goal,
    Result,
    Table,
    copy_store,
    percentiles,
    profile_top,
    ratio,
)
from benchmarks._data import Generator
from benchmarks._hot import N_INDEXES, arrow_rows, bare_connect, breakdown_rows, instrument
from benchmarks.workspace import Workspace
from memgraph_ops.model import STORED_EVENT_SCHEMA
from memgraph_ops.store import Store

NAME = "single_ingest"
WARMUP = 30
PROFILED = 100


def run(ws: Workspace) -> Result:
    fixture = ws.hot()
    n = ws.sizes["single_events"]
    assert fixture.bare_path and fixture.bare_idx_path
    directory = ws.directory / "single"
    store = Store.open(copy_store(fixture.store_path, directory / "hot.duckdb"))
    bare = bare_connect(copy_store(fixture.bare_path, directory / "bare.duckdb"), indexes=False)
    bare_idx = bare_connect(
        copy_store(fixture.bare_idx_path, directory / "bare_idx.duckdb"), indexes=True
    )
    # A new stretch of live traffic: whole sessions, nodes and the edges between them.
    events = arrow_rows(Generator(seed=7, globals_first=False).table(n + WARMUP))[: n + WARMUP]
    insert_sql = f"INSERT INTO events VALUES ({', '.join('?' for _ in STORED_EVENT_SCHEMA.names)})"
    seq = 10**9
    samples: dict[str, list[float]] = {"store": [], "bare": [], "bare_idx": []}
    kinds: dict[str, list[float]] = {"node": [], "edge": []}
    steps: dict[str, float] = {}
    try:
        for i, event in enumerate(events):
            seq += 1
            row = [seq, datetime.now(UTC), *(event.get(c) for c in STORED_EVENT_SCHEMA.names[2:])]
            order = ["store", "bare", "bare_idx"]
            order = order[i % 3 :] + order[: i % 3]
            for who in order:
                start = time.perf_counter()
                if who == "store":
                    if i >= WARMUP:
                        with instrument(store, steps):
                            start = time.perf_counter()
                            got = store.ingest([event])
                            took = time.perf_counter() - start
                    else:
                        got = store.ingest([event])
                        took = time.perf_counter() - start
                    if got.accepted != 1:
                        raise RuntimeError(f"event not accepted: {got.reasons}")
                else:
                    con = bare if who == "bare" else bare_idx
                    con.execute(insert_sql, row)
                    took = time.perf_counter() - start
                if i >= WARMUP:
                    samples[who].append(took)
                    if who == "store":
                        kinds[event["kind"]].append(took)
        extra = arrow_rows(Generator(seed=8, globals_first=False).table(PROFILED))[:PROFILED]
        top = profile_top(lambda: [store.ingest([e]) for e in extra])
    finally:
        store.close()
        bare.close()
        bare_idx.close()

    stats = {k: percentiles(v) for k, v in samples.items()}
    by_kind = {k: percentiles(v) for k, v in kinds.items() if v}
    result = Result(NAME, params={"store_events": fixture.n_events, "measured_events": n})
    rows: list[list[Any]] = []
    labels = {
        "store": "Store.ingest([event]) + commit",
        "bare": "bare INSERT VALUES + commit, no indexes",
        "bare_idx": f"bare INSERT VALUES + commit, same {N_INDEXES} indexes",
    }
    for key, label in labels.items():
        s = stats[key]
        rows.append(
            [
                label,
                s["p50_ms"],
                s["p95_ms"],
                s["p99_ms"],
                s["max_ms"],
                ratio(s["p50_ms"], stats["bare"]["p50_ms"]),
                ratio(s["p95_ms"], stats["bare"]["p95_ms"]),
            ]
        )
    for kind, s in by_kind.items():
        rows.append(
            [
                f"  Store.ingest, {kind} events only (n={s['n']})",
                s["p50_ms"],
                s["p95_ms"],
                s["p99_ms"],
                s["max_ms"],
                "",
                "",
            ]
        )
    result.tables.append(
        Table(
            f"Single-event durable ingest on a store of {fixture.n_events:,} events "
            f"({n:,} events, interleaved; ms)",
            ["path", "p50", "p95", "p99", "max", "p50 vs bare", "p95 vs bare"],
            rows,
        )
    )
    total = sum(samples["store"])
    result.tables.append(
        Table(
            "Where a single-event Store.ingest spends its time (ms per event, mean)",
            ["step", "seconds", "ms / event", "share", "what"],
            breakdown_rows(steps, total, n, "whole call"),
        )
    )
    result.tables.append(
        Table(
            f"cProfile of {PROFILED} more single-event ingests: most own time",
            ["function", "calls", "own s", "cumulative s"],
            top,
        )
    )
    p95 = stats["store"]["p95_ms"]
    result.goals.append(
        Goal(
            "single-event durable ingest p95 < 10 ms",
            f"p95 {p95:.2f} ms",
            p95 < 10.0,
            f"{p95 / stats['bare']['p95_ms']:.1f}x bare INSERT+commit p95 "
            f"({stats['bare']['p95_ms']:.2f} ms)",
        )
    )
    result.data = {"percentiles": stats, "by_kind": by_kind, "steps_s": steps}
    return result
