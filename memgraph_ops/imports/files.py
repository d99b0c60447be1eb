"""Reading event files (JSONL or Parquet) in bounded batches."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from memgraph_ops.errors import InputError
from memgraph_ops.events import MAX_JSON_DEPTH


@dataclass
class EventBatch:
    """One batch read from an event file: events, and lines that could not be parsed."""

    events: list[dict[str, Any]] | pa.Table
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(raw line, reason) for lines that are not UTF-8 or not JSON objects."""

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
    """JSONL lines as events. Lines are decoded strictly: a line with bytes that are not
    UTF-8 is quarantined whole (nothing is replaced), naming where the first bad byte is. A
    UTF-8 byte order mark before the first line is skipped."""
    batch = EventBatch([])
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, start = raw[len(codecs.BOM_UTF8) :], start + len(codecs.BOM_UTF8)
            if not raw.strip():
                continue
            event = _parse_line(raw, number, start)
            if isinstance(event, dict):
                assert isinstance(batch.events, list)
                batch.events.append(event)
            else:
                batch.unreadable.append(event)
            if batch.size >= batch_rows:
                yield batch
                batch = EventBatch([])
    if batch.size:
        yield batch


def _parse_line(raw: bytes, number: int, offset: int) -> dict[str, Any] | tuple[str, str]:
    """The event of a line, or the line as text (invalid bytes as escapes) and the reason."""
    try:
        line = raw.decode()
    except UnicodeDecodeError as exc:
        text = raw.decode(errors="backslashreplace").rstrip("\r\n")
        where = f"line {number}, byte {exc.start + 1} (offset {offset + exc.start} in the file)"
        return text, f"{where}: not valid UTF-8"
    try:
        event = json.loads(line)
    except RecursionError:
        return line.rstrip("\r\n"), f"line {number}: {_too_deep('JSON')}"
    except ValueError as exc:
        return line.rstrip("\r\n"), f"line {number}: not valid JSON ({exc})"
    if not isinstance(event, dict):
        return line.rstrip("\r\n"), f"line {number}: not a JSON object"
    return event


def _too_deep(what: str) -> str:
    return f"{what} nested deeper than {MAX_JSON_DEPTH} levels"
