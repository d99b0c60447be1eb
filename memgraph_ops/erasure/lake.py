"""Erasure in the lake: find the subject's rows and the files holding them, delete or
re-redact them, then remove every trace from the table's history.

Every Delta table under the lake root is handled, known or not (metrics and other derived
tables included): rows of the subject's sessions and rows holding one of the subject's values
go. In `nodes` and `edges`, other people's rows where the subject's token appears are
re-redacted in place (the token becomes its bare entity tag) or listed for review.

A Delta DELETE only adds a commit: the old data files, the `_change_data` files and the log
entries (commit predicates, per-file stats) stay until `scrub_history` vacuums with zero
retention (`full=True` also takes `_change_data`), commits a harmless marker, checkpoints, and
deletes every log entry older than that checkpoint. Time travel to before the erasure ends
there: those versions held the subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from memgraph_ops._files import fsync_dir
from memgraph_ops.erasure.identity import Identity
from memgraph_ops.lake import delta, objects

RECEIPT_TABLE = "erasure_log"
GRAPH_TABLES = ("nodes", "edges")


@dataclass
class TableHits:
    """What one table holds of the subject."""

    name: str
    path: str
    rows: int = 0
    """Rows to delete (the subject's own, and derived rows holding their values)."""
    files: list[str] = field(default_factory=list)
    """Data files holding those rows or the occurrences (each is rewritten)."""
    others: int = 0
    """Other people's rows holding the subject's token (re-redacted or listed)."""
    other_sessions: list[str] = field(default_factory=list)
    log_hits: int = 0
    """`_delta_log` entries that mention the subject (commit predicates, stats)."""
    superseded: int = 0
    """Files no longer in the current version (time travel, `_change_data`) holding the
    subject: deleted with the table's history."""
    total_files: int = 0

    def summary(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "files": len(self.files),
            "other_people_rows": self.others,
            "other_people_sessions": len(self.other_sessions),
            "log_entries": self.log_hits,
            "superseded_files": self.superseded,
        }


def _rows(
    identity: Identity, table: DeltaTable, uris: list[str] | None = None
) -> tuple[pl.LazyFrame, list[str], list[str]]:
    uris = table.file_uris() if uris is None else uris
    schema = pa.schema(table.schema().to_arrow())
    partitions = table.metadata().partition_columns
    strings = [
        f.name
        for f in schema
        if f.name not in partitions
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]
    scan = pl.scan_parquet(
        uris, include_file_paths="_file", hive_partitioning=bool(partitions),
        missing_columns="insert", extra_columns="ignore",
    )  # fmt: skip
    return scan, strings, list(schema.names)


def is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _own(identity: Identity, names: list[str]) -> pl.Expr:
    own = pl.lit(False)
    if "session_id" in names and identity.sessions:
        own = own | pl.col("session_id").is_in(identity.sessions)
    if "id" in names and "type" in names and identity.sessions:
        own = own | ((pl.col("type") == "Session") & pl.col("id").is_in(identity.sessions))
    if "user_id" in names:
        own = own | pl.col("user_id").is_in(identity.user_tokens + identity.user_ids)
    if {"src", "dst"} <= set(names) and identity.node_ids:
        own = own | pl.col("src").is_in(identity.node_ids) | pl.col("dst").is_in(identity.node_ids)
    return own.fill_null(False)


def _mentions(identity: Identity, strings: list[str]) -> pl.Expr:
    needles = identity.needles
    if not needles or not strings:
        return pl.lit(False)
    return pl.any_horizontal(pl.col(c).str.contains_any(needles).fill_null(False) for c in strings)


def find(identity: Identity, name: str, path: str, *, mentions: bool = True) -> TableHits:
    """The subject's rows, other people's rows with the subject's values, and their files.

    `mentions=False` looks only for the subject's own rows (by session and user), without
    reading text columns: for the re-check after execution, where the byte scan reads them."""
    hits = TableHits(name, path)
    table = delta.open_table(path)
    if table is None:
        return hits
    quoted = [f'"{s}"' for s in identity.sessions]
    hits.log_hits = _log_mentions(delta.join(path, "_delta_log"), identity.needles + quoted)
    current = table.file_uris()
    hits.total_files = len(current)
    old = _superseded(path, current)
    if old:
        scan, strings, names = _rows(identity, table, old)
        traces = scan.filter(_own(identity, names) | _mentions(identity, strings))
        hits.superseded = traces.select(pl.col("_file").n_unique()).collect().item()
    if not current:
        return hits
    scan, strings, names = _rows(identity, table)
    own = _own(identity, names)
    mentioned = _mentions(identity, strings) if mentions else pl.lit(False)
    graph = name in GRAPH_TABLES
    session = (pl.col("session_id") if "session_id" in names else pl.lit(None, pl.String)).alias(
        "session_id"
    )
    found = (
        scan.with_columns(_own=own, _mentions=mentioned)
        .filter(pl.col("_own") | pl.col("_mentions"))
        .select("_file", "_own", "_mentions", session)
        .collect()
    )
    deleted = found.filter(pl.col("_own") | (~pl.col("_own") & ~pl.lit(graph)))
    others = found.filter(~pl.col("_own")) if graph else found.clear()
    hits.rows = deleted.height
    hits.others = others.height
    hits.other_sessions = sorted(others["session_id"].drop_nulls().unique().to_list())
    hits.files = sorted(found["_file"].unique().to_list())
    return hits


def has_traces(identity: Identity, path: str) -> bool:
    """Whether a table's current rows, superseded files or log hold the subject."""
    hits = find(identity, path.rstrip("/").rsplit("/", 1)[-1], path)
    return bool(hits.rows or hits.others or hits.log_hits or hits.superseded)


def _superseded(path: str, current: list[str]) -> list[str]:
    live = {objects.normalize(u) for u in current}
    return [
        objects.normalize(e.uri)
        for e in objects.list_files(path)
        if e.uri.endswith(".parquet")
        and "_delta_log" not in objects.relative(e.uri, path).split("/")
        and objects.normalize(e.uri) not in live
    ]


def erase(identity: Identity, hits: TableHits, *, re_redact: bool, why: str) -> dict[str, int]:
    """Delete the subject's rows (and re-redact occurrences in `nodes`/`edges` when asked).

    Returns rows deleted, rows re-redacted and files removed from the table's current version.
    """
    table = delta.open_table(hits.path)
    out = {"deleted": 0, "re_redacted": 0, "files_rewritten": 0}
    if table is None or not table.file_uris():
        return out
    graph = hits.name in GRAPH_TABLES
    scan, strings, names = _rows(identity, table)
    if re_redact and graph and hits.others:
        fixed = _re_redacted(identity, scan, names, strings)
        if fixed.height:
            metrics = delta.with_retries(
                lambda: (
                    table.merge(
                        fixed.to_arrow().cast(pa.schema(table.schema().to_arrow())),
                        predicate="t.id = s.id AND t.type = s.type",
                        source_alias="s",
                        target_alias="t",
                        commit_properties=CommitProperties(
                            custom_metadata={"memgraph.operation": why}
                        ),
                    )
                    .when_matched_update_all()
                    .execute()
                ),
                what=f"re-redacting {hits.name}",
                table=table,
            )
            out["re_redacted"] = int(metrics.get("num_target_rows_updated", 0) or 0)
            out["files_rewritten"] += int(metrics.get("num_target_files_removed", 0) or 0)
            table.update_incremental()
    predicate = _predicate(identity, names, strings if not graph else [])
    if predicate:
        metrics = delta.with_retries(
            lambda: table.delete(
                predicate,
                commit_properties=CommitProperties(custom_metadata={"memgraph.operation": why}),
            ),
            what=f"erasing from {hits.name}",
            table=table,
        )
        out["deleted"] = int(metrics.get("num_deleted_rows", 0) or 0)
        out["files_rewritten"] += int(metrics.get("num_removed_files", 0) or 0)
    return out


def _re_redacted(
    identity: Identity, scan: pl.LazyFrame, names: list[str], strings: list[str]
) -> pl.DataFrame:
    """Other people's rows with the subject's tokens (or clear values) replaced by a tag."""
    rows = (
        scan.filter(~_own(identity, names) & _mentions(identity, strings)).drop("_file").collect()
    )
    if rows.is_empty():
        return rows
    fixes = []
    for column in strings:
        expr = pl.col(column)
        if identity.token_pattern:
            expr = expr.str.replace_all(identity.token_pattern, "<${1}>")
        if identity.clear_pattern:
            expr = expr.str.replace_all(identity.clear_pattern, "<ERASED>")
        fixes.append(expr.alias(column))
    return rows.with_columns(fixes).select(names)


def _predicate(identity: Identity, names: list[str], strings: list[str]) -> str:
    parts = []
    if "session_id" in names and identity.sessions:
        parts.append(f"session_id IN ({delta.sql_list(identity.sessions)})")
    if {"id", "type"} <= set(names) and identity.sessions:
        parts.append(f"(type = 'Session' AND id IN ({delta.sql_list(identity.sessions)}))")
    users = identity.user_tokens + identity.user_ids
    if "user_id" in names and users:
        parts.append(f"user_id IN ({delta.sql_list(users)})")
    if {"src", "dst"} <= set(names) and identity.node_ids:
        nodes = delta.sql_list(identity.node_ids)
        parts.append(f"src IN ({nodes}) OR dst IN ({nodes})")
    needles = [n for n in identity.needles if n]
    if strings and needles:
        # One regular expression per column, not a LIKE per value: the engine matches all the
        # values in one pass (5,000 values over 100k rows: 0.5 s, against 9.7 s as LIKEs).
        pattern = delta.sql_string("|".join(map(delta.regex_literal, needles)))
        parts += [f"regexp_like({delta.sql_ident(c)}, {pattern})" for c in strings]
    return delta.sql_any(parts) if parts else ""


def scrub_history(path: str, *, request_id: str) -> list[str]:
    """Make the table's current version its only one: vacuum everything unreferenced (old data
    files and `_change_data`), commit a marker, checkpoint, delete older log entries. Returns
    the files deleted."""
    table = delta.open_table(path)
    if table is None:
        return []
    removed = list(
        table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True)
    )
    write_deltalake(
        table,
        pa.schema(table.schema().to_arrow()).empty_table(),
        mode="append",
        commit_properties=CommitProperties(custom_metadata={"memgraph.erasure": request_id}),
    )
    table.update_incremental()
    table.create_checkpoint()
    version = table.version()
    log = delta.join(path, "_delta_log")
    for entry in objects.list_files(log):
        name = objects.relative(entry.uri, log)
        head = name.split(".", 1)[0]
        if "/" not in name and head.isdigit() and int(head) < version:
            objects.delete(entry.uri)
            removed.append(f"_delta_log/{name}")
    for entry in objects.list_files(path):
        # an interrupted writer's temporary files are not in the log, so vacuum skips them
        name = objects.relative(entry.uri, path)
        if name.rsplit("/", 1)[-1].startswith(".") and "_delta_log" not in name.split("/"):
            objects.delete(entry.uri)
            removed.append(name)
    if objects.is_local(log):
        fsync_dir(Path(objects.normalize(log)))
    return removed


def _log_mentions(log: str, needles: list[str]) -> int:
    if not needles:
        return 0
    from memgraph_ops.erasure.verify import scan_bytes

    return sum(
        bool(scan_bytes(entry.uri, objects.read(entry.uri), needles))
        for entry in objects.list_files(log)
    )
