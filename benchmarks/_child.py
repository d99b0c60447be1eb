"""Child processes for the compaction benchmarks, so each run has its own peak RSS.

    python -m benchmarks._child compact --store S --lake L --batch-rows N
    python -m benchmarks._child bare --store S --lake L --batch-rows N [--after-seq K]
    python -m benchmarks._child generate --events N --batch-rows N | \
        python -m benchmarks._child ingest --store S

Each prints JSON lines (see `benchmarks._common.run_child`): one per batch, then `done`.
`compact` also reports where the time went, by wrapping the compaction module's steps.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import WriterProperties, write_deltalake

from benchmarks._common import emit, vm_hwm
from memgraph_ops.lake import Lake, compact
from memgraph_ops.lake import compaction as compaction_module
from memgraph_ops.lake import tables as tables_module
from memgraph_ops.store import Store


def _max_rss() -> int:
    # VmHWM, not getrusage: ru_maxrss includes the parent's peak carried over fork/exec.
    return vm_hwm()


class _Steps:
    """Nested wall-clock timers: a step called inside another is recorded as `outer/inner`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[str] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        key = "/".join([*self._stack, name])
        self._stack.append(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self._stack.pop()
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start
            self.calls[key] = self.calls.get(key, 0) + 1

    def wrap(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.step(name):
                return fn(*args, **kwargs)

        return timed

    def wrap_iter(self, fn: Callable[..., Iterator[Any]], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            items = fn(*args, **kwargs)
            while True:
                with self.step(name):
                    item = next(items, None)
                if item is None:
                    return
                yield item

        return timed


def _instrument(steps: _Steps) -> None:
    m = compaction_module
    for name in (
        "_append_event_log",
        "_merge_nodes",
        "_merge_edges",
        "_upsert",
        "_latest_state",
        "_with_flags",
        "_merge",
        "_dangling_edges",
        "_existing_ids",
        "write_deltalake",
    ):
        if hasattr(m, name):  # the module changes; time the steps it has
            setattr(m, name, steps.wrap(getattr(m, name), name.lstrip("_")))
    m.delta.empty_commit = steps.wrap(m.delta.empty_commit, "empty_commit")  # type: ignore[attr-defined]
    Store.events_after = steps.wrap_iter(Store.events_after, "read_hot")  # type: ignore[method-assign]
    Store.trim = steps.wrap(Store.trim, "trim_hot")  # type: ignore[method-assign]
    Lake.ensure = steps.wrap(Lake.ensure, "lake_ensure")  # type: ignore[method-assign]
    tables_module.Lake.watermarks = steps.wrap(Lake.watermarks, "watermarks")  # type: ignore[method-assign]


def _compact(args: argparse.Namespace) -> None:
    steps = _Steps()
    _instrument(steps)
    started = time.perf_counter()
    last = [started]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        emit(
            event="batch",
            done=done,
            total=total,
            seconds=round(now - started, 3),
            batch_seconds=round(now - last[0], 3),
            max_rss=_max_rss(),
        )
        last[0] = now

    with Store.open(args.store) as store:
        if args.duckdb_memory_limit:
            # Benchmark-only: bounds DuckDB's buffer pool to tell its memory from delta-rs's.
            store._con.execute(f"SET memory_limit = '{args.duckdb_memory_limit}'")
        # --hot-window-s trims as it goes (the default keeps 6 hours of events in HOT)
        hours_6 = 6 * 3600.0
        hot_window = timedelta(seconds=hours_6 if args.hot_window_s is None else args.hot_window_s)
        report = compact(
            store,
            Lake(str(args.lake)),
            batch_rows=args.batch_rows,
            progress=progress,
            hot_window=hot_window,
        )
        counts = store.counts()
    emit(event="trimmed", counts=counts, file_bytes=Path(args.store).stat().st_size)
    emit(
        event="done",
        seconds=time.perf_counter() - started,
        report=report.as_dict(),
        steps=steps.seconds,
        calls=steps.calls,
        max_rss=_max_rss(),
    )


def _bare(args: argparse.Namespace) -> None:
    writer = WriterProperties(compression="ZSTD", compression_level=3)  # as the lake's writer
    read_s = write_s = 0.0
    rows = 0
    started = time.perf_counter()
    with Store.open(args.store, read_only=True) as store:
        batches = store.events_after(args.after_seq, batch_rows=args.batch_rows)
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            read_s += time.perf_counter() - t0
            if batch is None:
                break
            t0 = time.perf_counter()
            write_deltalake(str(args.lake), batch, mode="append", writer_properties=writer)
            write_s += time.perf_counter() - t0
            rows += batch.num_rows
            emit(
                event="batch",
                done=rows,
                seconds=round(time.perf_counter() - started, 3),
                max_rss=_max_rss(),
            )
    emit(
        event="done",
        seconds=time.perf_counter() - started,
        read_s=read_s,
        write_s=write_s,
        rows=rows,
        max_rss=_max_rss(),
    )


def _generate(args: argparse.Namespace) -> None:
    """Write `--events` generated events to stdout as an Arrow IPC stream, one record batch per
    `--batch-rows`: the generator's memory stays out of the process that ingests them."""
    from benchmarks._data import Generator  # the generator's corpus is only needed here

    batches = Generator(args.seed).batches(args.events, args.batch_rows)
    first = next(batches)
    with pa.ipc.new_stream(sys.stdout.buffer, first.schema) as writer:
        for table in itertools.chain([first], batches):
            writer.write_table(table.combine_chunks(), max_chunksize=args.batch_rows)


def _ingest(args: argparse.Namespace) -> None:
    """Ingest the Arrow IPC stream on stdin batch by batch, then time single-event writes on
    the full store (new ids and repeats, the dedupe path at scale) with the last 1,000 events,
    kept back for that."""
    reader = pa.ipc.open_stream(sys.stdin.buffer)
    emit(event="start", max_rss=_max_rss())
    started = time.perf_counter()
    done = 0
    with Store.open(args.store) as store:
        pending = None
        for batch in reader:
            if pending is not None:
                done += _ingest_batch(store, pending, done, args.store)
            pending = batch
        assert pending is not None and pending.num_rows >= 200, "too few events"
        kept = min(1_000, pending.num_rows)
        if pending.num_rows > kept:
            done += _ingest_batch(
                store, pending.slice(0, pending.num_rows - kept), done, args.store
            )
        ingest_s = time.perf_counter() - started
        spare = pending.slice(pending.num_rows - kept)
        singles = [pa.Table.from_batches([spare.slice(i, 1)]) for i in range(200)]
        new_ms = _timed_each(store, singles)
        repeat_ms = _timed_each(store, singles[:20])
        counts = store.counts()
    emit(
        event="done",
        seconds=ingest_s,
        events=done,
        counts=counts,
        single_new_ms=new_ms,
        single_repeat_ms=repeat_ms,
        file_bytes=Path(args.store).stat().st_size,
        max_rss=_max_rss(),
    )


def _ingest_batch(store: Store, batch: pa.RecordBatch, done: int, path: Path) -> int:
    t0 = time.perf_counter()
    accepted = store.ingest(pa.Table.from_batches([batch])).accepted
    emit(
        event="batch",
        done=done + accepted,
        batch_seconds=round(time.perf_counter() - t0, 3),
        max_rss=_max_rss(),
        file_bytes=path.stat().st_size,
    )
    return accepted


def _timed_each(store: Store, batches: list[Any]) -> list[float]:
    times = []
    for batch in batches:
        t0 = time.perf_counter()
        store.ingest(batch)
        times.append(round((time.perf_counter() - t0) * 1000, 3))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._child")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("compact", "bare"):
        p = sub.add_parser(name)
        p.add_argument("--store", type=Path, required=True)
        p.add_argument("--lake", type=Path, required=True)
        p.add_argument("--batch-rows", type=int, required=True)
        p.add_argument("--after-seq", type=int, default=0)
        p.add_argument("--duckdb-memory-limit")
        p.add_argument("--hot-window-s", type=float)
    p = sub.add_parser("ingest")
    p.add_argument("--store", type=Path, required=True)
    p = sub.add_parser("generate")
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--batch-rows", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    commands = {"compact": _compact, "bare": _bare, "ingest": _ingest, "generate": _generate}
    commands[args.command](args)


if __name__ == "__main__":
    main()
