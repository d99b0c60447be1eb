"""Which event ids the store has seen, held in memory as 64-bit hashes.

Deduplication asks, for every event ingested, whether its `event_id` is among the events in
HOT or the ids remembered for the dedupe window after their events were trimmed. An ART index
on the id column answered that, at about 86 bytes per id of DuckDB memory that stayed in use,
so ingest ran out of the 1 GB memory limit at 4.7M events, short of a day of traffic (10M). Here an
id costs 8 bytes (DuckDB's `hash` of it, in a sorted array), and a lookup is a binary search.

A hash match is only a "maybe": two ids can share a hash. The store confirms matches against
its tables (a scan, paid only for real repeats and one-in-2^64 collisions), so a new event is
never taken for a duplicate. The set may hold hashes of ids the store no longer has (erased,
expired from the window); that costs a confirmation, never an event.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

HASHES_SQL = (
    "SELECT hash(event_id) AS h FROM events UNION ALL SELECT hash(event_id) FROM retired_events"
)
"""The hashes of every event id the store holds (the set is rebuilt from this)."""


class SeenHashes:
    """A set of UInt64 hashes in three tiers, so that both a one-event lookup and adding stay
    cheap at 10M hashes: a sorted main array; a sorted middle one of up to an eighth of it;
    and a Python set of the latest additions. Each tier is merged into the next once it is
    full (timsort merges the two sorted runs in linear time, ~0.1 s into a main of 10M); a
    lookup is two binary searches and a set lookup, a few microseconds for one event (numpy:
    a polars call costs tens). Hashes are never removed: the store rebuilds the set."""

    _SMALL = 65_536

    def __init__(self, hashes: pa.Array | pa.ChunkedArray) -> None:
        self._lock = threading.Lock()  # (two stores on one file may use it from two threads)
        self._main = np.sort(_uint64(hashes), kind="stable")
        self._middle = np.empty(0, np.uint64)
        self._small: set[int] = set()

    def __len__(self) -> int:
        return len(self._main) + len(self._middle) + len(self._small)

    def contains(self, hashes: pl.Series) -> pl.Series:
        """Boolean Series: whether each hash may have been seen."""
        with self._lock:
            return self._contains(hashes)

    def _contains(self, hashes: pl.Series) -> pl.Series:
        query = hashes.cast(pl.UInt64).to_numpy()
        found = _in_sorted(self._main, query) | _in_sorted(self._middle, query)
        if self._small and len(query) <= 64:
            found |= np.fromiter((int(h) in self._small for h in query), bool, len(query))
        elif self._small:
            small = np.sort(np.fromiter(self._small, np.uint64, len(self._small)))
            found |= _in_sorted(small, query)
        return pl.Series(hashes.name, found)

    def add(self, hashes: pl.Series) -> None:
        with self._lock:
            self._add(hashes)

    def _add(self, hashes: pl.Series) -> None:
        self._small.update(hashes.drop_nulls().to_list())
        if len(self._small) > self._SMALL:
            # A hash may end up twice (a collision of new ids): a binary search still finds it.
            self._middle = _merged(self._middle, np.fromiter(self._small, np.uint64))
            self._small = set()
            if len(self._middle) > max(self._SMALL, len(self._main) // 8):
                self._main = _merged(self._main, self._middle)
                self._middle = np.empty(0, np.uint64)


class SeenSlot:
    """The seen set of one store file, shared by every `Store` of this process on that file:
    DuckDB lets a process open a file more than once, and the stores must deduplicate against
    each other. `hashes` is None until built, and after a store dropped or remembered ids."""

    def __init__(self) -> None:
        self.hashes: SeenHashes | None = None
        self.span_traces: set[str] | None = None
        """Trace ids with OpenTelemetry spans kept (`otel_spans`), or None until read: most
        deliveries are of new traces, and this answers "nothing kept" without a query (which
        waits for the store's lock, held by the commit in progress)."""


_SLOTS: weakref.WeakValueDictionary[str, SeenSlot] = weakref.WeakValueDictionary()
_SLOTS_LOCK = threading.Lock()


def slot_for(path: Path) -> SeenSlot:
    """The slot of the store file at `path` (one per file while any store holds it)."""
    key = str(path.resolve())
    with _SLOTS_LOCK:
        slot = _SLOTS.get(key)
        if slot is None:
            slot = _SLOTS[key] = SeenSlot()
        return slot


def _uint64(hashes: pa.Array | pa.ChunkedArray) -> np.ndarray:
    array = hashes.combine_chunks() if isinstance(hashes, pa.ChunkedArray) else hashes
    return np.asarray(array.cast(pa.uint64()).to_numpy(zero_copy_only=False), np.uint64)


def _in_sorted(sorted_: np.ndarray, query: np.ndarray) -> np.ndarray:
    if not len(sorted_):
        return np.zeros(len(query), bool)
    # Searching in sorted order touches the big array's memory in order: 4x faster for 100k.
    order = np.argsort(query, kind="stable")
    at = np.empty(len(query), np.intp)
    at[order] = np.searchsorted(sorted_, query[order])
    found: np.ndarray = sorted_[np.minimum(at, len(sorted_) - 1)] == query
    return found


def _merged(sorted_: np.ndarray, more: np.ndarray) -> np.ndarray:
    return np.sort(np.concatenate([sorted_, np.sort(more)]), kind="stable")
