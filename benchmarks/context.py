"""Context-window read: `Store.context(session_id, last=10)` on a store of the run's
`hot_events` (sessions of 20-70 events), vs bare DuckDB indexed queries on a table holding the
same rows with the same indexes.

Goal (issue): p95 < 1 ms.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import duckdb

from benchmarks._common import Goal, Result, Table, percentiles, ratio
from benchmarks.workspace import Workspace
from memgraph_ops.store import Store
from memgraph_ops.store.hot import _CONTEXT_FIELDS, _CONTEXT_SQL

NAME = "context"
WARMUP = 50

_BARE_SESSION_SQL = f"SELECT seq, {', '.join(_CONTEXT_FIELDS)} FROM events WHERE session_id = ?"


def run(ws: Workspace) -> Result:
    fixture = ws.hot()
    assert fixture.bare_idx_path and fixture.bare_path
    n = ws.sizes["context_queries"]
    rng = random.Random(5)
    sessions = rng.sample(fixture.sessions, min(n + WARMUP, len(fixture.sessions)))
    n = len(sessions) - WARMUP
    store = Store.open(fixture.store_path, read_only=True)
    bare_idx = duckdb.connect(str(fixture.bare_idx_path), read_only=True)
    bare = duckdb.connect(str(fixture.bare_path), read_only=True)
    node_ids = [
        r[0]
        for r in bare_idx.execute(
            "SELECT id FROM (SELECT id FROM events WHERE kind = 'node') "
            f"USING SAMPLE reservoir({n + WARMUP} ROWS) REPEATABLE (5)"
        ).fetchall()
    ]
    plans = {
        "store SQL": _plan(store._con, _CONTEXT_SQL.format(table="events"), sessions[0]),
        "bare session_id = ?": _plan(bare_idx, _BARE_SESSION_SQL, sessions[0]),
    }
    paths: dict[str, Callable[[int], Any]] = {
        "context": lambda i: store.context(sessions[i], last=10),
        "store_sql": lambda i: store._con.execute(
            _CONTEXT_SQL.format(table="events"), [sessions[i]]
        ).fetchall(),
        "bare_session": lambda i: bare_idx.execute(_BARE_SESSION_SQL, [sessions[i]]).fetchall(),
        "bare_point": lambda i: bare_idx.execute(
            "SELECT * FROM events WHERE id = ?", [node_ids[i % len(node_ids)]]
        ).fetchall(),
        "bare_narrow": lambda i: bare_idx.execute(
            "SELECT seq, id FROM events WHERE session_id = ?", [sessions[i]]
        ).fetchall(),
        "floor": lambda i: bare_idx.execute("SELECT ?", [i]).fetchall(),
    }
    samples: dict[str, list[float]] = {k: [] for k in paths}
    sizes: list[int] = []
    try:
        for i in range(n + WARMUP):
            keys = list(paths)
            keys = keys[i % len(keys) :] + keys[: i % len(keys)]
            for key in keys:
                start = time.perf_counter()
                got = paths[key](i)
                took = time.perf_counter() - start
                if i >= WARMUP:
                    samples[key].append(took)
                    if key == "store_sql":
                        sizes.append(len(got))
        # The same sessions again: a store that caches context answers from memory now.
        warm = [_time(partial(store.context, s, last=10)) for s in sessions[WARMUP:]]
        # A handful of scans without an index, to show what the index buys.
        scan = [_time(partial(_fetch, bare, _BARE_SESSION_SQL, s)) for s in sessions[:20]]
    finally:
        store.close()
        bare_idx.close()
        bare.close()

    stats = {k: percentiles(v) for k, v in samples.items()}
    stats["bare_scan"] = percentiles(scan)
    stats["context_warm"] = percentiles(warm)
    base = stats["bare_point"]
    labels = {
        "context": "Store.context(session, last=10), first read of the session",
        "context_warm": "Store.context(session, last=10), same sessions again",
        "store_sql": "  its SQL alone (fetchall, no Python assembly)",
        "bare_session": "bare indexed session_id = ? (same columns)",
        "bare_point": "bare indexed point lookup id = ? (SELECT *)",
        "bare_narrow": "bare indexed session_id = ?, only seq and id",
        "floor": "floor: DuckDB round trip of SELECT ? (no table)",
        "bare_scan": "bare session_id = ? without index (20 queries)",
    }
    rows = [
        [
            label,
            stats[k]["p50_ms"],
            stats[k]["p95_ms"],
            stats[k]["p99_ms"],
            ratio(stats[k]["p50_ms"], base["p50_ms"]),
            ratio(stats[k]["p95_ms"], base["p95_ms"]),
        ]
        for k, label in labels.items()
    ]
    mean_rows = sum(sizes) / len(sizes)
    result = Result(
        NAME,
        params={"store_events": fixture.n_events, "queries": n, "mean_session_rows": mean_rows},
    )
    result.tables.append(
        Table(
            f"Context read on a store of {fixture.n_events:,} events ({n:,} random sessions, "
            f"{mean_rows:.0f} node rows each on average; ms)",
            ["path", "p50", "p95", "p99", "p50 vs point lookup", "p95 vs point lookup"],
            rows,
        )
    )
    result.notes += [f"plan of {k}: {v}" for k, v in plans.items()]
    for key, what in (("context_warm", "repeat read"), ("context", "first read after open")):
        p95 = stats[key]["p95_ms"]
        result.goals.append(
            Goal(
                f"context read p95 < 1 ms ({what})",
                f"p95 {p95:.2f} ms",
                p95 < 1.0,
                f"{p95 / base['p95_ms']:.2f}x a bare indexed point lookup "
                f"(p95 {base['p95_ms']:.2f} ms); the store's SQL alone p95 "
                f"{stats['store_sql']['p95_ms']:.2f} ms",
            )
        )
    result.data = {"percentiles": stats, "plans": plans}
    return result


def _fetch(con: Any, sql: str, param: str) -> list[Any]:
    return list(con.execute(sql, [param]).fetchall())


def _time(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _plan(con: Any, sql: str, param: str) -> str:
    """How DuckDB ran the query: the scan type and row groups scanned, from EXPLAIN ANALYZE
    (plain EXPLAIN always shows a sequential scan; the index scan is chosen at run time)."""
    text = str(con.execute("EXPLAIN ANALYZE " + sql, [param]).fetchall()[0][1])
    kinds = re.findall(r"Type: ([A-Za-z ]+?)\s*│", text)
    groups = re.findall(r"Row Groups Scanned: ([0-9 /]+?)\s*│", text)
    return f"{', '.join(kinds) or 'unknown'} (row groups scanned: {', '.join(groups) or '?'})"
