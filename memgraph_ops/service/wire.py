"""What the server and its clients exchange: media types, Arrow IPC and JSON encodings.

Shared by `memgraph_ops.service.app` and `memgraph_ops.client`; imports no web framework.
Tables travel as Arrow IPC streams (types kept exactly, so a remote read equals the embedded
one); nested results (a session's context, a node) as JSON, with times as RFC 3339 text that
`revive` turns back into datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, Final

import pyarrow as pa

ARROW: Final = "application/vnd.apache.arrow.stream"
JSON: Final = "application/json"
NDJSON: Final = "application/x-ndjson"
NDJSON_ALIASES: Final = frozenset({NDJSON, "application/jsonl", "application/jsonlines"})

TIME_KEYS: Final = frozenset(
    {"occurred_at", "ingested_at", "created_at", "updated_at", "expires_at", "restored_at",
     "quarantined_at", "last_at", "retired_at"}
)  # fmt: skip
"""Keys whose values are times in the store's results (JSON carries them as text)."""


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def read_ipc(data: bytes) -> pa.Table:
    """An Arrow IPC stream as a table. Raises ValueError naming the problem if the bytes are
    not a complete stream."""
    if not data:
        raise ValueError("the body is empty, not an Arrow IPC stream")
    try:
        return pa.ipc.open_stream(data).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"not a complete Arrow IPC stream ({exc})") from None


class _Chunks:
    """A write-only file for pyarrow that hands out what was written so far."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(self._parts[-1])

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def ipc_stream(tables: Iterable[pa.Table], schema: pa.Schema) -> Iterator[bytes]:
    """One Arrow IPC stream, sent as it is produced: one record batch per table, so the reader
    gets the tables back as they were cut (`iter_ipc_tables`)."""
    sink = _Chunks()
    with pa.ipc.new_stream(sink, schema) as writer:
        for table in tables:
            for batch in table.cast(schema).combine_chunks().to_batches():
                writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=_default, ensure_ascii=False).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


def revive(value: Any) -> Any:
    """JSON from the server with the store's times back as datetimes (see `TIME_KEYS`)."""
    if isinstance(value, list):
        return [revive(v) for v in value]
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v) if k in TIME_KEYS and isinstance(v, str) else revive(v)
            for k, v in value.items()
        }
    return value
