"""The operational store (HOT): DuckDB file, ingest, hot reads."""

from memgraph_ops.store.hot import QUARANTINE_RAW_CHARS, IngestResult, Store, StoreIdentity

__all__ = ["QUARANTINE_RAW_CHARS", "IngestResult", "Store", "StoreIdentity"]
