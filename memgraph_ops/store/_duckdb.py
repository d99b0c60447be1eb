"""Thin wrapper around DuckDB: opening the file with clear errors, the HOT schema, and
rewriting the file without its free blocks."""

from __future__ import annotations

import glob
import os
import re
import uuid
from pathlib import Path

import duckdb

from memgraph_ops._failpoints import failpoint
from memgraph_ops._files import fsync_dir
from memgraph_ops.errors import ConfigError, StoreCorruptError, StoreError, StoreLockedError
from memgraph_ops.model import SCHEMA_VERSION, STORED_EVENT_SCHEMA

_DUCK_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp[us, tz=UTC]": "TIMESTAMPTZ",
    "list<item: string>": "VARCHAR[]",
}


def _columns_ddl() -> str:
    return ",\n  ".join(
        f"{f.name} {_DUCK_TYPES[str(f.type)]}{'' if f.nullable else ' NOT NULL'}"
        for f in STORED_EVENT_SCHEMA
    )


SCHEMA_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  {_columns_ddl()}
);
CREATE INDEX IF NOT EXISTS events_session ON events (session_id);
-- Point reads by item id go through an index on the id's 64-bit hash: ~38 bytes of memory per
-- event where an index on the id itself took ~93 (an ART index stays in memory).
CREATE INDEX IF NOT EXISTS events_id_hash ON events ((hash(id)));
DROP INDEX IF EXISTS events_id;
-- No index on event_id: deduplication keeps the ids' hashes in memory (`store.seen`); an
-- ART index cost ~86 bytes of memory per id, kept in memory: ingest hit the 1 GB limit at 4.7M.
DROP INDEX IF EXISTS events_event_id;
CREATE TABLE IF NOT EXISTS retired_events (
  event_id VARCHAR NOT NULL, id VARCHAR, seq BIGINT NOT NULL, retired_at TIMESTAMPTZ NOT NULL
);
DROP INDEX IF EXISTS retired_event_id;
-- Sessions restored from the vault: a read copy with an expiry, never compacted again (the
-- vault keeps the session of record). Rows carry the seq they had when they were compacted.
CREATE TABLE IF NOT EXISTS restored_events (
  {_columns_ddl()}
);
CREATE INDEX IF NOT EXISTS restored_session ON restored_events (session_id);
CREATE INDEX IF NOT EXISTS restored_id_hash ON restored_events ((hash(id)));
DROP INDEX IF EXISTS restored_id;
CREATE TABLE IF NOT EXISTS vault_restores (
  session_id VARCHAR PRIMARY KEY, generation BIGINT NOT NULL, events BIGINT NOT NULL,
  restored_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL
);
-- OpenTelemetry spans as they arrived, so a trace split over many requests (or whose parent
-- span comes last) is mapped from all of its spans (`memgraph_ops.imports.otel`).
-- `session_id` is the session the trace maps to (erasure deletes a subject's spans by it).
CREATE TABLE IF NOT EXISTS otel_spans (
  tenant VARCHAR NOT NULL, trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL,
  session_id VARCHAR NOT NULL, span VARCHAR NOT NULL, received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_spans_trace ON otel_spans ((hash(trace_id)));
-- Custom node and edge types per tenant (`memgraph_ops.graph_types`): every registration is a
-- new version, kept, so the definition an event was validated against can be read back.
CREATE TABLE IF NOT EXISTS graph_types (
  tenant VARCHAR NOT NULL, version BIGINT NOT NULL, registered_at TIMESTAMPTZ NOT NULL,
  definition VARCHAR NOT NULL, PRIMARY KEY (tenant, version)
);
CREATE TABLE IF NOT EXISTS quarantine (
  quarantined_at TIMESTAMPTZ NOT NULL, source VARCHAR, event_id VARCHAR,
  reason VARCHAR NOT NULL, raw VARCHAR
);
"""


def memory_size(text: str) -> str:
    """A DuckDB memory size such as `512MB` or `2GB`, checked (it goes into a SET statement)."""
    if not re.fullmatch(r"\d+(?:\.\d+)?\s*(?:[KMGT]i?B|B)", text.strip(), re.IGNORECASE):
        raise ConfigError(f"duckdb_memory_limit must look like 512MB or 2GB, got {text!r}")
    return text.strip()


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store's DuckDB file, creating it (and its directory) if needed."""
    if read_only and not path.exists():
        raise StoreError(f"no operational store at {path}: ingest something first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        corrupt = corrupt_error(path, exc)
        if corrupt is not None:
            raise corrupt from exc
        if not isinstance(exc, duckdb.IOException):
            raise
        if "lock on file" in str(exc).lower() or "conflicting lock" in str(exc).lower():
            raise StoreLockedError(
                f"the operational store {path} is open for writing in another process "
                f"(DuckDB allows one writer): stop that process or run this command in it. "
                f"DuckDB said: {exc}"
            ) from exc
        raise StoreError(f"cannot open the operational store {path}: {exc}") from exc


_CORRUPT = re.compile(
    r"(?i)corrupt|checksum|could not read enough bytes|wal.*(?:invalid|damaged|mismatch)"
)


def corrupt_error(path: Path, exc: BaseException) -> StoreCorruptError | None:
    """A StoreCorruptError naming the store's file if DuckDB's error says the file (or its
    WAL) is damaged or truncated, else None. For any DuckDB call on the store: DuckDB checks a
    block's checksum only when it reads the block, so damage can surface in any query."""
    if not isinstance(exc, duckdb.Error) or not _CORRUPT.search(str(exc)):
        return None
    said = " ".join(str(exc).split())
    wal = path.with_name(path.name + ".wal")
    culprit = wal if "wal" in said.lower() and wal.exists() else path
    return StoreCorruptError(
        f"the operational store's file {culprit} is damaged ({said}). Nothing more is written "
        "to it. Run `memgraph-ops verify` to see what is still readable and how to repair it "
        "(restore from a backup, or rebuild the file when every table still reads back)"
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the HOT tables, or check that an existing file has a schema we understand."""
    con.execute(SCHEMA_DDL)
    _check_hash_indexes(con)
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    row = rows[0] if rows else None
    if row is None:
        con.execute(
            "INSERT INTO meta VALUES ('schema_version', ?), ('next_seq', '1'), ('store_id', ?), "
            "('seq_base', '0')",
            [SCHEMA_VERSION, uuid.uuid4().hex],
        )
    elif int(row[0]) > SCHEMA_VERSION:
        raise StoreError(
            f"the store was written by a newer memgraph_ops (schema {row[0]}, this one knows "
            f"{SCHEMA_VERSION}): upgrade memgraph_ops"
        )
    elif not con.execute("SELECT 1 FROM meta WHERE key = 'store_id'").fetchall():
        # A file from before stores had an identity: it is the store its lake was built from.
        con.execute(
            "INSERT INTO meta VALUES ('store_id', ?), ('seq_base', '0'), ('legacy', '1')",
            [uuid.uuid4().hex],
        )


_HASH_INDEXES = {"events_id_hash": "events", "restored_id_hash": "restored_events"}


def _check_hash_indexes(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the `hash(id)` indexes if this DuckDB hashes differently from the one that built
    them (an upgrade): the index would silently find nothing. A probe value in `meta` says."""
    (probe,) = con.execute("SELECT CAST(hash('memgraph_ops') AS VARCHAR)").fetchall()[0]
    stored = con.execute("SELECT value FROM meta WHERE key = 'id_hash_probe'").fetchall()
    if stored and stored[0][0] == probe:
        return
    if stored:
        for index, table in _HASH_INDEXES.items():
            con.execute(f"DROP INDEX IF EXISTS {index}")
            con.execute(f"CREATE INDEX {index} ON {table} ((hash(id)))")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('id_hash_probe', ?)", [probe])


REWRITE_MARK = ".erasure-"
"""Temporary copies of a DuckDB file being rewritten are named `.<file>.erasure-…` (earlier
versions added the pid, so a rerun after a crash never found the old copy)."""


def file_leftovers(path: Path) -> list[Path]:
    """Temporary copies (and their WALs) an interrupted rewrite of the store file `path` left
    behind: each is a full copy of HOT, other people's raw text included."""
    pattern = glob.escape(f".{path.name}{REWRITE_MARK}") + "*"
    return sorted(p for p in path.parent.glob(pattern) if p.is_file() or p.is_symlink())


def remove_file_leftovers(path: Path) -> list[str]:
    """Delete what `file_leftovers` finds; returns the paths deleted. Works with the store
    closed or absent. Only while nothing rewrites the file (erasure holds its lock)."""
    removed = []
    for stale in file_leftovers(path):
        stale.unlink(missing_ok=True)
        removed.append(str(stale))
    if removed:
        fsync_dir(path.parent)
    return removed


def copy_live(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Copy the live data of `con`'s database (the file `path`) into a fresh file beside it
    (after deleting any earlier copy); returns the copy's path."""
    fresh = path.with_name(f".{path.name}{REWRITE_MARK}rewrite")
    remove_file_leftovers(path)
    con.execute("CHECKPOINT")
    # a bound parameter, never a literal built from the path (a quote in the data root broke
    # the statement and left the raw bytes in HOT's free blocks)
    con.execute("ATTACH ? AS _fresh", [str(fresh)])
    try:
        (name,) = con.execute("SELECT current_database()").fetchall()[0]
        # an identifier cannot be bound: quoted (the name comes from DuckDB, not from data)
        con.execute(f"COPY FROM DATABASE {ident(name)} TO _fresh")
    finally:
        con.execute("DETACH _fresh")
    return fresh


def replace_file(path: Path, fresh: Path) -> int:
    """Replace the closed DuckDB file `path` by `fresh` (durably); returns the new size."""
    failpoint("erase:hot_before_replace")
    with open(fresh, "rb+") as handle:
        os.fsync(handle.fileno())
    wal = path.with_name(path.name + ".wal")
    wal.unlink(missing_ok=True)  # checkpointed before the copy: it holds nothing `fresh` lacks
    os.replace(fresh, path)
    fsync_dir(path.parent)
    return path.stat().st_size


def ident(name: str) -> str:
    """A quoted SQL identifier (names cannot be bound as parameters)."""
    return '"' + name.replace('"', '""') + '"'
