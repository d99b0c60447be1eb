"""Byte-level proof: search every file under the data root for the subject's values.

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
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_DICT_MAGIC = b"\x37\xa4\x30\xec"
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
    dictionaries = _dictionaries(root)
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
    dictionaries: dict[int, zstandard.ZstdCompressionDict] | None = None,
    databases: dict[Path, SqlScan] | None = None,
) -> list[Hit]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # removed while we walked (a concurrent vacuum)
        return []
    # ASCII needles are matched in any letter case; others also exactly as given (bytes.lower()
    # folds ASCII letters only)
    raw = sorted(
        {n.lower().encode() for n in needles} | {n.encode() for n in needles if not n.isascii()}
    )
    hits = [Hit(str(path), "raw")] if _holds(data, raw) else []
    head = data[:16]
    if head.startswith(PARQUET_MAGIC):
        hits += [Hit(str(path), f"parquet:{c}") for c in _parquet_columns(path, needles)]
    elif head.startswith(ZSTD_MAGIC):
        hits += [
            Hit(str(path), f"zstd:frame@{offset}")
            for offset, content in _frames(data, dictionaries or {})
            if _holds(content, raw)
        ]
    elif head.startswith(GZIP_MAGIC):
        content = gzip.decompress(data)
        if _holds(content, raw):
            hits.append(Hit(str(path), "gzip"))
    elif head[8:12] == DUCKDB_MAGIC:
        scanner = (databases or {}).get(path)
        try:
            places = scanner(needles) if scanner else duckdb_places(path, needles)
        except duckdb.Error:
            # a database that cannot be opened (a copy cut short by a crash) cannot be shown
            # to be clean: it counts as a place holding the subject
            places = ["<unreadable>"]
        hits += [Hit(str(path), f"sql:{p}") for p in places]
    return hits


def _holds(data: bytes, needles: list[bytes]) -> bool:
    """Whether `data` holds any needle (lower-cased ones in any ASCII letter case)."""
    lowered = data.lower()
    return any(n in lowered or n in data for n in needles)


def _parquet_columns(path: Path, needles: list[str]) -> list[str]:
    schema = pq.read_schema(path)
    text = [f.name for f in schema if not _plain(f.type)]
    if not text:
        return []
    table = pq.read_table(path, columns=text)
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
        return any(v is not None and _holds(v, raw) for v in array.to_pylist())
    series = pl.Series(pc.cast(array, pa.large_string()))
    return bool(series.str.contains_any(needles, ascii_case_insensitive=True).any())


def _frames(
    data: bytes, dictionaries: dict[int, zstandard.ZstdCompressionDict]
) -> Iterable[tuple[int, bytes]]:
    """Each zstd frame of `data` (concatenated frames, as in a pack), decompressed alone:
    `decompress()` of concatenated frames would return only the first one."""
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        if data[offset : offset + 4] != ZSTD_MAGIC:
            return  # trailing bytes that are not a frame: the raw scan covered them
        params = zstandard.get_frame_parameters(bytes(view[offset : offset + 18]))
        dictionary = dictionaries.get(params.dict_id) if params.dict_id else None
        reader = zstandard.ZstdDecompressor(dict_data=dictionary).decompressobj()
        out = []
        consumed = offset
        step = 1 << 16
        try:
            while not reader.eof and consumed < len(data):
                chunk = bytes(view[consumed : consumed + step])
                out.append(reader.decompress(chunk))
                consumed += len(chunk)
        except zstandard.ZstdError:
            yield offset, b"".join(out)
            return
        consumed -= len(reader.unused_data)
        yield offset, b"".join(out)
        offset = consumed


def _dictionaries(root: Path) -> dict[int, zstandard.ZstdCompressionDict]:
    found: dict[int, zstandard.ZstdCompressionDict] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size >= 8:
            with open(path, "rb") as handle:
                if handle.read(4) != ZSTD_DICT_MAGIC:
                    continue
            dictionary = zstandard.ZstdCompressionDict(path.read_bytes())
            found[dictionary.dict_id()] = dictionary
    return found


def duckdb_places(path: Path, needles: list[str], con: object | None = None) -> list[str]:
    """`table.column` of a DuckDB database holding any needle (through `con`, or a read-only
    connection of its own)."""
    own = con is None
    connection = duckdb.connect(str(path), read_only=True) if own else con
    assert isinstance(connection, duckdb.DuckDBPyConnection)
    try:
        columns = connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() "
            "AND (data_type = 'VARCHAR' OR data_type = 'VARCHAR[]')"
        ).fetchall()
        pattern = "|".join(re.escape(n) for n in needles)
        places = []
        for table, column, kind in columns:
            name = _ident(column)
            value = name if kind == "VARCHAR" else f"array_to_string({name}, ' ')"
            (count,) = connection.execute(
                f"SELECT count(*) FROM {_ident(table)} WHERE regexp_matches(lower({value}), ?)",
                [pattern.lower()],
            ).fetchall()[0]
            if count:
                places.append(f"{table}.{column}")
        return places
    finally:
        if own:
            connection.close()


def _ident(name: str) -> str:
    """A quoted SQL identifier (names cannot be bound as parameters)."""
    return '"' + name.replace('"', '""') + '"'
