"""The exception tree of memgraph_ops.

Every message says what was wrong and what to do about it.

    MemgraphError
    ├── ConfigError          bad or missing settings (terminal)
    ├── InputError           bad input from a user: unreadable file, unknown format (terminal)
    │   └── RejectedError        an all-or-nothing write refused whole (lists every reason)
    ├── StoreError           the operational store cannot be used
    │   ├── StoreLockedError another process owns the DuckDB file (transient: retry later)
    │   ├── StoreCorruptError    the DuckDB file fails its block checksums (names the file)
    │   └── StoreMismatchError   hot.duckdb is not the store the lake was compacted from
    ├── LakeError            the Delta lake cannot be read or written
    │   ├── CommitConflictError  a concurrent writer won the commit (transient: retry)
    │   └── LakeCorruptError     a table's log or data file is missing or damaged (names it)
    ├── GraphConflictError   a graph diff written against a version the graph moved past
    ├── StaleWriteError      a checked write found its data moved at commit (transient: recheck)
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


class RejectedError(InputError):
    """An all-or-nothing write (a graph diff) refused whole: nothing was stored."""

    def __init__(self, reasons: list[str] | str) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("refused, nothing changed: " + "; ".join(self.reasons))


class GraphConflictError(MemgraphError):
    """A graph diff's base version is not the graph's current one, and the diff does not
    commute with the changes in between (or the base is no longer known): read the snapshot
    again and rewrite the diff. `current` is the graph's version now."""

    def __init__(self, message: str, *, current: str = "") -> None:
        super().__init__(message)
        self.current = current


class StaleWriteError(TransientError):
    """A write that was checked against a state of the store refused at commit: the state
    moved in between. Check again and retry."""


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
