"""Compaction HOT -> LAKE: `memgraph_ops.lake.compact` vs a bare `write_deltalake` of the same
events, each in its own child process (peak RSS: its VmHWM).

- `compaction`: the run's `hot_events` into an empty lake, then an incremental batch (new
  sessions plus updates of existing sessions) into the now non-empty lake, since MERGE cost
  grows with the target table. Goal (issue): <= 2x the bare write.
- `compaction_rss`: peak RSS compacting `rss_events` (5M; 500k with --quick). Goal: < 2 GiB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from benchmarks._common import (
    ChildRun,
    Goal,
    Result,
    Table,
    copy_store,
    dir_bytes,
    gib,
    mib,
    ratio,
    run_child,
)
from benchmarks._data import Generator
from benchmarks.workspace import Workspace
from memgraph_ops.model import EVENT_SCHEMA
from memgraph_ops.store import Store

GiB = 2**30
CAPPED = "256MB"
CHILD = "benchmarks._child"

# Steps as the child names them (nested ones with `/`), in report order.
STEP_LABELS = [
    ("lake_ensure", "open/create the 3 Delta tables"),
    ("watermarks", "read the watermarks"),
    ("read_hot", "read events from HOT (DuckDB -> Arrow)"),
    ("append_event_log", "append event_log"),
    ("merge_nodes", "nodes: total"),
    ("merge_nodes/latest_state", "  nodes: latest state per id (polars)"),
    ("merge_nodes/with_flags", "  nodes: build MERGE source"),
    ("merge_nodes/merge", "  nodes: Delta MERGE"),
    ("merge_nodes/upsert", "  nodes: append new ids, MERGE known ids"),
    ("merge_nodes/upsert/existing_ids", "    nodes: which ids the lake holds (scan)"),
    ("merge_nodes/upsert/write_deltalake", "    nodes: append the new ids"),
    ("merge_nodes/upsert/with_flags", "    nodes: build MERGE source"),
    ("merge_nodes/upsert/merge", "    nodes: Delta MERGE of the known ids"),
    ("merge_edges", "edges: total"),
    ("merge_edges/latest_state", "  edges: latest state per id (polars)"),
    ("merge_edges/dangling_edges", "  edges: scan lake for dangling edges"),
    ("merge_edges/existing_ids", "  edges: scan lake nodes for endpoints"),
    ("merge_edges/with_flags", "  edges: build MERGE source"),
    ("merge_edges/merge", "  edges: Delta MERGE"),
    ("merge_edges/upsert", "  edges: append new ids, MERGE known ids"),
    ("merge_edges/upsert/existing_ids", "    edges: which ids the lake holds (scan)"),
    ("merge_edges/upsert/write_deltalake", "    edges: append the new ids"),
    ("merge_edges/upsert/with_flags", "    edges: build MERGE source"),
    ("merge_edges/upsert/merge", "    edges: Delta MERGE of the known ids"),
    ("empty_commit", "empty commits (watermark only)"),
    ("trim_hot", "trim HOT"),
]
TOP_LEVEL = [k for k, _ in STEP_LABELS if "/" not in k]


def _compact(
    store: Path, lake: Path, batch_rows: int, timeout_s: float, memory_limit: str | None = None
) -> ChildRun:
    args = ["compact", "--store", str(store), "--lake", str(lake), "--batch-rows", str(batch_rows)]
    if memory_limit:
        args += ["--duckdb-memory-limit", memory_limit]
    return run_child(CHILD, args, timeout_s=timeout_s)


def _bare(store: Path, lake: Path, batch_rows: int, after: int, timeout_s: float) -> ChildRun:
    return run_child(
        CHILD,
        [
            "bare",
            "--store",
            str(store),
            "--lake",
            str(lake),
            "--batch-rows",
            str(batch_rows),
            "--after-seq",
            str(after),
        ],
        timeout_s=timeout_s,
    )


def _check(run: ChildRun, what: str) -> dict[str, Any]:
    if run.returncode != 0 or not run.final:
        raise RuntimeError(
            f"{what} child failed (rc {run.returncode}, timed out {run.timed_out}): {run.stderr}"
        )
    return run.final


def _active_bytes(uri: Path) -> tuple[int, int]:
    """(bytes of the data files in the current version, rows)."""
    actions = pa.table(DeltaTable(str(uri)).get_add_actions(flatten=True))
    return int(pa.compute.sum(actions["size_bytes"]).as_py() or 0), int(
        pa.compute.sum(actions["num_records"]).as_py() or 0
    )


def _lake_bytes(lake: Path) -> int:
    return sum(_active_bytes(lake / t)[0] for t in ("event_log", "nodes", "edges"))


def _incremental_events(store_path: Path, n: int) -> tuple[pa.Table, pa.Table]:
    """`n` new events: 90% new sessions, 10% updates (new tags) of existing sessions."""
    updates = n // 10
    fresh = Generator(seed=21, globals_first=False).table(n - updates).slice(0, n - updates)
    with Store.open(store_path, read_only=True) as store:
        sample = store._con.sql(
            "SELECT * FROM (SELECT * FROM events WHERE kind = 'node' AND type = 'Session') "
            f"USING SAMPLE reservoir({updates} ROWS) REPEATABLE (21)"
        ).to_arrow_table()
    changed = (
        pl.from_arrow(sample.select(EVENT_SCHEMA.names))
        .with_columns(  # type: ignore[union-attr]
            event_id=pl.col("event_id") + "-update",
            occurred_at=pl.col("occurred_at") + pl.duration(days=1),
            tags=pl.lit(["prod", "reviewed"]),
        )
        .to_arrow()
        .cast(EVENT_SCHEMA)
    )
    return fresh, changed


def _steps_rows(runs: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
    rows = []
    for key, label in STEP_LABELS:
        if not any(key in done["steps"] for _, done in runs):
            continue
        row: list[Any] = [label]
        for _, done in runs:
            s = done["steps"].get(key, 0.0)
            row += [round(s, 2), f"{s / done['seconds']:.0%}"]
        rows.append(row)
    row = ["other (pl.from_arrow, update_incremental, app_version, ...)"]
    for _, done in runs:
        other = done["seconds"] - sum(done["steps"].get(k, 0.0) for k in TOP_LEVEL)
        row += [round(other, 2), f"{other / done['seconds']:.0%}"]
    rows.append(row)
    row = ["total"]
    for _, done in runs:
        row += [round(done["seconds"], 2), "100%"]
    rows.append(row)
    return rows


def run_throughput(ws: Workspace) -> Result:
    fixture = ws.hot()
    n = fixture.n_events
    batch_rows = ws.sizes["compact_batch"]
    m = ws.sizes["incremental_events"]
    directory = ws.directory / "compaction"
    store = copy_store(fixture.store_path, directory / "hot.duckdb")
    lake, bare_lake = directory / "lake", directory / "bare-lake"
    timeout = 1800.0

    ws.log(f"  compact {n:,} events into an empty lake (batch_rows {batch_rows:,})")
    c1 = _compact(store, lake, batch_rows, timeout)
    first = _check(c1, "compact")
    first_run_rss = c1.max_rss_bytes
    ws.log(f"  bare write_deltalake of the same {n:,} events")
    b1run = _bare(store, bare_lake, batch_rows, 0, timeout)
    bare1 = _check(b1run, "bare")
    lake_after_first = _lake_bytes(lake)
    bare_bytes_first = _active_bytes(bare_lake)[0]

    fresh, changed = _incremental_events(store, m)
    with Store.open(store) as handle:
        before = handle.max_seq()
        got = handle.ingest(fresh).accepted + handle.ingest(changed).accepted
    ws.log(f"  incremental: compact {got:,} more events into the lake of {n:,}")
    c2 = _compact(store, lake, batch_rows, timeout)
    second = _check(c2, "compact (incremental)")
    b2run = _bare(store, bare_lake, batch_rows, before, timeout)
    bare2 = _check(b2run, "bare (incremental)")

    nodes_bytes, nodes_rows = _active_bytes(lake / "nodes")
    result = Result(
        "compaction",
        params={"events": n, "batch_rows": batch_rows, "incremental_events": got},
    )
    rows = []
    for label, done, bare, run_rss, bare_rss, events in (
        (
            f"first: {n:,} events into an empty lake",
            first,
            bare1,
            first_run_rss,
            b1run.max_rss_bytes,
            n,
        ),
        (
            f"incremental: {got:,} events into a lake of {n:,}",
            second,
            bare2,
            c2.max_rss_bytes,
            b2run.max_rss_bytes,
            got,
        ),
    ):
        bare_total = bare["read_s"] + bare["write_s"]
        rows += [
            [label, "", "", "", ""],
            [
                "  compact (event_log + nodes MERGE + edges MERGE)",
                round(done["seconds"], 2),
                round(events / done["seconds"]),
                ratio(done["seconds"], bare_total),
                mib(run_rss),
            ],
            [
                "  bare: read HOT + write_deltalake append",
                round(bare_total, 2),
                round(events / bare_total),
                1.0,
                mib(bare_rss),
            ],
            [
                "    of which write_deltalake",
                round(bare["write_s"], 2),
                round(events / bare["write_s"]),
                ratio(bare["write_s"], bare_total),
                "",
            ],
        ]
    result.tables.append(
        Table(
            "Compaction vs bare write_deltalake (zstd 3 both; each in its own process)",
            ["run", "seconds", "events/s", "time vs bare", "peak RSS MiB"],
            rows,
        )
    )
    result.tables.append(
        Table(
            "Where compaction spends its time (seconds, share of the run)",
            ["step", "first s", "share", "incremental s", "share"],
            _steps_rows([("first", first), ("incremental", second)]),
        )
    )
    batches = [msg for msg in c1.messages if msg.get("event") == "batch"]
    result.tables.append(
        Table(
            "Per batch of the first run: MERGE cost grows with the target table",
            ["batch", "events done", "batch seconds", "peak RSS MiB so far"],
            [
                [i + 1, b["done"], b["batch_seconds"], mib(b["max_rss"])]
                for i, b in enumerate(batches)
            ],
        )
    )
    result.tables.append(
        Table(
            "Lake written",
            ["what", "bytes", "per event"],
            [
                [
                    "lake after first run (3 tables, active files)",
                    lake_after_first,
                    round(lake_after_first / n),
                ],
                [
                    "bare events table (all columns, active files)",
                    bare_bytes_first,
                    round(bare_bytes_first / n),
                ],
                [f"nodes table: {nodes_rows:,} rows", nodes_bytes, ""],
            ],
        )
    )
    r1 = first["seconds"] / (bare1["read_s"] + bare1["write_s"])
    r2 = second["seconds"] / (bare2["read_s"] + bare2["write_s"])
    result.goals += [
        Goal(
            "compaction into an empty lake <= 2x bare write_deltalake",
            f"{r1:.2f}x",
            r1 <= 2.0,
            f"{n / first['seconds']:,.0f} events/s vs "
            f"{n / (bare1['read_s'] + bare1['write_s']):,.0f}; vs write alone "
            f"{first['seconds'] / bare1['write_s']:.2f}x",
        ),
        Goal(
            "incremental compaction <= 2x bare append",
            f"{r2:.2f}x",
            r2 <= 2.0,
            f"{got / second['seconds']:,.0f} events/s into a lake of {n:,} events; vs write "
            f"alone {second['seconds'] / bare2['write_s']:.2f}x",
        ),
    ]
    result.data = {
        "first": first,
        "bare_first": bare1,
        "incremental": second,
        "bare_incremental": bare2,
        "rss": {
            "first": first_run_rss,
            "bare_first": b1run.max_rss_bytes,
            "incremental": c2.max_rss_bytes,
            "bare_incremental": b2run.max_rss_bytes,
        },
        "batches_first": batches,
        "lake_bytes_first": lake_after_first,
        "bare_bytes_first": bare_bytes_first,
    }
    return result


def run_rss(ws: Workspace) -> Result:
    n = ws.sizes["rss_events"]
    batch_rows = ws.sizes["compact_batch"]
    fixture = ws.hot(n, bare=False)
    directory = ws.directory / "compaction-rss"
    store = copy_store(fixture.store_path, directory / "hot.duckdb")
    timeout = float(ws.sizes["rss_timeout_s"])
    ws.log(f"  compact {n:,} events (batch_rows {batch_rows:,}, timeout {timeout:.0f}s)")
    run = _compact(store, directory / "lake", batch_rows, timeout)
    batches = [msg for msg in run.messages if msg.get("event") == "batch"]
    done = run.final
    reached = batches[-1]["done"] if batches else 0
    ws.log(f"  bare write_deltalake of the same {n:,} events")
    bare_run = _bare(store, directory / "bare-lake", batch_rows, 0, timeout)
    bare = _check(bare_run, "bare")
    ws.log(f"  again, with DuckDB's buffer pool capped at {CAPPED} (RSS attribution)")
    capped = _compact(store, directory / "lake-capped", batch_rows, timeout, CAPPED)
    capped_batches = [msg for msg in capped.messages if msg.get("event") == "batch"]
    capped_done = capped_batches[-1]["done"] if capped_batches else 0
    capped_s = capped.final.get("seconds", capped.seconds)

    result = Result(
        "compaction_rss",
        params={
            "events": n,
            "batch_rows": batch_rows,
            "timeout_s": timeout,
            "store_bytes": fixture.store_path.stat().st_size,
        },
    )
    seconds = done.get("seconds", run.seconds)
    bare_total = bare["read_s"] + bare["write_s"]
    result.tables.append(
        Table(
            f"Peak RSS compacting {n:,} events (store file {gib(fixture.store_path.stat().st_size)}"
            " GiB; each in its own process)",
            ["run", "events", "seconds", "events/s", "peak RSS MiB", "time vs bare"],
            [
                [
                    "compact" + (" (TIMED OUT)" if run.timed_out else ""),
                    reached,
                    round(seconds, 1),
                    round(reached / seconds),
                    mib(run.max_rss_bytes),
                    ratio(seconds, bare_total) if not run.timed_out else "",
                ],
                [
                    f"compact, DuckDB memory_limit {CAPPED}"
                    + (" (TIMED OUT)" if capped.timed_out else ""),
                    capped_done,
                    round(capped_s, 1),
                    round(capped_done / capped_s),
                    mib(capped.max_rss_bytes),
                    "",
                ],
                [
                    "bare: read HOT + write_deltalake",
                    bare["rows"],
                    round(bare_total, 1),
                    round(bare["rows"] / bare_total),
                    mib(bare_run.max_rss_bytes),
                    1.0,
                ],
            ],
        )
    )
    pick = (
        sorted({0, len(batches) // 4, len(batches) // 2, 3 * len(batches) // 4, len(batches) - 1})
        if batches
        else []
    )
    result.tables.append(
        Table(
            "Selected batches: time per batch and peak RSS so far",
            [
                "batch",
                "events done",
                "batch seconds",
                "peak RSS MiB so far",
                f"same, DuckDB capped at {CAPPED}",
            ],
            [
                [
                    i + 1,
                    batches[i]["done"],
                    batches[i]["batch_seconds"],
                    mib(batches[i]["max_rss"]),
                    mib(capped_batches[i]["max_rss"]) if i < len(capped_batches) else "",
                ]
                for i in pick
            ],
        )
    )
    if done:
        result.tables.append(
            Table(
                "Where compaction spends its time (seconds, share of the run)",
                ["step", "seconds", "share"],
                _steps_rows([("run", done)]),
            )
        )
    peak = run.max_rss_bytes
    result.goals.append(
        Goal(
            f"peak RSS compacting {n:,} events < 2 GiB",
            f"{gib(peak):.2f} GiB",
            peak < 2 * GiB and not run.timed_out and reached == n,
            ("TIMED OUT after " if run.timed_out else "finished in ") + f"{seconds:.0f}s, "
            f"{reached:,} of {n:,} events; bare write_deltalake peak {gib(bare_run.max_rss_bytes)}"
            " GiB",
        )
    )
    if run.returncode != 0 and not run.timed_out:
        result.notes.append(f"compact child failed: {run.stderr}")
    result.data = {
        "compact": done,
        "batches": batches,
        "max_rss": peak,
        "bare": bare,
        "bare_max_rss": bare_run.max_rss_bytes,
        "timed_out": run.timed_out,
        "capped": {
            "limit": CAPPED,
            "max_rss": capped.max_rss_bytes,
            "batches": capped_batches,
            "seconds": capped_s,
        },
        "lake_bytes": dir_bytes(directory / "lake"),
    }
    return result
