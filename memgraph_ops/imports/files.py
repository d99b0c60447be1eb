"""Reading event files (JSONL or Parquet) in bounded batches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from memgraph_ops.errors import InputError


@dataclass
class EventBatch:
    """One batch read from an event file: events, and lines that could not be parsed."""

    events: list[dict[str, Any]] | pa.Table
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(raw line, reason) for lines that are not JSON objects."""

    @property
    def size(self) -> int:
        rows = self.events.num_rows if isinstance(self.events, pa.Table) else len(self.events)
        return rows + len(self.unreadable)


def event_file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise InputError(
        f"{path}: unknown event file format; use .jsonl/.ndjson (one JSON event per line) "
        "or .parquet"
    )


def iter_event_batches(path: Path, *, batch_rows: int = 50_000) -> Iterator[EventBatch]:
    """Stream an event file in batches of at most `batch_rows` events."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if event_file_format(path) == "parquet":
        try:
            reader = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
        for batch in reader.iter_batches(batch_size=batch_rows):
            yield EventBatch(pa.Table.from_batches([batch]))
        return
    yield from _jsonl_batches(path, batch_rows)


def _jsonl_batches(path: Path, batch_rows: int) -> Iterator[EventBatch]:
    batch = EventBatch([])
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError as exc:
                batch.unreadable.append(
                    (line.rstrip("\n"), f"line {number}: not valid JSON ({exc})")
                )
            else:
                if isinstance(event, dict):
                    assert isinstance(batch.events, list)
                    batch.events.append(event)
                else:
                    batch.unreadable.append(
                        (line.rstrip("\n"), f"line {number}: not a JSON object")
                    )
            if batch.size >= batch_rows:
                yield batch
                batch = EventBatch([])
    if batch.size:
        yield batch
