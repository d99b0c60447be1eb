"""Thin wrapper around deltalake: open/create tables by URI, idempotent commits, retries, and
clear errors on damaged tables. Public: every package that keeps Delta tables of its own (the
vault index, the Observatory, retention aggregates, erasure receipts) writes them through it.

Lake roots are URIs (a local path now, `s3://…` later), so paths are joined as strings and
never through `os.path`.

Damaged tables: delta-rs answers a truncated data file with a Rust panic
(`pyo3_runtime.PanicException`, a BaseException) and a gap in the log with a DeltaError naming
no file. So `open_table` checks, once per table version and process, that every data file of
the snapshot exists with the size its add action records; `with_retries` and `reading` turn an
engine failure into a `LakeCorruptError` that names the damaged file (found by a bounded check of
the table) and points at `memgraph-ops verify`. A commit through `with_retries(table=…)`,
`empty_commit` and every `ensure_table` records digests of the files committed (see
`_integrity`), which `verify` checks.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from memgraph_ops.errors import CommitConflictError, LakeCorruptError, LakeError, MemgraphError
from memgraph_ops.lake import _integrity

T = TypeVar("T")

# Compressed Parquet keeps the lake small; zstd level 3 is a good speed/size balance.
WRITER = WriterProperties(compression="ZSTD", compression_level=3)


def join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def sql_string(value: str) -> str:
    """A SQL string literal for a Delta predicate: `DeltaTable.delete` and `merge` take SQL
    text and bind no parameters, so every value that goes into one is quoted here."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted column name for a Delta predicate (a name from a table's schema, which may
    hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def sql_list(values: Iterable[str]) -> str:
    """Distinct values as sorted string literals, for `column IN (…)` (never empty: callers
    skip the predicate when there is nothing to match)."""
    return ", ".join(sql_string(v) for v in sorted(set(values)))


def digests_dir(table_dir: Path) -> Path:
    """Where the size and sha256 of a local table's files are recorded (`verify` checks them):
    a table moved to another path takes this folder along."""
    return _integrity.digest_dir(table_dir)


def regex_literal(text: str) -> str:
    """`text` as a regular expression (Rust's `regex` syntax, which delta-rs's `regexp_like`
    uses) matching exactly itself: its meta characters escaped, as `regex::escape` does."""
    return "".join(f"\\{c}" if c in _REGEX_META else c for c in text)


_REGEX_META = frozenset("\\.+*?()|[]{}^$#&-~")


def sql_any(conditions: Sequence[str]) -> str:
    """`conditions` joined by OR as a balanced tree: delta-rs's planner recurses once per level
    of a left-deep `a OR b OR c …`, and 3,000 terms overflowed its stack (a segfault, not an
    error; erasing a user with many identifiers across many text columns got there)."""
    if len(conditions) <= 16:
        return " OR ".join(f"({c})" for c in conditions)
    middle = len(conditions) // 2
    return f"({sql_any(conditions[:middle])}) OR ({sql_any(conditions[middle:])})"


def open_table(
    uri: str, *, version: int | str | datetime | None = None, check: bool = True
) -> DeltaTable | None:
    """The table at `uri` (as of a version or time), or None if there is none yet.

    Raises LakeCorruptError naming the file if the log cannot be loaded or, with `check`, a
    data file of the snapshot is missing or of the wrong size (the Delta engine would panic
    on it later). LakeError if the requested version or time cannot be loaded."""
    try:
        table = DeltaTable(uri)
    except TableNotFoundError:
        return None
    except BaseException as exc:
        if not _integrity.is_engine_failure(exc):
            raise
        raise failure(f"opening {_name(uri)}", exc, uri=uri) from None
    if version is not None:
        try:
            table.load_as_version(version)
        except BaseException as exc:
            if not _integrity.is_engine_failure(exc):
                raise
            raise LakeError(
                f"cannot load {_name(uri)} as of {version!r}: {_integrity.short(exc)}. "
                "Give a version the table's history lists (Lake.history) or a later time."
            ) from None
    if check:
        check_files(table)
    return table


def committed_after(uri: str, version: int | None) -> bool:
    """Whether the table has a commit after `version` (None: the table did not exist).

    Delta names commits `_delta_log/{version:020}.json` and writes each one once, atomically,
    so on a local path one `stat` of the next name answers: this is how a cache in one process
    learns of a commit made by any other (compaction, retention, erasure) in microseconds.
    Elsewhere (object stores) the table's version is loaded and compared."""
    following = 0 if version is None else version + 1
    path = uri.removeprefix("file://")
    if "://" not in path:
        return os.path.exists(os.path.join(path, "_delta_log", f"{following:020d}.json"))
    table = open_table(uri, check=False)
    return (table.version() if table is not None else None) != version


_checked_versions: set[tuple[str, int]] = set()


def check_files(table: DeltaTable, *, fresh: bool = False) -> None:
    """Raise LakeCorruptError if a data file of the table's loaded snapshot is missing or of
    the wrong size: a stat per file, once per table version and process unless `fresh` (a
    writer checks afresh before it commits on top). Local tables only."""
    directory = _integrity.table_dir(table)
    key = (table.table_uri, table.version())
    if directory is None or (key in _checked_versions and not fresh):
        return
    damage = _integrity.missing_or_resized(directory, _integrity.adds(table), cached=not fresh)
    if damage:
        raise _corrupt(f"reading {directory.name}", damage, uri=str(directory))
    _checked_versions.add(key)


def ensure_table(
    uri: str, schema: pa.Schema, *, configuration: Mapping[str, str], partition_by: list[str]
) -> DeltaTable:
    """Open the table, creating it empty with `schema` if it does not exist."""
    table = open_table(uri, check=False)
    if table is not None:
        # a writer opens here: it refuses a damaged snapshot, and records the digests of what
        # earlier writers committed
        check_files(table, fresh=True)
        _integrity.record(table)
        return table
    return DeltaTable.create(
        uri,
        schema,
        mode="ignore",
        partition_by=partition_by or None,
        configuration=dict(configuration),
        raise_if_key_not_exists=False,  # our own `memgraph.*` properties
    )


def commit_properties(app_id: str, version: int, metadata: Mapping[str, Any]) -> CommitProperties:
    """Commit properties that record an app transaction (`app_id` at `version`)."""
    return CommitProperties(
        app_transactions=[Transaction(app_id=app_id, version=version)],
        custom_metadata={k: str(v) for k, v in metadata.items()},
    )


def with_app_id(props: CommitProperties, app_id: str) -> CommitProperties:
    """The same commit properties, recording the app transaction under another app id."""
    (txn,) = props.app_transactions or []
    return CommitProperties(
        app_transactions=[Transaction(app_id=app_id, version=txn.version)],
        custom_metadata=props.custom_metadata,
    )


def app_version(table: DeltaTable, app_id: str) -> int:
    """The last version `app_id` committed to `table`, or 0 if it never did."""
    version = table.transaction_version(app_id)
    return int(version) if version is not None else 0


def empty_commit(table: DeltaTable, props: CommitProperties) -> None:
    """A commit that adds no data, only the app transaction and metadata in `props`."""
    empty = pa.schema(table.schema()).empty_table()
    write_deltalake(table, empty, mode="append", commit_properties=props)
    table.update_incremental()
    _integrity.record(table)


def with_retries(
    operation: Callable[[], T],
    *,
    attempts: int = 5,
    what: str,
    table: DeltaTable | str | None = None,
) -> T:
    """Run a commit, retrying when a concurrent writer won (MERGE/DELETE conflicts).

    With `table` (the table or its URI), the digests of the files it committed are recorded
    afterwards, and a failure names the damaged file of that table if there is one. Engine
    failures (panics, I/O and format errors) become LakeCorruptError or LakeError."""
    target = _loaded(table)
    if target is not None:
        _integrity.forget_stale(target)
    for attempt in range(1, attempts + 1):
        try:
            result = operation()
        except CommitFailedError as exc:
            if attempt == attempts:
                raise CommitConflictError(
                    f"{what}: gave up after {attempts} commit conflicts; another writer keeps "
                    f"committing to the same table. Last error: {exc}"
                ) from exc
            time.sleep(0.05 * 2**attempt)
            continue
        except MemgraphError:
            raise
        except BaseException as exc:
            if not _integrity.is_engine_failure(exc):
                raise
            raise failure(what, exc, uri=_uri(table)) from exc
        if table is not None:
            recorded = _loaded(table)
            if recorded is not None:
                recorded.update_incremental()
                _integrity.record(recorded)
        return result
    raise AssertionError("unreachable")


@contextmanager
def reading(uri: str, what: str) -> Iterator[None]:
    """Turn an engine failure while reading the table at `uri` (a polars collect, an Arrow
    read) into a LakeCorruptError naming the damaged file, or a LakeError."""
    try:
        yield
    except MemgraphError:
        raise
    except BaseException as exc:
        if not _integrity.is_engine_failure(exc):
            raise
        raise failure(what, exc, uri=uri) from exc


def failure(what: str, exc: BaseException, *, uri: str | None) -> LakeError:
    """The error to raise when the engine failed on a table: LakeCorruptError naming the damaged
    files a bounded check of the table finds (or the file the engine's message names), else a
    LakeError that says to run `memgraph-ops verify`."""
    said = _integrity.short(exc)
    if isinstance(exc, OSError) and not _looks_damaged(said):
        return LakeError(f"{what}: {said}")
    damage = _integrity.diagnose(uri) if uri is not None else []
    if damage:
        return _corrupt(what, damage, uri=uri, said=said)
    named = _FILE_IN_MESSAGE.search(said)
    if named and _looks_damaged(said):
        return LakeCorruptError(
            f"{what}: {named.group(0)} cannot be read. {_ADVICE} (engine said: {said})"
        )
    if type(exc).__name__ == "PanicException" or _looks_damaged(said):
        checked = (
            f"; a quick check of {_name(uri)} found no missing, truncated or damaged file"
            if uri
            else ""
        )
        return LakeError(f"{what}: the Delta engine failed ({said}){checked}. {_ADVICE}")
    return LakeError(f"{what}: {said}")


_ADVICE = (
    "Run `memgraph-ops verify` to list every damaged file of the data root and how to repair "
    "it; nothing is committed on top of a table that cannot be read."
)
_FILE_IN_MESSAGE = re.compile(r"(?:/|[A-Za-z]:\\)[^\s\"'`,;]+\.(?:parquet|json)")
_DAMAGED = re.compile(
    r"(?i)parquet|corrupt|checksum|out of spec|eof|end of file|not found|no such file|gap|"
    r"json|zstd|decompress|range\.end|magic|footer|thrift|invalid"
)


def _looks_damaged(message: str) -> bool:
    return bool(_DAMAGED.search(message))


def _corrupt(
    what: str, damage: list[_integrity.Damage], *, uri: str | None, said: str | None = None
) -> LakeCorruptError:
    shown = "; ".join(d.describe() for d in damage[:3])
    more = f" (and {len(damage) - 3} more)" if len(damage) > 3 else ""
    engine = f" (engine said: {said})" if said else ""
    return LakeCorruptError(
        f"{what}: lake table {_name(uri)} is damaged: {shown}{more}. {_ADVICE}{engine}"
    )


def _loaded(table: DeltaTable | str | None) -> DeltaTable | None:
    """The table given to `with_retries` (None if a URI names no table yet or on failure)."""
    if not isinstance(table, str):
        return table
    try:
        return DeltaTable(table)
    except BaseException as exc:
        if not _integrity.is_engine_failure(exc):
            raise
        return None


def _uri(table: DeltaTable | str | None) -> str | None:
    if table is None or isinstance(table, str):
        return table
    return table.table_uri


def _name(uri: str | None) -> str:
    if uri is None:
        return "?"
    directory = _integrity.local_dir(uri.rstrip("/"))
    return str(directory) if directory is not None else uri
