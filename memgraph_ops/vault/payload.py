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

from memgraph_ops.lake.tables import EDGES_SCHEMA, NODES_SCHEMA

FORMAT_VERSION: Final = 1
BLOCK_MIN_BYTES: Final = 1024
"""Strings at least this long that occur twice or are already stored become blocks."""
BLOCK_PREFIX: Final = "\x00blk:"
# A column with only nulls is left out of a session's document. (The first column, `id`, is
# never null, so every other column follows a comma; inside JSON strings `"` is escaped.)
_NULL_COLUMN: Final = r',"[A-Za-z_]+":\[null(?:,null)*\]'

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
    node_docs = _documents(_with_blocks(nodes, replacements), "nodes")
    edge_docs = _documents(_with_blocks(edges, replacements), "edges")
    docs = node_docs.join(edge_docs, on="session_id", how="full", coalesce=True)
    payloads: dict[str, bytes] = {}
    for session, node_json, edge_json in docs.with_columns(
        pl.col("nodes", "edges").str.replace_all(_NULL_COLUMN, "")
    ).iter_rows():
        body = (
            f'{{"format":{FORMAT_VERSION},"session_id":{json.dumps(session, ensure_ascii=False)},'
            f'"nodes":{node_json or "{}"},"edges":{edge_json or "{}"}}}'
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
    return SessionRows(
        _frame(session, doc.get("nodes") or {}, NODES_SCHEMA, blocks),
        _frame(session, doc.get("edges") or {}, EDGES_SCHEMA, blocks),
    )


def block_digests(payload: bytes) -> list[str]:
    """The blocks an encoded session refers to (read from the payload itself)."""
    marker = json.dumps(BLOCK_PREFIX)[1:-1].encode()  # how JSON spells the prefix
    out, start = [], 0
    while (at := payload.find(marker, start)) >= 0:
        begin = at + len(marker)
        out.append(payload[begin : begin + 64].decode())
        start = begin + 64
    return sorted(set(out))


def _long_repeats(
    nodes: pl.DataFrame, edges: pl.DataFrame, known: frozenset[str]
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Long strings that occur at least twice in this batch, or are stored already: text →
    digest, and the new blocks (digest → bytes)."""
    long_values = [
        frame.select(pl.col(c).filter(pl.col(c).str.len_bytes() >= BLOCK_MIN_BYTES).alias("v"))
        for frame in (nodes, edges)
        for c, dtype in frame.schema.items()
        if dtype == pl.String and c not in ("id", "session_id", "src", "dst")
    ]
    if not long_values:
        return {}, {}
    counts = pl.concat(long_values)["v"].value_counts()
    replacements: dict[str, str] = {}
    blocks: dict[str, bytes] = {}
    for text, count in counts.iter_rows():
        data = text.encode()
        digest = hashlib.sha256(data).hexdigest()
        if digest in known:
            replacements[text] = digest
        elif count >= 2:
            replacements[text] = digest
            blocks[digest] = data
    return replacements, blocks


def _with_blocks(frame: pl.DataFrame, replacements: Mapping[str, str]) -> pl.DataFrame:
    if not replacements:
        return frame
    mapping = {text: block_ref(digest) for text, digest in replacements.items()}
    return frame.with_columns(
        pl.col(c).replace(mapping)
        for c, dtype in frame.schema.items()
        if dtype == pl.String and c not in ("id", "session_id", "src", "dst")
    )


def _sessions_of_blocks(
    nodes: pl.DataFrame, edges: pl.DataFrame, digest_of: Mapping[str, str]
) -> dict[str, list[str]]:
    hits = []
    for frame in (nodes, edges):
        for c, dtype in frame.schema.items():
            if dtype == pl.String and c not in ("id", "session_id", "src", "dst"):
                hits.append(
                    frame.select("session_id", pl.col(c).alias("v")).filter(
                        pl.col("v").is_in(list(digest_of))
                    )
                )
    found = pl.concat(hits).unique().sort("session_id", "v")
    out: dict[str, list[str]] = {}
    for session, text in found.iter_rows():
        out.setdefault(session, []).append(digest_of[text])
    return {s: sorted(set(d)) for s, d in out.items()}


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


def _frame(
    session_id: str,
    columns: Mapping[str, list[Any]],
    schema: pa.Schema,
    blocks: Mapping[str, bytes],
) -> pl.DataFrame:
    """One table of a session, built straight into Arrow (restore latency: a session is small,
    and per-column polars expressions would cost more than the data)."""
    rows = len(columns.get("id", []))
    arrays = []
    for field in schema:
        values = columns.get(field.name)
        if field.name == "session_id":
            values = [session_id] * rows
        elif values is None:
            arrays.append(pa.nulls(rows, field.type))
            continue
        elif field.type == pa.string():
            values = [_resolve(v, blocks) for v in values]
        arrays.append(pa.array(values, field.type))
    return pl.DataFrame(pa.Table.from_arrays(arrays, schema=schema))


def _resolve(value: str | None, blocks: Mapping[str, bytes]) -> str | None:
    if value is None or not value.startswith(BLOCK_PREFIX):
        return value
    digest = value[len(BLOCK_PREFIX) :]
    try:
        return blocks[digest].decode()
    except KeyError:
        raise KeyError(f"payload refers to block {digest}, which was not supplied") from None
