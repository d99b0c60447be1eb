"""The Delta lake: tables, reads (with time travel) and exactly-once compaction from HOT."""

from memgraph_ops.lake.compaction import CompactionReport, Redactor, compact, no_redaction
from memgraph_ops.lake.tables import Lake

__all__ = ["CompactionReport", "Lake", "Redactor", "compact", "no_redaction"]
