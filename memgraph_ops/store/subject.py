"""A data subject's rows in HOT: find them, read their texts, erase them (SQL over the store's
connection; `Store` calls these under its lock).

HOT keeps raw text, so it is searched with the clear values: the subject's sessions (events,
restored copies, restore records), the ids the dedupe window remembers for them, quarantined
rows that mention them, and other people's rows whose text holds one of the subject's values
(re-redacted in place, or listed).

Who the subject is arrives as plain data (`SubjectRows`), never as erasure's own objects: a
remote store (the HTTP client of `memgraph-ops serve`) sends the same request as JSON.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from memgraph_ops._failpoints import failpoint
from memgraph_ops.errors import StoreError
from memgraph_ops.model import JSON_FIELDS
from memgraph_ops.store import _duckdb

TEXT_COLUMNS = (
    "content", "error", "template", "context_summary", "handoff_reason", "version_diff", "uri",
    "variables", "parameters", "result", "metadata", "variable_bindings", "attrs", "name",
)  # fmt: skip
LIST_COLUMNS = ("tags",)
EVENT_TABLES = ("events", "restored_events")
_VIEWS = ("_er_sessions", "_er_users", "_er_scope", "_er_event_ids", "_er_node_ids")


@dataclass(frozen=True)
class SubjectRows:
    """Which rows of HOT are a data subject's, and what their values look like in text."""

    sessions: list[str] = field(default_factory=list)
    """The subject's own sessions: their rows go whole."""
    user_ids: list[str] = field(default_factory=list)
    """Clear values a Session's `user_id` may hold."""
    event_ids: list[str] = field(default_factory=list)
    """Event ids of the subject's events that already left HOT: the dedupe window remembers
    them (with `node_ids`), and quarantine may hold them."""
    node_ids: list[str] = field(default_factory=list)
    clear_pattern: str | None = None
    """A regex of the subject's clear values (raw text holds them)."""
    token_pattern: str | None = None
    """A regex of the subject's pseudonym tokens, capturing the entity type (restored copies of
    lake rows hold tokens)."""
    tenant: str | None = None
    """When set, `user_ids` match this tenant's Sessions only: tenants may reuse a user id for
    different people."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubjectRows:
        """The inverse of `as_dict`; unknown keys are refused (a client and server that
        disagree on the fields must not erase less than asked)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"SubjectRows has no field(s) {sorted(unknown)}")
        values: dict[str, Any] = {k: list(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


def tenants(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every tenant with events (or restored events) in HOT."""
    rows = con.execute(
        "SELECT DISTINCT tenant FROM events WHERE tenant IS NOT NULL UNION "
        "SELECT DISTINCT tenant FROM restored_events WHERE tenant IS NOT NULL"
    ).fetchall()
    return sorted(r[0] for r in rows)


def sessions(con: duckdb.DuckDBPyConnection, user_ids: list[str], tenant: str | None) -> list[str]:
    """Sessions whose Session node names one of `user_ids` (clear in HOT), in `tenant` or any."""
    if not user_ids:
        return []
    in_tenant = "AND tenant = ?" if tenant else ""
    found: set[str] = set()
    for table in EVENT_TABLES:
        rows = con.execute(
            f"SELECT id FROM {table} WHERE kind = 'node' AND type = 'Session' "
            f"AND user_id IN (SELECT unnest(?::VARCHAR[])) {in_tenant}",
            [user_ids, tenant] if tenant else [user_ids],
        ).fetchall()
        found.update(r[0] for r in rows)
    return sorted(found)


def texts(con: duckdb.DuckDBPyConnection, rows: SubjectRows) -> list[tuple[str | None, str]]:
    """`(tenant, text)` of every text in the subject's own rows (events and restored copies):
    plain columns as they are, JSON columns leaf by leaf, lists item by item, so a scanner sees
    what redaction would."""
    columns = [c for c in TEXT_COLUMNS if c not in JSON_FIELDS]
    json_columns = [c for c in TEXT_COLUMNS if c in JSON_FIELDS]
    select = ", ".join(["tenant", *columns, *json_columns, *LIST_COLUMNS])
    found: list[tuple[Any, ...]] = []
    with _subject_views(con, rows):
        for table in EVENT_TABLES:
            found += con.execute(f"SELECT {select} FROM {table} WHERE {_OWN}").fetchall()
    out: list[tuple[str | None, str]] = []
    for tenant, *values in found:
        plain = values[: len(columns)]
        documents = values[len(columns) : len(columns) + len(json_columns)]
        lists = values[len(columns) + len(json_columns) :]
        out += [(tenant, v) for v in plain if v]
        for document in documents:
            if document:
                out += [(tenant, leaf) for leaf in _json_strings(document)]
        out += [(tenant, item) for items in lists for item in items or [] if item]
    return out


def find(con: duckdb.DuckDBPyConnection, rows: SubjectRows) -> dict[str, Any]:
    """How many rows of each kind HOT holds of the subject, and the other people's sessions
    whose text holds one of the subject's values. Keys: `events`, `restored_events`,
    `restored_sessions`, `retired_ids`, `quarantined`, `other_rows` (counts) and
    `other_sessions` (sorted session ids)."""
    mention, params = _mention(rows)
    with _subject_views(con, rows):
        counts = {
            "events": f"SELECT count(*) FROM events WHERE {_OWN}",
            "restored_events": f"SELECT count(*) FROM restored_events WHERE {_OWN}",
            "restored_sessions": "SELECT count(*) FROM vault_restores WHERE session_id IN "
            "(SELECT s FROM _er_sessions)",
            "retired_ids": f"SELECT count(*) FROM retired_events WHERE {_RETIRED}",
        }
        found: dict[str, Any] = {k: _count(con, sql) for k, sql in counts.items()}
        found["otel_spans"] = _count(
            con, f"SELECT count(*) FROM otel_spans WHERE {_SPANS}", _quarantine_params(rows)
        )
        found["quarantined"] = _count(
            con, f"SELECT count(*) FROM quarantine WHERE {_QUARANTINED}", _quarantine_params(rows)
        )
        others = con.execute(
            f"SELECT session_id FROM events WHERE NOT {_OWN} AND {mention} "
            f"UNION ALL SELECT session_id FROM restored_events WHERE NOT {_OWN} AND {mention}",
            params + params,
        ).fetchall()
    found["other_rows"] = len(others)
    found["other_sessions"] = sorted({s for (s,) in others if s is not None})
    return found


def erase(con: duckdb.DuckDBPyConnection, rows: SubjectRows, *, re_redact: bool) -> dict[str, Any]:
    """Delete the subject's rows (one transaction); with `re_redact`, replace the subject's
    values in other people's rows (a token by its bare entity tag, a clear value by
    `<ERASED>`). Returns what `find` counted before."""
    found = find(con, rows)
    mention, params = _mention(rows)
    with _subject_views(con, rows):
        con.execute("BEGIN")
        try:
            con.execute(f"DELETE FROM retired_events WHERE {_RETIRED}")
            con.execute(f"DELETE FROM quarantine WHERE {_QUARANTINED}", _quarantine_params(rows))
            con.execute(f"DELETE FROM otel_spans WHERE {_SPANS}", _quarantine_params(rows))
            for table in EVENT_TABLES:
                con.execute(f"DELETE FROM {table} WHERE {_OWN}")
            con.execute(
                "DELETE FROM vault_restores WHERE session_id IN (SELECT s FROM _er_sessions)"
            )
            for search, replacement in _replacements(rows) if re_redact else []:
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
            with contextlib.suppress(duckdb.Error):  # keep the error that got us here
                con.execute("ROLLBACK")
            raise
    return found


def places(con: duckdb.DuckDBPyConnection, needles: list[str]) -> list[str]:
    """`table.column` of the connection's database holding any needle (in any letter case)."""
    if not needles:
        return []
    columns = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() "
        "AND (data_type = 'VARCHAR' OR data_type = 'VARCHAR[]')"
    ).fetchall()
    pattern = "|".join(re.escape(n) for n in needles).lower()
    found = []
    for table, column, kind in columns:
        name = _duckdb.ident(column)
        value = name if kind == "VARCHAR" else f"array_to_string({name}, ' ')"
        (count,) = con.execute(
            f"SELECT count(*) FROM {_duckdb.ident(table)} WHERE regexp_matches(lower({value}), ?)",
            [pattern],
        ).fetchall()[0]
        if count:
            found.append(f"{table}.{column}")
    return found


def file_places(path: Path, needles: list[str]) -> list[str]:
    """`places` of a DuckDB file nobody in this process has open (a read-only connection of
    its own). StoreError if DuckDB cannot open or read it."""
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return places(con, needles)
        finally:
            con.close()
    except duckdb.Error as exc:
        raise StoreError(f"cannot read the DuckDB file {path}: {exc}") from exc


# The subject's own rows. True or false, never NULL: a NULL `user_id` (every row but Sessions)
# made `NOT own` NULL, which hid other people's rows holding the subject's values from
# re-redaction.
_OWN = (
    "coalesce(session_id IN (SELECT s FROM _er_sessions) OR (kind = 'node' AND "
    "type = 'Session' AND id IN (SELECT s FROM _er_sessions)) OR (user_id IN "
    "(SELECT u FROM _er_users) AND coalesce(tenant = (SELECT t FROM _er_scope), "
    "(SELECT t FROM _er_scope) IS NULL)), false)"
)
_RETIRED = (
    "event_id IN (SELECT event_id FROM _er_event_ids) OR id IN (SELECT id FROM _er_node_ids)"
    f" OR event_id IN (SELECT event_id FROM events WHERE {_OWN})"
)
_SPANS = "session_id IN (SELECT s FROM _er_sessions) OR regexp_matches(span, ?)"
"""Staged OpenTelemetry spans of the subject: their trace's session, or a clear value."""
_QUARANTINED = (
    "event_id IN (SELECT event_id FROM _er_event_ids) "
    f"OR event_id IN (SELECT event_id FROM events WHERE {_OWN}) "
    "OR (raw IS NOT NULL AND (regexp_matches(raw, ?) OR list_has_any("
    'regexp_extract_all(raw, \'"session_id"\\s*:\\s*"([^"]*)"\', 1), '
    "(SELECT list(s) FROM _er_sessions))))"
)


@contextlib.contextmanager
def _subject_views(con: duckdb.DuckDBPyConnection, rows: SubjectRows) -> Iterator[None]:
    """The subject's ids as views the predicates above read (Arrow, so no list is spliced into
    SQL)."""
    con.register("_er_sessions", pa.table({"s": pa.array(rows.sessions, pa.string())}))
    con.register("_er_users", pa.table({"u": pa.array(rows.user_ids, pa.string())}))
    con.register("_er_scope", pa.table({"t": pa.array([rows.tenant], pa.string())}))
    con.register("_er_event_ids", pa.table({"event_id": pa.array(rows.event_ids, pa.string())}))
    con.register("_er_node_ids", pa.table({"id": pa.array(rows.node_ids, pa.string())}))
    try:
        yield
    finally:
        for name in _VIEWS:
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)


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


def _search_pattern(rows: SubjectRows) -> str | None:
    """Clear values (raw text) and tokens (restored copies of lake rows hold tokens)."""
    parts = [p for p in (rows.clear_pattern, rows.token_pattern) if p]
    return "|".join(f"(?:{p})" for p in parts) if parts else None


def _mention(rows: SubjectRows) -> tuple[str, list[str]]:
    """SQL true for a row whose text holds a clear value or token; with its parameters."""
    pattern = _search_pattern(rows)
    if not pattern:
        return "FALSE", []
    parts = [f"regexp_matches(coalesce({c}, ''), ?)" for c in TEXT_COLUMNS] + [
        f"regexp_matches(coalesce(array_to_string({c}, ' '), ''), ?)" for c in LIST_COLUMNS
    ]
    return "(" + " OR ".join(parts) + ")", [pattern] * len(parts)


def _replacements(rows: SubjectRows) -> list[tuple[str, str]]:
    """(regex, replacement) pairs: a token becomes its bare entity tag, a clear value
    `<ERASED>`."""
    out = []
    if rows.token_pattern:
        out.append((rows.token_pattern, "<\\1>"))
    if rows.clear_pattern:
        out.append((rows.clear_pattern, "<ERASED>"))
    return out


def _quarantine_params(rows: SubjectRows) -> list[str]:
    # without clear values, a regex that matches nothing (RE2 has no `(?!)`)
    return [rows.clear_pattern or r"[^\s\S]"]


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    return int(con.execute(sql, params or []).fetchall()[0][0])
