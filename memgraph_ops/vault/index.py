"""The vault index: one Delta table (`<vault>/index`) saying where every frame lives.

A row is either a session (`entry = "session"`, `key` = session id) or a shared block
(`entry = "block"`, `key` = sha256 of the block's text). Archiving appends rows; re-archiving a
session appends a row with a higher `generation` (readers take the highest); removing frames and
compacting packs rewrite the table in one commit. Every commit is atomic, so a crash leaves the
index pointing only at complete packs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Final, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from memgraph_ops.lake import delta
from memgraph_ops.model import TS

INDEX_SCHEMA: Final = pa.schema(
    [
        pa.field("entry", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("generation", pa.int64(), nullable=False),
        pa.field("tenant", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("first_at", TS),
        pa.field("last_at", TS),
        pa.field("nodes", pa.int64()),
        pa.field("edges", pa.int64()),
        pa.field("prompts", pa.int64()),
        pa.field("responses", pa.int64()),
        pa.field("tool_invocations", pa.int64()),
        pa.field("max_seq", pa.int64()),
        pa.field("raw_bytes", pa.int64()),
        pa.field("pack", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("length", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("dictionary_id", pa.int64(), nullable=False),
        pa.field("format_version", pa.int32(), nullable=False),
        pa.field("archived_at", TS, nullable=False),
        pa.field("blocks", pa.list_(pa.string())),
        # Added with group frames (a frame holds several members); an index written before
        # them reads 0 and `raw_bytes`: the member is the whole frame.
        pa.field("member_offset", pa.int64()),
        pa.field("frame_raw_bytes", pa.int64()),
    ]
)
# Only harmless columns carry file statistics: no user pseudonym in `_delta_log`.
_CONFIGURATION: Final = {
    "delta.dataSkippingStatsColumns": "entry,generation,archived_at",
    "memgraph.vaultFormat": "1",
}


def open_index(root: Path) -> DeltaTable | None:
    return delta.open_table(str(root / "index"))


def read_index(root: Path) -> tuple[int, pl.DataFrame, pl.DataFrame]:
    """(Delta version, every row, live rows: the newest generation of every key); version -1
    if there is no index yet."""
    table = open_index(root)
    if table is None:
        empty = pl.DataFrame(INDEX_SCHEMA.empty_table())
        return -1, empty, empty
    frame = conform(pl.DataFrame(pa.table(table.to_pyarrow_table())))
    live = (
        frame.sort("generation")
        .unique(["entry", "key"], keep="last", maintain_order=True)
        .sort("entry", "key")
    )
    return table.version(), frame, live


def conform(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows in the index schema, whichever version of it they were written with."""
    missing = [
        pl.lit(None, dtype=pl.Int64).alias(name)
        for name in ("member_offset", "frame_raw_bytes")
        if name not in rows.columns
    ]
    return rows.with_columns(missing).with_columns(
        pl.col("member_offset").fill_null(0),
        pl.col("frame_raw_bytes").fill_null(pl.col("raw_bytes")),
    )


def append(root: Path, rows: pl.DataFrame, *, what: str) -> None:
    """Add rows in one commit (creating the table on first use)."""
    _write(root, rows, "append", what)


def replace(root: Path, rows: pl.DataFrame, *, what: str) -> None:
    """Make `rows` the whole index in one commit, then drop the old data files (they may hold
    sessions that were removed)."""
    _write(root, rows, "overwrite", what)
    table = open_index(root)
    assert table is not None
    table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True)


def _write(root: Path, rows: pl.DataFrame, mode: Literal["append", "overwrite"], what: str) -> None:
    """One commit of `rows`; columns added since the table was created are merged in."""
    data = _arrow(root, rows)
    delta.with_retries(
        lambda: write_deltalake(
            str(root / "index"), data, mode=mode, schema_mode="merge",
            writer_properties=delta.WRITER,
        ),
        what=what,
        table=str(root / "index"),
    )  # fmt: skip


def _arrow(root: Path, rows: pl.DataFrame) -> pa.Table:
    """The rows in the index schema, creating the table on first use."""
    delta.ensure_table(
        str(root / "index"), INDEX_SCHEMA, configuration=_CONFIGURATION, partition_by=[]
    )
    return rows.select(INDEX_SCHEMA.names).to_arrow().cast(INDEX_SCHEMA)


def salvage(root: Path) -> tuple[pl.DataFrame, list[Path]]:
    """Every row found in the index's Parquet data files, read without the Delta log (for
    recovering an index whose `_delta_log` is damaged or gone), and the data files that could
    not be read. Includes the files of an earlier, interrupted recovery."""
    files = sorted(
        path
        for directory in [root / "index", *sorted(root.glob(_SALVAGED + "*"))]
        for path in directory.rglob("*.parquet")
        if "_delta_log" not in path.relative_to(directory).parts
    )
    frames, unreadable = [], []
    for path in files:
        try:
            table = pq.read_table(path)
            rows = conform(pl.DataFrame(table)).select(INDEX_SCHEMA.names)
            rows = pl.DataFrame(rows.to_arrow().cast(INDEX_SCHEMA))
        except (pa.ArrowException, pl.exceptions.PolarsError, OSError, KeyError):
            unreadable.append(path)
            continue
        frames.append(rows)
    if not frames:
        return pl.DataFrame(INDEX_SCHEMA.empty_table()), unreadable
    rows = pl.concat(frames).unique(["entry", "key", "generation"], maintain_order=True)
    return rows, unreadable


def install(root: Path, rows: pl.DataFrame) -> None:
    """Make `rows` the index, replacing whatever `index/` holds, so that a crash at any point
    leaves either the old files (still salvageable) or the new index: build the new table
    beside it, set the old one aside, swap, then delete the old one."""
    staging = root / ".index-rebuild"
    shutil.rmtree(staging, ignore_errors=True)
    append(staging, rows, what="rebuild the vault index")
    index = root / "index"
    if index.exists():
        index.rename(root / f"{_SALVAGED}{time.time_ns()}")
    (staging / "index").rename(index)
    # the new table's checksums go with it (a crash here leaves them unrecorded: `verify`
    # warns, and the next write records them)
    shutil.rmtree(delta.digests_dir(index), ignore_errors=True)
    if delta.digests_dir(staging / "index").exists():
        delta.digests_dir(index).parent.mkdir(parents=True, exist_ok=True)
        delta.digests_dir(staging / "index").rename(delta.digests_dir(index))
    shutil.rmtree(staging, ignore_errors=True)
    for old in root.glob(_SALVAGED + "*"):
        shutil.rmtree(old)


_SALVAGED = "index.salvaged-"
