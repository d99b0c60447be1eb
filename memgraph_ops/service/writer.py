"""Group commit: one writer thread owns every write to the store.

Requests put their batch on a bounded queue and wait on a future. The thread takes the first
item, gathers more until the commit window has passed (default 2 ms) or a size cap is reached,
commits the whole group with one `Store.ingest_many` (one transaction) and only then answers
each future: an acknowledged event is durable. A full queue refuses at once (`QueueFull`, the
app answers 503 with Retry-After) instead of dropping anything.

Other writes (the operator endpoints: trim, restore, renumbering) run on the same thread as
jobs, in queue order, so the store has one writer and reads need no other coordination (the
store serialises its connection itself).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from memgraph_ops.errors import MemgraphError
from memgraph_ops.events import EventInput
from memgraph_ops.store import IngestResult, SpanStage, Store

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_WINDOW_MS = 2.0
DEFAULT_QUEUE_SIZE = 1024
MAX_GROUP_BATCHES = 512
"""Most requests committed in one transaction."""
MAX_GROUP_EVENTS = 200_000
"""Most events gathered into one transaction (a big Arrow batch commits alone)."""


class QueueFull(MemgraphError):
    """The write queue is full: retry after a moment."""


class WriterStopped(MemgraphError):
    """The writer is shutting down (or died): this server takes no more writes."""


@dataclass
class _Ingest:
    batch: EventInput
    source: str
    size: int
    owner: str | None
    spans: SpanStage | None = None
    future: Future[IngestResult] = field(default_factory=Future)


@dataclass
class _Job:
    run: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


CommitObserver = Callable[[int, int, float], None]
"""Told (requests, events, seconds) after each group commit."""


class GroupWriter:
    def __init__(
        self,
        store: Store,
        *,
        window_ms: float = DEFAULT_WINDOW_MS,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        on_commit: CommitObserver | None = None,
    ) -> None:
        self.store = store
        self.window = window_ms / 1000
        self.queue_size = queue_size
        self._queue: queue.Queue[_Ingest | _Job | None] = queue.Queue(maxsize=queue_size)
        self._on_commit = on_commit
        self._stopping = False
        self._gate = threading.Lock()
        self._held: _Ingest | _Job | None = None
        self._thread = threading.Thread(target=self._loop, name="memgraph-writer", daemon=True)
        self._thread.start()

    # the requests' side ------------------------------------------------------------------

    def submit(
        self,
        batch: EventInput,
        *,
        source: str,
        owner: str | None = None,
        spans: SpanStage | None = None,
    ) -> Future[IngestResult]:
        """Queue a batch (written for tenant `owner`, when a tenant key sent it; with
        OpenTelemetry `spans` to keep in the same commit); the future is answered after the
        commit that holds it."""
        size = batch.num_rows if isinstance(batch, pa.Table) else len(batch)  # type: ignore[arg-type]
        item = _Ingest(batch, source, size, owner, spans)
        self._put(item)
        return item.future

    def run(self, job: Callable[[], T]) -> Future[T]:
        """Run a write on the writer thread, in queue order."""
        item = _Job(job)
        self._put(item)
        return item.future

    def _put(self, item: _Ingest | _Job) -> None:
        # Under the lock, so nothing can be queued behind the stop sentinel (and never answered).
        with self._gate:
            if self._stopping or not self._thread.is_alive():
                raise WriterStopped("the server is shutting down and takes no more writes")
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                raise QueueFull(
                    f"the write queue is full ({self.queue_size} requests waiting); retry shortly"
                ) from None

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    @property
    def full(self) -> bool:
        return self._queue.full()

    def close(self, timeout: float | None = None) -> None:
        """Take no more writes, commit everything already queued, stop the thread."""
        with self._gate:
            self._stopping = True
        # The sentinel goes behind everything accepted; wait for room rather than drop it.
        self._queue.put(None)
        self._thread.join(timeout)

    # the writer thread -------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            item = self._held or self._queue.get()
            self._held = None
            if item is None:
                return
            if isinstance(item, _Job):
                _answer(item.future, item.run)
                continue
            group = [item]
            if self._gather(group):
                self._commit(group)
                return
            self._commit(group)

    def _gather(self, group: list[_Ingest]) -> bool:
        """Add queued ingests to `group` until the window passes or a cap is reached. A job met
        on the way is held for the next round (it runs after this commit, in order). Returns
        True if the stop sentinel came (the group is still committed)."""
        deadline = time.monotonic() + self.window
        events = group[0].size
        while len(group) < MAX_GROUP_BATCHES and events < MAX_GROUP_EVENTS:
            remaining = deadline - time.monotonic()
            try:
                nxt = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                return False
            if nxt is None:
                return True
            if isinstance(nxt, _Job) or events + nxt.size > MAX_GROUP_EVENTS:
                self._held = nxt
                return False
            group.append(nxt)
            events += nxt.size
        return False

    def _commit(self, group: list[_Ingest]) -> None:
        started = time.perf_counter()
        # ingest_many takes one source per transaction; the source tells whose quarantine rows
        # are whose, so a group with several sources commits once per source, in order.
        by_source: dict[tuple[str, str | None], list[_Ingest]] = {}
        for item in group:
            by_source.setdefault((item.source, item.owner), []).append(item)
        for (source, owner), items in by_source.items():
            try:
                results = self.store.ingest_many(
                    [i.batch for i in items],
                    source=source,
                    owner=owner,
                    spans=[i.spans for i in items if i.spans is not None],
                )
            except Exception as exc:
                if len(items) == 1:
                    items[0].future.set_exception(exc)
                    continue
                # One bad batch (say, a shape the store refuses) must not fail its neighbours:
                # commit each alone so only that one gets the error.
                for i in items:
                    _answer(i.future, functools.partial(self._alone, i, source, owner))
                continue
            for i, result in zip(items, results, strict=True):
                i.future.set_result(result)
            if self._on_commit:
                seconds = time.perf_counter() - started
                self._on_commit(len(items), sum(i.size for i in items), seconds)

    def _alone(self, item: _Ingest, source: str, owner: str | None) -> IngestResult:
        spans = [item.spans] if item.spans is not None else []
        return self.store.ingest_many([item.batch], source=source, owner=owner, spans=spans)[0]


def _answer(future: Future[Any], run: Callable[[], Any]) -> None:
    try:
        future.set_result(run())
    except BaseException as exc:  # handed to the request that asked, never lost
        future.set_exception(exc)
