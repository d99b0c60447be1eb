"""Byte-level proof: search every file under the data root, and every object of a lake kept
outside it (`s3://…`, through `lake.objects`), for the subject's values.

Compressed bytes prove nothing when searched raw, so each file is also searched decoded:
- Parquet (Delta data files, `_change_data`, checkpoints): every string and binary leaf of every
  column, nested ones included, besides the raw bytes (footer statistics are not compressed);
- zstd (vault packs, blocks): every frame is decompressed — with the dictionary its header names,
  found among the zstd dictionaries under the root — and searched, one frame at a time;
- gzip: decompressed;
- DuckDB: the live rows of every table, through SQL (DuckDB compresses strings, so its free
  blocks cannot be searched: the erasure rewrites the file instead, which leaves none);
- everything else (JSON logs, SQLite, WAL files…): raw bytes.

Needles are matched as given and lower-cased (clear values arrive as typed).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from memgraph_ops.errors import StoreError
from memgraph_ops.lake import objects
from memgraph_ops.store import file_places
from memgraph_ops.vault.dictionaries import dictionaries_under
from memgraph_ops.vault.packs import FRAME_MAGIC, Dictionaries, iter_frames

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
DUCKDB_MAGIC = b"DUCK"

SqlScan = Callable[[list[str]], list[str]]
"""Given needles, the `table.column` places of a database holding any of them."""


@dataclass(frozen=True)
class Hit:
    file: str
    where: str
    """`raw`, `parquet:<column>`, `zstd:frame@<offset>`, `gzip`, `sql:<table.column>`."""

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "where": self.where}


def scan_root(
    root: Path, needles: Iterable[str], *, databases: dict[Path, SqlScan] | None = None
) -> list[Hit]:
    """Every place under `root` holding any needle. `databases` scans DuckDB files through a
    connection (the store's own, when it is open in this process)."""
    words = sorted({n for n in needles if n})
    if not words or not root.exists():
        return []
    dictionaries = dictionaries_under(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    # Arrow, polars and zstd release the GIL: threads use every core
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        found = pool.map(
            lambda p: scan_file(p, words, dictionaries=dictionaries, databases=databases), files
        )
        return [hit for hits in found for hit in hits]


def scan_file(
    path: Path,
    needles: list[str],
    *,
    dictionaries: Dictionaries | None = None,
    databases: dict[Path, SqlScan] | None = None,
) -> list[Hit]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # removed while we walked (a concurrent vacuum)
        return []
    if data[8:12] == DUCKDB_MAGIC:
        hits = [Hit(str(path), "raw")] if _holds(data, _raw(needles)) else []
        scanner = (databases or {}).get(path)
        try:
            places = scanner(needles) if scanner else file_places(path, needles)
        except StoreError:
            # a database that cannot be opened (a copy cut short by a crash) cannot be shown
            # to be clean: it counts as a place holding the subject
            places = ["<unreadable>"]
        return hits + [Hit(str(path), f"sql:{p}") for p in places]
    return scan_bytes(str(path), data, needles, dictionaries=dictionaries)


def scan_objects(root: str, needles: Iterable[str]) -> list[Hit]:
    """Every object under a lake URI (an object store: the lake outside the data root)
    holding any needle, searched as `scan_file` searches a file."""
    words = sorted({n for n in needles if n})
    if not words:
        return []
    entries = objects.list_files(root)
    with ThreadPoolExecutor(max_workers=max(4, os.cpu_count() or 1)) as pool:
        found = pool.map(lambda e: scan_bytes(e.uri, _read_object(e.uri), words), entries)
        return [hit for hits in found for hit in hits]


def _read_object(uri: str) -> bytes:
    try:
        return objects.read(uri)
    except FileNotFoundError:  # removed while we listed (a concurrent vacuum)
        return b""


def scan_bytes(
    name: str, data: bytes, needles: list[str], *, dictionaries: Dictionaries | None = None
) -> list[Hit]:
    """The places in one file's bytes (`name` labels the hits) holding any needle: the raw
    bytes, and the decoded content of Parquet, zstd and gzip."""
    raw = _raw(needles)
    hits = [Hit(name, "raw")] if _holds(data, raw) else []
    head = data[:16]
    if head.startswith(PARQUET_MAGIC):
        hits += [Hit(name, f"parquet:{c}") for c in _parquet_columns(data, needles)]
    elif head.startswith(FRAME_MAGIC):
        hits += [
            Hit(name, f"zstd:frame@{offset}")
            for offset, content in iter_frames(data, dictionaries or {})
            if _holds(content, raw)
        ]
    elif head.startswith(GZIP_MAGIC) and _holds(gzip.decompress(data), raw):
        hits.append(Hit(name, "gzip"))
    return hits


def _raw(needles: list[str]) -> list[bytes]:
    # ASCII needles are matched in any letter case; others also exactly as given (bytes.lower()
    # folds ASCII letters only)
    return sorted(
        {n.lower().encode() for n in needles} | {n.encode() for n in needles if not n.isascii()}
    )


def _holds(data: bytes, needles: list[bytes]) -> bool:
    """Whether `data` holds any needle (lower-cased ones in any ASCII letter case)."""
    return holds([data], needles)[0]


def holds(texts: Sequence[bytes], needles: Sequence[bytes]) -> list[bool]:
    """For each of `texts`, whether it holds any needle, ASCII letters in any case: one
    Aho-Corasick pass over each text (polars' `contains_any`), not one search per needle, which
    took 25 minutes for a user with thousands of values on a 5,000-session data root. Bytes
    are read as Latin-1, one character per byte, so any byte sequence matches exactly."""
    if not texts or not needles:
        return [False] * len(texts)
    column = pl.Series([t.decode("latin-1") for t in texts], dtype=pl.String)
    patterns = [n.decode("latin-1") for n in needles]
    return column.str.contains_any(patterns, ascii_case_insensitive=True).to_list()


def _parquet_columns(data: bytes, needles: list[str]) -> list[str]:
    schema = pq.read_schema(pa.BufferReader(data))
    text = [f.name for f in schema if not _plain(f.type)]
    if not text:
        return []
    table = pq.read_table(pa.BufferReader(data), columns=text)
    found = []
    for name in table.column_names:
        for leaf in _string_leaves(table.column(name)):
            if leaf is not None and _contains(leaf, needles):
                found.append(name)
                break
    return found


def _string_leaves(column: pa.ChunkedArray | pa.Array) -> Iterable[pa.Array | None]:
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        yield from _leaves(chunk)


def _leaves(array: pa.Array) -> Iterable[pa.Array | None]:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield array
    elif pa.types.is_string_view(kind):
        yield pc.cast(array, pa.large_string())
    elif (
        pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)
    ):
        yield pc.cast(array, pa.large_binary())
    elif pa.types.is_dictionary(kind):
        yield from _leaves(array.dictionary)
    elif pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            yield from _leaves(array.field(i))
    elif pa.types.is_map(kind):
        yield from _leaves(array.keys)
        yield from _leaves(array.items)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        yield from _leaves(array.flatten())


def _plain(kind: pa.DataType) -> bool:
    """Types that cannot hold text (numbers, times, booleans)."""
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        or pa.types.is_temporal(kind) or pa.types.is_decimal(kind) or pa.types.is_null(kind)
    )  # fmt: skip


def _contains(array: pa.Array, needles: list[str]) -> bool:
    if pa.types.is_large_binary(array.type):
        raw = [n.encode() for n in needles]
        return any(holds([v for v in array.to_pylist() if v is not None], raw))
    series = pl.Series(pc.cast(array, pa.large_string()))
    return bool(series.str.contains_any(needles, ascii_case_insensitive=True).any())
