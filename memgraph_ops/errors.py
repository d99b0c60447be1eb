"""The exception tree of memgraph_ops.

Every message says what was wrong and what to do about it.

    MemgraphError
    ├── ConfigError          bad or missing settings (terminal)
    ├── InputError           bad input from a user: unreadable file, unknown format (terminal)
    ├── StoreError           the operational store cannot be used
    │   ├── StoreLockedError another process owns the DuckDB file (transient: retry later)
    │   ├── StoreCorruptError    the DuckDB file fails its block checksums (names the file)
    │   └── StoreMismatchError   hot.duckdb is not the store the lake was compacted from
    ├── LakeError            the Delta lake cannot be read or written
    │   ├── CommitConflictError  a concurrent writer won the commit (transient: retry)
    │   └── LakeCorruptError     a table's log or data file is missing or damaged (names it)
    └── VaultError           the session vault cannot do what was asked
        ├── NotArchivedError     the session is not in the vault
        ├── RestoreRefusedError  the session may not be restored (it was erased)
        └── VaultCorruptError    a frame fails its checksum (names the pack and offset)

`TransientError` marks the ones a scheduler may retry.
"""

from __future__ import annotations


class MemgraphError(Exception):
    """Base of every error raised on purpose by memgraph_ops."""


class TransientError(MemgraphError):
    """An error that may go away if the same operation is retried later."""


class ConfigError(MemgraphError):
    """Settings are missing or invalid."""


class InputError(MemgraphError):
    """Input given by the user cannot be used as it is."""


class StoreError(MemgraphError):
    """The operational store cannot be opened or used."""


class StoreLockedError(StoreError, TransientError):
    """Another process holds the operational store's DuckDB file open for writing."""


class StoreCorruptError(StoreError):
    """The operational store's DuckDB file (or its WAL) fails DuckDB's block checksums.

    Terminal: the message names the file; `memgraph-ops verify` says what is still readable."""


class StoreMismatchError(StoreError):
    """The operational store is not the one its lake was compacted from (the file was lost or
    replaced): compacting it as it is would skip events. Terminal until adopted."""


class LakeError(MemgraphError):
    """The Delta lake cannot be read or written."""


class CommitConflictError(LakeError, TransientError):
    """A concurrent writer committed first; the operation can be retried."""


class LakeCorruptError(LakeError):
    """A Delta table's log or one of its data files is missing, truncated or damaged.

    Terminal: retrying reads the same bytes. The message names the table and, where it can be
    found, the file; `memgraph-ops verify` lists every damaged file and how to repair it."""


class VaultError(MemgraphError):
    """The session vault cannot do what was asked."""


class NotArchivedError(VaultError):
    """The session is not in the vault."""


class RestoreRefusedError(VaultError):
    """The session may not be restored (for example, it was erased)."""


class VaultCorruptError(VaultError):
    """A frame does not match its checksum or cannot be decompressed."""
