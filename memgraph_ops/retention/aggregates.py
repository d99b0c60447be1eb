"""Anonymous daily aggregates kept when sessions are deleted at expiry.

Delta table `retention_aggregates` in the lake: one row per deleted session and day, holding
only counts, token sums and a latency histogram, keyed by an opaque contribution id (a sha256 of
the session id, so a rerun after a crash adds nothing twice). No user, no content, no session
id. `daily()` sums the rows per day and tenant.

The latency sketch is a histogram of `RESPONDS_TO.latency_ms` in buckets a quarter power of
two wide (bucket b holds 2^(b/4) <= ms < 2^((b+1)/4); bucket 0 also holds < 1 ms): histograms
add up across sessions and days, and a percentile read from them is within 19% of the exact one.
"""

from __future__ import annotations

import hashlib
from typing import Final

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from memgraph_ops.lake import Lake, delta
from memgraph_ops.vault.payload import SessionRows

TABLE: Final = "retention_aggregates"
BUCKETS: Final = 96
SCHEMA: Final = pa.schema(
    [
        pa.field("contribution", pa.string(), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("tenant", pa.string()),
        pa.field("sessions", pa.int64()),
        pa.field("prompts", pa.int64()),
        pa.field("responses", pa.int64()),
        pa.field("tool_invocations", pa.int64()),
        pa.field("tool_errors", pa.int64()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("total_tokens", pa.int64()),
        pa.field("latency_count", pa.int64()),
        pa.field("latency_sum_ms", pa.float64()),
        pa.field("latency_buckets", pa.list_(pa.int64())),
    ]
)


def contributions(rows: SessionRows) -> pl.DataFrame:
    """The aggregate rows of some sessions' nodes and edges (any number of sessions)."""
    nodes, edges = rows.nodes, rows.edges
    key = pl.col("session_id").map_elements(_contribution, return_dtype=pl.String)
    day = pl.col("created_at").dt.date().alias("day")
    n = (
        nodes.with_columns(day, key.alias("contribution"))
        .group_by("contribution", "day")
        .agg(
            pl.col("tenant").drop_nulls().first(),
            (pl.col("type") == "Session").sum().cast(pl.Int64).alias("sessions"),
            (pl.col("type") == "Prompt").sum().cast(pl.Int64).alias("prompts"),
            (pl.col("type") == "Response").sum().cast(pl.Int64).alias("responses"),
            (pl.col("type") == "ToolInvocation").sum().cast(pl.Int64).alias("tool_invocations"),
            ((pl.col("type") == "ToolInvocation") & (pl.col("success") == False))  # noqa: E712
            .sum()
            .cast(pl.Int64)
            .alias("tool_errors"),
            *(
                pl.col(c).filter(pl.col("type") == "Response").sum().cast(pl.Int64)
                for c in ("prompt_tokens", "completion_tokens", "total_tokens")
            ),
        )
    )
    latency = edges.filter((pl.col("type") == "RESPONDS_TO") & pl.col("latency_ms").is_not_null())
    bucket = (
        (pl.col("latency_ms").clip(lower_bound=1.0).log(2) * 4)
        .floor()
        .clip(0, BUCKETS - 1)
        .cast(pl.Int64)
    )
    per_bucket = (
        latency.with_columns(day, key.alias("contribution"), bucket.alias("b"))
        .group_by("contribution", "day", "b")
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("latency_ms").sum().alias("ms"))
        .group_by("contribution", "day")
        .agg(
            pl.col("n").sum().alias("latency_count"),
            pl.col("ms").sum().alias("latency_sum_ms"),
            pl.col("b"),
            pl.col("n").alias("counts"),
        )
    )
    sketch = per_bucket.drop("b", "counts").with_columns(
        pl.Series(
            "latency_buckets",
            [_histogram(b, c) for b, c in per_bucket.select("b", "counts").iter_rows()],
            dtype=pl.List(pl.Int64),
        )
    )
    out = n.join(sketch, on=["contribution", "day"], how="full", coalesce=True)
    return pl.DataFrame(
        out.with_columns(pl.col(c).fill_null(0) for c in SCHEMA.names[3:13])
        .select(SCHEMA.names)
        .to_arrow()
        .cast(SCHEMA)
    )


def record(lake: Lake, rows: pl.DataFrame) -> int:
    """Add contributions not recorded yet (one MERGE); returns rows inserted."""
    if rows.is_empty():
        return 0
    uri = lake.uri(TABLE)
    table = delta.ensure_table(uri, SCHEMA, configuration={}, partition_by=[])
    data = rows.to_arrow().cast(SCHEMA)

    def merge(target: DeltaTable = table) -> int:
        target.update_incremental()
        metrics = (
            target.merge(
                data,
                predicate="t.contribution = s.contribution AND t.day = s.day",
                source_alias="s",
                target_alias="t",
            )
            .when_not_matched_insert_all()
            .execute()
        )
        return int(metrics.get("num_target_rows_inserted", 0))

    return delta.with_retries(merge, what=f"record {rows.height} retention aggregates", table=uri)


def daily(lake: Lake) -> pl.DataFrame:
    """Aggregates of deleted sessions per day and tenant."""
    table = lake.table(TABLE)
    if table is None:
        return pl.DataFrame(SCHEMA.empty_table()).drop("contribution")
    frame = pl.scan_delta(table)
    keys = ["day", "tenant"]
    totals = frame.group_by(keys).agg(pl.col(c).sum() for c in SCHEMA.names[3:13])
    histograms = (
        frame.select(*keys, "latency_buckets")
        .drop_nulls("latency_buckets")
        .with_columns(b=pl.int_ranges(0, pl.col("latency_buckets").list.len()))
        .explode("latency_buckets", "b")
        .group_by(*keys, "b")
        .agg(pl.col("latency_buckets").sum())
        .sort("b")
        .group_by(keys, maintain_order=True)
        .agg("latency_buckets")
    )
    return totals.join(histograms, on=keys, how="left", nulls_equal=True).sort(keys).collect()


def _contribution(session_id: str) -> str:
    return hashlib.sha256(f"memgraph-retention:{session_id}".encode()).hexdigest()[:32]


def _histogram(buckets: list[int], counts: list[int]) -> list[int]:
    out = [0] * BUCKETS
    for b, n in zip(buckets, counts, strict=True):
        out[b] = n
    return out
