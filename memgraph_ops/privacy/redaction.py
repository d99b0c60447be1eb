"""What a redactor returns (`Redaction`): the contract between compaction and
`memgraph_ops.privacy.redact`, kept apart so compaction can name it without loading Presidio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

FINDINGS_SCHEMA: Final = {
    "seq": pl.Int64, "event_id": pl.String, "tenant": pl.String, "session_id": pl.String,
    "kind": pl.String, "type": pl.String, "id": pl.String, "field": pl.String,
    "entity_type": pl.String, "count": pl.Int64, "max_score": pl.Float64,
}  # fmt: skip
"""One row per (event, field, entity type) found: what compaction writes to the findings
table."""


@dataclass
class Redaction:
    events: pl.DataFrame
    findings: pl.DataFrame
