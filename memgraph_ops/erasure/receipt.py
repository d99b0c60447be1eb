"""The `erasure_log`: one signed receipt per finished request, in a Delta table of the lake.

A receipt names the request id and the keyed subject hash — never the subject — with the
request and completion times, counts per layer, the files rewritten or deleted, and the result
of the byte-level verification. `signature` is HMAC-SHA256 over the canonical JSON of the rest,
with a key derived from the pseudonym key: `ErasureKeys.verify(receipt)` checks it.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import write_deltalake

from memgraph_ops.lake import _delta

LOG_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("subject_hash", pa.string(), nullable=False),
        pa.field("kind", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("mode", pa.string()),
        pa.field("status", pa.string()),
        pa.field("requested_at", pa.string()),
        pa.field("completed_at", pa.string()),
        pa.field("counts", pa.string()),
        pa.field("files_rewritten", pa.int64()),
        pa.field("verification", pa.string()),
        pa.field("signature", pa.string()),
        pa.field("receipt", pa.string()),
    ]
)
_CONFIGURATION = {"delta.dataSkippingStatsColumns": "request_id,completed_at"}


def write(lake_root: str, receipt: dict[str, Any]) -> None:
    """Append the receipt, unless this request's receipt is there already (a rerun)."""
    uri = _delta.join(lake_root, "erasure_log")
    table = _delta.ensure_table(uri, LOG_SCHEMA, configuration=_CONFIGURATION, partition_by=[])
    if read(lake_root).filter(pl.col("request_id") == receipt["request_id"]).height:
        return
    row = {
        **{k: receipt.get(k) for k in LOG_SCHEMA.names},
        "counts": json.dumps(receipt["counts"], sort_keys=True),
        "verification": json.dumps(receipt["verification"], sort_keys=True),
        "files_rewritten": len(receipt["files"]),
        "receipt": json.dumps(receipt, sort_keys=True, default=str),
    }
    data = pa.Table.from_pylist([row], schema=LOG_SCHEMA)
    _delta.with_retries(
        lambda: write_deltalake(table, data, mode="append"),
        what="writing the erasure receipt",
        table=table,
    )


def read(lake_root: str) -> pl.DataFrame:
    """Every receipt, oldest first."""
    table = _delta.open_table(_delta.join(lake_root, "erasure_log"))
    if table is None:
        return pl.DataFrame(LOG_SCHEMA.empty_table())
    return pl.DataFrame(pa.table(table.to_pyarrow_table())).sort("completed_at")
