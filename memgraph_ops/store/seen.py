"""Which event ids the store has seen, held in memory as 64-bit hashes.

Deduplication asks, for every event ingested, whether its `event_id` is among the events in
HOT or the ids remembered for the dedupe window after their events were trimmed. An ART index
on the id column answered that, at about 86 bytes of DuckDB memory per id that cannot be
evicted, so a day of traffic (10M events) ran the store out of its 1 GB memory limit. Here an
id costs 8 bytes (DuckDB's `hash` of it, in a sorted array), and a lookup is a binary search.

A hash match is only a "maybe": two ids can share a hash. The store confirms matches against
its tables (a scan, paid only for real repeats and one-in-2^64 collisions), so a new event is
never taken for a duplicate. The set may hold hashes of ids the store no longer has (erased,
expired from the window); that costs a confirmation, never an event.
"""

from __future__ import annotations

import polars as pl

HASHES_SQL = (
    "SELECT hash(event_id) AS h FROM events UNION ALL SELECT hash(event_id) FROM retired_events"
)
"""The hashes of every event id the store holds (the set is rebuilt from this)."""


class SeenHashes:
    """A set of UInt64 hashes: a sorted main array plus recent additions that are
    merged into it once they grow past an eighth of it (so adding stays amortised O(1) per id
    and a lookup is one binary search plus one small hash lookup)."""

    def __init__(self, hashes: pl.Series) -> None:
        self._main = hashes.cast(pl.UInt64).sort()
        self._recent: list[pl.Series] = []
        self._recent_len = 0

    def __len__(self) -> int:
        return len(self._main) + self._recent_len

    def contains(self, hashes: pl.Series) -> pl.Series:
        """Boolean Series: whether each hash may have been seen."""
        hashes = hashes.cast(pl.UInt64)
        if hashes.is_empty() or not len(self):
            return pl.Series(hashes.name, [False] * len(hashes), pl.Boolean)
        found = pl.Series(hashes.name, [False] * len(hashes), pl.Boolean)
        if len(self._main):
            at = self._main.search_sorted(hashes, side="left").clip(0, len(self._main) - 1)
            found = self._main.gather(at) == hashes
        if self._recent:
            self._merge_recent()
            found = found | hashes.is_in(self._recent[0].implode())
        return found.fill_null(False)

    def add(self, hashes: pl.Series) -> None:
        if hashes.is_empty():
            return
        self._recent.append(hashes.cast(pl.UInt64))
        self._recent_len += len(hashes)
        if self._recent_len > max(65_536, len(self._main) // 8):
            # A linear merge of two sorted arrays (~0.3 s at 10M). A hash may appear twice (a
            # collision of new ids): a binary search still finds it.
            recent = pl.concat(self._recent).sort().to_frame("h")
            self._main = self._main.to_frame("h").merge_sorted(recent, "h").to_series()
            self._recent, self._recent_len = [], 0

    def _merge_recent(self) -> None:
        if len(self._recent) > 1:
            self._recent = [pl.concat(self._recent)]
