"""The Python API: one object over a data root, for notebooks, runtimes, the CLI and Dagster.

    >>> import memgraph_ops
    >>> mg = memgraph_ops.open("store")                  # doctest: +SKIP
    >>> mg.ingest(events)                                 # HOT
    >>> mg.compact()                                      # HOT -> LAKE, exactly once
    >>> mg.store.context("session-1", last=10)            # hot read
    >>> mg.lake.nodes(as_of=3)                            # Delta time travel

The operational store is opened on first use only, because DuckDB lets one process write it:
a notebook that only reads the lake never takes the store's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from memgraph_ops.config import Settings, load_settings
from memgraph_ops.events import EventInput
from memgraph_ops.imports.files import iter_event_batches
from memgraph_ops.lake import CompactionReport, Lake, Redactor, compact, no_redaction
from memgraph_ops.privacy.pseudonyms import Pseudonymizer
from memgraph_ops.privacy.redact import PrivacyConfig
from memgraph_ops.privacy.redact import Redactor as PiiRedactor
from memgraph_ops.store import IngestResult, Store

Progress = Callable[[int, int], None]


class Memgraph:
    """A data root: operational store, lake, and the operations over them."""

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.settings = settings
        self.read_only = read_only
        self.lake = Lake(settings.lake_uri)
        self._store: Store | None = None
        self._redactor: PiiRedactor | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self.settings.home.mkdir(parents=True, exist_ok=True)
            self._store = Store.open(
                self.settings.store_path,
                read_only=self.read_only,
                memory_limit=self.settings.duckdb_memory_limit,
            )
        return self._store

    def close(self) -> None:
        if self._redactor is not None:
            self._redactor.scanner.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Memgraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest(self, events: EventInput, *, source: str = "api") -> IngestResult:
        """Validate and append events to HOT (idempotent on event_id)."""
        return self.store.ingest(events, source=source)

    def ingest_file(
        self, path: Path, *, batch_rows: int = 50_000, progress: Progress | None = None
    ) -> IngestResult:
        """Stream a JSONL or Parquet event file into HOT; returns the totals."""
        totals: dict[str, Any] = {
            "received": 0, "accepted": 0, "duplicates": 0, "quarantined": 0,
            "first_seq": None, "last_seq": None, "reasons": {},
        }  # fmt: skip
        for batch in iter_event_batches(path, batch_rows=batch_rows):
            bad = self.store.quarantine_unreadable(batch.unreadable, source=str(path))
            result = self.store.ingest(batch.events, source=str(path))
            _accumulate(totals, result, unreadable=bad)
            for _, reason in batch.unreadable:
                key = reason.split(": ", 1)[1] if ": " in reason else reason
                totals["reasons"][key] = totals["reasons"].get(key, 0) + 1
            if progress:
                progress(totals["received"], 0)
        return IngestResult(**totals)

    def redactor(self) -> Redactor:
        """The redaction applied before the lake, from the settings (built once, so its cache
        of scanned texts lives as long as this object). Raises ConfigError without a key."""
        if not self.settings.redaction:
            return no_redaction
        if self._redactor is None:
            self._redactor = PiiRedactor(
                Pseudonymizer.from_environment(self.settings.home),
                PrivacyConfig.from_mapping(self.settings.privacy),
            )
        return self._redactor

    def compact(
        self,
        *,
        redact: Redactor | None = None,
        progress: Progress | None = None,
        batch_rows: int | None = None,
    ) -> CompactionReport:
        """Move new events into the lake exactly once, redacted, then trim HOT past the hot
        window."""
        s = self.settings
        redact = redact or self.redactor()
        return compact(
            self.store,
            self.lake,
            batch_rows=batch_rows or s.compact_batch,
            hot_window=s.hot_window,
            dedupe_window=s.dedupe_window,
            redact=redact,
            lock_dir=s.home,
            progress=progress,
        )

    def status(self) -> dict[str, Any]:
        """Counts and bytes per layer."""
        hot = self.store.counts() if self.settings.store_path.exists() else {"events": 0}
        lake = self.lake.stats()
        return {
            "home": str(self.settings.home),
            "hot": hot,
            "lake": {"uri": self.settings.lake_uri, "tables": lake},
        }


def _accumulate(totals: dict[str, Any], result: IngestResult, *, unreadable: int) -> None:
    totals["received"] += result.received + unreadable
    totals["accepted"] += result.accepted
    totals["duplicates"] += result.duplicates
    totals["quarantined"] += result.quarantined + unreadable
    if result.first_seq is not None and totals["first_seq"] is None:
        totals["first_seq"] = result.first_seq
    if result.last_seq is not None:
        totals["last_seq"] = result.last_seq
    for reason, n in result.reasons.items():
        totals["reasons"][reason] = totals["reasons"].get(reason, 0) + n


def open(home: str | Path | None = None, *, read_only: bool = False, **overrides: Any) -> Memgraph:
    """Open a data root (default: `$MEMGRAPH_HOME`, else `./store`)."""
    return Memgraph(load_settings(home, **overrides), read_only=read_only)
