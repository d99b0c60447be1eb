"""The operational store (HOT): DuckDB file, ingest, hot reads."""

from memgraph_ops.store import _duckdb
from memgraph_ops.store.hot import (
    QUARANTINE_RAW_CHARS,
    IngestResult,
    SpanStage,
    Store,
    StoreIdentity,
)
from memgraph_ops.store.subject import SubjectRows, file_places

file_leftovers = _duckdb.file_leftovers
remove_file_leftovers = _duckdb.remove_file_leftovers

__all__ = [
    "QUARANTINE_RAW_CHARS",
    "IngestResult",
    "SpanStage",
    "Store",
    "StoreIdentity",
    "SubjectRows",
    "file_leftovers",
    "file_places",
    "remove_file_leftovers",
]
