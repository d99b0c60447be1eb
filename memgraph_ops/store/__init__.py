"""The operational store (HOT): DuckDB file, ingest, hot reads."""

from memgraph_ops.store.hot import IngestResult, Store

__all__ = ["IngestResult", "Store"]
