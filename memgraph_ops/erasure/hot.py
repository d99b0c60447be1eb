"""Erasure in the operational store (HOT), and the rewrite of its DuckDB file.

HOT keeps raw text, so it is searched with the clear values: the subject's sessions (events,
restored copies, restore records), the ids the dedupe window remembers for them, quarantined
rows that mention them, and other people's rows whose text holds one of the subject's values
(re-redacted in place, or listed). Everything runs in one transaction under the store's lock.

DuckDB keeps deleted bytes in free blocks until the file is rewritten; `rewrite_file` copies the
live database into a new file (`COPY FROM DATABASE` keeps tables and indexes) and atomically
replaces the old one. DuckDB allows one writer, so the store is closed around it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from memgraph_ops._failpoints import failpoint
from memgraph_ops._files import fsync_dir
from memgraph_ops.erasure.identity import Identity
from memgraph_ops.privacy.redact import JSON_FIELDS
from memgraph_ops.store import Store

TEXT_COLUMNS = (
    "content", "error", "template", "context_summary", "handoff_reason", "version_diff", "uri",
    "variables", "parameters", "result", "metadata", "variable_bindings", "attrs", "name",
)  # fmt: skip
LIST_COLUMNS = ("tags",)
EVENT_TABLES = ("events", "restored_events")


@dataclass
class HotHits:
    sessions: list[str] = field(default_factory=list)
    events: int = 0
    restored_events: int = 0
    restored_sessions: int = 0
    retired_ids: int = 0
    quarantined: int = 0
    other_rows: int = 0
    other_sessions: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "restored_events": self.restored_events,
            "restored_sessions": self.restored_sessions,
            "retired_event_ids": self.retired_ids,
            "quarantined": self.quarantined,
            "other_people_rows": self.other_rows,
            "other_people_sessions": len(self.other_sessions),
        }

    @property
    def total(self) -> int:
        return (
            self.events + self.restored_events + self.restored_sessions + self.retired_ids
            + self.quarantined + self.other_rows
        )  # fmt: skip


def tenants(store: Store) -> list[str]:
    with store._lock:
        rows = store._con.execute(
            "SELECT DISTINCT tenant FROM events WHERE tenant IS NOT NULL UNION "
            "SELECT DISTINCT tenant FROM restored_events WHERE tenant IS NOT NULL"
        ).fetchall()
    return [r[0] for r in rows]


def sessions(store: Store, identity: Identity) -> list[str]:
    """Sessions whose Session node names one of the subject's user ids (clear in HOT)."""
    if not identity.user_ids:
        return []
    tenant = "AND tenant = ?" if identity.subject.tenant else ""
    found: set[str] = set()
    with store._lock:
        for table in EVENT_TABLES:
            for user in identity.user_ids:
                params = [user, identity.subject.tenant] if tenant else [user]
                rows = store._con.execute(
                    f"SELECT id FROM {table} WHERE kind = 'node' AND type = 'Session' "
                    f"AND user_id = ? {tenant}",
                    params,
                ).fetchall()
                found.update(r[0] for r in rows)
    return sorted(found)


@dataclass(frozen=True)
class SubjectIds:
    """Event and node ids of the subject's sessions that left HOT (from the lake's event log):
    the dedupe window still remembers them."""

    event_ids: list[str] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)


def _temp(con: duckdb.DuckDBPyConnection, identity: Identity, ids: SubjectIds) -> None:
    con.register("_er_sessions", pa.table({"s": pa.array(identity.sessions, pa.string())}))
    con.register("_er_users", pa.table({"u": pa.array(identity.user_ids, pa.string())}))
    con.register("_er_event_ids", pa.table({"event_id": pa.array(ids.event_ids, pa.string())}))
    con.register("_er_node_ids", pa.table({"id": pa.array(ids.node_ids, pa.string())}))


def _own(table: str) -> str:
    """SQL true for the subject's own rows, false (never NULL) for everyone else's: a NULL
    `user_id` (every row but Sessions) made `NOT own` NULL, which hid other people's rows
    holding the subject's values from re-redaction."""
    del table
    return (
        "coalesce(session_id IN (SELECT s FROM _er_sessions) OR (kind = 'node' AND "
        "type = 'Session' AND id IN (SELECT s FROM _er_sessions)) OR user_id IN "
        "(SELECT u FROM _er_users), false)"
    )


def own_texts(store: Store, identity: Identity, ids: SubjectIds) -> list[tuple[str, str]]:
    """`(tenant, text)` of every text in the subject's own rows (events and restored copies):
    plain columns as they are, JSON columns leaf by leaf, lists item by item, so the scanner
    sees what redaction would."""
    columns = [c for c in TEXT_COLUMNS if c not in JSON_FIELDS]
    json_columns = [c for c in TEXT_COLUMNS if c in JSON_FIELDS]
    select = ", ".join(["tenant", *columns, *json_columns, *LIST_COLUMNS])
    rows: list[tuple[Any, ...]] = []
    with store._lock:
        con = store._con
        _temp(con, identity, ids)
        try:
            for table in EVENT_TABLES:
                rows += con.execute(f"SELECT {select} FROM {table} WHERE {_own(table)}").fetchall()
        finally:
            _drop(con)
    texts: list[tuple[str, str]] = []
    for tenant, *values in rows:
        plain = values[: len(columns)]
        documents = values[len(columns) : len(columns) + len(json_columns)]
        lists = values[len(columns) + len(json_columns) :]
        texts += [(tenant, v) for v in plain if v]
        for document in documents:
            if document:
                texts += [(tenant, leaf) for leaf in _json_strings(document)]
        texts += [(tenant, item) for items in lists for item in items or [] if item]
    return texts


def _json_strings(document: str) -> list[str]:
    try:
        doc = json.loads(document)
    except ValueError:  # not JSON after all: the text as it is
        return [document]
    out: list[str] = []
    todo = [doc]
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            todo += value.values()
        elif isinstance(value, list):
            todo += value
    return out


def _search_pattern(identity: Identity) -> str | None:
    """Clear values (raw text) and tokens (restored copies of lake rows hold tokens)."""
    parts = [p for p in (identity.clear_pattern, identity.token_pattern) if p]
    return "|".join(f"(?:{p})" for p in parts) if parts else None


def _mention(identity: Identity) -> tuple[str, list[str]]:
    """SQL true for a row whose text holds a clear value or token; with its parameters."""
    pattern = _search_pattern(identity)
    if not pattern:
        return "FALSE", []
    parts = [f"regexp_matches(coalesce({c}, ''), ?)" for c in TEXT_COLUMNS] + [
        f"regexp_matches(coalesce(array_to_string({c}, ' '), ''), ?)" for c in LIST_COLUMNS
    ]
    return "(" + " OR ".join(parts) + ")", [pattern] * len(parts)


def find(store: Store, identity: Identity, ids: SubjectIds) -> HotHits:
    hits = HotHits(sessions=list(identity.sessions))
    mention, params = _mention(identity)
    with store._lock:
        con = store._con
        _temp(con, identity, ids)
        try:
            hits.events = _count(con, f"SELECT count(*) FROM events WHERE {_own('events')}")
            hits.restored_events = _count(
                con, f"SELECT count(*) FROM restored_events WHERE {_own('restored_events')}"
            )
            hits.restored_sessions = _count(
                con,
                "SELECT count(*) FROM vault_restores WHERE session_id IN "
                "(SELECT s FROM _er_sessions)",
            )
            hits.retired_ids = _count(
                con, f"SELECT count(*) FROM retired_events WHERE {_retired()}"
            )
            hits.quarantined = _count(
                con, f"SELECT count(*) FROM quarantine WHERE {_quarantined(identity)}",
                _quarantine_params(identity),
            )  # fmt: skip
            others = con.execute(
                f"SELECT session_id FROM events WHERE NOT {_own('events')} AND {mention} "
                f"UNION ALL SELECT session_id FROM restored_events WHERE NOT "
                f"{_own('restored_events')} AND {mention}",
                params + params,
            ).fetchall()
        finally:
            _drop(con)
    hits.other_rows = len(others)
    hits.other_sessions = sorted({s for (s,) in others if s is not None})
    return hits


def erase(store: Store, identity: Identity, ids: SubjectIds, *, re_redact: bool) -> HotHits:
    """Delete the subject's rows from HOT (one transaction); re-redact other people's rows
    holding the subject's values when asked. Returns what was removed."""
    hits = find(store, identity, ids)
    mention, params = _mention(identity)
    with store._lock:
        con = store._con
        _temp(con, identity, ids)
        con.execute("BEGIN")
        try:
            con.execute(f"DELETE FROM retired_events WHERE {_retired()}")
            con.execute(
                f"DELETE FROM quarantine WHERE {_quarantined(identity)}",
                _quarantine_params(identity),
            )
            for table in EVENT_TABLES:
                con.execute(f"DELETE FROM {table} WHERE {_own(table)}")
            con.execute(
                "DELETE FROM vault_restores WHERE session_id IN (SELECT s FROM _er_sessions)"
            )
            for search, replacement in _replacements(identity) if re_redact else []:
                sets = ", ".join(
                    [f"{c} = regexp_replace({c}, ?, ?, 'g')" for c in TEXT_COLUMNS]
                    + [
                        f"{c} = list_transform({c}, lambda x: regexp_replace(x, ?, ?, 'g'))"
                        for c in LIST_COLUMNS
                    ]
                )
                pattern = [search, replacement] * (len(TEXT_COLUMNS) + len(LIST_COLUMNS))
                for table in EVENT_TABLES:
                    con.execute(f"UPDATE {table} SET {sets} WHERE {mention}", pattern + params)
            failpoint("erase:hot_before_commit")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            _drop(con)
        store._context_cache.clear()
    return hits


def _replacements(identity: Identity) -> list[tuple[str, str]]:
    """(regex, replacement) pairs: a token becomes its bare entity tag, a clear value
    `<ERASED>`."""
    out = []
    if identity.token_pattern:
        out.append((identity.token_pattern, "<\\1>"))
    if identity.clear_pattern:
        out.append((identity.clear_pattern, "<ERASED>"))
    return out


def _retired() -> str:
    own = _own("events")
    return (
        "event_id IN (SELECT event_id FROM _er_event_ids) OR id IN (SELECT id FROM _er_node_ids)"
        f" OR event_id IN (SELECT event_id FROM events WHERE {own})"
    )


def _quarantined(identity: Identity) -> str:
    return (
        "event_id IN (SELECT event_id FROM _er_event_ids) "
        f"OR event_id IN (SELECT event_id FROM events WHERE {_own('events')}) "
        "OR (raw IS NOT NULL AND (regexp_matches(raw, ?) OR list_has_any("
        'regexp_extract_all(raw, \'"session_id"\\s*:\\s*"([^"]*)"\', 1), '
        "(SELECT list(s) FROM _er_sessions))))"
    )


def _quarantine_params(identity: Identity) -> list[str]:
    return [identity.clear_pattern or "(?!)"]


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    return int(con.execute(sql, params or []).fetchall()[0][0])


def _drop(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("_er_sessions", "_er_users", "_er_event_ids", "_er_node_ids"):
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)


REWRITE_MARK = ".erasure-"
"""Temporary copies of a DuckDB file being rewritten are named `.<file>.erasure-…` (earlier
versions added the pid, so a rerun after a crash never found the old copy)."""


def leftovers(path: Path) -> list[Path]:
    """Temporary copies (and their WALs) an interrupted rewrite of `path` left behind: each is a
    full copy of HOT, other people's raw text included."""
    pattern = glob.escape(f".{path.name}{REWRITE_MARK}") + "*"
    return sorted(p for p in path.parent.glob(pattern) if p.is_file() or p.is_symlink())


def remove_leftovers(path: Path) -> list[str]:
    """Delete what `leftovers` finds; returns the paths deleted. Only under the erasure lock:
    no other process rewrites the file meanwhile."""
    removed = []
    for stale in leftovers(path):
        stale.unlink(missing_ok=True)
        removed.append(str(stale))
    if removed:
        fsync_dir(path.parent)
    return removed


def rewrite_file(path: Path) -> int:
    """Rewrite a closed DuckDB file with only its live data; returns the new size in bytes.

    The copy has a fixed name and any earlier copy is deleted first, so a crash at any point
    leaves at most one copy, which the next rewrite (or `remove_leftovers`) deletes."""
    fresh = path.with_name(f".{path.name}{REWRITE_MARK}rewrite")
    remove_leftovers(path)
    con = duckdb.connect(str(path))
    try:
        con.execute("CHECKPOINT")
        # a bound parameter, never a literal built from the path (a quote in the data root
        # broke the statement and left the raw bytes in HOT's free blocks)
        con.execute("ATTACH ? AS _fresh", [str(fresh)])
        (name,) = con.execute("SELECT current_database()").fetchall()[0]
        # an identifier cannot be bound: quoted (the name comes from DuckDB, not from data)
        con.execute(f"COPY FROM DATABASE {_ident(name)} TO _fresh")
        con.execute("DETACH _fresh")
    finally:
        con.close()
    failpoint("erase:hot_before_replace")
    with open(fresh, "rb+") as handle:
        os.fsync(handle.fileno())
    wal = path.with_name(path.name + ".wal")
    wal.unlink(missing_ok=True)  # checkpointed above: it holds nothing the new file lacks
    os.replace(fresh, path)
    fsync_dir(path.parent)
    return path.stat().st_size


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
