"""The benchmark run's workspace: sizes (full or quick), a temp directory, shared fixtures."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._hot import HotFixture, build_hot

FULL = {
    "hot_events": 1_000_000,
    "ingest_batch": 100_000,
    "jsonl_events": 200_000,
    "single_events": 2_000,
    "context_queries": 2_000,
    "compact_batch": 100_000,  # the library's default
    "incremental_events": 100_000,
    "rss_events": 5_000_000,
    "rss_timeout_s": 900,
    "scale_events": 10_000_000,
    "scale_timeout_s": 2_400,
    "lake_sessions": 5_000,
}
QUICK = {
    "hot_events": 300_000,
    "ingest_batch": 100_000,
    "jsonl_events": 30_000,
    "single_events": 300,
    "context_queries": 500,
    "compact_batch": 100_000,
    "incremental_events": 50_000,
    "rss_events": 500_000,
    "rss_timeout_s": 600,
    "scale_events": 300_000,
    "scale_timeout_s": 600,
    "lake_sessions": 300,
}


@dataclass
class Workspace:
    quick: bool
    directory: Path
    sizes: dict[str, int] = field(default_factory=dict)
    _hot: dict[tuple[int, bool], HotFixture] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sizes = dict(QUICK if self.quick else FULL)

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def hot(self, n_events: int | None = None, *, bare: bool = True) -> HotFixture:
        """A closed store of `n_events` (default: the run's `hot_events`), built once per run."""
        n = n_events or self.sizes["hot_events"]
        for (size, has_bare), fixture in self._hot.items():
            if size == n and (has_bare or not bare):
                return fixture
        self.log(f"building a store of {n:,} events (+ bare DuckDB copies: {bare})")
        fixture = build_hot(
            n,
            self.directory / f"hot-{n}{'-bare' if bare else ''}",
            batch_rows=self.sizes["ingest_batch"],
            bare=bare,
            log=self.log,
        )
        self._hot[(n, bare)] = fixture
        return fixture
