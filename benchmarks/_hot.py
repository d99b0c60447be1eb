"""Building operational stores for the benchmarks, side by side with bare DuckDB tables, and
timing where `Store.ingest` spends its time (without touching library code: the store's
private steps are wrapped for the duration of a measurement)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks._data import Generator, with_store_columns
from memgraph_ops import events as events_module
from memgraph_ops.store import Store, _duckdb
from memgraph_ops.store import hot as hot_module

BARE_DDL = f"CREATE TABLE IF NOT EXISTS events (\n  {_duckdb._columns_ddl()}\n);"
# The store's own indexes on `events`, read from its DDL so the baseline follows the schema.
INDEX_DDL = "\n".join(
    line
    for line in _duckdb.SCHEMA_DDL.splitlines()
    if line.startswith("CREATE INDEX") and " ON events " in line
)
N_INDEXES = INDEX_DDL.count("CREATE INDEX")

STEPS = (
    "read",
    "to_frame",
    "node_types",
    "validate",
    "validate/json_validity",
    "validate/build_checks",
    "validate/endpoint_checks",
    "fresh",
    "insert",
    "meta",
    "quarantine",
    "commit",
)
STEP_NOTES = {
    "read": "reading the file, json.loads per line (ingest_file only)",
    "to_frame": "normalise input to an EVENT_SCHEMA frame (polars)",
    "node_types": "SQL lookup of the types of edge endpoints already in the store",
    "validate": "validation (polars expressions, JSON check), all of it",
    "validate/json_validity": "  of which: JSON fields valid? (events._with_json_validity)",
    "validate/build_checks": "  of which: building the check expressions (events._checks)",
    "validate/endpoint_checks": "  of which: edge endpoint types (events._endpoint_*)",
    "fresh": "dedupe: event ids already in HOT (anti-join, or point lookups)",
    "insert": "INSERT INTO events (into the transaction's local storage)",
    "meta": "UPDATE meta next_seq",
    "quarantine": "quarantine insert (no-op when nothing is invalid)",
    "commit": f"COMMIT: rows merged into the table and its {N_INDEXES} indexes, WAL, fsync",
    "other": "rest: seq/ingested_at columns, Arrow cast, result bookkeeping",
}
# Helpers inside `memgraph_ops.events.validate`, timed when the library has them.
_VALIDATE_HELPERS = {
    "_with_json_validity": "validate/json_validity",
    "_checks": "validate/build_checks",
    "_endpoint_checks": "validate/endpoint_checks",
    "_endpoint_types": "validate/endpoint_checks",
}


def bare_connect(path: Path, *, indexes: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB file with the store's `events` columns and, optionally, its indexes."""
    con = duckdb.connect(str(path))
    con.execute(BARE_DDL)
    if indexes:
        con.execute(INDEX_DDL)
    return con


def bare_insert(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    con.register("_batch", table)
    con.execute("INSERT INTO events SELECT * FROM _batch")
    con.unregister("_batch")


class _TimedConnection:
    """Delegates to a DuckDB connection, timing the store's write statements."""

    def __init__(self, con: Any, into: dict[str, float]) -> None:
        self._con = con
        self._into = into

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        head = " ".join(sql.split())[:24]
        step = (
            "insert"
            if head.startswith("INSERT INTO events")
            else "meta"
            if head.startswith("UPDATE meta")
            else "commit"
            if head.startswith("COMMIT")
            else None
        )
        if step is None:
            return self._con.execute(sql, *args, **kwargs)
        start = time.perf_counter()
        try:
            return self._con.execute(sql, *args, **kwargs)
        finally:
            self._into[step] = self._into.get(step, 0.0) + time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _wrap(fn: Callable[..., Any], into: dict[str, float], step: str) -> Callable[..., Any]:
    def timed_fn(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[step] = into.get(step, 0.0) + time.perf_counter() - start

    return timed_fn


@contextmanager
def instrument(store: Store, into: dict[str, float]) -> Iterator[None]:
    """Time the steps of `store.ingest` into `into` (seconds per step, summed over calls)."""
    # Module functions are looked up at call time, so patching the module's names is enough.
    patched: dict[tuple[Any, str], str] = {
        (hot_module, "to_frame"): "to_frame",
        (hot_module, "validate"): "validate",
        **{(events_module, n): step for n, step in _VALIDATE_HELPERS.items()},
        **{(store, n): n.lstrip("_") for n in ("_node_types", "_fresh", "_quarantine")},
    }
    saved = {key: getattr(*key) for key in patched if hasattr(*key)}
    for (owner, name), fn in saved.items():
        setattr(owner, name, _wrap(fn, into, patched[owner, name]))
    con = store._con
    store._con = _TimedConnection(con, into)  # type: ignore[assignment]
    try:
        yield
    finally:
        store._con = con
        for (owner, name), fn in saved.items():
            if owner is store:
                store.__dict__.pop(name, None)  # back to the class's method
            else:
                setattr(owner, name, fn)


def breakdown_rows(steps: dict[str, float], total: float, per: float, unit: str) -> list[list[Any]]:
    """Rows (step, total s, per-unit ms, share) with `other` = total minus the steps."""
    rows = []
    named = 0.0
    for step in STEPS:
        if step in steps:
            if "/" not in step:
                named += steps[step]
            rows.append(
                [
                    step,
                    round(steps[step], 3),
                    round(steps[step] / per * 1000, 4),
                    f"{steps[step] / total:.0%}",
                    STEP_NOTES[step],
                ]
            )
    other = max(total - named, 0.0)
    rows.append(
        [
            "other",
            round(other, 3),
            round(other / per * 1000, 4),
            f"{other / total:.0%}",
            STEP_NOTES["other"],
        ]
    )
    rows.append(["total", round(total, 3), round(total / per * 1000, 4), "100%", unit])
    return rows


@dataclass
class HotFixture:
    """A store of `n_events` events plus the same rows in bare DuckDB files, all closed."""

    n_events: int
    directory: Path
    store_path: Path
    bare_path: Path | None
    bare_idx_path: Path | None
    sessions: list[str]
    batches: list[dict[str, float]] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)
    generate_s: float = 0.0


def build_hot(
    n_events: int,
    directory: Path,
    *,
    batch_rows: int = 100_000,
    bare: bool = True,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> HotFixture:
    """Ingest `n_events` generated events in batches through `Store.ingest` and, interleaved
    batch by batch, through a bare Arrow insert into DuckDB tables with and without indexes."""
    directory.mkdir(parents=True, exist_ok=True)
    fixture = HotFixture(
        n_events=n_events,
        directory=directory,
        store_path=directory / "hot.duckdb",
        bare_path=directory / "bare.duckdb" if bare else None,
        bare_idx_path=directory / "bare_idx.duckdb" if bare else None,
        sessions=[],
    )
    gen = Generator(seed)
    store = Store.open(fixture.store_path)
    cons: dict[str, duckdb.DuckDBPyConnection] = {}
    if bare:
        assert fixture.bare_path and fixture.bare_idx_path
        cons["bare"] = bare_connect(fixture.bare_path, indexes=False)
        cons["bare_idx"] = bare_connect(fixture.bare_idx_path, indexes=True)
    seq = 1
    started = time.perf_counter()
    try:
        batches = gen.batches(n_events, batch_rows)
        for number in range(1, 10**9):
            t0 = time.perf_counter()
            batch = next(batches, None)
            if batch is None:
                break
            stored = with_store_columns(batch, seq) if bare else None
            is_session = pc.equal(batch.column("type"), "Session")
            fixture.sessions += pc.filter(batch.column("id"), is_session).to_pylist()
            fixture.generate_s += time.perf_counter() - t0
            seq += batch.num_rows
            row: dict[str, float] = {"batch": number, "rows": batch.num_rows}
            order = ["store", *cons]
            shift = number % len(order)  # rotate, so no side is always first
            for who in order[shift:] + order[:shift]:
                start = time.perf_counter()
                if who == "store":
                    with instrument(store, fixture.steps):
                        result = store.ingest(batch)
                    if result.accepted != batch.num_rows:
                        raise RuntimeError(f"store accepted {result.accepted}: {result.reasons}")
                else:
                    bare_insert(cons[who], stored)
                row[f"{who}_s"] = time.perf_counter() - start
            fixture.batches.append(row)
            log(
                f"  batch {number}: {batch.num_rows:,} rows  store {row['store_s']:.2f}s"
                + "".join(f"  {k} {row[f'{k}_s']:.2f}s" for k in cons)
            )
    finally:
        store.close()
        for con in cons.values():
            con.close()
    # The last session may be cut off by the end of the data; every other one is whole.
    fixture.sessions = fixture.sessions[:-1]
    log(f"  built {n_events:,} events in {time.perf_counter() - started:.1f}s")
    return fixture


def arrow_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts without null fields, as a runtime would send them one at a time."""
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]
