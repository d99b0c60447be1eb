"""A session's lake rows as one JSON document, and large repeated strings as shared blocks.

Format version 1 (UTF-8 JSON, one document per session)::

    {"format": 1, "session_id": "s-1",
     "nodes": {"id": ["s-1", "s-1:m0", ...], "type": ["Session", "Prompt", ...], ...},
     "edges": {"id": [...], "src": [...], ...}}

- Column-major: each key of `nodes`/`edges` is a column of the lake's `nodes`/`edges` table and
  holds one value per row (null for missing). Grouping a column's values keeps similar text
  together, which compresses better than row-major JSON.
- Timestamps are integers, microseconds since the Unix epoch (UTC); lists are JSON arrays;
  JSON-valued fields (`attrs`, `metadata`, ...) are JSON strings, as in the lake.
- A string that begins with U+0000 followed by `blk:` and a sha256 hex digest is a reference
  to a shared block: the UTF-8 bytes whose sha256 is that digest, stored once in the vault
  (large system prompts and tool schemas repeat across sessions). No text a user sends starts
  with U+0000 (JSON text cannot contain a raw NUL, and the store's strings come from JSON).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import pyarrow as pa

from memgraph_ops.imports.chat import event_id as chat_event_id
from memgraph_ops.lake.tables import EDGES_SCHEMA, NODES_SCHEMA
from memgraph_ops.model import JSON_FIELDS

FORMAT_VERSION: Final = 1
BLOCK_MIN_BYTES: Final = 1024
"""Strings at least this long that occur twice or are already stored become blocks."""
BLOCK_PREFIX: Final = "\x00blk:"
JSON_PREFIX: Final = "\x00json:"
_JSON_STYLES: Final[dict[str, dict[str, Any]]] = {
    "a": {"ensure_ascii": False},
    "b": {"ensure_ascii": False, "separators": (",", ":")},
    "c": {"ensure_ascii": True},
    "d": {"ensure_ascii": True, "separators": (",", ":")},
}
"""How a JSON object was serialised (Python's json.dumps options), so a split one comes back
byte for byte."""
_ID_COLUMNS: Final = ("id", "session_id", "src", "dst")
# A column with only nulls is left out of a session's document. (The first column, `id`, is
# never null, so every other column follows a comma; inside JSON strings `"` is escaped.)
_NULL_COLUMN: Final = r',"[A-Za-z_]+":\[null(?:,null)*\]'
_LEADING_NULL_COLUMNS: Final = r'^\{(?:"[A-Za-z_]+":\[null(?:,null)*\],)+'
RULES: Final = {"id": "edge-key", "last_event_id": "import-chat"}
"""Columns left out of a session's document when every row's value follows the rule:
`edge-key` = `src|type|dst`; `import-chat` = the event id `import-chat` gives (see
`memgraph_ops.imports.chat.event_id`). The document's `derived` names them per table."""

NODES = pl.Schema(pl.DataFrame(NODES_SCHEMA.empty_table()).schema)
EDGES = pl.Schema(pl.DataFrame(EDGES_SCHEMA.empty_table()).schema)


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


def block_ref(digest: str) -> str:
    return BLOCK_PREFIX + digest


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
    replacements, blocks = _long_repeats(nodes, edges, known_blocks)
    slim_nodes, node_rules = _without_derivable(nodes, ("last_event_id",))
    slim_edges, edge_rules = _without_derivable(edges, ("last_event_id", "id"))
    node_docs = _documents(_with_blocks(slim_nodes, replacements), "nodes")
    edge_docs = _documents(_with_blocks(slim_edges, replacements), "edges")
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
        body = (
            f'{{"format":{FORMAT_VERSION},"session_id":{json.dumps(session, ensure_ascii=False)},'
            f'"nodes":{node_json or "{}"},"edges":{edge_json or "{}"}'
            + (f',"derived":{json.dumps(derived)}' if derived else "")
            + "}"
        )
        payloads[session] = body.encode()
    refs = _sessions_of_blocks(nodes, edges, replacements) if replacements else {}
    return Encoded(payloads, blocks, refs)


def decode_session(payload: bytes, blocks: Mapping[str, bytes]) -> SessionRows:
    """The rows of one encoded session; `blocks` must hold every block it refers to."""
    doc = json.loads(payload)
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError(f"unknown vault payload format {doc.get('format')!r}")
    session = doc["session_id"]
    derived = doc.get("derived", {})
    tables = []
    for name, schema in (("nodes", NODES_SCHEMA), ("edges", EDGES_SCHEMA)):
        columns = _resolved(doc.get(name) or {}, blocks)
        for column in ("id", "last_event_id"):  # an edge's event id derives from its id
            if column in derived.get(name, {}):
                columns[column] = _derive(derived[name][column], session, columns)
        tables.append(_frame(session, columns, schema))
    return SessionRows(*tables)


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
        else:  # only ids that look like import-chat's are worth hashing
            expected = pl.Series(
                [
                    chat_event_id(s, i) if e is not None and e.startswith("chat-") else None
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


def _derive(rule: str, session: str, columns: Mapping[str, list[Any]]) -> list[Any]:
    if rule == "edge-key":
        return [
            f"{s}|{t}|{d}"
            for s, t, d in zip(columns["src"], columns["type"], columns["dst"], strict=True)
        ]
    if rule == "import-chat":
        return [chat_event_id(session, i) for i in columns["id"]]
    raise ValueError(f"unknown derivation rule {rule!r}")


def block_digests(payload: bytes) -> list[str]:
    """The blocks an encoded session refers to (read from the payload itself)."""
    marker = json.dumps(BLOCK_PREFIX)[1:-1].encode()  # how JSON spells the prefix
    out, start = [], 0
    while (at := payload.find(marker, start)) >= 0:
        begin = at + len(marker)
        out.append(payload[begin : begin + 64].decode())
        start = begin + 64
    return sorted(set(out))


@dataclass(frozen=True)
class _Rewrite:
    """How one long string is stored: its text in the document, and the blocks it uses."""

    text: str
    digests: tuple[str, ...]


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
    splits: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {}
    for text, n, is_json in counts.iter_rows():
        seen[text] = seen.get(text, 0) + n
        if is_json and (split := _split_json(text)) is not None:
            splits[text] = split
            for member in split[2].values():
                seen[member] = seen.get(member, 0) + n
    digests = {text: hashlib.sha256(text.encode()).hexdigest() for text in seen}
    chosen = {t for t, n in seen.items() if n >= 2 or digests[t] in known}
    rewrites: dict[str, _Rewrite] = {}
    for text in counts["v"].to_list():
        if text in chosen:
            rewrites[text] = _Rewrite(block_ref(digests[text]), (digests[text],))
        elif text in splits:
            style, doc, members = splits[text]
            used = {k: m for k, m in members.items() if m in chosen}
            if used:
                for key, member in used.items():
                    doc[key] = block_ref(digests[member])
                body = json.dumps(doc, **_JSON_STYLES[style])
                rewrites[text] = _Rewrite(
                    f"{JSON_PREFIX}{style}:{body}", tuple(sorted(digests[m] for m in used.values()))
                )
    blocks = {
        d: t.encode()
        for t in chosen
        if (d := digests[t]) not in known and any(d in r.digests for r in rewrites.values())
    }
    return rewrites, blocks


def _split_json(text: str) -> tuple[str, dict[str, Any], dict[str, str]] | None:
    """A JSON object's style, the object, and the text of its members long enough to be blocks;
    None unless re-serialising reproduces `text` exactly (so decoding gives it back)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    for style, options in _JSON_STYLES.items():
        if json.dumps(doc, **options) == text:
            members = {
                key: member
                for key, value in doc.items()
                if len(member := json.dumps(value, **options)) >= BLOCK_MIN_BYTES
            }
            return (style, doc, members) if members else None
    return None


def _with_blocks(frame: pl.DataFrame, rewrites: Mapping[str, _Rewrite]) -> pl.DataFrame:
    if not rewrites:
        return frame
    # A hash join per column (`Expr.replace` with thousands of long keys is quadratic).
    mapping = pl.DataFrame(
        {"_from": list(rewrites), "_to": [r.text for r in rewrites.values()]},
        schema={"_from": pl.String, "_to": pl.String},
    )
    for c, dtype in frame.schema.items():
        if dtype != pl.String or c in _ID_COLUMNS:
            continue
        longest = frame[c].str.len_bytes().max()
        if longest is None or int(longest) < BLOCK_MIN_BYTES:  # type: ignore[arg-type]
            continue
        frame = (
            frame.join(mapping, left_on=c, right_on="_from", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_to", c).alias(c))
            .drop("_to")
        )
    return frame


def _sessions_of_blocks(
    nodes: pl.DataFrame, edges: pl.DataFrame, rewrites: Mapping[str, _Rewrite]
) -> dict[str, list[str]]:
    keys = pl.DataFrame({"v": list(rewrites)}, schema={"v": pl.String})
    hits = [
        frame.select("session_id", pl.col(c).alias("v")).join(keys, on="v", how="semi")
        for frame in (nodes, edges)
        for c, dtype in frame.schema.items()
        if dtype == pl.String and c not in _ID_COLUMNS
    ]
    out: dict[str, set[str]] = {}
    for session, text in pl.concat(hits).unique().iter_rows():
        out.setdefault(session, set()).update(rewrites[text].digests)
    return {s: sorted(d) for s, d in out.items()}


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


def _resolved(columns: Mapping[str, list[Any]], blocks: Mapping[str, bytes]) -> dict[str, Any]:
    """The document's columns with block references replaced by their text."""
    return {
        name: [_resolve(v, blocks) if isinstance(v, str) else v for v in values]
        for name, values in columns.items()
    }


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


def _resolve(value: str, blocks: Mapping[str, bytes]) -> str:
    if value.startswith(BLOCK_PREFIX):
        digest = value[len(BLOCK_PREFIX) :]
        try:
            return blocks[digest].decode()
        except KeyError:
            raise KeyError(f"payload refers to block {digest}, which was not supplied") from None
    if value.startswith(JSON_PREFIX):
        style, body = value[len(JSON_PREFIX) :].split(":", 1)
        doc = json.loads(body)
        for key, member in doc.items():
            if isinstance(member, str) and member.startswith(BLOCK_PREFIX):
                doc[key] = json.loads(_resolve(member, blocks))
        return json.dumps(doc, **_JSON_STYLES[style])
    return value
