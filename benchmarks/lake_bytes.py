"""Lake bytes per node on the workload generator's mix (`memgraph_ops.workload.generate`):
sum of the Delta data files of event_log + nodes + edges in the current version, divided by the
node count; per table too. Side by side: the same events as one bare Delta table (all columns,
zstd 3), the operational store's file, and the events as JSONL.

Goal (issue): < 1 KB per node.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, WriterProperties, write_deltalake

from benchmarks._common import Goal, Result, Table, dir_bytes, ratio
from benchmarks._data import Generator, to_jsonl_rows
from benchmarks.workspace import Workspace
from memgraph_ops.lake import Lake, compact
from memgraph_ops.store import Store

NAME = "lake_bytes"
TABLES = ("event_log", "nodes", "edges")


def _workload(sessions: int) -> tuple[str, Iterator[list[dict[str, Any]] | pa.Table]]:
    try:
        from memgraph_ops.workload import generate
    except ImportError:  # the generator is not there yet: our own mix
        gen = Generator(seed=3)
        return "benchmarks._data.Generator (memgraph_ops.workload missing)", iter(
            [gen.table(sessions * 40)]
        )
    return "memgraph_ops.workload.generate(seed=7)", (
        batch.events for batch in generate(sessions, seed=7)
    )


def run(ws: Workspace) -> Result:
    sessions = ws.sizes["lake_sessions"]
    directory = ws.directory / "lake-bytes"
    directory.mkdir(parents=True, exist_ok=True)
    source, batches = _workload(sessions)
    jsonl_bytes = 0
    events = 0
    quarantined = 0
    started = time.perf_counter()
    with Store.open(directory / "hot.duckdb") as store:
        for batch in batches:
            if isinstance(batch, pa.Table):
                lines = to_jsonl_rows(batch)
            else:
                lines = [json.dumps(e, ensure_ascii=False, default=str) for e in batch]
            jsonl_bytes += sum(len(line.encode()) + 1 for line in lines)
            got = store.ingest(batch)
            events += got.received
            quarantined += got.quarantined
        ingest_s = time.perf_counter() - started
        ws.log(f"  {events:,} events from {sessions:,} sessions ingested in {ingest_s:.1f}s")
        started = time.perf_counter()
        report = compact(store, Lake(str(directory / "lake")))
        compact_s = time.perf_counter() - started
        store.checkpoint()
        hot_bytes = store.counts()["bytes"]
        everything = store._con.sql("SELECT * FROM events ORDER BY seq").to_arrow_table()
    write_deltalake(
        str(directory / "bare"),
        everything,
        writer_properties=WriterProperties(compression="ZSTD", compression_level=3),
    )

    per_table: dict[str, dict[str, int]] = {}
    for name in TABLES:
        root = directory / "lake" / name
        actions = pa.table(DeltaTable(str(root)).get_add_actions(flatten=True))
        per_table[name] = {
            "rows": int(pa.compute.sum(actions["num_records"]).as_py() or 0),
            "files": actions.num_rows,
            "active_bytes": int(pa.compute.sum(actions["size_bytes"]).as_py() or 0),
            "disk_parquet_bytes": dir_bytes(root, lambda p: p.suffix == ".parquet"),
            "log_bytes": dir_bytes(root / "_delta_log"),
        }
    bare_actions = pa.table(DeltaTable(str(directory / "bare")).get_add_actions(flatten=True))
    bare_bytes = int(pa.compute.sum(bare_actions["size_bytes"]).as_py() or 0)
    nodes = per_table["nodes"]["rows"]
    edges = per_table["edges"]["rows"]
    total = sum(t["active_bytes"] for t in per_table.values())

    result = Result(
        NAME,
        params={
            "source": source,
            "sessions": sessions,
            "events": events,
            "quarantined": quarantined,
            "nodes": nodes,
            "edges": edges,
        },
    )
    rows: list[list[Any]] = []
    for name, t in per_table.items():
        rows.append(
            [
                name,
                t["rows"],
                t["files"],
                t["active_bytes"],
                round(t["active_bytes"] / max(t["rows"], 1)),
                round(t["active_bytes"] / nodes),
                t["disk_parquet_bytes"],
                t["log_bytes"],
            ]
        )
    rows.append(
        [
            "lake total (3 tables)",
            "",
            sum(t["files"] for t in per_table.values()),
            total,
            "",
            round(total / nodes),
            sum(t["disk_parquet_bytes"] for t in per_table.values()),
            sum(t["log_bytes"] for t in per_table.values()),
        ]
    )
    result.tables.append(
        Table(
            f"Lake bytes on {source}: {sessions:,} sessions, {events:,} events, {nodes:,} nodes, "
            f"{edges:,} edges",
            [
                "table",
                "rows",
                "files",
                "active bytes",
                "bytes / row",
                "bytes / node",
                "parquet on disk",
                "_delta_log bytes",
            ],
            rows,
        )
    )
    result.tables.append(
        Table(
            "Side by side (bytes per node)",
            ["form", "bytes", "bytes / node", "vs lake"],
            [
                ["lake: event_log + nodes + edges", total, round(total / nodes), 1.0],
                [
                    "bare Delta table of every event, all columns (zstd 3)",
                    bare_bytes,
                    round(bare_bytes / nodes),
                    ratio(bare_bytes, total),
                ],
                [
                    "operational store file (DuckDB, after CHECKPOINT)",
                    hot_bytes,
                    round(hot_bytes / nodes),
                    ratio(hot_bytes, total),
                ],
                [
                    "events as JSONL",
                    jsonl_bytes,
                    round(jsonl_bytes / nodes),
                    ratio(jsonl_bytes, total),
                ],
            ],
        )
    )
    columns = sorted(
        (
            (name, col, size)
            for name in TABLES
            for col, size in _column_bytes(directory / "lake" / name).items()
        ),
        key=lambda c: -c[2],
    )
    result.tables.append(
        Table(
            "Largest columns in the lake (compressed bytes in the active files)",
            ["table.column", "bytes", "bytes / node", "share of lake"],
            [
                [f"{t}.{c}", size, round(size / nodes), f"{size / total:.0%}"]
                for t, c, size in columns[:15]
            ],
        )
    )
    per_node = total / nodes
    result.goals.append(
        Goal(
            "lake bytes per node < 1 KB",
            f"{per_node:,.0f} B/node",
            per_node < 1024,
            f"event_log {per_table['event_log']['active_bytes'] / nodes:.0f} + nodes "
            f"{per_table['nodes']['active_bytes'] / nodes:.0f} + edges "
            f"{per_table['edges']['active_bytes'] / nodes:.0f} B/node",
        )
    )
    result.notes.append(
        f"ingest {ingest_s:.1f}s, compaction {compact_s:.1f}s ({report.batches} batches); "
        "no redaction (the identity redactor), so text is as generated"
    )
    result.data = {
        "per_table": per_table,
        "bare_bytes": bare_bytes,
        "hot_bytes": hot_bytes,
        "jsonl_bytes": jsonl_bytes,
        "report": report.as_dict(),
    }
    return result


def _column_bytes(root: Path) -> dict[str, int]:
    """Compressed bytes per column over the data files of the table's current version."""
    out: dict[str, int] = {}
    for file in DeltaTable(str(root)).file_uris():
        meta = pq.ParquetFile(file.removeprefix("file://")).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                name = chunk.path_in_schema.split(".")[0]
                out[name] = out.get(name, 0) + chunk.total_compressed_size
    return out
