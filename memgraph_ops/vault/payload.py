"""A session's lake rows as one JSON document, and large repeated strings as shared blocks.

Format version 4 (UTF-8 JSON, one document per session; version 3 is the same without
`encoded`, version 2 also without the `created-at` rule)::

    {"format": 4, "session_id": "s-1",
     "nodes": {"id": ["s-1", "s-1:m0", ...], "type": ["Session", "Prompt", ...], ...},
     "edges": {"id": [...], "src": [...], ...},
     "blocks": {"nodes": {"content": [[1, 0, "<sha256>"]], ...}},
     "encoded": {"nodes": {"id": "session-prefix", "created_at": "delta"}}}

- Column-major: each key of `nodes`/`edges` is a column of the lake's `nodes`/`edges` table and
  holds one value per row (null for missing). Grouping a column's values keeps similar text
  together, which compresses better than row-major JSON.
- Timestamps are integers, microseconds since the Unix epoch (UTC); lists are JSON arrays;
  JSON-valued fields (`attrs`, `metadata`, ...) are JSON strings, as in the lake.
- Shared blocks (the UTF-8 bytes whose sha256 is the digest, stored once in the vault: large
  system prompts and tool schemas repeat across sessions) are referred to out of band: `blocks`
  lists, per table and column, `[row, offset, digest]` entries, each meaning "insert the block
  at this UTF-8 byte offset of the row's value", applied in the listed order (ascending offset
  per row). A value that is one whole block is stored as `""` with one entry at offset 0; a
  JSON object whose large members are blocks is stored without their text. No string in the
  columns is ever interpreted, so any text a user sends comes back as it was.

Format version 1 (written before references were out of band) is still read: it marked a
reference in band, as a string starting with U+0000 `blk:` (a whole block) or U+0000 `json:`
(a JSON object with block members), so a user string with such a prefix was misread.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import pyarrow as pa

from memgraph_ops.lake.tables import EDGES_SCHEMA, NODES_SCHEMA
from memgraph_ops.model import JSON_FIELDS, imported_event_id

FORMAT_VERSION: Final = 4
READABLE_FORMATS: Final = (1, 2, 3, 4)
BLOCK_MIN_BYTES: Final = 1024
"""Strings at least this long that occur twice or are already stored become blocks."""
_JSON_STYLES: Final[dict[str, dict[str, Any]]] = {
    "a": {"ensure_ascii": False},
    "b": {"ensure_ascii": False, "separators": (",", ":")},
    "c": {"ensure_ascii": True},
    "d": {"ensure_ascii": True, "separators": (",", ":")},
}
"""The ways Python's json.dumps serialises an object whose members can be found exactly (and,
in format 1, how to re-serialise a split object)."""
_V1_BLOCK_PREFIX: Final = "\x00blk:"
_V1_JSON_PREFIX: Final = "\x00json:"
_ID_COLUMNS: Final = ("id", "session_id", "src", "dst")
_ROW: Final = "_row"
# A column with only nulls is left out of a session's document. (The first column, `id`, is
# never null, so every other column follows a comma; inside JSON strings `"` is escaped.)
_NULL_COLUMN: Final = r',"[A-Za-z_]+":\[null(?:,null)*\]'
_LEADING_NULL_COLUMNS: Final = r'^\{(?:"[A-Za-z_]+":\[null(?:,null)*\],)+'
RULES: Final = {"id": "edge-key", "last_event_id": "import-chat", "updated_at": "created-at"}
"""Columns left out of a session's document when every row's value follows the rule:
`edge-key` = `src|type|dst`; `import-chat` = the event id `import-chat` gives (see
`memgraph_ops.imports.chat.event_id`); `created-at` = the row's `created_at` (an item never
updated). The document's `derived` names them per table."""
ENCODINGS: Final = {
    "session-prefix": (
        "id", "src", "dst", "prompt_id", "response_id", "parent_id", "forked_from"
    ),
    "delta": ("created_at", "updated_at", "last_seq"),
}  # fmt: skip
"""Format 4 stores these columns, in a session where every value allows it, in a form that
compresses better: `session-prefix` = every non-null value starts with the session id, which
is left out; `delta` = no value is null, and each one after the first is stored as its
difference from the one before (timestamps as microseconds). The document's `encoded` names
them per table."""

NODES = pl.Schema(pl.DataFrame(NODES_SCHEMA.empty_table()).schema)
EDGES = pl.Schema(pl.DataFrame(EDGES_SCHEMA.empty_table()).schema)

BlockRefs = dict[str, dict[str, list[tuple[int, int, str]]]]
"""table → column → (row, UTF-8 byte offset, block digest), as a document's `blocks` holds."""


@dataclass(frozen=True)
class SessionRows:
    """A session's nodes and edges, as the lake holds them."""

    nodes: pl.DataFrame
    edges: pl.DataFrame


@dataclass(frozen=True)
class Encoded:
    """Sessions encoded for the vault: one payload per session, the new shared blocks, and
    which blocks each session refers to."""

    payloads: dict[str, bytes]
    blocks: dict[str, bytes]
    refs: dict[str, list[str]]


def encode_sessions(
    nodes: pl.DataFrame, edges: pl.DataFrame, *, known_blocks: frozenset[str] = frozenset()
) -> Encoded:
    """Encode every session present in `nodes`/`edges` (lake rows, with `session_id`).

    Vectorised: the JSON of all sessions is built by polars in one pass; only the few long
    strings that repeat are hashed in Python.
    """
    nodes = nodes.select(NODES.names()).cast(NODES)
    edges = edges.select(EDGES.names()).cast(EDGES)
    for frame in (nodes, edges):
        floats = [c for c, t in frame.schema.items() if t == pl.Float64]
        bad = frame.select(floats).select(pl.all().is_finite().not_().any()).row(0)
        if any(bad):
            columns = [c for c, b in zip(floats, bad, strict=True) if b]
            raise ValueError(f"cannot archive NaN or infinity (JSON has neither) in {columns}")
    rewrites, blocks = _long_repeats(nodes, edges, known_blocks)
    slim_nodes, node_rules = _without_derivable(nodes, ("last_event_id", "updated_at"))
    slim_edges, edge_rules = _without_derivable(edges, ("last_event_id", "id", "updated_at"))
    slim_nodes, node_codes = _encoded(slim_nodes)
    slim_edges, edge_codes = _encoded(slim_edges)
    refs: dict[str, BlockRefs] = {}
    node_docs = _documents(_with_blocks(slim_nodes, rewrites, "nodes", refs), "nodes")
    edge_docs = _documents(_with_blocks(slim_edges, rewrites, "edges", refs), "edges")
    docs = node_docs.join(edge_docs, on="session_id", how="full", coalesce=True)
    payloads: dict[str, bytes] = {}
    for session, node_json, edge_json in docs.with_columns(
        pl.col("nodes", "edges")
        .str.replace_all(_NULL_COLUMN, "")
        .str.replace(_LEADING_NULL_COLUMNS, "{")
    ).iter_rows():
        derived = {
            table: {c: RULES[c] for c, sessions in rules.items() if session in sessions}
            for table, rules in (("nodes", node_rules), ("edges", edge_rules))
        }
        derived = {table: columns for table, columns in derived.items() if columns}
        codes = {
            table: {c: rule for c, (rule, sessions) in columns.items() if session in sessions}
            for table, columns in (("nodes", node_codes), ("edges", edge_codes))
        }
        codes = {table: columns for table, columns in codes.items() if columns}
        session_refs = refs.get(session)
        body = (
            f'{{"format":{FORMAT_VERSION},"session_id":{json.dumps(session, ensure_ascii=False)},'
            f'"nodes":{node_json or "{}"},"edges":{edge_json or "{}"}'
            + (f',"blocks":{_compact(session_refs)}' if session_refs else "")
            + (f',"derived":{json.dumps(derived)}' if derived else "")
            + (f',"encoded":{json.dumps(codes)}' if codes else "")
            + "}"
        )
        payloads[session] = body.encode()
    digests = {s: sorted(_digests_of(r)) for s, r in refs.items()}
    return Encoded(payloads, blocks, digests)


def decode_session(payload: bytes, blocks: Mapping[str, bytes]) -> SessionRows:
    """The rows of one encoded session; `blocks` must hold every block it refers to.

    Reads every format in `READABLE_FORMATS`: the payload's own `format` says which.
    """
    doc = json.loads(payload)
    version = doc.get("format")
    if version not in READABLE_FORMATS:
        raise ValueError(f"unknown vault payload format {version!r}")
    session = doc["session_id"]
    derived = doc.get("derived", {})
    refs = doc.get("blocks", {})
    tables = []
    for name, schema in (("nodes", NODES_SCHEMA), ("edges", EDGES_SCHEMA)):
        if version == 1:
            columns = _resolved_v1(doc.get(name) or {}, blocks)
        else:
            columns = _resolved(doc.get(name) or {}, refs.get(name, {}), blocks)
        for column, rule in doc.get("encoded", {}).get(name, {}).items():
            columns[column] = _decoded(rule, session, columns[column])
        # (in this order: an edge's event id derives from its id)
        for column in ("id", "last_event_id", "updated_at"):
            if column in derived.get(name, {}):
                columns[column] = _derive(derived[name][column], session, columns)
        tables.append(_frame(session, columns, schema))
    return SessionRows(*tables)


def block_digests(payload: bytes) -> list[str]:
    """The blocks an encoded session refers to (read from the payload itself)."""
    doc = json.loads(payload)
    if doc.get("format") == 1:
        return _block_digests_v1(payload)
    return sorted(_digests_of(doc.get("blocks", {})))


def _digests_of(refs: Mapping[str, Mapping[str, list[Any]]]) -> set[str]:
    return {
        entry[2] for columns in refs.values() for entries in columns.values() for entry in entries
    }


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _without_derivable(
    frame: pl.DataFrame, columns: tuple[str, ...]
) -> tuple[pl.DataFrame, dict[str, set[str]]]:
    """Null out columns in the sessions where every row's value follows its rule; returns the
    sessions per column."""
    out: dict[str, set[str]] = {}
    for column in columns:
        expected: pl.Expr | pl.Series
        if column == "id":
            expected = pl.format("{}|{}|{}", "src", "type", "dst")
        elif column == "updated_at":
            expected = pl.col("created_at")
        else:  # only ids that look like import-chat's are worth hashing
            expected = pl.Series(
                [
                    imported_event_id(s, i) if e is not None and e.startswith("chat-") else None
                    for s, i, e in zip(frame["session_id"], frame["id"], frame[column], strict=True)
                ],
                dtype=pl.String,
            )
        same = (
            frame.select("session_id", pl.col(column), expected.alias("_expected"))
            .select(
                (pl.col(column) == pl.col("_expected"))
                .fill_null(False)
                .all()
                .over("session_id")
                .alias("ok")
            )
            .to_series()
        )
        out[column] = set(frame.filter(same)["session_id"].unique().to_list())
        frame = frame.with_columns(pl.when(same).then(None).otherwise(pl.col(column)).alias(column))
    return frame, out


def _encoded(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, tuple[str, set[str]]]]:
    """Store the `ENCODINGS` columns encoded in the sessions where every row allows it;
    returns, per column, the rule and those sessions. (Rows are in session order.)"""
    out: dict[str, tuple[str, set[str]]] = {}
    session = pl.col("session_id")
    for rule, columns in ENCODINGS.items():
        for column in columns:
            if column not in frame.columns or frame[column].null_count() == frame.height:
                continue
            value = pl.col(column)
            if rule == "session-prefix":
                allowed = value.is_null() | value.str.starts_with(session)
                stored = value.str.strip_prefix(session)
            else:
                if isinstance(frame.schema[column], pl.Datetime):
                    value = value.dt.epoch("us")
                allowed = value.is_not_null()
                stored = value.diff().over(session).fill_null(value)
            # (the `encoded` entry costs more than it saves on fewer than three values)
            ok = (allowed.fill_null(False).all() & (value.is_not_null().sum() >= 3)).over(session)
            mask = frame.select(ok.alias("ok")).to_series()
            if not mask.any():
                continue
            out[column] = (rule, set(frame.filter(mask)["session_id"].unique().to_list()))
            # (a timestamp column becomes integers: the document holds them so either way)
            frame = frame.with_columns(pl.when(mask).then(stored).otherwise(value).alias(column))
    return frame, out


def _decoded(rule: str, session: str, values: list[Any]) -> list[Any]:
    if rule == "session-prefix":
        return [None if v is None else session + v for v in values]
    if rule == "delta":
        return list(itertools.accumulate(values))
    raise ValueError(f"unknown column encoding {rule!r}")


def _derive(rule: str, session: str, columns: Mapping[str, list[Any]]) -> list[Any]:
    if rule == "edge-key":
        return [
            f"{s}|{t}|{d}"
            for s, t, d in zip(columns["src"], columns["type"], columns["dst"], strict=True)
        ]
    if rule == "import-chat":
        return [imported_event_id(session, i) for i in columns["id"]]
    if rule == "created-at":
        return list(columns["created_at"])
    raise ValueError(f"unknown derivation rule {rule!r}")


@dataclass(frozen=True)
class _Rewrite:
    """How one long string is stored: the text left in the document, and where blocks go back
    in (UTF-8 byte offset in the original string, digest), by ascending offset."""

    text: str
    splices: tuple[tuple[int, str], ...]


def _long_repeats(
    nodes: pl.DataFrame, edges: pl.DataFrame, known: frozenset[str]
) -> tuple[dict[str, _Rewrite], dict[str, bytes]]:
    """Long strings, or large members of long JSON objects (a tool schema inside `attrs`), that
    occur at least twice in this batch or are stored already become blocks. Returns original
    string → rewrite, and the new blocks (digest → bytes)."""
    long_values = [
        frame.select(
            pl.col(c).filter(pl.col(c).str.len_bytes() >= BLOCK_MIN_BYTES).alias("v"),
            pl.lit(c in JSON_FIELDS).alias("json"),
        )
        for frame in (nodes, edges)
        for c, dtype in frame.schema.items()
        if dtype == pl.String and c not in _ID_COLUMNS
    ]
    if not long_values:
        return {}, {}
    counts = pl.concat(long_values).group_by("v").agg(pl.len().alias("n"), pl.col("json").any())
    seen: dict[str, int] = {}  # candidate block text -> occurrences
    splits: dict[str, list[tuple[int, str]]] = {}
    for text, n, is_json in counts.iter_rows():
        seen[text] = seen.get(text, 0) + n
        if is_json and (members := _json_members(text)):
            splits[text] = members
            for _, member in members:
                seen[member] = seen.get(member, 0) + n
    digests = {text: hashlib.sha256(text.encode()).hexdigest() for text in seen}
    chosen = {t for t, n in seen.items() if n >= 2 or digests[t] in known}
    rewrites: dict[str, _Rewrite] = {}
    for text in counts["v"].to_list():
        if text in chosen:
            rewrites[text] = _Rewrite("", ((0, digests[text]),))
        elif text in splits:
            used = [(at, member) for at, member in splits[text] if member in chosen]
            if used:
                raw, kept, start = text.encode(), [], 0
                for at, member in used:
                    kept.append(raw[start:at])
                    start = at + len(member.encode())
                kept.append(raw[start:])
                rewrites[text] = _Rewrite(
                    b"".join(kept).decode(), tuple((at, digests[m]) for at, m in used)
                )
    referred = {d for r in rewrites.values() for _, d in r.splices}
    blocks = {d: t.encode() for t in chosen if (d := digests[t]) not in known and d in referred}
    return rewrites, blocks


def _json_members(text: str) -> list[tuple[int, str]]:
    """The members of a JSON object long enough to be blocks: (UTF-8 byte offset of the
    member's text in `text`, the text), by offset. Empty unless `text` is exactly how Python's
    json.dumps writes the object in one of `_JSON_STYLES`, so each member's offset is known."""
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    for options in _JSON_STYLES.values():
        if json.dumps(doc, **options) != text:
            continue
        item_separator, key_separator = options.get("separators", (", ", ": "))
        members, at = [], 1  # after "{"
        for key, value in doc.items():
            at += len(json.dumps(key, ensure_ascii=options["ensure_ascii"]).encode())
            at += len(key_separator)
            member = json.dumps(value, **options)
            if len(member) >= BLOCK_MIN_BYTES:
                members.append((at, member))
            at += len(member.encode()) + len(item_separator)
        raw = text.encode()
        if all(raw[at : at + len(m.encode())] == m.encode() for at, m in members):
            return members
        return []
    return []


def _with_blocks(
    frame: pl.DataFrame, rewrites: Mapping[str, _Rewrite], table: str, refs: dict[str, BlockRefs]
) -> pl.DataFrame:
    """The frame with long strings rewritten; adds each session's block references (row within
    the session, offset, digest) to `refs`."""
    if not rewrites:
        return frame
    # A hash join per column (`Expr.replace` with thousands of long keys is quadratic).
    mapping = pl.DataFrame(
        {"_from": list(rewrites), "_to": [r.text for r in rewrites.values()]},
        schema={"_from": pl.String, "_to": pl.String},
    )
    frame = frame.with_columns(pl.int_range(pl.len()).over("session_id").alias(_ROW))
    for c, dtype in frame.schema.items():
        if dtype != pl.String or c in _ID_COLUMNS:
            continue
        longest = frame[c].str.len_bytes().max()
        if longest is None or int(longest) < BLOCK_MIN_BYTES:  # type: ignore[arg-type]
            continue
        joined = frame.join(mapping, left_on=c, right_on="_from", how="left", maintain_order="left")
        hits = joined.filter(pl.col("_to").is_not_null()).select("session_id", _ROW, c)
        for session, row, text in hits.iter_rows():
            entries = refs.setdefault(session, {}).setdefault(table, {}).setdefault(c, [])
            entries.extend((row, at, digest) for at, digest in rewrites[text].splices)
        frame = joined.with_columns(pl.coalesce("_to", c).alias(c)).drop("_to")
    return frame.drop(_ROW)


def _documents(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """session_id → JSON object of columns (lists of values) for the rows of that session.
    The session id itself is the document's `session_id`, not a column."""
    if frame.is_empty():
        return pl.DataFrame(schema={"session_id": pl.String, name: pl.String})
    columns = [
        pl.col(c).dt.epoch("us") if isinstance(dtype, pl.Datetime) else pl.col(c)
        for c, dtype in frame.schema.items()
    ]
    grouped = frame.select(columns).group_by("session_id", maintain_order=True).agg(pl.all())
    value_columns = [c for c in frame.columns if c != "session_id"]
    return grouped.select("session_id", pl.struct(value_columns).struct.json_encode().alias(name))


def _resolved(
    columns: Mapping[str, list[Any]],
    refs: Mapping[str, list[list[Any]]],
    blocks: Mapping[str, bytes],
) -> dict[str, Any]:
    """The document's columns with the blocks put back where `refs` says."""
    out = dict(columns)
    for name, entries in refs.items():
        values = out.get(name)
        if values is None:
            raise ValueError(f"block references for column {name!r}, which is not in the payload")
        values = out[name] = list(values)
        for row, offset, digest in entries:
            if not (isinstance(row, int) and 0 <= row < len(values)):
                raise ValueError(f"block reference to row {row!r} of column {name!r}: no such row")
            values[row] = _splice(values[row], offset, _block(blocks, digest))
    return out


def _splice(value: Any, offset: Any, block: bytes) -> str:
    if not isinstance(value, str):
        raise ValueError(f"block reference into a {type(value).__name__} value, not a string")
    raw = value.encode()
    if not (isinstance(offset, int) and 0 <= offset <= len(raw)):
        raise ValueError(f"block offset {offset!r} is outside a value of {len(raw)} bytes")
    return (raw[:offset] + block + raw[offset:]).decode()


def _block(blocks: Mapping[str, bytes], digest: str) -> bytes:
    try:
        return blocks[digest]
    except KeyError:
        raise KeyError(f"payload refers to block {digest}, which was not supplied") from None


def _frame(session_id: str, columns: Mapping[str, list[Any]], schema: pa.Schema) -> pl.DataFrame:
    """One table of a session, built straight into Arrow (restore latency: a session is small,
    and per-column polars expressions would cost more than the data)."""
    rows = len(columns.get("id", columns.get("type", [])))
    arrays = []
    for field in schema:
        values = columns.get(field.name)
        if field.name == "session_id":
            values = [session_id] * rows
        elif values is None:
            arrays.append(pa.nulls(rows, field.type))
            continue
        arrays.append(pa.array(values, field.type))
    return pl.DataFrame(pa.Table.from_arrays(arrays, schema=schema))


# format 1: references in band --------------------------------------------------------------


def _block_digests_v1(payload: bytes) -> list[str]:
    marker = json.dumps(_V1_BLOCK_PREFIX)[1:-1].encode()  # how JSON spells the prefix
    out, start = [], 0
    while (at := payload.find(marker, start)) >= 0:
        begin = at + len(marker)
        out.append(payload[begin : begin + 64].decode())
        start = begin + 64
    return sorted(set(out))


def _resolved_v1(columns: Mapping[str, list[Any]], blocks: Mapping[str, bytes]) -> dict[str, Any]:
    return {
        name: [_resolve_v1(v, blocks) if isinstance(v, str) else v for v in values]
        for name, values in columns.items()
    }


def _resolve_v1(value: str, blocks: Mapping[str, bytes]) -> str:
    if value.startswith(_V1_BLOCK_PREFIX):
        return _block(blocks, value[len(_V1_BLOCK_PREFIX) :]).decode()
    if value.startswith(_V1_JSON_PREFIX):
        style, body = value[len(_V1_JSON_PREFIX) :].split(":", 1)
        doc = json.loads(body)
        for key, member in doc.items():
            if isinstance(member, str) and member.startswith(_V1_BLOCK_PREFIX):
                doc[key] = json.loads(_resolve_v1(member, blocks))
        return json.dumps(doc, **_JSON_STYLES[style])
    return value
