"""Verify the operational store's DuckDB file (HOT).

Two checks, because DuckDB verifies a block's checksum only when it reads the block, and
`status` or `ingest` read few of them:

1. every block of the file against its stored checksum, read directly: DuckDB (2.0) stores, at
   the start of each of the three 4 KiB headers and of each block, a 64-bit checksum of the rest
   (5381 XOR, over each 64-bit word w of the rest, w · 0xbf58476d1ce4e5b9 mod 2^64). This also
   finds damage in free space and in index blocks no query touches. If the layout is not what
   this code knows (no block passes), the scan is skipped and says so;
2. a full read through DuckDB, opened read-only: every column of every table, and one lookup
   through every index (ART indexes are loaded on first use).

A store another process has open for writing is not checked (DuckDB allows one writer and no
reader beside it): the report says so.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import duckdb
import numpy as np

from memgraph_ops.findings import LayerReport, Problem, Progress, relative
from memgraph_ops.store import _duckdb

HEADER_SIZE = 4096
HEADERS = 3
DEFAULT_BLOCK_SIZE = 262_144
_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_SEED = np.uint64(5381)


def block_checksum(data: bytes) -> int:
    """DuckDB's checksum of a block's bytes after its 8-byte checksum (length a multiple of 8)."""
    words = np.frombuffer(data, dtype="<u8")
    return int(np.bitwise_xor.reduce(words * _MULTIPLIER) ^ _SEED) if words.size else int(_SEED)


def bad_blocks(
    path: Path, block_size: int, progress: Progress | None = None
) -> tuple[list[tuple[int, str]], int, bool]:
    """(offset and kind of every header or block failing its checksum, blocks read, whether the
    layout was recognised: at least one header or block passed)."""
    size = path.stat().st_size
    bad: list[tuple[int, str]] = []
    passed = blocks = 0
    with open(path, "rb") as handle:
        for number in range(HEADERS):
            header = handle.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                return [(number * HEADER_SIZE, "truncated header")], 0, True
            if _checks(header):
                passed += 1
            else:
                bad.append((number * HEADER_SIZE, "header"))
        offset = HEADERS * HEADER_SIZE
        while chunk := handle.read(block_size):
            if len(chunk) < block_size:
                bad.append((offset, "truncated block"))
                break
            blocks += 1
            if any(chunk):  # never-written space reads as zeros and holds no checksum
                if _checks(chunk):
                    passed += 1
                else:
                    bad.append((offset, "block"))
            offset += block_size
            if progress:
                progress(offset, size)
    return bad, blocks, passed > 0


def _checks(data: bytes) -> bool:
    stored: int = struct.unpack_from("<Q", data)[0]
    return stored == block_checksum(data[8:])


def verify_store(path: Path, *, home: Path, progress: Progress | None = None) -> LayerReport:
    """Check the DuckDB file at `path` (nothing to check if there is none yet)."""
    report = LayerReport("hot")
    if not path.exists():
        return report
    name = relative(path, home)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        text = _said(exc)
        lowered = text.lower()
        if "conflicting lock" in lowered or "different configuration" in lowered:
            report.problems.append(
                Problem(
                    "hot",
                    name,
                    "was not checked: another process (or this one) has it open for writing, "
                    f"and DuckDB allows no reader beside a writer ({text})",
                    "run `memgraph-ops verify` again once that process has stopped (in service "
                    "mode, stop `memgraph-ops serve` for the check)",
                    "warning",
                )
            )
            return report
        con = None
        wal = path.with_name(path.name + ".wal")
        culprit = wal if "wal" in lowered and wal.exists() else path
        report.problems.append(
            Problem(
                "hot",
                relative(culprit, home),
                f"cannot be opened: {text}",
                _repair(path, readable=False),
            )
        )
    try:
        block_size = _block_size(con)
        bad, blocks, recognised = bad_blocks(path, block_size, progress)
        report.count("files")
        report.count("blocks", blocks)
        report.count("bytes", path.stat().st_size)
        unreadable = _read_everything(con, report) if con is not None else None
    finally:
        if con is not None:
            con.close()
    if not recognised:
        report.problems.append(
            Problem(
                "hot",
                name,
                "block checksums not checked: the file's layout is not the one this version "
                "of memgraph_ops knows (only the read through DuckDB was done)",
                "nothing to do if the rest of the report is clean",
                "warning",
            )
        )
    elif bad:
        where = ", ".join(f"{kind} at byte {offset:,}" for offset, kind in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        readable = unreadable is not None and not unreadable
        report.problems.append(
            Problem(
                "hot",
                name,
                f"{len(bad)} parts fail their checksum: {where}{more}"
                + (
                    " (every table and index still reads back: the damage is in free space "
                    "or in index blocks)"
                    if readable
                    else ""
                ),
                _repair(path, readable=readable),
            )
        )
    for table, error in unreadable or []:
        report.problems.append(
            Problem(
                "hot",
                name,
                f"table {table} cannot be read: {error}",
                _repair(path, readable=False),
            )
        )
    return report


def _block_size(con: duckdb.DuckDBPyConnection | None) -> int:
    if con is None:
        return DEFAULT_BLOCK_SIZE
    try:
        rows = con.execute("SELECT block_size FROM pragma_database_size()").fetchall()
        return int(rows[0][0]) if rows and rows[0][0] else DEFAULT_BLOCK_SIZE
    except duckdb.Error:
        return DEFAULT_BLOCK_SIZE


def _read_everything(con: duckdb.DuckDBPyConnection, report: LayerReport) -> list[tuple[str, str]]:
    """Read every column of every table and look one key up through every index; returns
    (table, error) for each read that fails."""
    failed: list[tuple[str, str]] = []
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
        ]
        indexes = con.execute(
            "SELECT table_name, expressions FROM duckdb_indexes() "
            "WHERE database_name = current_database()"
        ).fetchall()
        keys = con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE database_name = current_database() "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        ).fetchall()
    except duckdb.Error as exc:
        return [("(catalog)", _said(exc))]
    for table in tables:
        report.count("tables")
        try:
            reader = con.sql(f"SELECT * FROM {_duckdb.ident(table)}").to_arrow_reader(65_536)
            for batch in reader:
                report.count("rows", batch.num_rows)
        except duckdb.Error as exc:
            failed.append((table, _said(exc)))
    bad_tables = {table for table, _ in failed}
    lookups = [(t, e.strip("[]").split(",")[0].strip().strip("'")) for t, e in indexes]
    lookups += [(t, cols[0]) for t, cols in keys if cols]
    for table, column in lookups:
        if table in bad_tables:
            continue
        report.count("indexes")
        column = column.strip('"')
        name, where = _duckdb.ident(table), _index_key(column)
        try:
            sample = con.execute(
                f"SELECT {where} FROM {name} WHERE {where} IS NOT NULL LIMIT 1"
            ).fetchall()
            if sample:
                con.execute(
                    f"SELECT count(*) FROM {name} WHERE {where} = ?", [sample[0][0]]
                ).fetchall()
        except duckdb.Error as exc:
            failed.append((table, f"its index on {column}: {_said(exc)}"))
    return failed


def _index_key(expression: str) -> str:
    """The SQL of an index's first key: a column, or the store's `(hash(column))`. Only these
    shapes are rebuilt (the text comes from the file being checked, which may be damaged)."""
    hashed = re.fullmatch(r"\(hash\(\"?(\w+)\"?\)\)", expression)
    if hashed:
        return f"hash({_duckdb.ident(hashed.group(1))})"
    return _duckdb.ident(expression)


def _said(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _repair(path: Path, *, readable: bool) -> str:
    if readable:
        return (
            "rebuild the file, which drops the damaged blocks: stop every process using the "
            'store, then in Python `con = duckdb.connect(); con.execute("ATTACH '
            f"'{path}' AS old (READ_ONLY)\"); con.execute(\"ATTACH '{path}.rebuilt' AS new\"); "
            'con.execute("COPY FROM DATABASE old TO new")`, and move '
            f"{path.name}.rebuilt over {path.name} (keep the damaged file until the new one "
            "checks clean)"
        )
    return (
        "restore the file from a backup while nothing uses the store. Events already compacted "
        "are safe in the lake; newer ones missing from the backup must be sent again (re-sent "
        "event ids are skipped). Before compacting into the lake again, check with "
        "`memgraph-ops status` that the restored store's max seq is at least the lake's "
        "watermark, or new events would be numbered below it and skipped"
    )
