"""Thin wrapper around deltalake: open/create tables by URI, idempotent commits, retries.

Lake roots are URIs (a local path now, `s3://…` later), so paths are joined as strings and
never through `os.path`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from memgraph_ops.errors import CommitConflictError, LakeError

T = TypeVar("T")

# Compressed Parquet keeps the lake small; zstd level 3 is a good speed/size balance.
WRITER = WriterProperties(compression="ZSTD", compression_level=3)


def join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def open_table(uri: str, *, version: int | None = None) -> DeltaTable | None:
    """The table at `uri`, or None if there is none yet."""
    try:
        table = DeltaTable(uri)
    except TableNotFoundError:
        return None
    if version is not None:
        table.load_as_version(version)
    return table


def ensure_table(
    uri: str, schema: pa.Schema, *, configuration: Mapping[str, str], partition_by: list[str]
) -> DeltaTable:
    """Open the table, creating it empty with `schema` if it does not exist."""
    table = open_table(uri)
    if table is not None:
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


def with_retries(operation: Callable[[], T], *, attempts: int = 5, what: str) -> T:
    """Run a commit, retrying when a concurrent writer won (MERGE/DELETE conflicts)."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except CommitFailedError as exc:
            if attempt == attempts:
                raise CommitConflictError(
                    f"{what}: gave up after {attempts} commit conflicts; another writer keeps "
                    f"committing to the same table. Last error: {exc}"
                ) from exc
            time.sleep(0.05 * 2**attempt)
        except OSError as exc:
            raise LakeError(f"{what}: {exc}") from exc
    raise AssertionError("unreachable")
