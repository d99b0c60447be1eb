"""The lake's Delta tables and the read API over them (`Lake`).

- `event_log`: one slim row per compacted event (ids, seq, times; no content). It is the proof of
  exactly-once: the multiset of its event ids equals what the store accepted.
- `nodes`, `edges`: the current graph, one row per node/edge id, wide typed columns plus `attrs`.

Only identifying-but-harmless columns carry Delta file statistics
(`delta.dataSkippingStatsColumns`), so `_delta_log` never holds content or personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable

from memgraph_ops.lake import delta
from memgraph_ops.model import EDGE_FIELDS, FIELDS, NODE_FIELDS, SCHEMA_VERSION, TS

APP_ID = "memgraph_ops.compaction"
APPEND_APP_ID = "memgraph_ops.compaction.append"
"""Marks the append half of an upsert; only APP_ID's version is a table's watermark."""

_COMMON = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("tenant", pa.string()),
    pa.field("session_id", pa.string()),
    pa.field("created_at", TS),
    pa.field("updated_at", TS),
    pa.field("last_seq", pa.int64()),
    pa.field("last_event_id", pa.string()),
]

NODES_SCHEMA = pa.schema(
    _COMMON + [pa.field(f, FIELDS[f]) for f in NODE_FIELDS] + [pa.field("attrs", pa.string())]
)
EDGES_SCHEMA = pa.schema(
    _COMMON[:2]
    + [pa.field("src", pa.string(), nullable=False), pa.field("dst", pa.string(), nullable=False)]
    + _COMMON[2:]
    + [pa.field("dangling", pa.bool_())]
    + [pa.field(f, FIELDS[f]) for f in EDGE_FIELDS]
    + [pa.field("attrs", pa.string())]
)
EVENT_LOG_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("op", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("type", pa.string()),
        pa.field("id", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("occurred_at", TS),
        pa.field("ingested_at", TS),
    ]
)


PII_FINDINGS_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("event_id", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("type", pa.string()),
        pa.field("id", pa.string()),
        pa.field("field", pa.string()),
        pa.field("entity_type", pa.string()),
        pa.field("count", pa.int64()),
        pa.field("max_score", pa.float64()),
    ]
)


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    stats_columns: tuple[str, ...]
    partition_by: tuple[str, ...] = ()


TABLES: dict[str, TableSpec] = {
    "event_log": TableSpec(
        "event_log", EVENT_LOG_SCHEMA, ("event_id", "seq", "session_id", "tenant", "occurred_at")
    ),
    # Partitioned by type: analytics read one type at a time, and a MERGE of updates (mostly
    # Sessions) touches only the partitions of the types it carries.
    "nodes": TableSpec(
        "nodes",
        NODES_SCHEMA,
        ("id", "type", "tenant", "session_id", "updated_at", "last_seq"),
        ("type",),
    ),
    "edges": TableSpec(
        "edges",
        EDGES_SCHEMA,
        ("id", "type", "tenant", "session_id", "updated_at", "last_seq", "dangling"),
        ("type",),
    ),
    "pii_findings": TableSpec(
        "pii_findings", PII_FINDINGS_SCHEMA, ("seq", "tenant", "session_id", "entity_type")
    ),
}


def table_configuration(spec: TableSpec) -> dict[str, str]:
    return {
        "delta.dataSkippingStatsColumns": ",".join(spec.stats_columns),
        "memgraph.schemaVersion": str(SCHEMA_VERSION),
    }


AsOf = int | datetime | str | None


class Lake:
    """The Delta lake under a root URI: read nodes and edges, now or as of a version or time.

    Example:
        >>> lake = Lake("store/lake")                            # doctest: +SKIP
        >>> lake.nodes(types=["Prompt"]).height                  # doctest: +SKIP
        >>> lake.nodes(as_of=3)                                  # Delta version 3
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def uri(self, name: str) -> str:
        return delta.join(self.root, name)

    def table(self, name: str, *, as_of: AsOf = None) -> DeltaTable | None:
        """The Delta table now (or as of a version or time), None if it does not exist yet.

        Raises LakeCorruptError naming the file if the log cannot be loaded or a data file of
        that snapshot is missing or truncated (`memgraph-ops verify` says how to repair), and
        LakeError if there is no such version."""
        version = int(as_of) if isinstance(as_of, str) and as_of.isdigit() else as_of
        return delta.open_table(self.uri(name), version=version)

    def reading(self, name: str) -> AbstractContextManager[None]:
        """Wrap the collect of a `scan(name)`: an engine failure on a damaged file becomes a
        LakeCorruptError naming it.

            >>> with lake.reading("nodes"):                       # doctest: +SKIP
            ...     rows = lake.scan("nodes").filter(...).collect()
        """
        return delta.reading(self.uri(name), f"reading {name}")

    def ensure(self) -> dict[str, DeltaTable]:
        """Create missing tables; return all of them."""
        out = {}
        for spec in TABLES.values():
            out[spec.name] = delta.ensure_table(
                self.uri(spec.name),
                spec.schema,
                configuration=table_configuration(spec),
                partition_by=list(spec.partition_by),
            )
        return out

    def watermarks(self) -> dict[str, int]:
        """Highest event seq each table has committed (0 for a table that does not exist)."""
        out = {}
        for name in TABLES:
            table = delta.open_table(self.uri(name))
            out[name] = delta.app_version(table, APP_ID) if table is not None else 0
        return out

    def watermark(self) -> int:
        """Every event with seq at or below this is in every lake table."""
        return min(self.watermarks().values())

    def scan(self, name: str, *, as_of: AsOf = None) -> pl.LazyFrame:
        """A lazy polars scan of a lake table (empty if the table does not exist yet)."""
        table = self.table(name, as_of=as_of)
        if table is None:
            return pl.from_arrow(TABLES[name].schema.empty_table()).lazy()  # type: ignore[union-attr]
        with delta.reading(self.uri(name), f"reading {name}"):
            return pl.scan_delta(table)

    def _read(self, name: str, as_of: AsOf, filters: list[pl.Expr]) -> pl.DataFrame:
        scan = self.scan(name, as_of=as_of)
        for condition in filters:
            scan = scan.filter(condition)
        with delta.reading(self.uri(name), f"reading {name}"):
            return scan.collect()

    def nodes(
        self,
        *,
        as_of: AsOf = None,
        types: list[str] | None = None,
        session_id: str | None = None,
        tenant: str | None = None,
    ) -> pl.DataFrame:
        """Current nodes (or as of a Delta version / timestamp), optionally filtered."""
        return self._read("nodes", as_of, _filters(types, session_id, tenant))

    def edges(
        self,
        *,
        as_of: AsOf = None,
        types: list[str] | None = None,
        session_id: str | None = None,
        tenant: str | None = None,
    ) -> pl.DataFrame:
        """Current edges (or as of a Delta version / timestamp), optionally filtered."""
        return self._read("edges", as_of, _filters(types, session_id, tenant))

    def event_log(self, *, as_of: AsOf = None) -> pl.DataFrame:
        return self._read("event_log", as_of, [])

    def version(self, name: str = "nodes") -> int | None:
        table = self.table(name)
        return table.version() if table is not None else None

    def committed_after(self, versions: Mapping[str, int | None]) -> bool:
        """Whether any of the tables moved past the version given for it (`version`): cheap
        enough to check on every cached read (see `delta.committed_after`)."""
        return any(delta.committed_after(self.uri(n), v) for n, v in versions.items())

    def history(self, name: str = "nodes", limit: int | None = None) -> pl.DataFrame:
        """Commits of a table, newest first: version, time, operation, watermark range."""
        table = self.table(name)
        if table is None:
            return pl.DataFrame()
        rows = [
            {
                "version": h.get("version"),
                "timestamp": datetime.fromtimestamp(h["timestamp"] / 1000).astimezone(),
                "operation": h.get("operation"),
                "seq_from": h.get("memgraph.seq_from"),
                "seq_to": h.get("memgraph.seq_to"),
                "rows": h.get("memgraph.rows"),
            }
            for h in table.history(limit)
        ]
        return pl.DataFrame(rows)

    def session(self, session_id: str, *, as_of: AsOf = None) -> pl.DataFrame:
        """One session as a conversation: its prompts, responses and tool calls in time order."""
        nodes = self.nodes(
            as_of=as_of, session_id=session_id, types=["Prompt", "Response", "ToolInvocation"]
        )
        return nodes.sort("created_at", "last_seq").select(
            "type", "id", "created_at", "is_system", "content", "tool_name", "parameters",
            "result", "error", "model", "total_tokens",
        )  # fmt: skip

    def transcript(self, session_id: str, *, as_of: AsOf = None, width: int = 100) -> str:
        """A session rendered as a readable conversation (for notebooks and terminals)."""
        lines = []
        for row in self.session(session_id, as_of=as_of).iter_rows(named=True):
            if row["type"] == "ToolInvocation":
                outcome = f"error: {row['error']}" if row["error"] else (row["result"] or "")
                text = f"{row['tool_name']}({row['parameters'] or ''}) -> {outcome}"
                who = "tool"
            else:
                text = row["content"] or ""
                who = (
                    "system"
                    if row["is_system"]
                    else ("user" if row["type"] == "Prompt" else "assistant")
                )
            text = " ".join(text.split())
            lines.append(f"{who:>9}: {text[:width]}{'…' if len(text) > width else ''}")
        return "\n".join(lines)

    def delete_sessions(
        self, session_ids: list[str], *, tables: tuple[str, ...] = ("nodes", "edges"), why: str
    ) -> dict[str, int]:
        """Delete every row of these sessions from `tables`; returns rows deleted per table.
        Deleting what is gone already is a no-op. The old data files stay for time travel until
        `vacuum`."""
        if not session_ids:
            return {}
        predicate = f"session_id IN ({delta.sql_list(session_ids)})"
        return self.delete_rows({name: predicate for name in tables}, why=why)

    def delete_versions(self, rows: dict[str, pl.DataFrame], *, why: str) -> dict[str, int]:
        """Delete exactly these row versions: per table, the rows whose `id` and `type` match
        and whose `last_seq` is at most the given one. A row that a concurrent compaction added
        or updated since it was read is newer and stays (archiving reads, writes the vault, then
        deletes: a bare `session_id IN (…)` would also delete what arrived in between)."""
        out: dict[str, int] = {}
        props = CommitProperties(custom_metadata={"memgraph.operation": why})
        for name, versions in rows.items():
            table = self.table(name)
            if table is None or versions.is_empty():
                continue
            source = versions.select("id", "type", "last_seq").to_arrow()

            def delete(t: DeltaTable = table, s: pa.Table = source) -> dict[str, Any]:
                t.update_incremental()  # a retry after a conflict sees the winner's commit
                return (
                    t.merge(
                        s,
                        predicate="t.type = s.type AND t.id = s.id",
                        source_alias="s",
                        target_alias="t",
                        writer_properties=delta.WRITER,
                        commit_properties=props,
                    )
                    .when_matched_delete(predicate="t.last_seq <= s.last_seq")
                    .execute()
                )

            metrics = delta.with_retries(delete, what=f"delete from {name} ({why})", table=table)
            out[name] = int(metrics.get("num_target_rows_deleted", 0) or 0)
        return out

    def delete_rows(self, predicates: dict[str, str], *, why: str) -> dict[str, int]:
        """One Delta DELETE per table with its SQL predicate, retried on commit conflicts."""
        out: dict[str, int] = {}
        for name, predicate in predicates.items():
            table = self.table(name)
            if table is None:
                continue
            props = CommitProperties(custom_metadata={"memgraph.operation": why})
            metrics = delta.with_retries(
                lambda t=table, p=predicate, c=props: t.delete(p, commit_properties=c),  # type: ignore[misc]
                what=f"delete from {name} ({why})",
                table=table,
            )
            out[name] = int(metrics.get("num_deleted_rows", 0) or 0)
        return out

    def stats(self) -> dict[str, Any]:
        """Rows, files, bytes and version per table."""
        out: dict[str, Any] = {}
        for name in TABLES:
            table = self.table(name)
            if table is None:
                continue
            actions = pl.from_arrow(pa.table(table.get_add_actions(flatten=True)))
            assert isinstance(actions, pl.DataFrame)
            out[name] = {
                "version": table.version(),
                "rows": int(actions["num_records"].sum()) if actions.height else 0,
                "files": actions.height,
                "bytes": int(actions["size_bytes"].sum()) if actions.height else 0,
                **_disk_bytes(self.uri(name)),
                "watermark": delta.app_version(table, APP_ID),
            }
        return out


def _disk_bytes(uri: str) -> dict[str, int]:
    """Bytes on disk of a local table: every data file (all versions) and the log. Object-store
    URIs are not listed (-1)."""
    if "://" in uri and not uri.startswith("file://"):
        return {"data_bytes_on_disk": -1, "log_bytes": -1}
    root = Path(uri.removeprefix("file://"))
    data = log = 0
    for path in root.rglob("*"):
        if path.is_file():
            if "_delta_log" in path.relative_to(root).parts:
                log += path.stat().st_size
            else:
                data += path.stat().st_size
    return {"data_bytes_on_disk": data, "log_bytes": log}


def _filters(types: list[str] | None, session_id: str | None, tenant: str | None) -> list[pl.Expr]:
    out: list[pl.Expr] = []
    if types:
        out.append(pl.col("type").is_in(types))
    if session_id is not None:
        out.append(pl.col("session_id") == session_id)
    if tenant is not None:
        out.append(pl.col("tenant") == tenant)
    return out
