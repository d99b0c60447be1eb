"""Batch ingest: `Store.ingest(arrow_table)` vs a bare DuckDB Arrow insert of the same rows;
and JSONL through `Memgraph.ingest_file` (the dict path) vs bare parsers.

Goals (issue): >= 100k events/s, and <= 2x the bare insert's time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

import memgraph_ops
from benchmarks._common import Goal, Result, Table, profile_top, ratio
from benchmarks._data import Generator, to_jsonl_rows
from benchmarks._hot import BARE_DDL, N_INDEXES, breakdown_rows, instrument
from benchmarks.workspace import Workspace
from memgraph_ops import api
from memgraph_ops.imports.files import iter_event_batches
from memgraph_ops.model import EVENT_SCHEMA
from memgraph_ops.store import Store, _duckdb

NAME = "ingest"


def run(ws: Workspace) -> Result:
    fixture = ws.hot()
    n = fixture.n_events
    totals = {k: sum(b[f"{k}_s"] for b in fixture.batches) for k in ("store", "bare", "bare_idx")}
    result = Result(
        NAME,
        params={
            "events": n,
            "batch_rows": ws.sizes["ingest_batch"],
            "jsonl_events": ws.sizes["jsonl_events"],
        },
    )
    result.tables.append(
        Table(
            f"Batch ingest of {n:,} events in batches of {ws.sizes['ingest_batch']:,} "
            "(each batch one transaction, interleaved)",
            ["path", "seconds", "events/s", "time vs bare insert"],
            [
                [
                    "Store.ingest(arrow_table)",
                    round(totals["store"], 2),
                    round(n / totals["store"]),
                    ratio(totals["store"], totals["bare"]),
                ],
                [
                    "bare DuckDB Arrow insert, no indexes",
                    round(totals["bare"], 2),
                    round(n / totals["bare"]),
                    1.0,
                ],
                [
                    f"bare DuckDB Arrow insert, same {N_INDEXES} indexes",
                    round(totals["bare_idx"], 2),
                    round(n / totals["bare_idx"]),
                    ratio(totals["bare_idx"], totals["bare"]),
                ],
            ],
        )
    )
    result.tables.append(
        Table(
            "Per batch (seconds; index maintenance grows with the table on both sides)",
            ["batch", "rows", "Store.ingest", "bare", f"bare + {N_INDEXES} idx", "store / bare"],
            [
                [
                    int(b["batch"]),
                    int(b["rows"]),
                    round(b["store_s"], 3),
                    round(b["bare_s"], 3),
                    round(b["bare_idx_s"], 3),
                    ratio(b["store_s"], b["bare_s"]),
                ]
                for b in fixture.batches
            ],
        )
    )
    result.tables.append(
        Table(
            "Where Store.ingest spends its time (all batches; ms per 1k events)",
            ["step", "seconds", "ms / 1k events", "share", "what"],
            breakdown_rows(fixture.steps, totals["store"], n / 1000, "whole ingest"),
        )
    )
    scratch = Generator(seed=13).table(ws.sizes["ingest_batch"]).slice(0, ws.sizes["ingest_batch"])
    with Store.open(ws.directory / "profile" / "hot.duckdb") as store:
        top = profile_top(lambda: store.ingest(scratch))
    result.tables.append(
        Table(
            f"cProfile of one batch of {scratch.num_rows:,} into an empty store: most own time",
            ["function", "calls", "own s", "cumulative s"],
            top,
        )
    )
    events_per_s = n / totals["store"]
    slowdown = totals["store"] / totals["bare"]
    result.goals += [
        Goal(
            "batch ingest >= 100k events/s",
            f"{events_per_s:,.0f} events/s",
            events_per_s >= 100_000,
            f"{events_per_s / 100_000:.2f}x of target",
        ),
        Goal(
            "batch ingest <= 2x bare DuckDB Arrow insert (no indexes)",
            f"{slowdown:.2f}x",
            slowdown <= 2.0,
            f"vs bare with the same {N_INDEXES} indexes: "
            f"{totals['store'] / totals['bare_idx']:.2f}x",
        ),
    ]
    result.data = {"totals_s": totals, "batches": fixture.batches, "steps_s": fixture.steps}
    _jsonl(ws, result)
    return result


def _jsonl(ws: Workspace, result: Result) -> None:
    n = ws.sizes["jsonl_events"]
    directory = ws.directory / "jsonl"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "events.jsonl"
    table = Generator(seed=11).table(n).slice(0, n)
    lines = to_jsonl_rows(table)
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    ws.log(f"  JSONL: {n:,} events, {size / 2**20:.0f} MiB")

    start = time.perf_counter()
    for line in path.read_text().splitlines():
        json.loads(line)
    parse_s = time.perf_counter() - start

    start = time.perf_counter()
    for _ in iter_event_batches(path, batch_rows=50_000):
        pass
    batches_s = time.perf_counter() - start

    steps: dict[str, float] = {}

    def timed_batches(*args: Any, **kwargs: Any) -> Iterator[Any]:
        batches = iter_event_batches(*args, **kwargs)
        while True:
            start = time.perf_counter()
            batch = next(batches, None)
            steps["read"] = steps.get("read", 0.0) + time.perf_counter() - start
            if batch is None:
                return
            yield batch

    with memgraph_ops.open(directory / "home") as mg, instrument(mg.store, steps):
        setattr(api, "iter_event_batches", timed_batches)  # noqa: B010 (a private name)
        try:
            start = time.perf_counter()
            got = mg.ingest_file(path)
            ingest_s = time.perf_counter() - start
        finally:
            setattr(api, "iter_event_batches", iter_event_batches)  # noqa: B010
    if got.accepted != n:
        raise RuntimeError(f"ingest_file accepted {got.accepted} of {n}: {got.reasons}")
    in_store_s = sum(v for k, v in steps.items() if k != "read")

    con = duckdb.connect(str(directory / "bare.duckdb"))
    con.execute(BARE_DDL)
    columns = ", ".join(f"'{f.name}': '{_duckdb._DUCK_TYPES[str(f.type)]}'" for f in EVENT_SCHEMA)
    start = time.perf_counter()
    con.execute(
        "INSERT INTO events SELECT row_number() OVER () AS seq, now() AS ingested_at, * "
        f"FROM read_json(?, format='newline_delimited', columns={{{columns}}})",
        [str(path)],
    )
    duck_s = time.perf_counter() - start
    con.close()

    result.tables.append(
        Table(
            f"JSONL ingest of {n:,} events ({size / 2**20:.0f} MiB, absent fields omitted)",
            ["path", "seconds", "events/s", "time vs DuckDB read_json"],
            [
                [
                    "Memgraph.ingest_file (dict path, 50k batches)",
                    round(ingest_s, 2),
                    round(n / ingest_s),
                    ratio(ingest_s, duck_s),
                ],
                [
                    "  of which reading + json.loads (iter_event_batches)",
                    round(batches_s, 2),
                    round(n / batches_s),
                    ratio(batches_s, duck_s),
                ],
                [
                    "  of which to_frame (dicts -> polars)",
                    round(steps.get("to_frame", 0), 2),
                    "",
                    "",
                ],
                [
                    "  of which the rest of Store.ingest",
                    round(in_store_s - steps.get("to_frame", 0), 2),
                    "",
                    "",
                ],
                [
                    "bare json.loads of every line",
                    round(parse_s, 2),
                    round(n / parse_s),
                    ratio(parse_s, duck_s),
                ],
                [
                    "bare DuckDB read_json -> INSERT, no indexes",
                    round(duck_s, 2),
                    round(n / duck_s),
                    1.0,
                ],
                [
                    "Store.ingest(arrow) rate from the batch benchmark",
                    "",
                    round(
                        result.data["totals_s"]["store"]
                        and sum(b["rows"] for b in result.data["batches"])
                        / result.data["totals_s"]["store"]
                    ),
                    "",
                ],
            ],
        )
    )
    result.tables.append(
        Table(
            "Where Memgraph.ingest_file spends its time (ms per 1k events)",
            ["step", "seconds", "ms / 1k events", "share", "what"],
            breakdown_rows(steps, ingest_s, n / 1000, "whole ingest_file"),
        )
    )
    result.data["jsonl"] = {
        "events": n,
        "bytes": size,
        "ingest_file_s": ingest_s,
        "read_parse_s": batches_s,
        "json_loads_s": parse_s,
        "duckdb_read_json_s": duck_s,
        "steps_s": steps,
    }
    Path(path).unlink()
